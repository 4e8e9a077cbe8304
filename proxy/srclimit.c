/* srclimit: per-source counters before login (see srclimit.h). */
#include "proxy/srclimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 16384 /* power of two; 4 entries a chain at the cap */

struct src {
	struct src *next;
	char ip[64];
	uint32_t unauth;          /* connections not logged in */
	int64_t fl_window;        /* second of the current failed-login window */
	uint32_t fl_in_window;    /* failed logins in it */
	uint64_t fl_suppressed;   /* records not written, not yet summarised */
	int64_t fl_supp_since;    /* second of the first of them */
	struct {
		int64_t last_ms;  /* last refill */
		int64_t milli;    /* tokens x 1000 */
		int used;         /* the bucket was ever drawn from */
	} tok[SRCLIMIT_KINDS];
};

struct srclimit {
	struct src *bucket[NBUCKETS];
	uint64_t seed;
	size_t n;
	unsigned unauth_total;
	struct src overflow;      /* shared by sources past the cap */
};

struct srclimit *srclimit_new(uint64_t seed)
{
	struct srclimit *sl = calloc(1, sizeof *sl);
	if (!sl)
		return NULL;
	sl->seed = seed | 1;
	snprintf(sl->overflow.ip, sizeof sl->overflow.ip, "%s", SRCLIMIT_OVERFLOW_KEY);
	return sl;
}

void srclimit_free(struct srclimit *sl)
{
	if (!sl)
		return;
	for (size_t b = 0; b < NBUCKETS; b++) {
		struct src *e = sl->bucket[b];
		while (e) {
			struct src *n = e->next;
			free(e);
			e = n;
		}
	}
	free(sl);
}

/* Seeded FNV-1a with a final mix: a source cannot choose its chain
 * without the seed. */
static size_t hash_ip(const struct srclimit *sl, const char *ip)
{
	uint64_t h = 1469598103934665603ULL ^ sl->seed;
	for (const unsigned char *p = (const unsigned char *)ip; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)(h & (NBUCKETS - 1));
}

static struct src *lookup(const struct srclimit *sl, const char *ip)
{
	for (struct src *e = sl->bucket[hash_ip(sl, ip)]; e; e = e->next)
		if (strcmp(e->ip, ip) == 0)
			return e;
	return NULL;
}

/* The entry of ip, made when missing; the overflow entry when the table is
 * full or memory is short. Never NULL. */
static struct src *get(struct srclimit *sl, const char *ip)
{
	struct src *e = lookup(sl, ip);
	if (e)
		return e;
	if (sl->n >= SRCLIMIT_MAX_SOURCES || strlen(ip) >= sizeof e->ip)
		return &sl->overflow;
	e = calloc(1, sizeof *e);
	if (!e)
		return &sl->overflow;
	snprintf(e->ip, sizeof e->ip, "%s", ip);
	size_t b = hash_ip(sl, ip);
	e->next = sl->bucket[b];
	sl->bucket[b] = e;
	sl->n++;
	return e;
}

enum srclimit_verdict srclimit_unauth_enter(struct srclimit *sl, const char *ip,
					    unsigned max_global, unsigned max_per_source)
{
	if (max_global && sl->unauth_total >= max_global)
		return SRCLIMIT_GLOBAL_FULL;
	struct src *e = get(sl, ip);
	if (max_per_source && e->unauth >= max_per_source)
		return SRCLIMIT_SOURCE_FULL;
	e->unauth++;
	sl->unauth_total++;
	return SRCLIMIT_OK;
}

void srclimit_unauth_leave(struct srclimit *sl, const char *ip)
{
	struct src *e = lookup(sl, ip);
	if (!e || e->unauth == 0)
		e = &sl->overflow; /* it was counted there */
	if (e->unauth == 0)
		return; /* not counted: never go below zero */
	e->unauth--;
	sl->unauth_total--;
}

unsigned srclimit_unauth_total(const struct srclimit *sl) { return sl->unauth_total; }

unsigned srclimit_unauth_of(const struct srclimit *sl, const char *ip)
{
	const struct src *e = lookup(sl, ip);
	return e ? e->unauth : 0;
}

int srclimit_failed_login(struct srclimit *sl, const char *ip, int64_t now, unsigned per_sec)
{
	if (per_sec == 0)
		return 1;
	struct src *e = get(sl, ip);
	if (e->fl_window != now) {
		e->fl_window = now;
		e->fl_in_window = 0;
	}
	if (e->fl_in_window < per_sec) {
		e->fl_in_window++;
		return 1;
	}
	if (e->fl_suppressed == 0)
		e->fl_supp_since = now;
	e->fl_suppressed++;
	return 0;
}

static void flush_one(struct src *e, int64_t now,
		      void (*cb)(void *, const char *, uint64_t, int64_t), void *ctx)
{
	if (e->fl_suppressed == 0 || e->fl_supp_since >= now)
		return;
	uint64_t n = e->fl_suppressed;
	int64_t since = e->fl_supp_since;
	e->fl_suppressed = 0;
	cb(ctx, e->ip, n, since);
}

void srclimit_failed_flush(struct srclimit *sl, int64_t now,
			   void (*cb)(void *ctx, const char *ip, uint64_t n, int64_t since),
			   void *ctx)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		for (struct src *e = sl->bucket[b]; e; e = e->next)
			flush_one(e, now, cb, ctx);
	flush_one(&sl->overflow, now, cb, ctx);
}

int srclimit_rate(struct srclimit *sl, const char *ip, enum srclimit_kind kind, int64_t now_ms,
		  unsigned per_sec)
{
	if (per_sec == 0 || (unsigned)kind >= SRCLIMIT_KINDS)
		return 1;
	struct src *e = get(sl, ip);
	int64_t cap = (int64_t)per_sec * 1000;
	if (!e->tok[kind].used) {
		e->tok[kind].used = 1;
		e->tok[kind].milli = cap;
	} else if (now_ms > e->tok[kind].last_ms) {
		/* per_sec tokens a second = per_sec milli-tokens a millisecond */
		e->tok[kind].milli += (now_ms - e->tok[kind].last_ms) * (int64_t)per_sec;
		if (e->tok[kind].milli > cap)
			e->tok[kind].milli = cap;
	}
	e->tok[kind].last_ms = now_ms;
	if (e->tok[kind].milli < 1000)
		return 0;
	e->tok[kind].milli -= 1000;
	return 1;
}

/* Whether every bucket of e would be full by now (seconds): forgetting it
 * then changes nothing. */
static int buckets_full(const struct src *e, int64_t now)
{
	for (int k = 0; k < SRCLIMIT_KINDS; k++)
		if (e->tok[k].used && now * 1000 - e->tok[k].last_ms < 1000)
			return 0;
	return 1;
}

size_t srclimit_gc(struct srclimit *sl, int64_t now)
{
	for (size_t b = 0; b < NBUCKETS; b++) {
		struct src **pp = &sl->bucket[b];
		while (*pp) {
			struct src *e = *pp;
			int idle = e->unauth == 0 && e->fl_suppressed == 0 && e->fl_window < now &&
				   buckets_full(e, now);
			if (idle) {
				*pp = e->next;
				free(e);
				sl->n--;
			} else {
				pp = &e->next;
			}
		}
	}
	return sl->n;
}
