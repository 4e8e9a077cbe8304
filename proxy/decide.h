/* decide: the protocol-independent half of handling a statement.
 *
 * A frontend extracts statement text from its wire format and calls
 * sess_evaluate() for the policy decision and sess_audit_statement() for the
 * audit record that must exist before the statement is forwarded. Both take
 * plain values; neither knows a protocol. Review/approval handling and any
 * other decision step shared by all protocols belongs here, so every
 * frontend gets it at once.
 */
#ifndef SB_DECIDE_H
#define SB_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

struct session;

/* Decide on `sql` for this session (its user, asset, account, grant level,
 * policy snapshot). Fills *out (reused across calls). A session without a
 * policy fails closed.
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
int64_t sess_evaluate(struct session *s, enum policy_dialect dialect, const char *sql,
		      size_t len, struct policy_result *out);

/* sess_evaluate without the review step: a `review` decision stays
 * `review`; no approval is asked for or used up. */
void sess_evaluate_no_review(struct session *s, enum policy_dialect dialect, const char *sql,
			     size_t len, struct policy_result *out);

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

/* Write the "query" record. Returns its query id (for query_end), or 0 when
 * the record could not be written and on_failure = close: the statement
 * must then be refused, not run. */
uint64_t sess_audit_statement(struct session *s, const struct sess_stmt_info *st)
	__attribute__((warn_unused_result));

/* Write the "query_end" record of statement query_id (0 = none: nothing
 * written): rows (-1 = unknown), error (NULL = none), duration since
 * start_us (sess_now_us()). Deferred to the next durable record: the
 * statement already ran, so there is nothing to refuse. */
void sess_query_end(struct session *s, uint64_t query_id, int64_t start_us, int64_t rows,
		    const char *error);

/* The client-facing text of a refusal because the audit log is down. */
#define SESS_AUDIT_DOWN_MESSAGE "sqlbastion: audit log unavailable; statement not run"

#endif
