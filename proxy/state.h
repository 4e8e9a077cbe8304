/* state: the control plane (users, assets, accounts, grants, tokens,
 * approvals) in one SQLite file.
 *
 * sqlbastionctl writes this file and the daemon reads it on every login, both
 * at once: the database runs in WAL mode with a 5 s busy timeout, so a reader
 * never waits for a writer and every query sees the last committed change (a
 * new token or a revocation counts at the next login, without a restart).
 * The daemon writes too, in short single-statement transactions: a token's
 * last use, and the approvals of statements held by a `review` rule (a new
 * request, an approval marked used); a writer waits for another at most the
 * busy timeout.
 * Foreign keys are enforced. The file and its directory are created owner-only
 * (0600 / 0700).
 *
 * A struct state is one SQLite connection with its prepared statements cached;
 * it is not thread-safe: open one per thread. Every query binds its values;
 * no SQL is ever built from input. Tokens are never stored, only verifiers
 * (see proxy/auth.h), and hosted secrets only sealed (see proxy/secret.h).
 *
 * Return convention of the fallible functions: STATE_OK (0), STATE_NOT_FOUND,
 * STATE_EXISTS (a name or unique key is taken, or the change was already
 * made), STATE_REFUSED (the change is not allowed), or STATE_ERROR (-1) with
 * the reason in state_errmsg().
 */
#ifndef SB_STATE_H
#define SB_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "proxy/auth.h"
#include "lib/crypto.h"
#include "proxy/secret.h"

#define STATE_WUR __attribute__((warn_unused_result))

enum {
	STATE_OK = 0,
	STATE_NOT_FOUND = 1,
	STATE_EXISTS = 2,
	STATE_REFUSED = 3, /* not allowed (approving one's own request); why in state_errmsg() */
	STATE_ERROR = -1
};

#define STATE_SCHEMA_VERSION 2
#define STATE_SOURCES_MAX 1024 /* users.sources, comma-separated CIDRs */
#define STATE_USERNAME_MAX 128 /* = auth_target.db_username */
#define STATE_SERVICE_MAX 128  /* = auth_target.service */
#define STATE_HOURS_MAX 16     /* "HH:MM-HH:MM" */
#define STATE_REF_MAX 4096     /* secret file path or command */
#define STATE_BLOB_MAX (SB_SECRET_MAX + SB_SEAL_OVERHEAD)
/* A token is "sbt_" + 32 lower-case base32 characters (20 random bytes). */
#define STATE_TOKEN_PREFIX "sbt_"
#define STATE_TOKEN_LEN 36
/* auth_check_scram tries the tokens created within this window, expired and
 * revoked ones included (so an auditor learns why a login failed), plus any
 * older token that is still active. */
#define STATE_SCRAM_WINDOW (30 * 86400)

/* Where an account's password comes from. NONE: the account is not hosted
 * (`--not-hosted`): the engineer gives the database password to the
 * database itself, end to end (the SSH entry, the TNS passthrough); kept in
 * the accounts.hosted column (0), secret_kind then says 'stored' with no
 * blob, so files of older versions need no table rebuild. */
enum state_secret_kind { STATE_SECRET_STORED, STATE_SECRET_FILE, STATE_SECRET_CMD, STATE_SECRET_NONE };

struct state_user {
	int64_t id;
	char name[SB_NAME_MAX];
	char sources[STATE_SOURCES_MAX]; /* "" = from anywhere */
	int max_sessions;                /* 0 = unlimited */
	uint8_t scram_salt[SB_SCRAM_SALT_LEN];
	int64_t created;
};

struct state_asset {
	int64_t id;
	char name[SB_NAME_MAX];
	char protocol[16]; /* "postgres", "mysql", "tds", "tns" */
	char host[SB_HOST_MAX];
	int port;
	enum asset_tls tls;
	char service[STATE_SERVICE_MAX]; /* "" when not set */
	int64_t created;
};

struct state_account {
	int64_t id;
	int64_t asset_id;
	char asset[SB_NAME_MAX];
	char name[SB_NAME_MAX];
	char username[STATE_USERNAME_MAX];
	enum state_secret_kind kind;
	int64_t created;
};

/* Where an account's password comes from. Holds sealed bytes or a path or
 * command, never a clear secret; still, wipe it after use. */
struct state_account_secret {
	enum state_secret_kind kind;
	uint8_t blob[STATE_BLOB_MAX]; /* stored: nonce | ciphertext | tag */
	size_t blob_len;
	char ref[STATE_REF_MAX];      /* file: absolute path; cmd: shell command */
};

struct state_grant {
	int64_t id;
	int64_t user_id;
	int64_t account_id;
	char user[SB_NAME_MAX];    /* names filled by the list functions */
	char asset[SB_NAME_MAX];
	char account[SB_NAME_MAX];
	enum policy_level level;
	char hours[STATE_HOURS_MAX]; /* "" = any time */
	int64_t until;               /* unix time; 0 = no end */
	int64_t created;
};

/* A token as the admin sees it: never the token itself. */
struct state_token_info {
	int64_t id;
	int64_t user_id;
	int64_t account_id;
	char user[SB_NAME_MAX];
	char asset[SB_NAME_MAX];
	char account[SB_NAME_MAX];
	int64_t created;
	int64_t expires;
	int64_t revoked_at; /* 0 = not revoked */
	int64_t last_used;  /* 0 = never */
};

/* A token's verifiers, for the login checks. */
struct state_token_verifier {
	int64_t id;
	int iterations;
	uint8_t stored_key[SB_SHA256_LEN];
	uint8_t server_key[SB_SHA256_LEN];
	uint8_t mysql_native[SB_SHA1_LEN]; /* SHA1(SHA1(token)) */
	uint8_t mysql_sha2[SB_SHA256_LEN];  /* SHA256(SHA256(token)): caching_sha2 fast path */
	int64_t created;
	int64_t expires;
	int64_t revoked_at; /* 0 = not revoked */
};

/* Everything a login needs about one token, in one query. */
struct state_login {
	struct state_token_info token;
	struct state_user user;
	struct state_account account;
	struct state_asset asset;
};

/* Open (creating file, directory and schema when absent) the state DB.
 * Returns NULL with err filled on failure. */
struct state *state_open(const char *path, char *err, size_t errlen) STATE_WUR;
void state_close(struct state *st);

/* The reason of the last STATE_ERROR (or a conflict) on st. Never NULL. */
const char *state_errmsg(const struct state *st);

/* Explicit write transaction (BEGIN IMMEDIATE), for changes made of several
 * statements. Without one, each function is its own transaction. */
int state_begin(struct state *st) STATE_WUR;
int state_commit(struct state *st) STATE_WUR;
void state_rollback(struct state *st);

/* Names: enumerations <-> the text stored in the DB. parse: 0 or -1. */
const char *state_tls_name(enum asset_tls t);
int state_tls_parse(const char *s, enum asset_tls *out);
const char *state_secret_kind_name(enum state_secret_kind k);
/* What accounts.secret_kind holds for k (NONE lives in accounts.hosted). */
const char *state_secret_kind_column(enum state_secret_kind k);

/* ---- users ---- */

/* Add a user with a fresh random SCRAM salt. STATE_EXISTS if the name is
 * taken. *id gets the new row id (id may be NULL). */
int state_user_add(struct state *st, const char *name, const char *sources,
		   int max_sessions, int64_t now, int64_t *id) STATE_WUR;
int state_user_get(struct state *st, const char *name, struct state_user *out) STATE_WUR;
/* Calls cb for each user by name; a non-zero return from cb stops the walk
 * (and is returned). cb must not call back into st. */
int state_user_list(struct state *st, int (*cb)(void *ctx, const struct state_user *u),
		    void *ctx) STATE_WUR;

/* ---- assets ---- */

/* Add a->name etc.; a->id gets the new id, a->created must be set. */
int state_asset_add(struct state *st, struct state_asset *a) STATE_WUR;
int state_asset_get(struct state *st, const char *name, struct state_asset *out) STATE_WUR;
int state_asset_list(struct state *st, int (*cb)(void *ctx, const struct state_asset *a),
		     void *ctx) STATE_WUR;

/* ---- accounts ---- */

/* Add account name on asset_id. For kind STORED the blob is set afterwards
 * with state_account_set_blob() (the seal's authenticated data is the new
 * account id), in the same transaction. ref: path or command, "" for stored. */
int state_account_add(struct state *st, int64_t asset_id, const char *name,
		      const char *username, enum state_secret_kind kind,
		      const char *ref, int64_t now, int64_t *id) STATE_WUR;
int state_account_set_blob(struct state *st, int64_t id, const uint8_t *blob,
			   size_t len) STATE_WUR;
/* Look an account up by asset and account name; fills out->asset too. */
int state_account_get(struct state *st, const char *asset, const char *name,
		      struct state_account *out) STATE_WUR;
/* The secret source of account id (see struct state_account_secret). */
int state_account_secret(struct state *st, int64_t id,
			 struct state_account_secret *out) STATE_WUR;
int state_account_list(struct state *st,
		       int (*cb)(void *ctx, const struct state_account *a),
		       void *ctx) STATE_WUR;

/* ---- grants ---- */

/* hours: "" or "HH:MM-HH:MM"; until: unix time or 0 for none. */
int state_grant_add(struct state *st, int64_t user_id, int64_t account_id,
		    enum policy_level level, const char *hours, int64_t until,
		    int64_t now, int64_t *id) STATE_WUR;
/* Grants of user_id on account_id (user_id/account_id 0 = any), ordered by
 * id. Same callback rules as state_user_list. */
int state_grant_list(struct state *st, int64_t user_id, int64_t account_id,
		     int (*cb)(void *ctx, const struct state_grant *g),
		     void *ctx) STATE_WUR;

/* ---- tokens ---- */

/* Make a new random token for user_id on account_id, store only its
 * verifiers (SCRAM-SHA-256 with the user's salt and SB_SCRAM_ITERATIONS,
 * the lookup hash of state_token_lookup_hash(), SHA1(SHA1()) for
 * mysql_native_password, SHA256(SHA256()) for caching_sha2_password), and write the token to token_out (NUL-terminated,
 * STATE_TOKEN_LEN chars) for the caller to show once and wipe. */
int state_token_issue(struct state *st, int64_t user_id, int64_t account_id,
		      int64_t now, int64_t expires,
		      char token_out[STATE_TOKEN_LEN + 1], int64_t *id) STATE_WUR;
int state_token_get(struct state *st, int64_t id, struct state_token_info *out) STATE_WUR;
/* All tokens by id (newest last). Same callback rules as state_user_list. */
int state_token_list(struct state *st,
		     int (*cb)(void *ctx, const struct state_token_info *t),
		     void *ctx) STATE_WUR;
/* Set a new expiry. STATE_NOT_FOUND; STATE_EXISTS if the token is revoked
 * (a revoked token stays revoked). */
int state_token_renew(struct state *st, int64_t id, int64_t expires) STATE_WUR;
/* Revoke. STATE_NOT_FOUND; STATE_EXISTS if already revoked. */
int state_token_revoke(struct state *st, int64_t id, int64_t now) STATE_WUR;
/* Record a successful login (tokens.last_used = now). Best effort by design
 * (a busy DB must not refuse a login), so its status may be ignored. */
int state_token_touch(struct state *st, int64_t id, int64_t now);

/* The lookup hash stored for cleartext logins: HMAC-SHA-256 keyed with a
 * fixed label, not a bare SHA-256, because SHA256(token) is exactly what a
 * caching_sha2_password fast-path response is made of: a stored bare
 * SHA256(token) would let whoever reads the state file log in. */
void state_token_lookup_hash(const char *token, size_t len, uint8_t out[SB_SHA256_LEN]);

/* Find the token whose lookup hash (state_token_lookup_hash) is hash. Fills *id and *user_id. */
int state_token_by_sha256(struct state *st, const uint8_t hash[SB_SHA256_LEN],
			  int64_t *id, int64_t *user_id) STATE_WUR;
/* Walk user_id's tokens created at or after `since`, plus older ones still
 * active at `now` (neither revoked nor expired), newest first. Same callback
 * rules as state_user_list. */
int state_token_verifiers(struct state *st, int64_t user_id, int64_t since,
			  int64_t now,
			  int (*cb)(void *ctx, const struct state_token_verifier *v),
			  void *ctx) STATE_WUR;
/* Token id joined with its user, account and asset. */
int state_login_get(struct state *st, int64_t token_id, struct state_login *out) STATE_WUR;

/* ---- approvals (state_approvals.c) ----
 *
 * A statement whose policy decision is `review` is not run: it becomes a
 * pending request. An administrator other than the requester approves or
 * rejects it; an approved request lets the same user run the same bytes on
 * the same asset and account once. Lifetimes, counted from the request and
 * from the approval: */
#define STATE_APPROVAL_PENDING_TTL 3600 /* a request waits at most 1 h for a decision */
#define STATE_APPROVAL_USE_TTL 3600     /* an approval must be used within 1 h */
/* Pending requests one bastion user may have at once. Every held statement
 * of a new text stores that text; without a bound a logged-in user whose
 * statements a review rule matches could fill the state DB (and stall the
 * event loop on its writes). Past it, statements are still held, not
 * stored, and the message says so. */
#define STATE_APPROVAL_MAX_PENDING 100

enum state_approval_status {
	STATE_APPROVAL_PENDING,
	STATE_APPROVAL_APPROVED,
	STATE_APPROVAL_REJECTED,
	STATE_APPROVAL_USED,
	STATE_APPROVAL_EXPIRED,
};

/* What a held statement is, as the daemon knows it. Borrowed for the call. */
struct state_approval_request {
	const char *user, *asset, *account; /* bastion user, asset, hosted account */
	const char *protocol;               /* "postgres", "mysql", ... */
	const char *sql;                    /* the exact statement bytes */
	size_t sql_len;
	const char *fingerprint;            /* may be NULL */
	const char *rule;                   /* the review rule */
	uint64_t session;                   /* the session that asked */
};

/* One request as stored. statement and fingerprint are malloc'd copies
 * (statement holds statement_len bytes plus a NUL) freed by
 * state_approval_release(); in a list callback they are freed after the
 * callback returns. status is the effective one at the `now` given to the
 * reading function: a pending or approved row past its lifetime reads as
 * expired even before state_approval_expire() stored that. */
struct state_approval {
	int64_t id;
	char user[SB_NAME_MAX];
	char asset[SB_NAME_MAX];
	char account[SB_NAME_MAX];
	char protocol[16];
	char *statement;
	size_t statement_len;
	uint8_t sha256[SB_SHA256_LEN];
	char *fingerprint;
	char rule[64];
	uint64_t session;
	int64_t created;
	enum state_approval_status status;
	char approver[SB_NAME_MAX]; /* "" until decided */
	int64_t decided;            /* 0 until decided */
	int64_t used;               /* 0 until used */
	uint64_t used_session;      /* 0 until used */
	int64_t expires;            /* pending: created + PENDING_TTL; approved: decided +
				       USE_TTL; 0 otherwise */
};

const char *state_approval_status_name(enum state_approval_status s);
void state_approval_release(struct state_approval *a);

/* Hold rq: *id gets the pending request of the same user, asset, account
 * and exact text made less than STATE_APPROVAL_PENDING_TTL ago, or a new
 * one (*created = 1; created may be NULL). STATE_REFUSED when that would be
 * more than STATE_APPROVAL_MAX_PENDING pending requests of the user. */
int state_approval_request(struct state *st, const struct state_approval_request *rq,
			   int64_t now, int64_t *id, int *created) STATE_WUR;

/* Use an approval: find one approved less than STATE_APPROVAL_USE_TTL ago
 * for this user, asset, account and exact text, not yet used, and mark it
 * used by session, in one UPDATE guarded by status = 'approved', so two
 * sessions (or two proxies) can never both use it. STATE_OK with *id,
 * STATE_NOT_FOUND when there is none. */
int state_approval_use(struct state *st, const char *user, const char *asset,
		       const char *account, const char *sql, size_t len, uint64_t session,
		       int64_t now, int64_t *id) STATE_WUR;

/* Approve (approve = 1) or reject request id as approver. STATE_NOT_FOUND;
 * STATE_EXISTS when it is no longer pending (decided, used or expired; the
 * message says which); STATE_REFUSED when approving and approver is the
 * requester (names compared case-insensitively). A requester may reject
 * (withdraw) their own request. */
int state_approval_decide(struct state *st, int64_t id, int approve, const char *approver,
			  int64_t now) STATE_WUR;

/* Store `expired` on every pending or approved request past its lifetime.
 * *n (may be NULL) gets how many changed. */
int state_approval_expire(struct state *st, int64_t now, int *n) STATE_WUR;

/* Delete every request that can no longer change (expired, rejected, used,
 * or past its lifetime) and whose last event is at least `retention`
 * seconds before now, so the table stays bounded ([limits]
 * approval_retention; the daemon calls it every minute). *n (may be NULL)
 * gets how many were deleted. */
int state_approval_purge(struct state *st, int64_t now, int64_t retention, int *n) STATE_WUR;

/* Request id, its status effective at now. Release *out after STATE_OK. */
int state_approval_get(struct state *st, int64_t id, int64_t now,
		       struct state_approval *out) STATE_WUR;

/* Requests by id, every one (all = 1) or only those pending at now. Same
 * callback rules as state_user_list. */
int state_approval_list(struct state *st, int all, int64_t now,
			int (*cb)(void *ctx, const struct state_approval *a),
			void *ctx) STATE_WUR;

/* ---- the life of access (state_lifecycle.c) ----
 *
 * Changes an administrator makes after the fact: disable, edit or remove a
 * user, edit or remove an asset or account, rotate a hosted secret, revoke
 * a grant or all of a user's tokens, the token rules of a grant, and the
 * failed-login counters. The columns and the lockouts table they need are
 * added by an idempotent step run at every open (state_int.h), so a state
 * file of schema version 2 gains them on first use. Removing cascades
 * (foreign keys): a user takes its grants and tokens, an asset its accounts,
 * an account its grants and tokens. */

/* Is user id disabled? STATE_OK with *disabled set, STATE_NOT_FOUND. */
int state_user_disabled(struct state *st, int64_t user_id, int *disabled) STATE_WUR;
/* Set (1) or clear (0) the disabled flag. STATE_NOT_FOUND; STATE_EXISTS
 * when it already had that value. */
int state_user_set_disabled(struct state *st, const char *name, int disabled) STATE_WUR;
/* Change sources (NULL = keep) and max_sessions (< 0 = keep). */
int state_user_update(struct state *st, const char *name, const char *sources,
		      int max_sessions) STATE_WUR;
/* Remove a user with its grants and tokens; *grants / *tokens (may be
 * NULL) get how many went with it. STATE_NOT_FOUND. */
int state_user_remove(struct state *st, const char *name, int *grants, int *tokens) STATE_WUR;

/* What `asset set` changes: each field only when its has_ flag is set. */
struct state_asset_change {
	int has_host, has_port, has_tls, has_service;
	const char *host;
	int port;
	enum asset_tls tls;
	const char *service;
};
int state_asset_update(struct state *st, const char *name,
		       const struct state_asset_change *ch) STATE_WUR;
/* Grants on the accounts of asset `name`. STATE_NOT_FOUND. */
int state_asset_grants(struct state *st, const char *name, int *grants) STATE_WUR;
/* Remove an asset with its accounts, grants and tokens. STATE_REFUSED
 * when grants point to it and force is 0. *grants gets how many grants
 * were (or, refused, would be) removed. STATE_NOT_FOUND. */
int state_asset_remove(struct state *st, const char *name, int force, int *grants) STATE_WUR;

/* Point account id at a new secret source: kind, ref ("" for stored) and,
 * for stored, the sealed blob (may be set later with
 * state_account_set_blob in the same transaction). STATE_NOT_FOUND. */
int state_account_set_secret(struct state *st, int64_t id, enum state_secret_kind kind,
			     const char *ref) STATE_WUR;
/* Remove an account with its grants and tokens. STATE_NOT_FOUND. */
int state_account_remove(struct state *st, int64_t id, int *grants, int *tokens) STATE_WUR;

/* One grant by id (names filled). STATE_NOT_FOUND. */
int state_grant_get(struct state *st, int64_t id, struct state_grant *out) STATE_WUR;
/* Delete grant id. STATE_NOT_FOUND. */
int state_grant_revoke(struct state *st, int64_t id) STATE_WUR;
/* The token rules of grant id: max_ttl seconds (0 = no limit beyond
 * sqlbastionctl's own), renewable 0/1. */
int state_grant_set_token_rules(struct state *st, int64_t id, int64_t max_ttl,
				int renewable) STATE_WUR;
int state_grant_token_rules(struct state *st, int64_t id, int64_t *max_ttl,
			    int *renewable) STATE_WUR;
/* The rules that bind a token of user_id on account_id, over the grants
 * valid at now (not past `until`): the most permissive (a grant without a
 * maximum wins; renewable if any is). STATE_NOT_FOUND when no grant is
 * valid. */
int state_token_rules_for(struct state *st, int64_t user_id, int64_t account_id, int64_t now,
			  int64_t *max_ttl, int *renewable) STATE_WUR;
/* Revoke every unrevoked token of user_id; *n gets how many. */
int state_token_revoke_user(struct state *st, int64_t user_id, int64_t now, int *n) STATE_WUR;

/* Does row id exist in users (0), accounts (1) or assets (2)? 1, 0, or
 * STATE_ERROR. For naming why a session's token went away. */
enum state_entity { STATE_ENT_USER, STATE_ENT_ACCOUNT, STATE_ENT_ASSET };
int state_entity_exists(struct state *st, enum state_entity e, int64_t id);

/* SQLite's PRAGMA data_version of this connection: changes whenever
 * another connection (sqlbastionctl, another proxy) commits. 0 or -1. */
int state_data_version(struct state *st, int64_t *v) STATE_WUR;

/* Failed-login counters, one row per (user, source IP) and one per source
 * IP (user ""). user is the name as the client sent it, known or not. */
#define STATE_LOCKOUT_USER_MAX 128
struct state_lockout {
	char user[STATE_LOCKOUT_USER_MAX];
	char ip[64];
	int failures;         /* in the current window */
	int64_t window_start; /* first failure of the window */
	int locks;            /* locks in a row (the back-off exponent) */
	int64_t locked_at;    /* 0 = never locked */
	int64_t locked_until; /* locked while now < locked_until */
	int audited;          /* 0 start not audited, 1 start audited, 2 end audited too */
};
int state_lockout_get(struct state *st, const char *user, const char *ip,
		      struct state_lockout *out) STATE_WUR;
int state_lockout_put(struct state *st, const struct state_lockout *l); /* best effort: may be ignored */
/* Every row, by ip then user. Same callback rules as state_user_list. */
int state_lockout_list(struct state *st, int (*cb)(void *ctx, const struct state_lockout *l),
		       void *ctx) STATE_WUR;
/* Rows whose lock start or end is not audited yet at now. */
int state_lockout_pending(struct state *st, int64_t now,
			  int (*cb)(void *ctx, const struct state_lockout *l), void *ctx) STATE_WUR;
int state_lockout_mark(struct state *st, const char *user, const char *ip, int audited) STATE_WUR;
/* Delete the rows of user (ip NULL), or of ip (user NULL: the source's own
 * row and every user's from it). *n gets how many. */
int state_lockout_clear(struct state *st, const char *user, const char *ip, int *n) STATE_WUR;
/* Delete rows neither locked nor counting at now (window ended, lock
 * over and audited) for `idle` seconds: keeps the table small. */
int state_lockout_prune(struct state *st, int64_t now, int64_t idle) STATE_WUR;

#endif
