/* policy/cls_keywords: keyword lookup (see cls_keywords.h). */
#include "policy/cls_keywords.h"

#include "policy/classify.h"

#include <pthread.h>
#include <string.h>

const struct cls_kw cls_kwdefs[KW_COUNT] = {
	{"", 0, 0, 0},
#define X(n, c, f) {#n, (uint8_t)(sizeof(#n) - 1), KC_##c, (uint8_t)(f)},
	CLS_KEYWORDS(X)
#undef X
};

#define KW_SLOTS 1024 /* power of two, well above 2 * KW_COUNT */
#define KW_MAXLEN 17  /* CURRENT_TIMESTAMP */
_Static_assert(KW_COUNT < KW_SLOTS / 2, "keyword table too full");
static uint16_t kw_slot[KW_SLOTS];
static pthread_once_t kw_once = PTHREAD_ONCE_INIT;

static unsigned char up(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
}

static uint32_t kw_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ up((unsigned char)s[i])) * 16777619u;
	return h;
}

static void kw_build(void)
{
	for (int id = 1; id < KW_COUNT; id++) {
		uint32_t i = kw_hash(cls_kwdefs[id].name, cls_kwdefs[id].len) & (KW_SLOTS - 1);
		while (kw_slot[i])
			i = (i + 1) & (KW_SLOTS - 1);
		kw_slot[i] = (uint16_t)id;
	}
}

void cls_kw_init(void)
{
	pthread_once(&kw_once, kw_build);
}

int cls_kw_lookup(const char *s, size_t n)
{
	if (n < 2 || n > KW_MAXLEN)
		return 0;
	for (uint32_t i = kw_hash(s, n) & (KW_SLOTS - 1); kw_slot[i];
	     i = (i + 1) & (KW_SLOTS - 1)) {
		const struct cls_kw *k = &cls_kwdefs[kw_slot[i]];
		if (k->len != n)
			continue;
		size_t j = 0;
		while (j < n && up((unsigned char)s[j]) == (unsigned char)k->name[j])
			j++;
		if (j == n)
			return kw_slot[i];
	}
	return 0;
}

int cls_word_value(const char *s, size_t n)
{
	int kw = cls_kw_lookup(s, n);
	if (!kw)
		return 0;
	return (kw == KW_NULL || kw == KW_TRUE || kw == KW_FALSE || kw == KW_DEFAULT) ? 1 : -1;
}
