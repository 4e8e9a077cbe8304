/* decide: policy decision, the review workflow's approvals, and the "query"
 * audit record for one statement (see decide.h). */
#include "proxy/decide.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/state.h"

/* A `review` decision (see decide.h): use an approval, or hold. Returns the
 * approval id, 0 when the state DB failed (the statement stays held). */
static int64_t review(struct session *s, const char *sql, size_t len, struct policy_result *out)
{
	struct state *st = s->px->state;
	int64_t now = (int64_t)time(NULL), id = 0;
	int created = 0, rc;
	if (!st) {
		rc = STATE_ERROR;
		goto fail;
	}
	rc = state_approval_use(st, s->target.user, s->target.asset, s->target.account, sql, len,
				s->id, now, &id);
	if (rc == STATE_OK) {
		out->action = POLICY_ALLOW;
		out->message[0] = '\0';
		sess_log(s, LOG_INFO, "approval %lld used: %s allowed once (rule %s)", (long long)id,
			 out->verb, out->rule);
		return id;
	}
	if (rc == STATE_NOT_FOUND) {
		struct state_approval_request rq = {.user = s->target.user,
						    .asset = s->target.asset,
						    .account = s->target.account,
						    .protocol = s->proto->name,
						    .sql = sql,
						    .sql_len = len,
						    .fingerprint = out->fingerprint,
						    .rule = out->rule,
						    .session = s->id};
		rc = state_approval_request(st, &rq, now, &id, &created);
	}
	if (rc == STATE_REFUSED) {
		/* The user's pending requests are at their bound: held, not stored. */
		snprintf(out->message, sizeof out->message,
			 "sqlbastion: held for review by rule '%s' (too many approval requests "
			 "pending; ask an administrator to decide them)",
			 out->rule);
		sess_log(s, LOG_WARN, "held for review by rule %s, not stored: %s", out->rule,
			 state_errmsg(st));
		return 0;
	}
	if (rc != STATE_OK)
		goto fail;
	snprintf(out->message, sizeof out->message,
		 "sqlbastion: held for review by rule '%s' (approval %lld)", out->rule,
		 (long long)id);
	sess_log(s, LOG_INFO, "held for review by rule %s: %s, %s approval request %lld",
		 out->rule, out->verb, created ? "new" : "pending", (long long)id);
	return id;
fail:
	sess_log(s, LOG_ERR, "held for review by rule %s, but no approval request stored: %s",
		 out->rule, st ? state_errmsg(st) : "no state db");
	snprintf(out->message, sizeof out->message,
		 "sqlbastion: held for review by rule '%s' (the approval request could not be "
		 "stored; try again)",
		 out->rule);
	return 0;
}

/* policy_request.owns_session: is `id` one of this user's live sessions on
 * the same database server, by the server's id of its backend connection
 * (PG pid, MySQL thread id) or by the proxy's session id? */
static int owns_session(void *ctx, uint64_t id, enum policy_session_id how)
{
	const struct session *s = ctx;
	if (s->preparing)
		how = POLICY_SESSION_BACKEND_ID; /* the server runs it as written */
	/* a proxy id that names no live session: the MySQL frontend sends it
	 * as the server's thread id only when that is one of the user's own
	 * (or the user may end anyone's), else answers "Unknown thread id"
	 * itself and sends nothing to the server (my_relay.c kill_target) */
	if (how == POLICY_SESSION_PROXY_ID && !sess_find(s->px, id))
		return 1;
	for (const struct session *v = s->px->sessions; v; v = v->next) {
		if (!v->logged_in || v->closing || v->proto != s->proto ||
		    strcmp(v->target.user, s->target.user) != 0 ||
		    strcmp(v->target.host, s->target.host) != 0 || v->target.port != s->target.port)
			continue;
		/* the frontend's plain form also takes the user's own backend
		 * thread id (a DBA's KILL QUERY <CONNECTION_ID()>) */
		if ((how == POLICY_SESSION_PROXY_ID && v->id == id) ||
		    (v->backend_id != 0 && v->backend_id == id))
			return 1;
	}
	return 0;
}

int64_t sess_evaluate(struct session *s, enum policy_dialect dialect, const char *sql,
		      size_t len, struct policy_result *out)
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
				     .client_encoding = s->client_encoding,
				     .mysql_mode = s->mysql_mode,
				     .server_version = s->backend_version,
				     .server_mariadb = s->backend_mariadb,
				     .owns_session = owns_session,
				     .owns_ctx = s,
				     .database = dialect == POLICY_DIALECT_MYSQL ? s->database : NULL,
				     .database_unknown = s->database_unknown,
				     .routine = s->routine,
				     .routine_ctx = s->routine_ctx};
	if (!s->policy) {
		out->action = POLICY_DENY;
		snprintf(out->rule, sizeof out->rule, "fail-closed");
		snprintf(out->message, sizeof out->message,
			 "sqlbastion: blocked by rule 'fail-closed'");
		return 0;
	}
	(void)policy_evaluate(s->policy, &req, out);
	if (out->routines_missing)
		return 0; /* provisional: evaluated again once the routines are known */
	if (out->action == POLICY_REVIEW)
		return review(s, sql, len, out);
	if (out->action >= POLICY_REVIEW)
		sess_log(s, LOG_INFO, "%s by rule %s: %s", policy_action_name(out->action), out->rule,
			 out->verb);
	return 0;
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
	ev.decision = st->decision ? st->decision : policy_action_name(st->action);
	ev.error = st->error;
	ev.params = st->params;
	ev.approval = st->approval;
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
