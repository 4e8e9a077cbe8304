/* my_relay: the MySQL command phase.
 *
 * Client → backend: each command (one packet, or several when its payload
 * reaches 16 MiB - 1) is held whole, up to [limits] max_message, because
 * policy must read it. COM_QUERY, COM_STMT_PREPARE, COM_INIT_DB ("USE db")
 * and COM_FIELD_LIST are classified by policy and written to the audit log
 * before they are forwarded; COM_STMT_EXECUTE is audited with the prepared
 * text and its parameters decoded from the binary protocol. KILL and
 * COM_PROCESS_KILL name proxy session ids and are rewritten to the backend
 * thread id of that session. Commands the proxy cannot let through
 * (COM_CHANGE_USER, replication, shutdown) get an error from the proxy.
 *
 * A MySQL error does not abort a transaction, so a denied statement is
 * answered by the proxy itself (ERR 1227, SQLSTATE 42000, sequence id 1)
 * and never reaches the server. Answers are queued in command order with
 * the backend's, so a pipelining client sees them in its own order.
 * A statement held by a `review` rule is refused the same way, with the
 * message sess_evaluate() made ("held for review ... (approval N)"); a
 * prepared statement allowed by an approval runs once (approved_run()).
 *
 * Backend → client: replies stream (column definitions and rows are never
 * held; a row of 16 MiB or more passes as its packets arrive); the relay
 * reads only the packets that end a reply (OK, ERR, EOF), the column and
 * parameter counts, and LOCAL INFILE requests, which it refuses unless the
 * statement was an allowed LOAD DATA LOCAL (flag client-file) for a grant of
 * `write` or above. USE and COM_INIT_DB change the database unqualified
 * names write to: until the server has answered, policy takes it as unknown.
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "protocols/mysql/my_conn.h"
#include "protocols/mysql/my_mode.h"
#include "protocols/mysql/my_routines.h"
#include "protocols/mysql/my_syntax.h"
#include "proxy/decide.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/stream.h"

#define MY_CONTROL_MAX (1u << 20) /* largest OK/ERR/EOF/count packet the relay reads */

/* on_command() result: the command stays in the client's input, unread,
 * and the client is not read until my_relay_resume() (see hold_reason()). */
#define MY_HOLD 2

#define MY_ER_UNKNOWN_STMT_HANDLER 1243 /* HY000 */

static uint32_t get_id(const uint8_t *b)
{
	return (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 24;
}

/* ---- prepared statements ---- */

static void stmt_free(struct my_stmt *st)
{
	if (!st)
		return;
	stmt_decision_clear(&st->dec);
	free(st->types);
	free(st->long_data);
	free(st);
}

static struct my_stmt *stmt_find(struct my_conn *c, uint32_t id)
{
	if (id == 0xFFFFFFFFu)
		id = c->last_stmt_id;
	for (struct my_stmt *st = c->stmts; st; st = st->next)
		if (st->id == id)
			return st;
	return NULL;
}

static void stmt_remove(struct my_conn *c, uint32_t id)
{
	if (id == 0xFFFFFFFFu)
		id = c->last_stmt_id;
	if (id == c->last_stmt_id)
		c->last_stmt_id = 0; /* the server forgets it as "last prepared" too */
	for (struct my_stmt **pp = &c->stmts; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct my_stmt *st = *pp;
			*pp = st->next;
			stmt_free(st);
			return;
		}
	}
}

static void stmts_clear(struct my_conn *c)
{
	while (c->stmts) {
		struct my_stmt *st = c->stmts;
		c->stmts = st->next;
		stmt_free(st);
	}
}

/* ---- pending replies (a ring) ---- */

static const struct stmt_ops my_stmt_ops;

void my_relay_init(struct my_conn *c)
{
	stmt_queue_init(&c->pend, c->s, &my_stmt_ops, c);
}

static struct my_pending *pend_push(struct my_conn *c, enum my_pend_kind kind)
{
	struct my_pending *p = stmt_push(&c->pend);
	if (p) {
		p->kind = kind;
		p->phase = MY_RES_FIRST;
	}
	return p;
}

static struct my_pending *pend_head(struct my_conn *c)
{
	return stmt_head(&c->pend);
}

/* The reply of the head entry ended: query_end, then drop it. */
static void pend_pop(struct my_conn *c, const char *error_if_unset)
{
	stmt_pop(&c->pend, error_if_unset);
}

/* stmt_ops.release: what an entry owns and what its end changes (the
 * statement ids in flight, the queued local bytes, the current database)
 * once its query_end is written. */
static void pend_release(void *conn, void *entry, const char *error_if_unset)
{
	struct my_conn *c = conn;
	struct my_pending *p = entry;
	size_t *local = &c->pend.local_bytes;
	if ((p->kind == MY_PEND_PREPARE || p->refused_prepare) && c->prepares_in_flight)
		c->prepares_in_flight--;
	if (p->refused_prepare)
		c->last_stmt_id = 0; /* the client's id -1 names what was refused */
	if (p->kind == MY_PEND_LOCAL)
		*local -= p->reply_len < *local ? p->reply_len : *local;
	my_syntax_free(c, p);
	stmt_free(p->stmt);
	free(p->reply);
	if (p->db_change) {
		/* The current database decides where unqualified names write:
		 * known again only when the server ran the change without error */
		c->db_pending--;
		if (!p->hd.error && !error_if_unset && p->init_db) {
			snprintf(c->s->ident.database, sizeof c->s->ident.database, "%s", p->init_db);
			c->db_lost = 0;
		} else if (p->db_change == 2) {
			c->db_lost = 1;
		}
		c->s->ident.database_unknown = c->db_pending > 0 || c->db_lost;
	}
	free(p->init_db);
}

/* A reply that may change the current database was queued. */
static int db_change_pushed(struct my_conn *c, struct my_pending *p, int kind, const char *db,
			    size_t n)
{
	p->db_change = kind;
	c->db_pending++;
	c->s->ident.database_unknown = 1;
	if (!db)
		return 0;
	p->init_db = strndup(db, n);
	return p->init_db ? 0 : -1;
}

/* Send the proxy's own answers that reached the head of the queue. */
static void flush_local(struct my_conn *c)
{
	struct my_pending *p;
	while (!c->s->closing && (p = pend_head(c)) && p->kind == MY_PEND_LOCAL) {
		int kill = p->kill_after;
		if (my_put_packets(sess_output(c->s, SESS_CLIENT), p->reply_seq, p->reply, p->reply_len) <
		    0) {
			sess_close(c->s, "out of memory");
			return;
		}
		pend_pop(c, NULL);
		if (kill) {
			sess_close_after_flush(c->s, "ended by a kill rule");
			return;
		}
	}
}

/* Queue an ERR the proxy answers itself (sequence id 1, after every reply
 * still owed); refused_prepare: it answers a COM_STMT_PREPARE. Returns 1
 * (consumed) or -1. */
static int queue_err(struct my_conn *c, uint16_t code, const char *sqlstate, const char *msg,
		     int kill_after, int refused_prepare)
{
	struct my_buf b;
	my_buf_init(&b);
	my_build_err(&b, code, sqlstate, msg);
	struct my_pending *p = my_buf_ok(&b) ? pend_push(c, MY_PEND_LOCAL) : NULL;
	if (!p) {
		my_buf_free(&b);
		return -1;
	}
	p->reply = b.p; /* ownership moves */
	p->reply_len = b.len;
	p->reply_seq = c->cmd_packets ? c->cmd_packets : 1;
	p->kill_after = kill_after;
	p->refused_prepare = refused_prepare;
	c->pend.local_bytes += b.len;
	if (refused_prepare)
		c->prepares_in_flight++; /* until it reaches the client, in order */
	flush_local(c);
	return 1;
}

static int answer_err(struct my_conn *c, uint16_t code, const char *sqlstate, const char *msg,
		      int kill_after)
{
	return queue_err(c, code, sqlstate, msg, kill_after, 0);
}

static int answer_ok(struct my_conn *c)
{
	struct my_buf b;
	my_buf_init(&b);
	my_build_ok(&b, 0, 0, MY_SERVER_STATUS_AUTOCOMMIT, 0);
	struct my_pending *p = my_buf_ok(&b) ? pend_push(c, MY_PEND_LOCAL) : NULL;
	if (!p) {
		my_buf_free(&b);
		return -1;
	}
	p->reply = b.p;
	p->reply_len = b.len;
	p->reply_seq = c->cmd_packets ? c->cmd_packets : 1;
	c->pend.local_bytes += b.len;
	flush_local(c);
	return 1;
}

/* ---- decisions ---- */

static int send_lookup(struct my_conn *c);

/* stmt_decide(), asking the server's catalog about the stored routines the
 * text calls (my_routines.h). Returns 0 when c->pend.pres is final, MY_HOLD when
 * the command waits (a look-up went out, or waits for quiet) and is decided
 * again, -1 out of memory. */
static int evaluate_routines(struct my_conn *c, const char *sql, size_t len)
{
	my_routines_begin(c);
	stmt_decide(&c->pend, sql, len);
	int r = my_routines_end(c, &c->pend.pres);
	if (r == 2)
		return send_lookup(c);
	return r == 1 ? MY_HOLD : r;
}

/* Decide and audit a statement. Returns its query id when it may run; 0
 * when it was refused (the error answer is queued; *rc set to 1, or -1 when
 * out of memory). mode_split: the text may change the lexing state and
 * depends on it, so a statement after the change would be read by the
 * server under a state the proxy cannot know: several statements are
 * refused. syntax: text the classifier cannot read goes to the server's
 * parse check (my_syntax.h; *rc MY_CONSUMED_HOLD, or MY_HOLD until no
 * reply is owed). */
static uint64_t decide_text(struct my_conn *c, const char *sql, size_t len, int *rc,
			    int mode_split, int syntax)
{
	stmt_note(&c->pend, sql, len);
	int er = evaluate_routines(c, sql, len);
	if (er != 0) {
		*rc = er;
		return 0;
	}
	/* a statement that may change sql_mode or the character set, with
	 * more after it: those were lexed under a state the server may not
	 * apply to them; a called routine may change it too (SET NAMES in a
	 * body), wherever it is called */
	int routine_split = my_routines_mode_risk(c) && c->pend.pres.n_statements > 1 &&
			    my_text_lex_dependent((const uint8_t *)sql, len);
	if (((mode_split && c->pend.pres.state_change_at &&
	      c->pend.pres.state_change_at < c->pend.pres.n_statements) || routine_split) &&
	    c->pend.pres.action < POLICY_DENY) {
		c->pend.pres.action = POLICY_DENY;
		snprintf(c->pend.pres.rule, sizeof c->pend.pres.rule, "session-state");
		snprintf(c->pend.pres.message, sizeof c->pend.pres.message,
			 "sqlbastion: a multi-statement query that may change sql_mode or the "
			 "character set cannot also hold backslashes or double quotes; send the "
			 "statements one by one");
	}
	if (syntax && my_syntax_wanted(c, sql, len, 0)) {
		*rc = stmt_count(&c->pend) ? MY_HOLD : my_syntax_check(c, sql, len, 0);
		return 0;
	}
	uint64_t qid = stmt_audit_decided(&c->pend, sql, len, NULL);
	if (!qid) {
		*rc = answer_err(c, MY_ER_UNKNOWN_ERROR, "HY000", SESS_AUDIT_DOWN_MESSAGE, 0);
		return 0;
	}
	if (c->pend.pres.action >= POLICY_REVIEW) {
		*rc = answer_err(c, MY_ER_SPECIFIC_ACCESS, "42000", c->pend.pres.message,
				 c->pend.pres.action == POLICY_KILL);
		return 0;
	}
	return qid;
}

static uint64_t decide(struct my_conn *c, const char *sql, size_t len, int *rc)
{
	return decide_text(c, sql, len, rc, 0, 0);
}

/* ---- KILL mapping ---- */

/* `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>` (optionally ';'): the form
 * clients send to cancel. Returns 1 with *query and *id, 0 otherwise. */
static int parse_kill(const char *sql, size_t len, int *query, uint64_t *id)
{
	/* one definition, shared with the policy's ownership check */
	return policy_mysql_kill_plain(sql, len, query, id);
}

/* The target of `KILL [QUERY] id` / COM_PROCESS_KILL. Clients' own cancel
 * paths send the proxy session id they saw in the handshake; a DBA sends
 * the server's thread id read from CONNECTION_ID() or SHOW PROCESSLIST.
 * One number may be both, so, in order: a proxy session this user may kill
 * on the same server; else the backend thread of one of the user's own
 * sessions (sent as written); else, with `operate` or above, any number
 * that names no proxy session (the server's thread id, as written).
 * Returns 0 with *thread, or -1 after queueing the error answer
 * (*rc = 1 or -1). Same reading as the policy's ownership check
 * (proxy/decide.c owns_session). */
static int kill_target(struct my_conn *c, uint64_t id, uint32_t *thread, int *rc)
{
	struct session *v = sess_find(c->s->px, id);
	char msg[160];
	struct my_conn *vc = v && v->proto == c->s->proto ? v->pstate : NULL;
	int is_proxy = vc && vc->st == MY_ST_READY && v->ident.logged_in;
	int may = is_proxy && (strcmp(v->ident.target.user, c->s->ident.target.user) == 0 ||
			       c->s->ident.target.level >= POLICY_LEVEL_OPERATE);
	int same_server = is_proxy && strcmp(v->ident.target.host, c->s->ident.target.host) == 0 &&
			  v->ident.target.port == c->s->ident.target.port;
	if (may && same_server) {
		*thread = vc->backend_thread;
		return 0;
	}
	if (id <= UINT32_MAX && (sess_owns_server_id(c->s, id) ||
				 (!is_proxy && c->s->ident.target.level >= POLICY_LEVEL_OPERATE))) {
		*thread = (uint32_t)id;
		return 0;
	}
	if (!is_proxy) {
		snprintf(msg, sizeof msg, "Unknown thread id: %llu", (unsigned long long)id);
		*rc = answer_err(c, MY_ER_NO_SUCH_THREAD, "HY000", msg, 0);
		return -1;
	}
	if (!may) {
		snprintf(msg, sizeof msg, "You are not owner of thread %llu", (unsigned long long)id);
		*rc = answer_err(c, MY_ER_KILL_DENIED, "HY000", msg, 0);
		return -1;
	}
	snprintf(msg, sizeof msg,
		 "sqlbastion: session %llu is on another database server; kill it from a "
		 "session on asset %.64s", (unsigned long long)id, v->ident.target.asset);
	*rc = answer_err(c, MY_ER_KILL_DENIED, "HY000", msg, 0);
	return -1;
}

/* ---- client commands ---- */

static int send_backend_packet(struct my_conn *c, const void *p, size_t n)
{
	return my_put_packets(sess_output(c->s, SESS_BACKEND), 0, p, n) < 0 ? -1 : 0;
}

/* Ask the server for its lexing state (my_mode.h): the probe goes out now,
 * nothing being in flight, and the command that needs it waits for the
 * answer. Returns MY_HOLD, 1 when the command was refused (audit down), -1. */
static int send_probe(struct my_conn *c)
{
	static const char q[] = "\x03" MY_MODE_PROBE_SQL;
	struct sess_stmt_info si = {.sql = q + 1, .len = sizeof q - 2, .verb = "SELECT",
				    .rule = "sqlbastion:session-state", .action = POLICY_ALLOW};
	uint64_t qid = sess_audit_statement(c->s, &si);
	if (!qid)
		return answer_err(c, MY_ER_UNKNOWN_ERROR, "HY000", SESS_AUDIT_DOWN_MESSAGE, 0);
	struct my_pending *p = pend_push(c, MY_PEND_PROBE);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	return send_backend_packet(c, q, sizeof q - 1) == 0 ? MY_HOLD : -1;
}

/* Send the routine look-up my_routines_end() asked for (nothing is in
 * flight): tagged, not audited, its reply consumed (relay_internal).
 * Returns MY_HOLD, or -1. */
static int send_lookup(struct my_conn *c)
{
	uint8_t *q;
	size_t ql;
	if (my_routines_lookup_sql(c, &q, &ql) != 0)
		return -1;
	struct my_pending *p = pend_push(c, MY_PEND_ROUTINES);
	int r = p && send_backend_packet(c, q, ql) == 0 ? MY_HOLD : -1;
	free(q);
	return r;
}

/* Text the server will lex (COM_QUERY, COM_STMT_PREPARE): 0 when it may be
 * classified now (the server's state is confirmed, or the text reads the
 * same under every state; *dep says which), else MY_HOLD (replies in
 * flight may still change the state, or a probe went out), 1 or -1. */
static int need_mode(struct my_conn *c, const uint8_t *sql, size_t len, int *dep)
{
	*dep = my_text_lex_dependent(sql, len);
	if (!*dep || (c->s->lex.mysql_mode & POLICY_MY_MODE_KNOWN))
		return 0;
	if (stmt_count(&c->pend))
		return MY_HOLD;
	return send_probe(c);
}

static int on_query(struct my_conn *c, const uint8_t *b, size_t n)
{
	const char *sql = (const char *)b + 1;
	size_t len = n - 1;
	int rc = 1, query, dep;
	uint64_t kid;
	rc = need_mode(c, b + 1, len, &dep);
	if (rc != 0)
		return rc;
	rc = 1;
	int changes = my_text_may_change_mode(b + 1, len);
	uint64_t qid = decide_text(c, sql, len, &rc, changes && dep, 1);
	if (!qid)
		return rc;
	if (changes || my_routines_mode_risk(c))
		c->s->lex.mysql_mode = 0; /* unknown until the next probe */
	struct my_pending *p = pend_push(c, MY_PEND_RESULT);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	/* the server may ask for a client file only for an allowed LOAD DATA
	 * LOCAL (flag client-file) */
	p->infile_ok = c->pend.pres.action <= POLICY_ALERT && c->s->ident.target.level >= POLICY_LEVEL_WRITE &&
		       (c->pend.pres.flags & POLICY_F_CLIENT_FILE);
	if (parse_kill(sql, len, &query, &kid)) {
		uint32_t thread;
		/* The answer replaces the pending entry pushed above. */
		stmt_drop_tail(&c->pend);
		if (kill_target(c, kid, &thread, &rc) != 0) {
			/* the error answer went in the queue in its place */
			return rc;
		}
		p = pend_push(c, MY_PEND_RESULT);
		if (!p)
			return -1;
		p->hd.query_id = qid;
		char q[64];
		int ql = snprintf(q, sizeof q, "\x03KILL %s %u", query ? "QUERY" : "CONNECTION", thread);
		sess_log(c->s, LOG_INFO, "KILL %s %llu sent to backend thread %u",
			 query ? "QUERY" : "CONNECTION", (unsigned long long)kid, thread);
		return send_backend_packet(c, q, (size_t)ql) == 0 ? 1 : -1;
	}
	/* a batch with USE: where unqualified names write is unknown until it ends */
	if (c->pend.pres.use_seen &&
	    db_change_pushed(c, p, 2, c->pend.pres.use_seen == 1 ? c->pend.pres.use_db : NULL,
			     strlen(c->pend.pres.use_db)) != 0)
		return -1;
	return 0;
}

static int on_process_kill(struct my_conn *c, const uint8_t *b, size_t n)
{
	if (n < 5)
		return answer_err(c, MY_ER_UNKNOWN_COM, "08S01", "Malformed COM_PROCESS_KILL", 0);
	uint64_t id = (uint64_t)b[1] | (uint64_t)b[2] << 8 | (uint64_t)b[3] << 16 |
		      (uint64_t)b[4] << 24;
	char text[48];
	int tl = snprintf(text, sizeof text, "KILL %llu", (unsigned long long)id);
	int rc = 1;
	uint64_t qid = decide(c, text, (size_t)tl, &rc);
	if (!qid)
		return rc;
	uint32_t thread;
	if (kill_target(c, id, &thread, &rc) != 0)
		return rc;
	struct my_pending *p = pend_push(c, MY_PEND_SIMPLE);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	uint8_t pk[5] = {MY_COM_PROCESS_KILL, (uint8_t)thread, (uint8_t)(thread >> 8),
			 (uint8_t)(thread >> 16), (uint8_t)(thread >> 24)};
	return send_backend_packet(c, pk, 5) == 0 ? 1 : -1;
}

static int on_prepare(struct my_conn *c, const uint8_t *b, size_t n)
{
	const char *sql = (const char *)b + 1;
	size_t len = n - 1;
	int dep, r = need_mode(c, b + 1, len, &dep);
	if (r != 0)
		return r;
	stmt_note(&c->pend, sql, len);
	c->s->lex.ids_as_written = 1; /* a prepared KILL n names a server thread id */
	r = evaluate_routines(c, sql, len);
	c->s->lex.ids_as_written = 0;
	if (r != 0)
		return r;
	if (my_syntax_wanted(c, sql, len, 1)) /* the server's own error, if it cannot parse it */
		return stmt_count(&c->pend) ? MY_HOLD : my_syntax_check(c, sql, len, 1);
	if (c->pend.pres.action >= POLICY_REVIEW) {
		/* Refused: audited now (an allowed one is audited at execute). */
		if (!stmt_audit_decided(&c->pend, sql, len, NULL))
			sess_log(c->s, LOG_ERR, "audit failed for a denied statement");
		return queue_err(c, MY_ER_SPECIFIC_ACCESS, "42000", c->pend.pres.message,
				 c->pend.pres.action == POLICY_KILL, 1);
	}
	struct my_pending *p = pend_push(c, MY_PEND_PREPARE);
	if (!p)
		return -1;
	c->prepares_in_flight++;
	/* The statement's record, completed when the server answers. */
	struct my_stmt *st = calloc(1, sizeof *st);
	if (!st)
		return -1;
	if (stmt_decision_keep(&c->pend, &st->dec, sql, len) != 0) {
		free(st);
		return -1;
	}
	st->may_change_mode = my_text_may_change_mode(b + 1, len) || my_routines_mode_risk(c);
	p->stmt = st; /* linked in when the server answers PREPARE_OK */
	return 0;
}

/* stmt_ops.deny: a refused run of a prepared statement (approved_run),
 * answered as a denied COM_QUERY is. */
static int pend_deny(void *conn, const struct policy_result *pres)
{
	return answer_err(conn, MY_ER_SPECIFIC_ACCESS, "42000", pres->message,
			  pres->action == POLICY_KILL);
}

/* The statement a COM_STMT_* command names, known for certain. Returns 0
 * with *out, MY_HOLD while a COM_STMT_PREPARE is unanswered (the id may be
 * the one it creates; id -1 is "the last prepared"), or, when the id is
 * unknown, 1 after answering ERR 1243 as the server would (for commands
 * with a reply; `what` names it) or 3 for commands without one (the caller
 * drops it). Never forwards a command whose statement is a guess. */
static int stmt_certain(struct my_conn *c, const uint8_t *b, size_t n, const char *what,
			struct my_stmt **out)
{
	uint32_t id = n >= 5 ? get_id(b) : 0;
	*out = NULL;
	if (c->prepares_in_flight && (id == 0xFFFFFFFFu || !stmt_find(c, id)))
		return MY_HOLD;
	if ((*out = n >= 5 ? stmt_find(c, id) : NULL) != NULL)
		return 0;
	sess_log(c->s, LOG_INFO, "refused %s of unknown statement id %u", what ? what : "command",
		 id);
	if (!what)
		return 3;
	char msg[120];
	snprintf(msg, sizeof msg, "Unknown prepared statement handler (%u) given to %s", id, what);
	return answer_err(c, MY_ER_UNKNOWN_STMT_HANDLER, "HY000", msg, 0);
}

static int on_execute(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct my_stmt *st;
	uint64_t qid;
	int known = stmt_certain(c, b, n, "mysqld_stmt_execute", &st);
	if (known != 0)
		return known;
	{
		struct my_buf json;
		struct my_execute ex;
		char err[120];
		int64_t approval;
		/* allowed by an approval: runs once (stmt_approved_run) */
		int r = stmt_approved_run_q(&c->pend, &st->dec, NULL, &approval);
		if (r != 0)
			return r;
		my_buf_init(&json);
		const char *params = NULL;
		if (my_parse_execute(b, n, st->num_params, st->types, &st->types_known,
				     st->long_data, &ex, &json, err, sizeof err) == 0)
			params = (const char *)json.p;
		else
			sess_log(c->s, LOG_WARN, "parameters not decoded: %s", err);
		stmt_note(&c->pend, st->dec.sql, st->dec.sql_len);
		qid = stmt_decision_audit(c->s, &st->dec, approval, params);
		my_buf_free(&json);
		if (st->long_data)
			memset(st->long_data, 0, ((size_t)st->num_params + 7) / 8);
	}
	if (qid && st->may_change_mode)
		c->s->lex.mysql_mode = 0;
	if (!qid)
		return answer_err(c, MY_ER_UNKNOWN_ERROR, "HY000", SESS_AUDIT_DOWN_MESSAGE, 0);
	struct my_pending *p = pend_push(c, MY_PEND_RESULT);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	p->infile_ok = 0; /* LOAD DATA cannot be prepared */
	return 0;
}

static int on_long_data(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct my_stmt *st;
	int known = stmt_certain(c, b, n, NULL, &st);
	if (known == 3)
		return 1; /* unknown: dropped, as it has no reply */
	if (known != 0)
		return known;
	if (n < 7)
		return 1; /* malformed: the server would ignore it */
	uint16_t param = (uint16_t)(b[5] | b[6] << 8);
	if (param < st->num_params && st->long_data)
		st->long_data[param / 8] |= (uint8_t)(1u << (param % 8));
	return 0; /* forwarded; no reply */
}

/* `USE db` / SHOW COLUMNS text for commands that carry a name: the name
 * as is when it is a plain identifier, else in backquotes. */
static int quoted_stmt(char *out, size_t cap, const char *prefix, const uint8_t *name, size_t n)
{
	int plain = n > 0 && n < 65;
	for (size_t i = 0; i < n && plain; i++)
		plain = isalnum(name[i]) || name[i] == '_' || name[i] == '$';
	if (plain && !isdigit(name[0]))
		return snprintf(out, cap, "%s%.*s", prefix, (int)n, (const char *)name);
	size_t o = (size_t)snprintf(out, cap, "%s`", prefix);
	for (size_t i = 0; i < n && o + 3 < cap; i++) {
		if (name[i] == '`')
			out[o++] = '`';
		out[o++] = (char)name[i];
	}
	if (o + 2 > cap)
		return -1;
	out[o++] = '`';
	out[o] = '\0';
	return (int)o;
}

static int on_init_db(struct my_conn *c, const uint8_t *b, size_t n)
{
	char text[600];
	int tl = quoted_stmt(text, sizeof text, "USE ", b + 1, n - 1);
	if (tl < 0 || n - 1 >= sizeof c->s->ident.database)
		return answer_err(c, 1102, "42000", "Incorrect database name", 0);
	int rc = 1;
	uint64_t qid = decide(c, text, (size_t)tl, &rc);
	if (!qid)
		return rc;
	struct my_pending *p = pend_push(c, MY_PEND_SIMPLE);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	return db_change_pushed(c, p, 1, (const char *)b + 1, n - 1);
}

static int on_field_list(struct my_conn *c, const uint8_t *b, size_t n)
{
	size_t tl = strnlen((const char *)b + 1, n - 1);
	char text[600];
	int l = quoted_stmt(text, sizeof text, "SHOW COLUMNS FROM ", b + 1, tl);
	if (l < 0)
		return answer_err(c, 1103, "42000", "Incorrect table name", 0);
	int rc = 1;
	uint64_t qid = decide(c, text, (size_t)l, &rc);
	if (!qid)
		return rc;
	struct my_pending *p = pend_push(c, MY_PEND_FIELDS);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	return 0;
}

/* Returns 0 to forward the command as it came, 1 when consumed (answered
 * by the proxy or replaced), -1 when the session must close (out of
 * memory; a reason is set by the caller). */
static int on_command(struct my_conn *c, const uint8_t *b, size_t n)
{
	char msg[160];
	switch (b[0]) {
	case MY_COM_QUERY:
		return on_query(c, b, n);
	case MY_COM_STMT_PREPARE:
		return on_prepare(c, b, n);
	case MY_COM_STMT_EXECUTE:
		return on_execute(c, b, n);
	case MY_COM_STMT_SEND_LONG_DATA:
		return on_long_data(c, b, n);
	case MY_COM_STMT_CLOSE: {
		/* No reply; applied now, in the order the server applies it. */
		struct my_stmt *st;
		int known = stmt_certain(c, b, n, NULL, &st);
		if (known == 3)
			return 1;
		if (known != 0)
			return known;
		stmt_remove(c, get_id(b));
		return 0;
	}
	case MY_COM_STMT_RESET: {
		struct my_stmt *st;
		int known = stmt_certain(c, b, n, "mysqld_stmt_reset", &st);
		if (known != 0)
			return known;
		if (st->long_data)
			memset(st->long_data, 0, ((size_t)st->num_params + 7) / 8);
		return pend_push(c, MY_PEND_SIMPLE) ? 0 : -1;
	}
	case MY_COM_STMT_FETCH: {
		struct my_stmt *st;
		int known = stmt_certain(c, b, n, "mysqld_stmt_fetch", &st);
		if (known != 0)
			return known;
		struct my_pending *p = pend_push(c, MY_PEND_FETCH);
		if (!p)
			return -1;
		p->phase = MY_RES_ROWS;
		return 0;
	}
	case MY_COM_INIT_DB:
		return on_init_db(c, b, n);
	case MY_COM_FIELD_LIST:
		return on_field_list(c, b, n);
	case MY_COM_PROCESS_KILL:
		return on_process_kill(c, b, n);
	case MY_COM_PING:
	case MY_COM_STATISTICS:
	case MY_COM_SET_OPTION:
		return pend_push(c, MY_PEND_SIMPLE) ? 0 : -1;
	case MY_COM_RESET_CONNECTION: {
		struct my_pending *p = pend_push(c, MY_PEND_SIMPLE);
		if (!p)
			return -1;
		p->reset_stmts = 1;
		c->s->lex.mysql_mode = 0; /* back to the server's global defaults */
		if (c->s->ident.target.level != POLICY_LEVEL_READ)
			return 0;
		/* The reset also resets the transaction access mode: a read
		 * grant's session is made read-only again before anything the
		 * client sends next reaches the server. */
		static const char q[] = "\x03" MY_READ_ONLY_SQL;
		if (send_backend_packet(c, b, n) != 0 || !pend_push(c, MY_PEND_INTERNAL) ||
		    send_backend_packet(c, q, sizeof q - 1) != 0)
			return -1;
		return 1;
	}
	case MY_COM_QUIT:
		sess_close(c->s, "client quit");
		return -1;
	case MY_COM_CHANGE_USER:
		/* A token check as at login (my_login.c), then a reset of the
		 * server session: only once every reply owed is out, so the
		 * OK comes in order and no reply belongs to the old user. */
		if (stmt_count(&c->pend))
			return MY_HOLD;
		return my_login_change_user(c, b, n);
	case MY_COM_SLEEP:
		return answer_ok(c);
	default:
		snprintf(msg, sizeof msg, "sqlbastion: command 0x%02x is not allowed through the proxy",
			 b[0]);
		return answer_err(c, MY_ER_UNKNOWN_COM, "08S01", msg, 0);
	}
}

/* LOCAL INFILE data from the client: packets pass until the empty one. */
static int relay_infile_packet(struct my_conn *c, uint32_t len)
{
	struct my_pending *p = pend_head(c);
	int was_cont = c->cont[SESS_CLIENT];
	c->cont[SESS_CLIENT] = len == MY_MAX_PAYLOAD;
	if (len == 0 && !was_cont)
		p->phase = MY_RES_FIRST; /* end of file: the server answers next */
	stmt_stream_start(&c->pend, SESS_CLIENT, (size_t)len + 4);
	return 0;
}

/* Why the next client command must wait, or NULL. The caps bound what a
 * session queues however fast the client sends (each waiting command stays
 * in the client's input, and that input is not read meanwhile). */
static const char *queue_full(struct my_conn *c)
{
	const char *why = stmt_queue_full(&c->pend);
	if (why)
		return why;
	if (evbuffer_get_length(sess_output(c->s, SESS_CLIENT)) > SESS_HIGH_WATER)
		return "client not reading";
	return NULL;
}

/* why: MY_HELD_QUEUE (over a cap) or MY_HELD_REPLIES (a command waits
 * for every reply in flight: the lexing state or a statement id). */
static void hold(struct my_conn *c, int why)
{
	c->held = why;
	sess_hold_client(c->s, 1);
}

/* 1 when what the hold waited for has happened. */
static int hold_over(struct my_conn *c)
{
	return !queue_full(c) && (c->held != MY_HELD_REPLIES || stmt_count(&c->pend) == 0);
}

void my_relay_resume(struct my_conn *c)
{
	struct session *s = c->s;
	if (!c->held || s->closing || s->close_after_flush || c->st != MY_ST_READY ||
	    !hold_over(c))
		return;
	c->held = 0;
	sess_hold_client(s, 0);
	if (evbuffer_get_length(sess_input(s, SESS_CLIENT)))
		my_relay_client(c);
}

void my_relay_client(struct my_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	struct evbuffer *bout = sess_output(s, SESS_BACKEND);
	if (c->held) {
		/* also the hold taken before the session was ready (my_frontend.c) */
		if (!hold_over(c))
			return;
		c->held = 0;
		sess_hold_client(s, 0);
	}
	/* (not while a change user waits for the client's auth answer) */
	while (c->st == MY_ST_READY && stmt_relay_next(&c->pend, SESS_CLIENT)) {
		struct my_frame f;
		if (my_peek_head_in(in, MY_MAX_PAYLOAD, &f, NULL) != MY_PEEK_OK)
			return; /* the header is not in yet (any length is valid) */
		struct my_pending *head = pend_head(c);
		uint32_t len = f.len;
		uint8_t seq = f.seq;
		if (head && head->phase == MY_RES_INFILE) {
			relay_infile_packet(c, len);
			continue;
		}
		if (seq != 0) {
			sess_close(s, "client command with sequence id %u (expected 0)", seq);
			return;
		}
		if (queue_full(c)) {
			hold(c, MY_HELD_QUEUE);
			return;
		}
		/* A command is one packet, or a run of 16 MiB - 1 ones and a shorter last. */
		enum my_peek pr = my_peek_message_in(in, s->px->cfg.max_message, &f);
		if (pr == MY_PEEK_INVALID && f.why == MY_FRAME_SEQUENCE) {
			sess_close(s, "client command packet with sequence id %u (expected %u)", f.bad_seq,
				   f.packets - 1);
			return;
		}
		if (pr == MY_PEEK_INVALID) {
			char msg[120];
			snprintf(msg, sizeof msg, "sqlbastion: command of more than %zu bytes exceeds max_message",
				 (size_t)s->px->cfg.max_message);
			my_fatal(c, (uint8_t)f.packets, MY_ER_NET_PACKET_TOO_LARGE, "08S01", msg,
				 "client command too large");
			return;
		}
		if (pr == MY_PEEK_AGAIN)
			return;
		size_t total = f.payload, raw = f.raw;
		int npk = (int)f.packets;
		if (total == 0) {
			sess_close(s, "empty command packet from client");
			return;
		}
		const uint8_t *payload = my_message_payload(in, &f, &c->cmd);
		if (!payload) {
			sess_close(s, "out of memory");
			return;
		}
		c->cmd_packets = (uint8_t)npk;
		int r = on_command(c, payload, total);
		free(c->cmd);
		c->cmd = NULL;
		if (r == MY_HOLD) {
			/* left in the input, unread, until my_relay_resume() */
			sess_backpressure(s, SESS_BACKEND);
			hold(c, MY_HELD_REPLIES);
			return;
		}
		if (r == MY_CONSUMED_HOLD) {
			/* a parse check went out: nothing more until it is answered */
			evbuffer_drain(in, raw);
			sess_backpressure(s, SESS_BACKEND);
			hold(c, MY_HELD_REPLIES);
			return;
		}
		if (r < 0) {
			if (!s->closing && !s->close_after_flush)
				sess_close(s, "out of memory");
			return;
		}
		if (r == 0)
			evbuffer_remove_buffer(in, bout, raw);
		else
			evbuffer_drain(in, raw);
		sess_backpressure(s, SESS_BACKEND);
	}
}

/* ---- backend → client ---- */

static void set_error(struct my_pending *p, const uint8_t *b, size_t n)
{
	uint16_t code;
	char state[6];
	const char *msg;
	size_t ml;
	if (p->hd.error || my_parse_err(b, n, &code, state, &msg, &ml) != 0)
		return;
	stmt_set_error(&p->hd, "%u (%s) %.*s", code, state, (int)(ml > 250 ? 250 : ml), msg);
}

static void add_rows(struct my_pending *p, int64_t n)
{
	stmt_add_rows(&p->hd, n);
}

/* The reply at the head is complete. */
static void finish(struct my_conn *c)
{
	struct my_pending *p = pend_head(c);
	if (p && p->infile_refused) {
		(void)my_put_err(sess_output(c->s, SESS_CLIENT), 1, MY_ER_SPECIFIC_ACCESS, "42000",
				 "sqlbastion: LOAD DATA LOCAL INFILE is not allowed for this statement "
				 "(needs an allowed statement and a write grant)");
	}
	pend_pop(c, NULL);
	flush_local(c);
}

/* PREPARE_OK: the statement exists; its definitions follow. Returns 1 when
 * the reply is complete, 0 when packets follow, -1 when malformed. */
static int on_prepare_ok(struct my_conn *c, struct my_pending *p, const uint8_t *b, size_t n)
{
	struct my_prepare_ok po;
	int deprecate = (c->caps & MY_CLIENT_DEPRECATE_EOF) != 0;
	struct my_stmt *st = p->stmt;
	if (my_parse_prepare_ok(b, n, &po) != 0)
		return -1;
	if (st) {
		st->id = po.stmt_id;
		st->num_params = po.num_params;
		st->types = calloc(po.num_params ? po.num_params : 1, sizeof *st->types);
		st->long_data = calloc(((size_t)po.num_params + 8) / 8, 1);
		if (!st->types || !st->long_data)
			return -1;
		p->stmt = NULL;
		stmt_remove(c, po.stmt_id);
		st->next = c->stmts;
		c->stmts = st;
		c->last_stmt_id = po.stmt_id;
	}
	/* Parameter definitions, their EOF, column definitions, their EOF. */
	p->left = (uint64_t)po.num_params + (po.num_params && !deprecate) + po.num_columns +
		  (po.num_columns && !deprecate);
	p->phase = MY_RES_COUNTED;
	return p->left == 0;
}

/* Handle one backend packet whose whole payload is at b. Returns 1 when it
 * must not be forwarded, 0 to forward, -1 on a protocol error. *done is set
 * when the reply at the head is complete after this packet. */
static int on_backend_packet(struct my_conn *c, struct my_pending *p, const uint8_t *b, size_t n,
			     uint8_t seq, int *done)
{
	int deprecate = (c->caps & MY_CLIENT_DEPRECATE_EOF) != 0;
	struct my_ok ok;
	*done = 0;
	switch (p->kind) {
	case MY_PEND_SIMPLE:
		*done = 1;
		if (n >= 1 && b[0] == 0x00) {
			if (p->init_db)
				snprintf(c->s->ident.database, sizeof c->s->ident.database, "%s", p->init_db);
			if (p->reset_stmts) {
				stmts_clear(c);
				c->last_stmt_id = 0;
			}
		} else if (my_is_err(b, n)) {
			set_error(p, b, n);
		}
		return 0;
	case MY_PEND_PREPARE:
		if (p->phase != MY_RES_FIRST)
			return -1;
		if (my_is_err(b, n)) {
			c->last_stmt_id = 0; /* the server clears its "last prepared" */
			*done = 1;
			return 0;
		}
		{
			int r = on_prepare_ok(c, p, b, n);
			if (r < 0)
				return -1;
			*done = r == 1;
		}
		return 0;
	case MY_PEND_FIELDS:
		if (my_is_err(b, n))
			set_error(p, b, n);
		*done = 1; /* only called for terminators */
		return 0;
	case MY_PEND_INTERNAL:
		*done = 1;
		if (!(n >= 1 && b[0] == 0x00))
			sess_close(c->s, p->reset_stmts ? "cannot reset the server session at change user"
							: "cannot make the session read-only again after "
							  "COM_RESET_CONNECTION");
		else if (p->reset_stmts) {
			stmts_clear(c);
			c->last_stmt_id = 0;
		}
		return 1; /* the proxy's own: never relayed */
	case MY_PEND_FETCH:
	case MY_PEND_RESULT:
		break;
	default:
		return -1;
	}
	/* results */
	if (p->phase == MY_RES_FIRST || p->phase == MY_RES_INFILE) {
		p->phase = MY_RES_FIRST;
		if (my_is_err(b, n)) {
			set_error(p, b, n);
			*done = 1;
			return p->infile_refused ? 1 : 0;
		}
		if (n >= 1 && b[0] == 0x00) {
			if (my_parse_ok(b, n, &ok) != 0)
				return -1;
			add_rows(p, (int64_t)ok.affected_rows);
			*done = !(ok.status & MY_SERVER_MORE_RESULTS_EXISTS);
			return p->infile_refused ? 1 : 0;
		}
		if (n >= 1 && b[0] == 0xFB) {
			if (p->infile_ok && !p->infile_refused) {
				p->phase = MY_RES_INFILE;
				return 0;
			}
			/* Refused: an empty packet tells the server the file is
			 * empty; its answer is swallowed and the client gets an
			 * error in its place. */
			p->infile_refused = 1;
			stmt_set_error(&p->hd, "LOAD DATA LOCAL INFILE refused by sqlbastion");
			uint8_t empty[4] = {0, 0, 0, (uint8_t)(seq + 1)};
			evbuffer_add(sess_output(c->s, SESS_BACKEND), empty, 4);
			sess_log(c->s, LOG_INFO, "refused the backend's LOCAL INFILE request");
			return 1;
		}
		uint64_t cols;
		if (my_parse_column_count(b, n, &cols) != 0)
			return -1;
		p->left = cols;
		p->phase = MY_RES_COLUMNS;
		return p->infile_refused ? 1 : 0;
	}
	if (p->phase == MY_RES_COLS_EOF) {
		if (my_parse_ok(b, n, &ok) != 0)
			return -1;
		if (ok.status & MY_SERVER_STATUS_CURSOR_EXISTS)
			*done = 1; /* rows come with COM_STMT_FETCH */
		else
			p->phase = MY_RES_ROWS;
		return p->infile_refused ? 1 : 0;
	}
	if (p->phase == MY_RES_ROWS) {
		if (my_is_err(b, n)) {
			set_error(p, b, n);
			*done = 1;
		} else if (my_is_eof(b, n, deprecate)) {
			if (my_parse_ok(b, n, &ok) != 0)
				return -1;
			if (p->kind == MY_PEND_FETCH || !(ok.status & MY_SERVER_MORE_RESULTS_EXISTS))
				*done = 1;
			else
				p->phase = MY_RES_FIRST;
		} else {
			return -1;
		}
		return p->infile_refused ? 1 : 0;
	}
	return -1;
}

/* One packet of the reply to the proxy's probe (MY_MODE_PROBE_SQL): a
 * result set of two columns and one row, consumed here. Returns 0, or -1
 * when the server did not tell the state (the session cannot go on). */
static int on_probe_packet(struct my_conn *c, struct my_pending *p, const uint8_t *b, size_t n,
			   int *done)
{
	int deprecate = (c->caps & MY_CLIENT_DEPRECATE_EOF) != 0;
	unsigned mode;
	*done = 0;
	if (my_is_err(b, n)) {
		set_error(p, b, n);
		return -1;
	}
	switch (my_own_result_packet(p, b, n, deprecate, 2)) {
	case MY_WALK_META:
		return 0;
	case MY_WALK_END:
		*done = 1;
		return p->hd.rows == 1 ? 0 : -1;
	case MY_WALK_ROW:
		if (p->hd.rows >= 0 || my_mode_parse_row(b, n, &mode, c->s->lex.client_encoding,
						      sizeof c->s->lex.client_encoding) != 0)
			return -1;
		c->s->lex.mysql_mode = mode;
		p->hd.rows = 1;
		return 0;
	default:
		return -1;
	}
}

int my_own_result_packet(struct my_pending *p, const uint8_t *b, size_t n, int deprecate_eof,
			 uint64_t cols)
{
	uint64_t got;
	switch (p->phase) {
	case MY_RES_FIRST:
		if (my_parse_column_count(b, n, &got) != 0 || got != cols)
			return -1;
		p->left = got;
		p->phase = MY_RES_COLUMNS;
		return MY_WALK_META;
	case MY_RES_COLUMNS:
		if (--p->left == 0)
			p->phase = deprecate_eof ? MY_RES_ROWS : MY_RES_COLS_EOF;
		return MY_WALK_META;
	case MY_RES_COLS_EOF:
		p->phase = MY_RES_ROWS;
		return MY_WALK_META;
	case MY_RES_ROWS:
		return my_is_eof(b, n, deprecate_eof) ? MY_WALK_END : MY_WALK_ROW;
	default:
		return -1;
	}
}

/* The reply at the head is the proxy's own (the probe, a routine look-up):
 * read whole packets, relay none. */
static void relay_probe(struct my_conn *c, struct my_pending *p)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	while (!s->closing) {
		struct my_frame f;
		const uint8_t *m;
		enum my_peek pr = my_peek_packet_in(in, MY_CONTROL_MAX - 1, &f, &m);
		if (pr == MY_PEEK_INVALID) {
			sess_close(s, "oversized reply to the session-state query (%u bytes)", f.len);
			return;
		}
		if (pr == MY_PEEK_AGAIN)
			return;
		uint32_t len = f.len;
		int done = 0;
		if (p->kind == MY_PEND_ROUTINES) {
			if (!m || my_routines_packet(c, p, m, len, &done) != 0) {
				sess_close(s, "malformed reply to the routine look-up");
				return;
			}
		} else if (!m || on_probe_packet(c, p, m, len, &done) != 0) {
			sess_close(s, "the server did not tell the session's sql_mode and character "
				      "set (%s)", p->hd.error ? p->hd.error : "unexpected reply");
			return;
		}
		evbuffer_drain(in, (size_t)len + 4);
		if (done) {
			sess_log(s, LOG_DEBUG, "session state: sql_mode bits 0x%x, character set %s",
				 s->lex.mysql_mode, s->lex.client_encoding);
			finish(c);
			return;
		}
	}
}

static void relay_backend(struct my_conn *c);

void my_relay_backend(struct my_conn *c)
{
	relay_backend(c);
	my_relay_resume(c);
}

static void relay_backend(struct my_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	struct evbuffer *cout = sess_output(s, SESS_CLIENT);
	int deprecate = (c->caps & MY_CLIENT_DEPRECATE_EOF) != 0;
	while (!s->closing && !s->close_after_flush && !s->backend_paused) {
		if (stmt_streaming(&c->pend, SESS_BACKEND)) {
			struct my_pending *hp = pend_head(c);
			/* a refused LOCAL INFILE's answer is swallowed */
			if (!stmt_stream(&c->pend, SESS_BACKEND, hp && hp->infile_refused))
				return;
			if (!stmt_streaming(&c->pend, SESS_BACKEND) && c->finish_after_pass) {
				c->finish_after_pass = 0;
				finish(c);
			}
			continue;
		}
		struct my_frame f;
		uint8_t first;
		if (my_peek_head_in(in, MY_MAX_PAYLOAD, &f, &first) != MY_PEEK_OK)
			return; /* (every length is valid here) */
		uint32_t len = f.len;
		uint8_t seq = f.seq;
		struct my_pending *p = pend_head(c);
		if (p && p->kind == MY_PEND_SYNTAX) {
			int r = my_syntax_backend(c, p);
			if (r <= 0)
				return; /* more of it to come, or the session closed */
			finish(c);
			continue;
		}
		if (p && (p->kind == MY_PEND_PROBE || p->kind == MY_PEND_ROUTINES) &&
		    !stmt_streaming(&c->pend, SESS_BACKEND)) {
			relay_probe(c, p);
			if (pend_head(c) == p || s->closing)
				return; /* wait for more of it */
			continue;
		}
		if (!p) {
			/* Unsolicited: a server going away sends an ERR first. */
			if (len > 0 && first == 0xFF && len < MY_CONTROL_MAX) {
				if (evbuffer_get_length(in) < (size_t)len + 4)
					return;
				evbuffer_remove_buffer(in, cout, (size_t)len + 4);
				continue;
			}
			sess_close(s, "unexpected data from backend (%u bytes, sequence %u)", len, seq);
			return;
		}
		int swallow = p->infile_refused;
		/* Packets the relay passes without reading them. */
		int was_cont = c->cont[SESS_BACKEND];
		c->cont[SESS_BACKEND] = len == MY_MAX_PAYLOAD;
		int passthrough = was_cont;
		if (!passthrough) {
			int terminator = first == 0xFF ||
					 (first == 0xFE && (deprecate ? len < MY_MAX_PAYLOAD : len < 9));
			switch (p->phase) {
			case MY_RES_COLUMNS:
				passthrough = 1;
				if (p->left && --p->left == 0)
					p->phase = deprecate ? MY_RES_ROWS : MY_RES_COLS_EOF;
				break;
			case MY_RES_COUNTED:
				passthrough = 1;
				if (p->left && --p->left == 0)
					c->finish_after_pass = 1;
				break;
			case MY_RES_ROWS:
				if (!terminator) {
					passthrough = 1;
					add_rows(p, 1);
				}
				break;
			case MY_RES_FIRST:
				if (p->kind == MY_PEND_FIELDS && !terminator)
					passthrough = 1;
				break;
			default:
				break;
			}
		}
		if (passthrough) {
			stmt_stream_start(&c->pend, SESS_BACKEND, (size_t)len + 4);
			continue;
		}
		if (len > MY_CONTROL_MAX) {
			sess_close(s, "oversized control packet from backend (%u bytes)", len);
			return;
		}
		uint8_t *m = stream_whole(s, SESS_BACKEND, (size_t)len + 4);
		if (!m)
			return;
		int done = 0;
		int r = on_backend_packet(c, p, m + 4, len, seq, &done);
		if (r < 0) {
			sess_close(s, "unexpected packet from backend (0x%02x, %u bytes, phase %d)",
				   len ? m[4] : 0, len, (int)p->phase);
			return;
		}
		/* a batch's statements before one the server rejected (my_syntax.h) */
		int rejected_next = p->chk && r == 0 && !swallow &&
				    my_syntax_batch_status(c, p, m + 4, len) && done;
		if (r == 1 || swallow)
			evbuffer_drain(in, (size_t)len + 4);
		else
			evbuffer_remove_buffer(in, cout, (size_t)len + 4);
		if (rejected_next && my_syntax_batch_err(c, p, seq) != 0) {
			sess_close(s, "out of memory");
			return;
		}
		if (done)
			finish(c);
		sess_backpressure(s, SESS_CLIENT);
	}
}

void my_relay_free(struct my_conn *c)
{
	stmt_queue_free(&c->pend);
	free(c->cmd);
	c->cmd = NULL;
	stmts_clear(c);
	my_routines_free(c);
}

int my_relay_change_user(struct my_conn *c)
{
	static const uint8_t reset[] = {MY_COM_RESET_CONNECTION};
	static const char ro[] = "\x03" MY_READ_ONLY_SQL;
	c->st = MY_ST_READY;
	c->s->lex.mysql_mode = 0; /* the server's global defaults again: probe before use */
	struct my_pending *p = pend_push(c, MY_PEND_INTERNAL);
	if (!p || send_backend_packet(c, reset, sizeof reset) != 0)
		return -1;
	p->reset_stmts = 1; /* forgotten on the server's OK, as the server forgets them */
	if (c->s->ident.target.level == POLICY_LEVEL_READ &&
	    (!pend_push(c, MY_PEND_INTERNAL) || send_backend_packet(c, ro, sizeof ro - 1) != 0))
		return -1;
	/* the OK, behind the internal replies, with the exchange's sequence id */
	uint8_t seq = c->cmd_packets;
	c->cmd_packets = c->seq;
	int r = answer_ok(c);
	c->cmd_packets = seq;
	return r < 0 ? -1 : 0;
}

static const struct stmt_ops my_stmt_ops = {
	.dialect = POLICY_DIALECT_MYSQL,
	.entry_size = sizeof(struct my_pending),
	.max_pending = STMT_MY_PENDING_MAX,
	.release = pend_release,
	.deny = pend_deny,
};
