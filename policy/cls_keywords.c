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

_Static_assert(KW_COUNT < CLS_KW_SLOTS / 2, "keyword table too full");
uint16_t cls_kw_slot[CLS_KW_SLOTS];
static pthread_once_t kw_once = PTHREAD_ONCE_INIT;

static void kw_build(void)
{
	for (int id = 1; id < KW_COUNT; id++) {
		uint32_t i = cls_kw_hash(cls_kwdefs[id].name, cls_kwdefs[id].len) & (CLS_KW_SLOTS - 1);
		while (cls_kw_slot[i])
			i = (i + 1) & (CLS_KW_SLOTS - 1);
		cls_kw_slot[i] = (uint16_t)id;
	}
}

void cls_kw_init(void)
{
	pthread_once(&kw_once, kw_build);
}

int cls_word_value(const char *s, size_t n)
{
	int kw = cls_kw_lookup(s, n);
	if (!kw)
		return 0;
	return (kw == KW_NULL || kw == KW_TRUE || kw == KW_FALSE || kw == KW_DEFAULT) ? 1 : -1;
}
