/* login_guard: the daemon's defences before login ([limits] keys
 * max_unauthenticated, max_unauthenticated_per_source,
 * failed_login_records_per_source, expensive_logins_per_source,
 * logins_per_source).
 *
 * A source is an IPv4 address or an IPv6 /64 (a v4-mapped IPv6 address
 * counts as its IPv4 address). Wraps proxy/srclimit.h with the clock, the diagnostic log (refusals are
 * logged at most once per LOGIN_GUARD_LOG_INTERVAL seconds, with counts) and
 * the audit log (summary records for suppressed failed logins). A one-second
 * timer writes those summaries and forgets idle sources.
 */
#ifndef SB_LOGIN_GUARD_H
#define SB_LOGIN_GUARD_H

struct sb_proxy;
struct login_guard;

#define LOGIN_GUARD_LOG_INTERVAL 10 /* seconds between "refused N connections" lines */

/* Make px->guard and its timer. 0, or -1 (out of memory). */
int login_guard_start(struct sb_proxy *px);
/* Write pending summaries, free everything. */
void login_guard_stop(struct sb_proxy *px);

/* A new connection from ip, not logged in. 0 admitted (call
 * login_guard_leave once, when it logs in or closes); -1 refused: close it
 * now (the refusal is counted and logged periodically). */
int login_guard_admit(struct sb_proxy *px, const char *ip);
void login_guard_leave(struct sb_proxy *px, const char *ip);

/* A login_failed record from ip is about to be written: 1 write it, 0 drop
 * it (counted; a summary record follows within about a second). */
int login_guard_failed_login(struct sb_proxy *px, const char *ip);

/* An expensive login step (RSA decryption) for ip: 1 go ahead, 0 refuse the
 * login (over the per-source rate). */
int login_guard_expensive(struct sb_proxy *px, const char *ip);

/* A credential check for ip (state DB reads, HMACs: about 0.2 ms of the
 * loop for a whole failed login): 1 go ahead, 0 refuse the login (over
 * logins_per_source a second). */
int login_guard_login_check(struct sb_proxy *px, const char *ip);

#endif
