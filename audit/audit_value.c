/* audit/audit_value: bound values for `params` (audit_value.h). */
#include "audit/audit_value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void audit_value_text(struct audit_buf *b, const char *s, size_t n, size_t max, int cut_before,
		      size_t whole)
{
	if (n <= max && !cut_before) {
		audit_json_put_str(b, s, n);
		return;
	}
	size_t cut = n;
	if (n > max) {
		/* Not inside a character: back over at most 3 continuation
		 * bytes (a run of stray ones is invalid UTF-8 anyway and
		 * escaped as bytes). */
		cut = max;
		while (cut > 0 && cut > max - 3 && ((uint8_t)s[cut] & 0xC0) == 0x80)
			cut--;
	}
	char more[40];
	int ml = snprintf(more, sizeof more, "...(%zu bytes)", whole);
	char *tmp = malloc(cut + (size_t)ml);
	if (!tmp) {
		b->oom = 1;
		return;
	}
	memcpy(tmp, s, cut);
	memcpy(tmp + cut, more, (size_t)ml);
	audit_json_put_str(b, tmp, cut + (size_t)ml);
	free(tmp);
}

void audit_value_hex(struct audit_buf *b, const char *prefix, const uint8_t *p, size_t n,
		     size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t show = n < max / 2 ? n : max / 2;
	if (audit_buf_reserve(b, 4 + show * 2 + 40) < 0)
		return;
	audit_buf_putc(b, '"');
	audit_buf_puts(b, prefix);
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
