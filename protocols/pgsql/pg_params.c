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

static void put_text(struct audit_buf *b, const uint8_t *p, size_t n)
{
	if (n <= PG_PARAM_SHOW_MAX) {
		audit_json_put_str(b, (const char *)p, n);
		return;
	}
	/* Not inside a character: back over at most 3 continuation bytes (a
	 * run of stray ones is invalid UTF-8 anyway and escaped as bytes). */
	size_t cut = PG_PARAM_SHOW_MAX;
	while (cut > PG_PARAM_SHOW_MAX - 3 && (p[cut] & 0xC0) == 0x80)
		cut--;
	char more[40];
	int ml = snprintf(more, sizeof more, "...(%zu bytes)", n);
	char *tmp = malloc(cut + (size_t)ml);
	if (!tmp) {
		b->oom = 1;
		return;
	}
	memcpy(tmp, p, cut);
	memcpy(tmp + cut, more, (size_t)ml);
	audit_json_put_str(b, tmp, cut + (size_t)ml);
	free(tmp);
}

static void put_binary(struct audit_buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t show = n < PG_PARAM_SHOW_MAX / 2 ? n : PG_PARAM_SHOW_MAX / 2;
	if (audit_buf_reserve(b, 4 + show * 2 + 40) < 0)
		return;
	audit_buf_puts(b, "\"\\\\x");
	for (size_t i = 0; i < show; i++) {
		audit_buf_putc(b, hex[p[i] >> 4]);
		audit_buf_putc(b, hex[p[i] & 15]);
	}
	if (show < n) {
		char more[40];
		snprintf(more, sizeof more, "...(%zu bytes)", n);
		audit_buf_puts(b, more);
	}
	audit_buf_putc(b, '"');
}

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
			put_binary(&b, val, (size_t)len);
		else
			put_text(&b, val, (size_t)len);
	}
	audit_buf_putc(&b, ']');
	if (!audit_buf_cstr(&b)) {
		audit_buf_free(&b);
		return NULL;
	}
	return b.p;
}
