/* lifecycle: the daemon keeps every live session's login true after the
 * fact (DESIGN.md "Control plane": revoking or expiring a token, disabling
 * or removing a user, revoking a grant or leaving its hours ends the
 * affected live sessions within seconds), and audits lockout starts/ends.
 *
 * How it learns of a change, both ways at once:
 *   - sqlbastionctl sends the admin audit event of every change to the
 *     daemon over the admin socket after committing it; admin.c then calls
 *     lifecycle_poke(), which re-checks at the next loop turn (milliseconds);
 *   - a 1 s timer reads SQLite's PRAGMA data_version, which moves whenever
 *     another connection commits (a change made while the admin socket was
 *     unreachable, another proxy, a script writing the DB).
 * On either, each logged-in session is re-checked with one auth_recheck()
 * (a few indexed lookups); the timer also re-checks a session when its
 * auth_target.valid_until has come (token expiry, grant until, the next
 * minute of an hours window). Nothing here runs per statement.
 * A refused re-check ends the session with sess_end(reason).
 */
#ifndef SB_LIFECYCLE_H
#define SB_LIFECYCLE_H

struct sb_proxy;
struct lifecycle;

#define LIFECYCLE_TICK_MS 1000

/* Start the timer on px->base. NULL on failure. */
struct lifecycle *lifecycle_start(struct sb_proxy *px);
/* Re-check every live session at the next loop turn. NULL is ignored. */
void lifecycle_poke(struct lifecycle *lc);
void lifecycle_stop(struct lifecycle *lc);

#endif
