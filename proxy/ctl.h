/* ctl: the pieces of sqlbastionctl shared by its verb files.
 *
 * ctl_main.c parses "-c CONF <verb> ...", loads the config and dispatches;
 * ctl_objects.c (user, asset, account, grant), ctl_check.c (asset check),
 * ctl_tokens.c (token), ctl_audit.c (audit search / verify / reindex),
 * ctl_admin.c (sessions, kill, reload over the admin socket), ctl_policy.c
 * (policy test), ctl_approvals.c (approvals, approve, reject) and
 * ctl_lifecycle.c (set / disable / remove / revoke verbs, lockouts) implement
 * the verbs; ctl_common.c holds what they share: messages and exit codes,
 * argument parsing, name / time / duration parsing, and the admin audit
 * event every change writes; ctl_steps.c the steps around the state DB
 * (open for a change, look up, report a failure, record, list);
 * ctl_secret.c how a hosted account's secret is given and stored.
 *
 * Exit codes: 0 done, 1 failed (one line "sqlbastionctl: <verb>: <problem>"
 * on stderr), 2 usage error. No secret (token, password, master key) is ever
 * printed except the token, once, by "token issue".
 */
#ifndef SB_CTL_H
#define SB_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "audit/audit.h"
#include "proxy/config.h"
#include "lib/crypto.h"
#include "proxy/state.h"

#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 2

#define CTL_DEFAULT_TTL (8 * 3600)
#define CTL_MAX_TTL (366 * 86400) /* a token lives at most a year; renew it */

struct ctl {
	struct sb_config cfg;
	struct state *st;      /* owned; opened by ctl_state() on first use */
	const char *verb;      /* "user add", ... for messages and audit */
	time_t now;
	char os_user[64];      /* who runs us, for admin audit events */
	char actor[64];        /* who the admin events name: SUDO_USER under sudo, else os_user */
	int admin_fd;          /* admin socket to the running daemon, or -1 */
};

/* Print "sqlbastionctl: <verb>: <message>" on stderr; return CTL_FAIL. */
int ctl_fail(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, plus a pointer to --help; return CTL_USAGE. */
int ctl_usage(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The state DB, opened on first call. NULL after printing the reason. */
struct state *ctl_state(struct ctl *c);

/* Load the master key into key. CTL_OK or CTL_FAIL (printed). */
int ctl_master_key(struct ctl *c, uint8_t key[SB_MASTER_KEY_LEN]) __attribute__((warn_unused_result));

/* Options of one verb. A flag with has_arg sets *val; without, sets *flag. */
struct ctl_opt {
	const char *name; /* "--ttl" */
	int has_arg;
	const char **val;
	int *flag;
};

/* Parse argv (the words after the verb): options from opts (as "--x v" or
 * "--x=v", anywhere), the rest into pos[] (at most maxpos, at least
 * minpos). Returns CTL_OK or CTL_USAGE (message printed). */
int ctl_args(struct ctl *c, int argc, char **argv, const struct ctl_opt *opts,
	     const char **pos, int minpos, int maxpos, int *npos)
	__attribute__((warn_unused_result));

/* [A-Za-z0-9_.-]{1,63} */
int ctl_valid_name(const char *s);

/* Printable ASCII without spaces (hosts, service names) / no control
 * characters (database user names, commands); 1 .. max - 1 bytes. 1 or 0. */
int ctl_valid_word(const char *s, size_t max);
int ctl_valid_text(const char *s, size_t max);

/* A decimal number in [lo, hi]. 0, or -1 when s is not one. */
int ctl_parse_long(const char *s, long lo, long hi, long *out) __attribute__((warn_unused_result));

/* A positive decimal id (token, approval). 0, or -1 when s is not one. */
int ctl_parse_id(const char *s, int64_t *id);
/* Split "ASSET/ACCOUNT" into two valid names. 0 or -1. */
int ctl_split_target(const char *s, char asset[64], char account[64]);

/* "30m", "8h", "7d", "2w", "90s", or a sum such as "1h30m". Returns 0 and
 * seconds (> 0), or -1. */
int ctl_parse_duration(const char *s, int64_t *secs) __attribute__((warn_unused_result));

/* A point in time: RFC 3339 ("2025-01-02T15:04:05Z", "...+02:00"),
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" (local time; 'T' also accepted),
 * "@UNIXTIME", or relative to now: "+8h", "-30m", "+2d". With end set, a
 * value given to the day or minute means the end of that day or minute
 * (the start of the next one), so "--until 2025-01-02" includes that day.
 * Returns 0 or -1. */
int ctl_parse_time(const char *s, time_t now, int end, time_t *out)
	__attribute__((warn_unused_result));

/* Local "YYYY-MM-DD HH:MM:SS" (or "-" for 0). */
void ctl_fmt_time(int64_t t, char *buf, size_t cap);
/* RFC 3339 in UTC: "YYYY-MM-DDTHH:MM:SSZ". */
void ctl_fmt_rfc3339(int64_t t, char *buf, size_t cap);

/* JSON string literal of s (quotes included) into buf. */
void ctl_json_str(const char *s, char *buf, size_t cap);
/* Write s[0..n) to f as a JSON string literal (quotes included), however
 * long: valid UTF-8 kept, '"', '\\', controls and DEL escaped, and a byte
 * that is not part of valid UTF-8 written as \u00XX, so the output is
 * always valid JSON. */
void ctl_json_fput(FILE *f, const char *s, size_t n);

/* The command line words joined shell-style for the audit record, with the
 * value of each option named in redact[] (NULL-terminated) replaced by
 * "<redacted>". */
void ctl_cmdline(const char *verb, int argc, char **argv, const char *const *redact,
		 char *buf, size_t cap);

/* Open the audit log before making a change (so an unwritable log stops
 * the change). When the daemon answers on its admin socket, the event will
 * be sent to it (the single writer, see audit.h) and c->admin_fd is set;
 * otherwise it is appended to the file directly (shared, with flock).
 * NULL after printing the reason. */
struct audit_log *ctl_audit_open(struct ctl *c);
/* Write the admin event for a change just made and close log. 0, or -1
 * with err filled (nothing printed). */
int ctl_audit_write(struct ctl *c, struct audit_log *log, const char *statement,
		    const char *asset, const char *account, const char *objects, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/* The same, printing on failure. asset,
 * account, objects may be NULL. Returns CTL_OK, or CTL_FAIL after printing
 * that the change was made but not recorded. */
int ctl_audit_admin(struct ctl *c, struct audit_log *log, const char *statement,
		    const char *asset, const char *account, const char *objects);

/* ---- the steps around the state DB (ctl_steps.c) ---- */

/* An "ASSET/ACCOUNT" argument, split and checked. */
struct ctl_target {
	char asset[64];
	char account[64];
	char name[160]; /* "ASSET/ACCOUNT" again, for messages */
};

/* Parse s into t: CTL_OK, or CTL_USAGE after printing what was expected. */
int ctl_target_parse(struct ctl *c, const char *s, struct ctl_target *t)
	__attribute__((warn_unused_result));

/* Open the state DB (*st) and then the audit log for a change. The log, or
 * NULL after printing why (nothing changed). */
struct audit_log *ctl_change_open(struct ctl *c, struct state **st);

/* Begin a transaction for a change. CTL_OK, or CTL_FAIL after printing why
 * and closing log. */
int ctl_begin(struct ctl *c, struct state *st, struct audit_log *log)
	__attribute__((warn_unused_result));

/* A state call failed: close log when given (the change was not made) and
 * print the state DB's message. Returns CTL_FAIL. */
int ctl_db_fail(struct ctl *c, struct state *st, struct audit_log *log);
/* The same for a call that returned rc (not STATE_OK), printing fmt instead
 * when rc is code ("no user %s" for STATE_NOT_FOUND, ...). CTL_FAIL. */
int ctl_state_fail(struct ctl *c, struct state *st, struct audit_log *log, int rc, int code,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* CTL_OK when rc is STATE_OK, else CTL_FAIL after printing the state DB's
 * message (the end of a listing). */
int ctl_state_result(struct ctl *c, struct state *st, int rc);

/* Look up what a verb names: CTL_OK with *out filled, or CTL_FAIL after
 * printing "no user NAME" (asset, account, token) or the state DB's message. */
int ctl_get_user(struct ctl *c, struct state *st, const char *name, struct state_user *out);
int ctl_get_asset(struct ctl *c, struct state *st, const char *name, struct state_asset *out);
int ctl_get_account(struct ctl *c, struct state *st, const struct ctl_target *t,
		    struct state_account *out);
int ctl_get_token(struct ctl *c, struct state *st, int64_t id, struct state_token_info *out);

/* Record the change just made and close log: the verb's command line (the
 * values of the options named in redact hidden) as statement, objfmt as
 * objects (asset, account may be NULL). CTL_OK, or CTL_FAIL after printing
 * that the change was made but not recorded. */
int ctl_record(struct ctl *c, struct audit_log *log, int argc, char **argv,
	       const char *const *redact, const char *asset, const char *account,
	       const char *objfmt, ...) __attribute__((format(printf, 8, 9)));

/* Start a listing: parse argv (options from opts, which may be NULL; no
 * other words) and open the state DB into *st. CTL_OK, else the exit code
 * (printed). */
int ctl_list_open(struct ctl *c, int argc, char **argv, const struct ctl_opt *opts,
		  struct state **st) __attribute__((warn_unused_result));

/* A time as a JSON value: "RFC 3339" (quotes included), or null for 0. */
void ctl_json_time(int64_t t, char *buf, size_t cap);

/* The verbs: argv holds the words after the verb. Each returns an exit code. */
int ctl_init(struct ctl *c, int argc, char **argv);
int ctl_user_add(struct ctl *c, int argc, char **argv);
int ctl_user_list(struct ctl *c, int argc, char **argv);
int ctl_asset_add(struct ctl *c, int argc, char **argv);
int ctl_asset_list(struct ctl *c, int argc, char **argv);
int ctl_asset_check(struct ctl *c, int argc, char **argv);
int ctl_account_add(struct ctl *c, int argc, char **argv);
int ctl_account_list(struct ctl *c, int argc, char **argv);
int ctl_grant_add(struct ctl *c, int argc, char **argv);
int ctl_grant_list(struct ctl *c, int argc, char **argv);
int ctl_token_issue(struct ctl *c, int argc, char **argv);
/* The SSH host key's fingerprint and known_hosts line for the first ssh
 * listener (nothing without one). */
void ctl_print_ssh_hostkey(const struct ctl *c);
int ctl_token_list(struct ctl *c, int argc, char **argv);
int ctl_token_renew(struct ctl *c, int argc, char **argv);
int ctl_token_revoke(struct ctl *c, int argc, char **argv);
int ctl_audit_search(struct ctl *c, int argc, char **argv);
int ctl_audit_verify(struct ctl *c, int argc, char **argv);
int ctl_audit_reindex(struct ctl *c, int argc, char **argv);
int ctl_sessions(struct ctl *c, int argc, char **argv);
int ctl_kill(struct ctl *c, int argc, char **argv);
int ctl_reload(struct ctl *c, int argc, char **argv);
int ctl_policy_test(struct ctl *c, int argc, char **argv);   /* ctl_policy.c */
int ctl_approvals(struct ctl *c, int argc, char **argv);     /* ctl_approvals.c */
int ctl_approve(struct ctl *c, int argc, char **argv);
int ctl_reject(struct ctl *c, int argc, char **argv);

/* ctl_lifecycle.c: changing and taking away access */
int ctl_user_disable(struct ctl *c, int argc, char **argv);
int ctl_user_enable(struct ctl *c, int argc, char **argv);
int ctl_user_remove(struct ctl *c, int argc, char **argv);
int ctl_user_set(struct ctl *c, int argc, char **argv);
int ctl_asset_set(struct ctl *c, int argc, char **argv);
int ctl_asset_remove(struct ctl *c, int argc, char **argv);
int ctl_account_set(struct ctl *c, int argc, char **argv);
int ctl_account_remove(struct ctl *c, int argc, char **argv);
int ctl_grant_revoke(struct ctl *c, int argc, char **argv);
int ctl_lockouts(struct ctl *c, int argc, char **argv);
int ctl_lockouts_clear(struct ctl *c, int argc, char **argv);
/* token revoke --user USER (argv: the verb's words, for the audit record) */
int ctl_token_revoke_user(struct ctl *c, const char *user, int argc, char **argv);
/* The token rules of the grants of user_id on account_id (--max-ttl,
 * --renewable) applied to a token issue (renew 0) or renew (renew 1) of
 * *ttl seconds: CTL_OK (a default TTL above the maximum is shortened to
 * it) or CTL_FAIL (printed: a given --ttl above it, or not renewable). */
int ctl_token_rules(struct ctl *c, struct state *st, int64_t user_id, int64_t account_id,
		    const char *target, int renew, int ttl_given, int64_t *ttl);
/* ctl_objects.c, shared with user set: parse "NAME [--source CIDRS]
 * [--max-sessions N]" (adding: NAME must be a valid new name; else at least
 * one option is needed) into *name, *source (NULL when not given) and
 * *max_sessions (left alone when not given). CTL_OK or CTL_USAGE (printed). */
int ctl_user_args(struct ctl *c, int argc, char **argv, int adding, const char **name,
		  const char **source, long *max_sessions) __attribute__((warn_unused_result));

/* The options asset add and asset set share, filled by ctl_args through
 * CTL_ASSET_OPTS (the two auth option names are in ctl_asset_auth.h). */
struct ctl_asset_opts {
	const char *host, *port, *tls, *service, *weak, *keyfile, *native;
};
#define CTL_ASSET_OPTS(o)                                                           \
	{"--host", 1, &(o)->host, NULL}, {"--port", 1, &(o)->port, NULL},           \
		{"--tls", 1, &(o)->tls, NULL}, {"--service", 1, &(o)->service, NULL}, \
		{CTL_OPT_ALLOW_WEAK_AUTH, 1, &(o)->weak, NULL},                     \
		{CTL_OPT_SERVER_PUBLIC_KEY, 1, &(o)->keyfile, NULL},                \
		{CTL_OPT_NATIVE_ENCRYPTION, 1, &(o)->native, NULL}
/* ctl_objects.c, shared with asset set: check --host, --port and --tls of o
 * (with required, a missing host or port is refused) into ch (has_* set for
 * each given). CTL_OK or CTL_USAGE (printed). */
int ctl_asset_where(struct ctl *c, int required, const struct ctl_asset_opts *o,
		    struct state_asset_change *ch) __attribute__((warn_unused_result));

/* ---- a hosted account's secret (ctl_secret.c), for account add / set ---- */

/* The secret options of one verb: exactly one of --password-stdin,
 * --secret-file FILE, --secret-cmd CMD, --not-hosted (no secret: the
 * engineer gives the database password end to end). Filled by ctl_args through
 * CTL_SECRET_OPTS, then checked by ctl_secret_parse. */
struct ctl_secret {
	int from_stdin, not_hosted;
	const char *file, *cmd;
	enum state_secret_kind kind;
	char ref[STATE_REF_MAX];        /* the absolute file path or the command */
	char pw[SB_SECRET_MAX + 1];     /* a stored password, wiped by ctl_secret_wipe */
	uint8_t key[SB_MASTER_KEY_LEN]; /* the master key, for a stored password */
};
#define CTL_SECRET_OPTS(sec)                                   \
	{"--password-stdin", 0, NULL, &(sec)->from_stdin},      \
		{"--secret-file", 1, &(sec)->file, NULL},       \
		{"--secret-cmd", 1, &(sec)->cmd, NULL},         \
		{"--not-hosted", 0, NULL, &(sec)->not_hosted}
/* The options whose values the audit record hides. */
extern const char *const ctl_secret_redact[];

/* Check the options (one source, a one-line command, an existing file,
 * stored absolute). CTL_OK, CTL_USAGE or CTL_FAIL (printed). */
int ctl_secret_parse(struct ctl *c, struct ctl_secret *sec) __attribute__((warn_unused_result));
/* Start the change of an account's secret: for a stored password load the
 * master key and read the password from standard input (echo off on a
 * terminal; target names the account in the prompt), then open the audit
 * log and begin a transaction. The log, or NULL after printing why (nothing
 * changed; the caller still wipes sec). */
struct audit_log *ctl_secret_begin(struct ctl *c, struct state *st, struct ctl_secret *sec,
				   const char *target);
/* End the caller's transaction (ctl_begin) in which account id got its
 * secret kind and reference: seal and store a stored password, or fetch a
 * secret file once to catch a typo now rather than at the next login, then
 * commit. CTL_OK, or CTL_FAIL after printing why, rolling back and closing
 * log. */
int ctl_secret_commit(struct ctl *c, struct state *st, struct audit_log *log, int64_t id,
		      struct ctl_secret *sec) __attribute__((warn_unused_result));
/* Wipe the password and the master key. */
void ctl_secret_wipe(struct ctl_secret *sec);

/* ---- the admin socket (ctl_admin.c) ---- */

/* Connect to the daemon's admin socket: the fd, -2 when the daemon is not
 * running (err says so and how to start it), -1 other failure. */
int ctl_admin_connect(struct ctl *c, char *err, size_t errlen);
/* Send one request line and read one answer line (*resp malloc'd, without
 * the newline). 0 or -1 with err filled. */
int ctl_admin_roundtrip(int fd, const char *req, char **resp, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
