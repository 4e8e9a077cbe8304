/* decide: the protocol-independent half of handling a statement.
 *
 * A frontend extracts statement text from its wire format and asks for the
 * policy decision (decide_evaluate) and the audit record that must exist
 * before the statement is forwarded (decide_audit_statement). Both take an
 * identity (identity.h) and plain values; neither knows a protocol or a
 * session, so an entry path without a client socket uses them as they are.
 * The sess_* functions at the end are adapters for frontends that hold a
 * struct session: they pass its identity and lexing state. Review/approval handling and any
 * other decision step shared by all protocols belongs here, so every
 * frontend gets it at once.
 */
#ifndef SB_DECIDE_H
#define SB_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "proxy/identity.h"

struct session;
struct sb_proxy;
struct state;

/* How the server reads statement text now. The frontend fills it from the
 * server's own reports (PostgreSQL ParameterStatus; MySQL's handshake and
 * its sql_mode / character_set_client probe); decide lexes with it. Zeroed
 * = the defaults (standard strings, UTF8, no MySQL mode known). */
struct decide_lexing {
	int std_strings_off;          /* PostgreSQL standard_conforming_strings = off */
	char client_encoding[32];     /* "" = UTF8; MySQL: character_set_client */
	unsigned mysql_mode;          /* MySQL: POLICY_MY_* bits the server confirmed */
	unsigned long server_version; /* MySQL: policy_mysql_version; 0 = unknown */
	int server_mariadb;
	int ids_as_written;           /* the text goes to the server unrewritten (a
					 MySQL prepared statement): a session id in it
					 (KILL n) is the server's own, never the proxy's */
};

/* What a decision needs besides the identity: where approvals are kept,
 * how the server lexes statements now and what only the caller can
 * answer. Borrowed. */
struct decide_env {
	struct state *state;              /* the review workflow's approvals; NULL = held, not stored */
	const char *phase;                /* for log lines; NULL = "-" */
	const struct decide_lexing *lex;  /* NULL = the defaults */
	/* policy_request.owns_session and .routine (may be NULL) */
	int (*owns_session)(void *ctx, uint64_t id, enum policy_session_id how);
	void *owns_ctx;
	int (*routine)(void *ctx, const char *name, size_t len,
		       const struct policy_routine **defs);
	void *routine_ctx;
	int no_review;               /* 1: a `review` decision stays `review`; no
					approval is asked for or used up */
	int quiet;                   /* 1: no log line for a refusal (a decision
					made only to compare it with another) */
};

/* Decide on `sql` for identity `who` (its user, asset, account, grant level,
 * database, policy snapshot). Fills *out (reused across calls). An identity
 * without a policy fails closed.
 *
 * The review workflow: when the decision is `review`, and only then, the
 * state DB is asked for an approval of exactly these bytes for this user,
 * asset and account. One that is approved, unused and not expired is used
 * up (marked used by this session) and the decision becomes `allow`, with
 * the review rule kept in out->rule: the caller runs the statement. Else
 * the statement is held: a pending request is made (or the pending one of
 * the same statement found) and out->message says
 * "sqlbastion: held for review by rule '<rule>' (approval N)". Returns the
 * approval id the decision involves (the one used, or the request), for
 * the audit record; 0 when none (not a review decision, or the state DB
 * failed: then the statement stays held, and the message says so). */
int64_t decide_evaluate(const struct identity *who, const struct decide_env *env,
			enum policy_dialect dialect, const char *sql, size_t len,
			struct policy_result *out);

/* What an audit "query" record says about a statement. */
struct sess_stmt_info {
	const char *sql;
	size_t len;
	const char *verb, *fingerprint, *objects, *rule; /* may be NULL or "" */
	enum policy_action action;
	const char *params; /* bound parameters as a JSON array, or NULL */
	int64_t approval;   /* approval id from sess_evaluate, 0 = none */
	const char *decision; /* NULL = named after action; else e.g. "server-rejected" */
	const char *error;    /* NULL, or what the server answered instead of running it */
};

/* Write the "query" record of statement query_id (the caller numbers its
 * statements from 1). Returns 0, or -1 when the record could not be
 * written and on_failure = close: the statement must then be refused, not
 * run. */
int decide_audit_statement(struct sb_proxy *px, const struct identity *who, uint64_t query_id,
			   const struct sess_stmt_info *st) __attribute__((warn_unused_result));

/* Write the "query_end" record of statement query_id (0 = none: nothing
 * written): rows (-1 = unknown), error (NULL = none), duration since
 * start_us (sess_now_us()). Deferred to the next durable record: the
 * statement already ran, so there is nothing to refuse. Returns 0, or -1
 * with err filled when the record is lost. */
int decide_query_end(struct sb_proxy *px, const struct identity *who, uint64_t query_id,
		     int64_t start_us, int64_t rows, const char *error, char *err, size_t errlen);

/* ---- adapters for a frontend holding a session ---- */

/* decide_evaluate for the session's identity, with its lexing state, its
 * routine catalog and the live-session list for KILL / pg_cancel_backend. */
int64_t sess_evaluate(struct session *s, enum policy_dialect dialect, const char *sql,
		      size_t len, struct policy_result *out);

/* sess_evaluate without the review step (decide_env.no_review). */
void sess_evaluate_no_review(struct session *s, enum policy_dialect dialect, const char *sql,
			     size_t len, struct policy_result *out);

/* One reading of sql: sess_evaluate_no_review under the lexing *lex
 * instead of the session's, without the routine catalog, the live-session
 * list or a log line. For a frontend that asks whether every lexing the
 * server could apply decides alike (PostgreSQL while a settings change is
 * not confirmed yet). */
void sess_evaluate_reading(struct session *s, enum policy_dialect dialect,
			   const struct decide_lexing *lex, const char *sql, size_t len,
			   struct policy_result *out);

/* Is id the server's own id (backend_id) of one of the live sessions of
 * s's user on the same server, through the same protocol? (0 never is.) */
int sess_owns_server_id(const struct session *s, uint64_t id);

/* decide_audit_statement with the session's next query id. Returns the
 * query id (for query_end), or 0 when the statement must be refused. */
uint64_t sess_audit_statement(struct session *s, const struct sess_stmt_info *st)
	__attribute__((warn_unused_result));

/* decide_query_end for the session; a lost record is logged. */
void sess_query_end(struct session *s, uint64_t query_id, int64_t start_us, int64_t rows,
		    const char *error);

/* The client-facing text of a refusal because the audit log is down. */
#define SESS_AUDIT_DOWN_MESSAGE "sqlbastion: audit log unavailable; statement not run"

#endif
