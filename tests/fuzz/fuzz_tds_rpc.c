/* libFuzzer target: a client's SQLBatch / RPC / transaction-manager
 * payload, as the relay reads it before deciding: ALL_HEADERS, then each
 * RPC call, the SQL text of its statement parameter and its parameters as
 * the audit's JSON (which must be valid JSON). The first byte picks TDS
 * 7.1 (no ALL_HEADERS, 0x80 separators) or 7.2+. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_json.h"
#include "protocols/tds/tds_codec.h"
#include "protocols/tds/tds_rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int tds71 = data[0] & 1;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	if (!tds71) {
		long off = tds_skip_all_headers(p, n);
		if (off < 0)
			return 0;
		if ((size_t)off > n)
			abort();
		p += off;
		n -= (size_t)off;
	}
	(void)tds_transmgr_text(p, n);
	size_t at = 0;
	for (int calls = 0; calls < 64; calls++) {
		struct tds_rpc_call c;
		char err[120];
		size_t before = at;
		int r = tds_rpc_next(p, n, &at, &c, tds71, err, sizeof err);
		if (r <= 0)
			break;
		if (at <= before || at > n)
			abort();
		(void)tds_rpc_proc_name(&c);
		size_t vfrom;
		int sp = tds_rpc_sql_param(c.proc, &vfrom);
		if (sp >= 0 && tds_rpc_param_bound(&c, (size_t)sp, "@stmt") != sp &&
		    tds_rpc_param_bound(&c, (size_t)sp, "@stmt") != -1)
			abort();
		if (sp >= 0 && (size_t)sp < c.nparams) {
			size_t len;
			char *sql = tds_param_text(&c.params[sp], &len);
			if (sql && strlen(sql) > len)
				abort();
			free(sql);
		}
		int32_t h;
		if (c.nparams)
			(void)tds_param_int(&c.params[0], &h);
		char *json = tds_params_json(&c, 0);
		if (json && !audit_json_valid(json, strlen(json)))
			abort();
		free(json);
		tds_rpc_call_free(&c);
	}
	return 0;
}
