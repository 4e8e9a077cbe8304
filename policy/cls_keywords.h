/* policy/cls_keywords: the classifier's keyword table (private to
 * policy/).
 *
 * The words come from cls_words.h (one X-macro list, PostgreSQL's kwlist.h
 * categories plus the classifier's own flags); this module builds the
 * lookup once (a small open-addressing hash, thread-safe) and answers
 * "which keyword is this bare word". It holds no per-statement state.
 */
#ifndef SB_POLICY_CLS_KEYWORDS_H
#define SB_POLICY_CLS_KEYWORDS_H

#include <stddef.h>
#include <stdint.h>

/* Category as in PostgreSQL's kwlist.h: unreserved and column-name
 * keywords can still name a table, type/function-name and reserved ones
 * cannot. */
enum { KC_U, KC_C, KC_T, KC_R };

#define KF_NOTFUNC 0x01 /* "word (" is syntax, not a function call */
#define KF_CLAUSE 0x02  /* ends a FROM / DROP / GRANT ... ON list */
#define KF_TRIVIAL 0x04 /* may appear in a WHERE that refers to nothing */
#define KF_SKIP 0x08    /* skipped while waiting for an object name */
#define KF_GSKIP 0x10   /* ... in GRANT/REVOKE/TRUNCATE/LOCK/REINDEX/... */

#include "policy/cls_words.h"

enum cls_kwid {
	KW_NONE = 0,
#define X(n, c, f) KW_##n,
	CLS_KEYWORDS(X)
#undef X
	KW_COUNT
};

struct cls_kw {
	const char *name; /* upper case */
	uint8_t len, cat, flags;
};

/* Indexed by enum cls_kwid (entry 0 is empty). */
extern const struct cls_kw cls_kwdefs[KW_COUNT];

/* Build the lookup (once per process; thread-safe). Call before
 * cls_kw_lookup (cls_begin does). */
void cls_kw_init(void);

#define CLS_KW_SLOTS 1024 /* power of two, well above 2 * KW_COUNT */
#define CLS_KW_MAXLEN 17  /* CURRENT_TIMESTAMP */
extern uint16_t cls_kw_slot[CLS_KW_SLOTS]; /* built by cls_kw_init */

static inline unsigned char cls_kw_up(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
}

static inline uint32_t cls_kw_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ cls_kw_up((unsigned char)s[i])) * 16777619u;
	return h;
}

/* Keyword id of a bare word of n bytes, 0 if it is none (ASCII
 * case-insensitive, as the server matches keywords). Inline: the
 * classifier asks for every word. */
static inline int cls_kw_lookup(const char *s, size_t n)
{
	if (n < 2 || n > CLS_KW_MAXLEN)
		return 0;
	for (uint32_t i = cls_kw_hash(s, n) & (CLS_KW_SLOTS - 1); cls_kw_slot[i];
	     i = (i + 1) & (CLS_KW_SLOTS - 1)) {
		const struct cls_kw *k = &cls_kwdefs[cls_kw_slot[i]];
		if (k->len != n)
			continue;
		size_t j = 0;
		while (j < n && cls_kw_up((unsigned char)s[j]) == (unsigned char)k->name[j])
			j++;
		if (j == n)
			return cls_kw_slot[i];
	}
	return 0;
}

/* Is the bare word s (n bytes) a keyword? 0 = no, 1 = a keyword that is a
 * value (NULL, TRUE, FALSE, DEFAULT: as a tuple item it changes no
 * classifier state; cls_values.c), -1 = another keyword. */
int cls_word_value(const char *s, size_t n);

static inline int kw_flag(int kw, int f)
{
	return kw && (cls_kwdefs[kw].flags & f);
}

/* Can this word name a table (an identifier, or a keyword that is not
 * reserved for syntax)? */
static inline int namelike(int kw)
{
	return !kw || cls_kwdefs[kw].cat == KC_U || cls_kwdefs[kw].cat == KC_C;
}

#endif
