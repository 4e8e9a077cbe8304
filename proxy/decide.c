/* decide: policy decision and "query" audit record for one statement (see
 * decide.h). */
#include "proxy/decide.h"

#include <stdio.h>
#include <time.h>

#include "audit/audit.h"
#include "proxy/session.h"

void sess_evaluate(struct session *s, enum policy_dialect dialect, const char *sql, size_t len,
		   struct policy_result *out)
{
	struct policy_request req = {.dialect = dialect,
				     .level = s->target.level,
				     .user = s->target.user,
				     .asset = s->target.asset,
				     .account = s->target.account,
				     .sql = sql,
				     .sql_len = len,
				     .now = time(NULL),
				     .std_strings_off = s->std_strings_off,
				     .client_encoding = s->client_encoding};
	if (!s->policy) {
		out->action = POLICY_DENY;
		snprintf(out->rule, sizeof out->rule, "fail-closed");
		snprintf(out->message, sizeof out->message,
			 "sqlbastion: blocked by rule 'fail-closed'");
		return;
	}
	(void)policy_evaluate(s->policy, &req, out);
	if (out->action >= POLICY_REVIEW)
		sess_log(s, LOG_INFO, "%s by rule %s: %s", policy_action_name(out->action), out->rule,
			 out->verb);
}

uint64_t sess_audit_statement(struct session *s, const struct sess_stmt_info *st)
{
	uint64_t qid = ++s->next_query_id;
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_QUERY);
	ev.query_id = qid;
	ev.statement = st->sql;
	ev.statement_len = st->len;
	ev.verb = st->verb && *st->verb ? st->verb : NULL;
	ev.fingerprint = st->fingerprint && *st->fingerprint ? st->fingerprint : NULL;
	ev.objects = st->objects && *st->objects ? st->objects : NULL;
	ev.rule = st->rule && *st->rule ? st->rule : NULL;
	ev.decision = policy_action_name(st->action);
	ev.params = st->params;
	return sess_audit(s, &ev) == 0 ? qid : 0;
}

void sess_query_end(struct session *s, uint64_t query_id, int64_t start_us, int64_t rows,
		    const char *error)
{
	if (!query_id)
		return;
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_QUERY_END);
	ev.query_id = query_id;
	ev.rows = rows;
	ev.error = error;
	ev.duration_us = sess_now_us() - start_us;
	sess_audit_later(s, &ev);
}
