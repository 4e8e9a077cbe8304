/* my_mode: see my_mode.h. */
#include "protocols/mysql/my_mode.h"

#include <string.h>

#include "policy/policy.h"
#include "protocols/mysql/my_codec.h"

int my_text_lex_dependent(const uint8_t *sql, size_t len)
{
	if (memchr(sql, '\\', len) || memchr(sql, '"', len))
		return 1;
	const uint8_t *p = sql, *end = sql + len;
	while ((p = memchr(p, '`', (size_t)(end - p))) != NULL) {
		if (p > sql && p[-1] >= 0x80)
			return 1;
		p++;
	}
	return 0;
}

/* Case-insensitive search of an ASCII lower-case word. */
static int has_word(const uint8_t *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++) {
		if ((s[i] | 0x20) != (uint8_t)w[0])
			continue;
		size_t k = 1;
		while (k < wl && (s[i + k] | 0x20) == (uint8_t)w[k])
			k++;
		if (k == wl)
			return 1;
	}
	return 0;
}

int my_text_may_change_mode(const uint8_t *sql, size_t len)
{
	return has_word(sql, len, "set") || has_word(sql, len, "exec") ||
	       has_word(sql, len, "call") || has_word(sql, len, "binlog");
}

/* 1 when the comma-separated list holds name (the server reports sql_mode
 * in upper case, combination modes expanded). */
static int has_mode(const uint8_t *v, size_t n, const char *name)
{
	size_t nl = strlen(name), i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		if (j - i == nl && memcmp(v + i, name, nl) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

int my_mode_parse_row(const uint8_t *b, size_t n, unsigned *mode, char *cs, size_t cap)
{
	struct wire_reader r;
	const uint8_t *v1, *v2;
	size_t l1, l2;
	wire_reader_init(&r, b, n);
	/* 0xFB is NULL in a text row */
	if (n < 1 || b[0] == 0xFB || my_get_lenenc_str(&r, &v1, &l1) != 0)
		return -1;
	if (wire_left(&r) < 1 || b[r.off] == 0xFB ||
	    my_get_lenenc_str(&r, &v2, &l2) != 0 || wire_left(&r) != 0)
		return -1;
	if (l2 == 0 || l2 >= cap)
		return -1;
	*mode = POLICY_MY_MODE_KNOWN;
	if (has_mode(v1, l1, "NO_BACKSLASH_ESCAPES"))
		*mode |= POLICY_MY_NO_BACKSLASH;
	if (has_mode(v1, l1, "ANSI_QUOTES"))
		*mode |= POLICY_MY_ANSI_QUOTES;
	memcpy(cs, v2, l2);
	cs[l2] = '\0';
	return 0;
}
