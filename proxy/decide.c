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
static int64_t review(const struct identity *who, const struct decide_env *env, const char *sql,
		      size_t len, struct policy_result *out)
{
	struct state *st = env->state;
	int64_t now = (int64_t)time(NULL), id = 0;
	int created = 0, rc;
	if (!st) {
		rc = STATE_ERROR;
		goto fail;
	}
	rc = state_approval_use(st, who->target.user, who->target.asset, who->target.account, sql,
				len, who->session, now, &id);
	if (rc == STATE_OK) {
		out->action = POLICY_ALLOW;
		out->message[0] = '\0';
		identity_log(who, env->phase, LOG_INFO, "approval %lld used: %s allowed once (rule %s)", (long long)id,
			 out->verb, out->rule);
		return id;
	}
	if (rc == STATE_NOT_FOUND) {
		struct state_approval_request rq = {.user = who->target.user,
						    .asset = who->target.asset,
						    .account = who->target.account,
						    .protocol = who->protocol,
						    .sql = sql,
						    .sql_len = len,
						    .fingerprint = out->fingerprint,
						    .rule = out->rule,
						    .session = who->session};
		rc = state_approval_request(st, &rq, now, &id, &created);
	}
	if (rc == STATE_REFUSED) {
		/* The user's pending requests are at their bound: held, not stored. */
		snprintf(out->message, sizeof out->message,
			 "sqlbastion: held for review by rule '%s' (too many approval requests "
			 "pending; ask an administrator to decide them)",
			 out->rule);
		identity_log(who, env->phase, LOG_WARN, "held for review by rule %s, not stored: %s", out->rule,
			 state_errmsg(st));
		return 0;
	}
	if (rc != STATE_OK)
		goto fail;
	snprintf(out->message, sizeof out->message,
		 "sqlbastion: held for review by rule '%s' (approval %lld)", out->rule,
		 (long long)id);
	identity_log(who, env->phase, LOG_INFO, "held for review by rule %s: %s, %s approval request %lld",
		 out->rule, out->verb, created ? "new" : "pending", (long long)id);
	return id;
fail:
	identity_log(who, env->phase, LOG_ERR, "held for review by rule %s, but no approval request stored: %s",
		 out->rule, st ? state_errmsg(st) : "no state db");
	snprintf(out->message, sizeof out->message,
		 "sqlbastion: held for review by rule '%s' (the approval request could not be "
		 "stored; try again)",
		 out->rule);
	return 0;
}

/* Is v a live session of s's user on the same server and protocol? */
static int same_user_server(const struct session *s, const struct session *v)
{
	return v->ident.logged_in && !v->closing && v->proto == s->proto &&
	       strcmp(v->ident.target.user, s->ident.target.user) == 0 &&
	       strcmp(v->ident.target.host, s->ident.target.host) == 0 &&
	       v->ident.target.port == s->ident.target.port;
}

int sess_owns_server_id(const struct session *s, uint64_t id)
{
	if (id == 0)
		return 0;
	for (const struct session *v = s->px->sessions; v; v = v->next)
		if (v->backend_id == id && same_user_server(s, v))
			return 1;
	return 0;
}

/* policy_request.owns_session: is `id` one of this user's live sessions on
 * the same database server, by the server's id of its backend connection
 * (PG pid, MySQL thread id) or by the proxy's session id? */
static int owns_session(void *ctx, uint64_t id, enum policy_session_id how)
{
	const struct session *s = ctx;
	if (s->lex.ids_as_written)
		how = POLICY_SESSION_BACKEND_ID; /* the server runs it as written */
	/* a proxy id that names no live session: the MySQL frontend sends it
	 * as the server's thread id only when that is one of the user's own
	 * (or the user may end anyone's), else answers "Unknown thread id"
	 * itself and sends nothing to the server (my_relay.c kill_target) */
	if (how == POLICY_SESSION_PROXY_ID) {
		const struct session *v = sess_find(s->px, id);
		if (!v || same_user_server(s, v))
			return 1;
	}
	/* the frontend's plain form also takes the user's own backend thread
	 * id (a DBA's KILL QUERY <CONNECTION_ID()>) */
	return sess_owns_server_id(s, id);
}

int64_t decide_evaluate(const struct identity *who, const struct decide_env *env,
			enum policy_dialect dialect, const char *sql, size_t len,
			struct policy_result *out)
{
	static const struct decide_lexing defaults;
	const struct decide_lexing *lex = env->lex ? env->lex : &defaults;
	struct policy_request req = {.dialect = dialect,
				     .level = who->target.level,
				     .user = who->target.user,
				     .asset = who->target.asset,
				     .account = who->target.account,
				     .sql = sql,
				     .sql_len = len,
				     .now = time(NULL),
				     .std_strings_off = lex->std_strings_off,
				     .client_encoding = lex->client_encoding,
				     .mysql_mode = lex->mysql_mode,
				     .server_version = lex->server_version,
				     .server_mariadb = lex->server_mariadb,
				     .owns_session = env->owns_session,
				     .owns_ctx = env->owns_ctx,
				     .database = dialect == POLICY_DIALECT_MYSQL ? who->database : NULL,
				     .database_unknown = who->database_unknown,
				     .routine = env->routine,
				     .routine_ctx = env->routine_ctx};
	if (!who->policy) {
		out->action = POLICY_DENY;
		snprintf(out->rule, sizeof out->rule, "fail-closed");
		snprintf(out->message, sizeof out->message,
			 "sqlbastion: blocked by rule 'fail-closed'");
		return 0;
	}
	(void)policy_evaluate(who->policy, &req, out);
	if (out->routines_missing)
		return 0; /* provisional: evaluated again once the routines are known */
	if (out->action == POLICY_REVIEW && !env->no_review)
		return review(who, env, sql, len, out);
	if (out->action >= POLICY_REVIEW && !env->quiet)
		identity_log(who, env->phase, LOG_INFO, "%s by rule %s: %s",
			     policy_action_name(out->action), out->rule, out->verb);
	return 0;
}

int decide_audit_statement(struct sb_proxy *px, const struct identity *who, uint64_t query_id,
			   const struct sess_stmt_info *st)
{
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_QUERY);
	ev.query_id = query_id;
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
	return identity_audit(px, who, &ev);
}

int decide_query_end(struct sb_proxy *px, const struct identity *who, uint64_t query_id,
		     int64_t start_us, int64_t rows, const char *error, char *err, size_t errlen)
{
	if (!query_id)
		return 0;
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_QUERY_END);
	ev.query_id = query_id;
	ev.rows = rows;
	ev.error = error;
	ev.duration_us = sess_now_us() - start_us;
	return identity_audit_later(px, who, &ev, err, errlen);
}

/* ---- the adapters for frontends that hold a session ---- */

/* The session's lexing state, its live-session lookup and routine catalog. */
static void session_env(struct session *s, struct decide_env *env)
{
	*env = (struct decide_env){.state = s->px->state,
				   .phase = s->phase,
				   .lex = &s->lex,
				   .owns_session = owns_session,
				   .owns_ctx = s,
				   .routine = s->routine,
				   .routine_ctx = s->routine_ctx};
}

int64_t sess_evaluate(struct session *s, enum policy_dialect dialect, const char *sql,
		      size_t len, struct policy_result *out)
{
	struct decide_env env;
	session_env(s, &env);
	return decide_evaluate(&s->ident, &env, dialect, sql, len, out);
}

void sess_evaluate_no_review(struct session *s, enum policy_dialect dialect, const char *sql,
			     size_t len, struct policy_result *out)
{
	struct decide_env env;
	session_env(s, &env);
	env.no_review = 1;
	(void)decide_evaluate(&s->ident, &env, dialect, sql, len, out);
}

void sess_evaluate_reading(struct session *s, enum policy_dialect dialect,
			   const struct decide_lexing *lex, const char *sql, size_t len,
			   struct policy_result *out)
{
	struct decide_env env = {.state = s->px->state, .phase = s->phase, .lex = lex,
				 .no_review = 1, .quiet = 1};
	(void)decide_evaluate(&s->ident, &env, dialect, sql, len, out);
}

uint64_t sess_audit_statement(struct session *s, const struct sess_stmt_info *st)
{
	uint64_t qid = ++s->next_query_id;
	return decide_audit_statement(s->px, &s->ident, qid, st) == 0 ? qid : 0;
}

void sess_query_end(struct session *s, uint64_t query_id, int64_t start_us, int64_t rows,
		    const char *error)
{
	char err[256];
	if (decide_query_end(s->px, &s->ident, query_id, start_us, rows, error, err, sizeof err) !=
	    0)
		sess_log(s, LOG_WARN, "audit record lost: query_end: %s", err);
}
