/* srclimit: per-source (client IP) counters that keep one source from
 * exhausting what every client shares before login.
 *
 * Three independent limits, all keyed by the client's IP text:
 *  - connections not logged in yet: a global and a per-source ceiling
 *    (srclimit_unauth_enter / _leave);
 *  - failed-login audit records: at most N per source per one-second window;
 *    the rest are only counted, and srclimit_failed_flush() hands each
 *    source's count of suppressed records to a callback once its window is
 *    over, so the audit log says how many there were;
 *  - login steps with a cost: token buckets of N per second per source
 *    with a burst of N, one per kind (srclimit_rate): SRCLIMIT_RSA (an
 *    RSA-2048 decryption), SRCLIMIT_LOGIN (a credential check).
 *
 * Pure bookkeeping: no sockets, no clock (callers pass the time), no
 * logging, so it is unit-tested alone. Memory is bounded: at most
 * SRCLIMIT_MAX_SOURCES entries; beyond that, new sources share one overflow
 * entry (so a spray of addresses is still held by the global ceiling and,
 * together, by the per-source ones). Entries with nothing to remember are
 * dropped by srclimit_gc().
 */
#ifndef SB_SRCLIMIT_H
#define SB_SRCLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define SRCLIMIT_MAX_SOURCES 65536
#define SRCLIMIT_OVERFLOW_KEY "(other sources)"

struct srclimit;

/* seed: random bits for the hash (a source cannot aim at one bucket).
 * NULL when out of memory. */
struct srclimit *srclimit_new(uint64_t seed);
void srclimit_free(struct srclimit *sl);

enum srclimit_verdict { SRCLIMIT_OK = 0, SRCLIMIT_GLOBAL_FULL, SRCLIMIT_SOURCE_FULL };

/* A connection from ip starts before login. max_* of 0 means no limit.
 * OK (counted: call srclimit_unauth_leave exactly once later) or the limit
 * it hit (not counted). */
enum srclimit_verdict srclimit_unauth_enter(struct srclimit *sl, const char *ip,
					    unsigned max_global, unsigned max_per_source);
void srclimit_unauth_leave(struct srclimit *sl, const char *ip);
unsigned srclimit_unauth_total(const struct srclimit *sl);
unsigned srclimit_unauth_of(const struct srclimit *sl, const char *ip);

/* A failed login from ip at time now (seconds). 1: write its audit record;
 * 0: over per_sec in this second, counted for the summary instead.
 * per_sec 0 = no limit (always 1). */
int srclimit_failed_login(struct srclimit *sl, const char *ip, int64_t now, unsigned per_sec);

/* For every source whose suppressed count is > 0 and whose window started
 * before now: cb(ctx, ip, count, window_start) once, and the count is reset.
 * The count is never lost: each suppressed record is reported exactly once. */
void srclimit_failed_flush(struct srclimit *sl, int64_t now,
			   void (*cb)(void *ctx, const char *ip, uint64_t n, int64_t since),
			   void *ctx);

enum srclimit_kind { SRCLIMIT_RSA, SRCLIMIT_LOGIN, SRCLIMIT_KINDS };

/* One login step of this kind from ip at now_ms (milliseconds). 1 allowed
 * (a token taken), 0 over the rate. per_sec 0 = no limit. */
int srclimit_rate(struct srclimit *sl, const char *ip, enum srclimit_kind kind, int64_t now_ms,
		  unsigned per_sec);

/* Drop entries with no connection, no pending count and a full bucket as of
 * now (seconds). Returns how many entries remain. */
size_t srclimit_gc(struct srclimit *sl, int64_t now);

#endif
