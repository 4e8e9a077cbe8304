/* ring: see ring.h. Doubles on growth (16 elements at first), so a
 * pipelining client costs amortised O(1) per command. */
#include "lib/ring.h"

#include <stdlib.h>
#include <string.h>

void *sb_ring_push(struct sb_ring *r, size_t elem)
{
	if (!r->elem)
		r->elem = elem;
	if (r->len == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		unsigned char *n = calloc(ncap, r->elem);
		if (!n)
			return NULL;
		for (size_t i = 0; i < r->len; i++)
			memcpy(n + i * r->elem, r->buf + ((r->head + i) % r->cap) * r->elem, r->elem);
		free(r->buf);
		r->buf = n;
		r->cap = ncap;
		r->head = 0;
	}
	unsigned char *p = r->buf + ((r->head + r->len) % r->cap) * r->elem;
	memset(p, 0, r->elem);
	r->len++;
	return p;
}

void *sb_ring_head(const struct sb_ring *r)
{
	return r->len ? r->buf + r->head * r->elem : NULL;
}

void *sb_ring_at(const struct sb_ring *r, size_t i)
{
	return i < r->len ? r->buf + ((r->head + i) % r->cap) * r->elem : NULL;
}

void sb_ring_pop(struct sb_ring *r)
{
	if (!r->len)
		return;
	r->head = (r->head + 1) % r->cap;
	r->len--;
}

void sb_ring_drop_tail(struct sb_ring *r)
{
	if (r->len)
		r->len--;
}

void sb_ring_free(struct sb_ring *r)
{
	free(r->buf);
	memset(r, 0, sizeof *r);
}
