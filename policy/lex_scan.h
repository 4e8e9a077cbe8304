/* policy/lex_scan: byte classes and run scanners shared by the tokenizers.
 *
 * Why: statements up to [limits] max_message (a 16 MiB BLOB as a literal)
 * are classified on the event loop, so the inner loops that cross literals,
 * comments, identifiers and number runs test one table entry per byte (and
 * memchr where one byte ends the run) rather than calling a function per
 * byte. The table is const data: no initialization, safe on any thread.
 */
#ifndef SQLBASTION_POLICY_LEX_SCAN_H
#define SQLBASTION_POLICY_LEX_SCAN_H

#include <stdint.h>

/* Byte classes (bits of lex_ctype[c]). */
#define LC_SPACE   0x0001 /* blank: space, tab, LF, CR, FF, VT */
#define LC_DIGIT   0x0002 /* 0-9 */
#define LC_HEX     0x0004 /* 0-9 a-f A-F */
#define LC_WORD    0x0008 /* letters, digits, '_', bytes >= 0x80 */
#define LC_DOLLAR  0x0010 /* '$' */
#define LC_HIGH    0x0020 /* bytes >= 0x80 */
#define LC_SQUOTE  0x0040 /* single quote */
#define LC_DQUOTE  0x0080 /* double quote */
#define LC_BSLASH  0x0100 /* backslash */
#define LC_BTICK   0x0200 /* backtick */
#define LC_NL      0x0400 /* LF, CR */
#define LC_MYOP    0x0800 /* MySQL operator characters ~!%^&*-+=|<>/: */
#define LC_STAR    0x1000 /* '*' */
#define LC_SLASH   0x2000 /* '/' */

extern const uint16_t lex_ctype[256];

/* The first byte in [p, end) whose class has a bit of mask, or end. */
static inline const char *lex_find(const char *p, const char *end, unsigned mask)
{
	while (end - p >= 4) {
		if (lex_ctype[(unsigned char)p[0]] & mask)
			return p;
		if (lex_ctype[(unsigned char)p[1]] & mask)
			return p + 1;
		if (lex_ctype[(unsigned char)p[2]] & mask)
			return p + 2;
		if (lex_ctype[(unsigned char)p[3]] & mask)
			return p + 3;
		p += 4;
	}
	while (p < end && !(lex_ctype[(unsigned char)*p] & mask))
		p++;
	return p;
}

/* The first byte in [p, end) whose class has no bit of mask, or end. */
static inline const char *lex_span(const char *p, const char *end, unsigned mask)
{
	while (end - p >= 4) {
		if (!(lex_ctype[(unsigned char)p[0]] & mask))
			return p;
		if (!(lex_ctype[(unsigned char)p[1]] & mask))
			return p + 1;
		if (!(lex_ctype[(unsigned char)p[2]] & mask))
			return p + 2;
		if (!(lex_ctype[(unsigned char)p[3]] & mask))
			return p + 3;
		p += 4;
	}
	while (p < end && (lex_ctype[(unsigned char)*p] & mask))
		p++;
	return p;
}

#endif
