/* auth: decide whether a login may proceed, protocol-independently.
 *
 * A frontend learns "user U from client IP wants in and proves a token" in
 * its own wire format; this module checks the proof against the user's token
 * verifiers in the control plane and then applies every login rule:
 * token expiry and revocation, the grant (level, hours, until), the user's
 * source CIDRs and concurrent-session limit. It answers with the target
 * (asset + hosted account + level) or a refusal reason meant for the audit
 * log, never for the client.
 *
 * Tokens are never stored: each token row holds SCRAM-SHA-256 verifiers made
 * with its user's salt (one salt per user, so a SCRAM client proof can be
 * checked against each of the user's tokens in turn), a keyed SHA-256 lookup
 * hash for cleartext logins, SHA1(SHA1(token)) for mysql_native_password and
 * SHA256(SHA256(token)) for the caching_sha2_password fast path. None of
 * them lets its holder compute a login response.
 */
#ifndef SB_AUTH_H
#define SB_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/policy.h"
#include "lib/crypto.h"

struct state; /* proxy/state.h */

#define SB_NAME_MAX 64   /* user, asset, account names (ctl enforces) */
#define SB_HOST_MAX 256  /* DNS name limit is 253 */
#define SB_SCRAM_SALT_LEN 16
#define SB_SCRAM_ITERATIONS 4096 /* PostgreSQL's default; tokens are 160-bit random */

enum asset_tls { ASSET_TLS_DISABLE, ASSET_TLS_PREFER, ASSET_TLS_REQUIRE, ASSET_TLS_VERIFY_FULL };

/* Where a successful login goes. Plain values, copied out of the state DB. */
struct auth_target {
	int64_t token_id;
	int64_t user_id;
	char user[SB_NAME_MAX];
	int64_t asset_id;
	char asset[SB_NAME_MAX];
	char protocol[16];        /* "postgres", "mysql", "tds", "tns" */
	char host[SB_HOST_MAX];
	int port;
	enum asset_tls tls;
	char service[128];        /* TNS service name, "" otherwise */
	int64_t account_id;
	char account[SB_NAME_MAX];  /* account name within the asset */
	char db_username[128];      /* the real database user */
	int hosted;                 /* 1: the proxy holds its password; 0: --not-hosted,
				       the client logs in to the database end to end */
	enum policy_level level;
	int max_sessions;           /* user's limit, 0 = unlimited */
	/* The rules may change their answer at this time without any admin
	 * change (token expiry, a grant's until, the next minute of an hours
	 * window); INT64_MAX when nothing ends by itself. */
	int64_t valid_until;
};

/* Failed-login lockout ([limits] of the config). A count of 0 turns that
 * counter off. Times in seconds. */
struct auth_lockout_conf {
	int failures;        /* per (user, source IP) before a lock, default 5 */
	int source_failures; /* per source IP, over every user, default 50 */
	int window;          /* failures older than this are forgotten, default 900 */
	int lock_time;       /* first lock, doubled at each lock in a row, default 1800 */
	int max_lock_time;   /* the back-off's ceiling, default 86400 */
};

/* Result of a check: AUTH_OK fills target; otherwise reason says why
 * (for the audit log: "unknown user", "token expired", "token revoked",
 * "bad token", "source 10.1.2.3 not allowed", "outside grant hours",
 * "grant expired", "no grant", "user disabled", "locked out: ...",
 * "session limit 2 reached", "asset protocol
 * mysql does not match listener postgres", ...). */
enum auth_status { AUTH_OK = 0, AUTH_REFUSED = 1, AUTH_ERROR = -1 };

#define AUTH_ANY_PROTOCOL "*"

struct auth_login {
	const char *user;       /* bastion user name as the client sent it */
	const char *client_ip;  /* textual IPv4/IPv6 address of the peer */
	const char *protocol;   /* listener protocol; the asset must match, unless
				   AUTH_ANY_PROTOCOL (the SSH entry serves every protocol) */
	time_t now;
	/* Called with the user's name to learn how many live sessions they have;
	 * NULL = no limit check. */
	int (*live_sessions)(void *ctx, const char *user);
	void *live_sessions_ctx;
	/* Lockout counters to check and update; NULL = none (re-checks, tests). */
	const struct auth_lockout_conf *lockout;
	/* A live session's re-check (auth_recheck): no last_used write. */
	int recheck;
};

/* Derive the key of unknown users' fake salts from the master key, so the
 * salt offered for a name stays the same across restarts (a probe that
 * compares salts before and after a restart must not tell who exists).
 * Without this call the key is random per process. */
void auth_set_unknown_user_key(const uint8_t *master_key, size_t len);

/* SCRAM step 1: the salt and iteration count to send for this user. For an
 * unknown user a salt derived from the name and a secret key is
 * returned, so the exchange looks the same and the user's existence is not
 * revealed. Returns 0, or -1 on a state DB error. */
int auth_scram_params(struct state *st, const char *user,
		      uint8_t salt[SB_SCRAM_SALT_LEN], int *iterations);

/* SCRAM step 2: find the token whose StoredKey verifies client_proof over
 * auth_message (RFC 5802: ClientKey = proof XOR HMAC(StoredKey, AuthMessage);
 * match when SHA256(ClientKey) == StoredKey), then apply the login rules.
 * On AUTH_OK, server_signature = HMAC(ServerKey, AuthMessage). */
enum auth_status auth_check_scram(struct state *st, const struct auth_login *in,
				  const char *auth_message, size_t auth_message_len,
				  const uint8_t client_proof[SB_SHA256_LEN],
				  uint8_t server_signature[SB_SHA256_LEN],
				  struct auth_target *out, char *reason, size_t reasonlen)
	__attribute__((warn_unused_result));

/* Cleartext token (PostgreSQL password over TLS, mysql_clear_password,
 * caching_sha2 full auth, TDS LOGIN7): looked up by SHA-256, then the rules. */
enum auth_status auth_check_token(struct state *st, const struct auth_login *in,
				  const char *token, size_t token_len,
				  struct auth_target *out, char *reason, size_t reasonlen)
	__attribute__((warn_unused_result));

/* A token that names its own user (TNS: the token is the service name and
 * the protocol has no bastion-user field): looked up by SHA-256, its owner
 * copied to owner (for the audit), then the rules for that owner. in->user
 * is ignored; the lockout counts such failures per source under a key no
 * real user has. */
enum auth_status auth_check_token_only(struct state *st, const struct auth_login *in,
				       const char *token, size_t token_len,
				       struct auth_target *out, char *owner, size_t ownerlen,
				       char *reason, size_t reasonlen)
	__attribute__((warn_unused_result));

/* The login rules alone, for a token already identified by id (used by the
 * functions above; exported for the MySQL native-password path). */
enum auth_status auth_check_rules(struct state *st, const struct auth_login *in,
				  int64_t token_id, struct auth_target *out,
				  char *reason, size_t reasonlen)
	__attribute__((warn_unused_result));

/* ---- failed-login lockout (auth_lifecycle.c) ----
 *
 * Counted per (user as sent, source IP) and per source IP, in the state DB
 * (they survive a restart), by every frontend through the functions above:
 * a wrong token or an unknown user is a failure; a login refused for a
 * later rule (revoked token, hours) is not, as its token was right. A lock
 * refuses the login with the same answer as a wrong token. */

/* Is this login locked out (in->lockout set, in->client_ip known)? 1 with
 * reason filled (for the audit log), 0 no, -1 state DB error. */
int auth_lockout_check(struct state *st, const struct auth_login *in, char *reason,
		       size_t reasonlen);
/* Count one failed proof; starts a lock when a threshold is reached. */
void auth_lockout_failed(struct state *st, const struct auth_login *in);
/* A good login: the (user, source) counter starts over (the per-source
 * one does not: one good account must not reset a source's ceiling). */
void auth_lockout_passed(struct state *st, const struct auth_login *in);

/* Re-check a live session's login (target as filled at its login) against
 * the state DB now: AUTH_OK with *valid_until (see auth_target), or
 * AUTH_REFUSED with the cause in reason ("token revoked", "token expired",
 * "user disabled", "user removed", "grant revoked", "grant expired",
 * "grant hours ended", "asset removed", "account removed", "token removed",
 * "source ... not allowed", "grant changed: write no longer granted (now
 * read)" when the grants left give a lower level than the session has), or
 * AUTH_ERROR (try again later). */
enum auth_status auth_recheck(struct state *st, const struct auth_target *t,
			      const char *client_ip, time_t now, int64_t *valid_until,
			      char *reason, size_t reasonlen) __attribute__((warn_unused_result));

/* Does the IPv4/IPv6 address ip fall in the comma-separated CIDR list?
 * An empty list allows every address. Returns 1 yes, 0 no, -1 bad list. */
int auth_cidr_match(const char *cidr_list, const char *ip);

/* Is local time `now` within "HH:MM-HH:MM" (ranges may wrap midnight)?
 * An empty string means always. Returns 1 yes, 0 no, -1 bad range. */
int auth_hours_match(const char *hours, time_t now);

#endif
