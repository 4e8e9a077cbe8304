/* pg_params: the values of a Bind or FunctionCall as the audit record's
 * `params` JSON array (README, "Audit records").
 *
 * A text-format value is a JSON string; a binary one is a string in
 * PostgreSQL's bytea notation ("\\x0000a1b2"), since the proxy does not know
 * the parameter types; NULL is null. Values longer than PG_PARAM_SHOW_MAX
 * bytes are cut (at a UTF-8 boundary for text) and end in "...(N bytes)",
 * so one large value cannot blow up an audit record.
 */
#include "protocols/pgsql/pg_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_json.h"
#include "audit/audit_value.h"

char *pg_values_json(const struct pg_values *v)
{
	struct audit_buf b;
	audit_buf_init(&b);
	audit_buf_putc(&b, '[');
	size_t off = 0;
	for (uint16_t i = 0; i < v->n; i++) {
		const uint8_t *val;
		int32_t len;
		int binary;
		pg_values_next(v, &off, i, &val, &len, &binary);
		if (i)
			audit_buf_putc(&b, ',');
		if (len < 0)
			audit_buf_puts(&b, "null");
		else if (binary)
			audit_value_hex(&b, "\\\\x", val, (size_t)len, PG_PARAM_SHOW_MAX);
		else
			audit_value_text(&b, (const char *)val, (size_t)len, PG_PARAM_SHOW_MAX, 0,
					 (size_t)len);
	}
	audit_buf_putc(&b, ']');
	if (!audit_buf_cstr(&b)) {
		audit_buf_free(&b);
		return NULL;
	}
	return b.p;
}
