/* pg_relay: the PostgreSQL query phase.
 *
 * Client → backend: Query and Parse are pulled up, classified by policy and
 * written to the audit log before they are forwarded; Bind, Execute,
 * Describe, Close, Sync, Flush pass whole once the proxy knows what they
 * refer to; CopyData streams without being held in memory. Backend →
 * client: everything streams, except the few messages the proxy must read
 * (ReadyForQuery, ErrorResponse, CommandComplete, EmptyQueryResponse,
 * PortalSuspended, ParseComplete, BindComplete, CloseComplete,
 * RowDescription, NoData).
 *
 * The proxy's model follows the server, never runs ahead of it:
 *  - Statement and portal maps change only when the server answers: a
 *    Parse's statement enters the map at ParseComplete, a Bind's portal at
 *    BindComplete, a Close removes at CloseComplete. An error (or a message
 *    the server skipped until Sync) changes nothing, except what PostgreSQL
 *    itself does: a failed Parse of the unnamed statement has dropped the
 *    old one; a simple Query drops the unnamed statement and portal; the end
 *    of a transaction (ReadyForQuery 'I') drops every portal.
 *  - A Bind/Execute naming a statement/portal looks at what is in flight:
 *    a Parse/Bind of that name in the same Sync block is assumed (if it
 *    fails, the server skips the rest of the block); one across a Sync (or
 *    a Query, FunctionCall) is not known yet, and the client is held (its
 *    input is not read) until the server has answered it.
 *  - Lexing: a Query/Parse with a backslash, while anything is in flight
 *    that could change standard_conforming_strings or client_encoding, is
 *    classified under every reading the server could apply; if the readings
 *    disagree it is held until the server answered everything (then decided
 *    under the confirmed settings), or refused when it cannot be held (an
 *    extended block without Sync). Without a backslash every reading lexes
 *    the same (see README, "Pipelining and the proxy's model").
 *
 * A denied statement is not answered by the proxy itself: it is replaced by
 * a message that fails on the server with a per-session random marker in
 * its error (a Bind to a statement that never exists; for a refused Parse,
 * a Parse of the marker as SQL under the same name, which also drops a
 * previous unnamed statement as the client's Parse would have), so the
 * *server* raises the error in the right place of the reply stream and
 * with the right transaction effect. The proxy rewrites that one error into
 * SQLSTATE 42501 "sqlbastion: blocked by rule '<rule>'".
 *
 * A statement held by a `review` rule is refused the same way, with the
 * message sess_evaluate() made ("held for review ... (approval N)"). A
 * Query or Parse allowed by an approval used it up; a prepared statement
 * allowed that way runs once (approved_run()).
 *
 * Bounds (class "unbounded memory"): at most STMT_PG_PENDING_MAX replies are
 * awaited (then the client is not read until one is answered), at most
 * PG_STMTS_MAX statements / PG_PORTALS_MAX portals and PG_STMT_BYTES_MAX
 * bytes of statement text are held per session (more is refused).
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit/audit.h"
#include "protocols/pgsql/pg_conn.h"
#include "protocols/pgsql/pg_internal.h"
#include "protocols/pgsql/pg_routines.h"
#include "protocols/pgsql/pg_params.h"
#include "protocols/pgsql/pg_syntax.h"
#include "lib/crypto.h"
#include "proxy/decide.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/stream.h"

#define PG_STMTS_MAX 10000
#define PG_PORTALS_MAX 10000
#define PG_STMT_BYTES_MAX ((size_t)64 << 20)

/* on_client_message() results */
enum { MSG_FORWARD = 0, MSG_CONSUMED = 1, MSG_HOLD = 2 };

static const struct stmt_ops pg_stmt_ops;

int pg_relay_init(struct pg_conn *c)
{
	uint8_t r[12];
	char hex[25];
	if (sb_random(r, sizeof r) != 0)
		return -1;
	sb_hex(r, sizeof r, hex);
	snprintf(c->marker, sizeof c->marker, "sqlbastion_denied_%s", hex);
	policy_result_init(&c->pres_alt);
	stmt_queue_init(&c->pend, c->s, &pg_stmt_ops, c);
	return pg_routines_init(c);
}

/* ---- prepared statements and portals (the confirmed maps) ---- */

static void stmt_unref(struct pg_conn *c, struct pg_stmt *st)
{
	if (!st || --st->refs > 0)
		return;
	c->stmt_bytes -= st->dec.sql_len;
	free(st->name);
	stmt_decision_clear(&st->dec);
	free(st);
}

static struct pg_stmt *stmt_find(struct pg_conn *c, const char *name)
{
	for (struct pg_stmt *st = c->stmts; st; st = st->next)
		if (strcmp(st->name, name) == 0)
			return st;
	return NULL;
}

static void stmt_remove(struct pg_conn *c, const char *name)
{
	for (struct pg_stmt **pp = &c->stmts; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct pg_stmt *st = *pp;
			*pp = st->next;
			c->n_stmts--;
			stmt_unref(c, st);
			return;
		}
	}
}

/* ParseComplete: the statement is the server's now (takes a reference). */
static void stmt_confirm(struct pg_conn *c, struct pg_stmt *st)
{
	stmt_remove(c, st->name);
	st->refs++;
	st->next = c->stmts;
	c->stmts = st;
	c->n_stmts++;
}

static void portal_free(struct pg_conn *c, struct pg_portal *p)
{
	if (!p)
		return;
	stmt_unref(c, p->stmt);
	free(p->name);
	free(p->params);
	free(p);
}

static void portal_remove(struct pg_conn *c, const char *name)
{
	for (struct pg_portal **pp = &c->portals; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct pg_portal *p = *pp;
			*pp = p->next;
			c->n_portals--;
			portal_free(c, p);
			return;
		}
	}
}

static void portals_clear(struct pg_conn *c)
{
	while (c->portals)
		portal_remove(c, c->portals->name);
}

/* BindComplete: the portal is the server's now (takes ownership). */
static void portal_confirm(struct pg_conn *c, struct pg_portal *p)
{
	portal_remove(c, p->name);
	p->next = c->portals;
	c->portals = p;
	c->n_portals++;
}

static struct pg_portal *portal_find(struct pg_conn *c, const char *portal)
{
	for (struct pg_portal *p = c->portals; p; p = p->next)
		if (strcmp(p->name, portal) == 0)
			return p;
	return NULL;
}

/* A statement object with the decision in c->pend.pres (refs = 1, owned by the
 * caller until stmt_unref). NULL when out of memory. */
static struct pg_stmt *stmt_new(struct pg_conn *c, const char *name, const char *sql, size_t len)
{
	struct pg_stmt *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->refs = 1;
	st->name = strdup(name);
	if (!st->name || stmt_decision_keep(&c->pend, &st->dec, sql, len) != 0) {
		free(st->name);
		free(st);
		return NULL;
	}
	c->stmt_bytes += len;
	return st;
}

/* ---- pending replies (a ring) ---- */

struct pg_pending *pg_pend_push(struct pg_conn *c, enum pg_pending_kind kind)
{
	struct pg_pending *p = stmt_push(&c->pend);
	if (p)
		p->kind = kind;
	return p;
}

static struct pg_pending *pend_head(struct pg_conn *c)
{
	return stmt_head(&c->pend);
}

static struct pg_pending *pend_at(struct pg_conn *c, size_t i)
{
	return stmt_at(&c->pend, i);
}

/* stmt_ops.release: what an entry owns (a Parse's statement, a Bind's
 * unconfirmed portal, a syntax check) once its query_end is written. */
static void pend_release(void *conn, void *entry, const char *error)
{
	struct pg_conn *c = conn;
	struct pg_pending *p = entry;
	(void)error;
	pg_syntax_free(c, p);
	free(p->deny_message);
	free(p->name);
	stmt_unref(c, p->stmt);
	portal_free(c, p->portal);
}

/* The reply of the head entry ended: query_end, then drop it. */
static void pend_pop(struct pg_conn *c, const char *error_if_unset)
{
	stmt_pop(&c->pend, error_if_unset);
}

/* Entries that end with a ReadyForQuery of their own. */
static int is_boundary(enum pg_pending_kind k)
{
	return k == PG_PEND_SYNC || k == PG_PEND_SIMPLE || k == PG_PEND_FUNC ||
	       k == PG_PEND_DENIED_SIMPLE || k == PG_PEND_INTERNAL;
}

/* ---- holding the client ---- */

int pg_quiet(const struct pg_conn *c)
{
	return stmt_count(&c->pend) == 0 && !c->ext_open && !c->internal;
}

void pg_hold_until_quiet(struct pg_conn *c)
{
	c->hold_seq = c->pend.seq;
}

/* Must the client wait before its next message is looked at? */
static int held(struct pg_conn *c)
{
	if (c->internal)
		return 1;
	if (c->hold_seq) {
		struct pg_pending *h = pend_head(c);
		if (h && h->hd.seq <= c->hold_seq)
			return 1;
		c->hold_seq = 0;
	}
	/* While discarding until Sync nothing is pushed: reading on is how
	 * the Sync that ends the server's skipping is reached. */
	return stmt_queue_full(&c->pend) && !c->discard_until_sync;
}

/* After a backend message: read the client again if what held it is over. */
static void maybe_resume(struct pg_conn *c)
{
	struct session *s = c->s;
	if (!s->client_held || s->closing || s->close_after_flush || held(c))
		return;
	sess_hold_client(s, 0);
	pg_relay_client(c);
}

/* ---- what a name refers to, given what is in flight ---- */

enum lookup { LK_FOUND, LK_HOLD };

/* The statement `name` would run on the server when a Bind sent now is
 * executed: *out = the statement (borrowed) or NULL when the server will
 * not find it (or its text is not the proxy's to know). LK_HOLD (hold_seq
 * set) when a Parse/Close of that name across a Sync is still unanswered. */
static enum lookup lookup_stmt(struct pg_conn *c, const char *name, struct pg_stmt **out,
			       int *from_map)
{
	int crossed = 0;
	*from_map = 0;
	for (size_t i = stmt_count(&c->pend); i-- > 0;) {
		struct pg_pending *e = pend_at(c, i);
		int match = 0;
		if (e->kind == PG_PEND_SIMPLE && !name[0]) {
			c->hold_seq = e->hd.seq; /* a Query drops the unnamed statement, if it runs */
			return LK_HOLD;
		}
		if (is_boundary(e->kind)) {
			crossed = 1;
			continue;
		}
		if ((e->kind == PG_PEND_PARSE || e->kind == PG_PEND_DENIED_PARSE) && e->name &&
		    strcmp(e->name, name) == 0)
			match = 1;
		if (e->kind == PG_PEND_CLOSE && e->target == 'S' && strcmp(e->name, name) == 0)
			match = 1;
		if (!match)
			continue;
		if (crossed) {
			c->hold_seq = e->hd.seq;
			return LK_HOLD;
		}
		*out = e->kind == PG_PEND_PARSE ? e->stmt : NULL;
		return LK_FOUND;
	}
	*out = stmt_find(c, name);
	*from_map = 1;
	return LK_FOUND;
}

/* ---- named statements changed behind the protocol's back ----
 *
 * SQL PREPARE, DEALLOCATE and DISCARD share the namespace of protocol
 * statements: `DEALLOCATE s1; PREPARE s1 AS DELETE ...` would leave the
 * proxy's s1 with the old text. After a statement that mentions one of
 * those words runs, the map is checked against pg_prepared_statements
 * (text hashed on both sides) before a named statement is bound again;
 * any statement that differs is forgotten (its portals' Execute is then
 * refused). The check is an internal query (pg_internal.c). */

static int word_at(const char *p, const char *end, const char *w, size_t n)
{
	return (size_t)(end - p) >= n && strncasecmp(p, w, n) == 0 &&
	       (p + n == end || !(p[n] == '_' || (p[n] >= '0' && p[n] <= '9') ||
				  ((p[n] | 0x20) >= 'a' && (p[n] | 0x20) <= 'z')));
}

static int mentions_prepared(const char *sql, size_t len)
{
	const char *end = sql + len;
	int prev_word = 0;
	for (const char *p = sql; p < end; p++) {
		char lc = (char)(*p | 0x20);
		int is_word = *p == '_' || (*p >= '0' && *p <= '9') || (lc >= 'a' && lc <= 'z') ||
			      (unsigned char)*p >= 0x80;
		if (!prev_word && (lc == 'p' || lc == 'd') &&
		    (word_at(p, end, "prepare", 7) || word_at(p, end, "deallocate", 10) ||
		     word_at(p, end, "discard", 7)))
			return 1;
		prev_word = is_word;
	}
	return 0;
}

static void verify_row(struct pg_conn *c, const struct pg_internal_result *r, void *arg)
{
	(void)arg;
	if (r->n_cols < 3 || !r->cell[0][0] || !r->cell[0][1] || !r->cell[0][2])
		return;
	struct pg_stmt *st = stmt_find(c, r->cell[0][0]);
	if (!st || strcmp(r->cell[0][2], "f") != 0)
		return; /* made by SQL PREPARE: not the text the proxy has */
	uint8_t h[SB_SHA256_LEN];
	char hex[2 * SB_SHA256_LEN + 1];
	sb_sha256(st->dec.sql, st->dec.sql_len, h);
	sb_hex(h, sizeof h, hex);
	if (strcmp(hex, r->cell[0][1]) == 0)
		st->verified = 1;
}

static void verify_done(struct pg_conn *c, const struct pg_internal_result *r, void *arg)
{
	(void)arg;
	struct pg_stmt *st = c->stmts;
	while (st) {
		struct pg_stmt *next = st->next;
		if (st->name[0] && (!r->ok || !st->verified)) {
			sess_log(c->s, LOG_INFO, "prepared statement \"%.64s\" changed or gone on the "
				 "server: forgotten", st->name);
			stmt_remove(c, st->name);
		} else {
			st->verified = 0;
		}
		st = next;
	}
	c->stmts_suspect = 0;
}

#define VERIFY_SQL                                                                       \
	PG_INTERNAL_TAG " SELECT name, encode(pg_catalog.sha256(pg_catalog.convert_to("      \
	"statement, pg_catalog.pg_client_encoding())), 'hex'), from_sql "                    \
	"FROM pg_catalog.pg_prepared_statements"

enum { VERIFY_OPEN_BLOCK = 10, VERIFY_ABORTED = 11 };

/* Before binding a named statement from the map while it is suspect:
 * MSG_HOLD (the check is running, or waits for the server to answer what
 * is in flight), VERIFY_OPEN_BLOCK (cannot wait: an extended block not
 * ended by Sync), VERIFY_ABORTED (aborted transaction: cannot run), -1
 * closed. */
static int verify_named(struct pg_conn *c)
{
	if (pg_quiet(c) && c->tx_status == 'E')
		return VERIFY_ABORTED; /* aborted transaction: see on_bind */
	if (pg_quiet(c)) {
		if (pg_internal_run(c, VERIFY_SQL, NULL, 0, verify_row, verify_done, NULL) != 0)
			return -1;
		return MSG_HOLD;
	}
	if (!c->ext_open) {
		pg_hold_until_quiet(c);
		return MSG_HOLD;
	}
	return VERIFY_OPEN_BLOCK; /* the caller refuses */
}

/* The portal an Execute sent now would run (borrowed; NULL = unknown). */
static enum lookup lookup_portal(struct pg_conn *c, const char *name, struct pg_portal **out)
{
	uint64_t boundary = 0;
	for (size_t i = stmt_count(&c->pend); i-- > 0;) {
		struct pg_pending *e = pend_at(c, i);
		if (e->kind == PG_PEND_SIMPLE && !name[0]) {
			c->hold_seq = e->hd.seq; /* a Query drops the unnamed portal */
			return LK_HOLD;
		}
		if (is_boundary(e->kind)) {
			if (!boundary)
				boundary = e->hd.seq;
			continue;
		}
		int bind = e->kind == PG_PEND_BIND && strcmp(e->portal->name, name) == 0;
		int close = e->kind == PG_PEND_CLOSE && e->target == 'P' && strcmp(e->name, name) == 0;
		if (!bind && !close)
			continue;
		if (boundary) {
			c->hold_seq = e->hd.seq;
			return LK_HOLD;
		}
		*out = bind ? e->portal : NULL;
		return LK_FOUND;
	}
	struct pg_portal *p = portal_find(c, name);
	if (p && boundary) {
		/* A Sync in flight may end the transaction, and the portal with it. */
		c->hold_seq = boundary;
		return LK_HOLD;
	}
	*out = p;
	return LK_FOUND;
}

/* ---- decisions ---- */

/* stmt_decide() for a client Query/Parse, which may wait for the catalog
 * facts of the routines it calls (pg_routines.c): 1 = hold the message
 * (decided again later), 0 = decided, -1 = out of memory. */
static int evaluate_calls(struct pg_conn *c, const char *sql, size_t len)
{
	pg_routines_begin(c);
	stmt_decide(&c->pend, sql, len);
	return pg_routines_end(c, &c->pend.pres);
}

static int same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static int same_decision(const struct policy_result *a, const struct policy_result *b)
{
	return a->action == b->action && a->flags == b->flags &&
	       a->n_statements == b->n_statements && strcmp(a->rule, b->rule) == 0 &&
	       strcmp(a->verb, b->verb) == 0 && same_str(a->fingerprint, b->fingerprint) &&
	       same_str(a->objects, b->objects);
}

/* Does `sql` get the same decision under every lexing the server could
 * apply (standard_conforming_strings on/off × each class of client
 * encoding: ASCII-safe, SJIS, BIG5/GBK/UHC, GB18030, JOHAB)? Pure: no
 * review side effects. Only backslashes make readings differ. */
static int readings_agree(struct pg_conn *c, const char *sql, size_t len)
{
	static const char *const encs[] = {"UTF8", "SJIS", "BIG5", "GB18030", "JOHAB"};
	struct session *s = c->s;
	if (!s->ident.policy)
		return 1;
	int first = 1;
	for (int off = 0; off < 2; off++) {
		for (size_t e = 0; e < sizeof encs / sizeof encs[0]; e++) {
			struct decide_lexing lex = {.std_strings_off = off};
			snprintf(lex.client_encoding, sizeof lex.client_encoding, "%s", encs[e]);
			sess_evaluate_reading(s, POLICY_DIALECT_PG, &lex, sql, len,
					      first ? &c->pend.pres : &c->pres_alt);
			if (!first && !same_decision(&c->pend.pres, &c->pres_alt))
				return 0;
			first = 0;
		}
	}
	return 1;
}

enum lexing { LEX_SETTLED, LEX_HOLD, LEX_REFUSE };

/* Can `sql` be decided now under the settings the proxy knows? */
static enum lexing lexing_settled(struct pg_conn *c, const char *sql, size_t len)
{
	if ((stmt_count(&c->pend) == 0 && !c->ext_open) || !memchr(sql, '\\', len))
		return LEX_SETTLED;
	if (readings_agree(c, sql, len))
		return LEX_SETTLED;
	if (c->ext_open)
		return LEX_REFUSE; /* the server answers nothing before the client's Sync */
	pg_hold_until_quiet(c);
	return LEX_HOLD;
}

#define UNSETTLED_MESSAGE                                                                  \
	"sqlbastion: statement refused: it reads differently under settings the server has " \
	"not confirmed yet (send Sync before it)"

/* Replace a refused message by a Bind to the marker statement; a simple
 * one (DENIED_SIMPLE) adds a Sync, as a Query carries its own. */
int pg_inject_denial(struct pg_conn *c, enum pg_pending_kind kind, const char *sqlstate,
		     const char *message)
{
	struct evbuffer *bout = sess_output(c->s, SESS_BACKEND);
	struct pg_pending *p = pg_pend_push(c, kind);
	if (!p)
		return -1;
	p->deny_message = strdup(message);
	snprintf(p->deny_sqlstate, sizeof p->deny_sqlstate, "%s", sqlstate);
	if (!p->deny_message)
		return -1;
	if (pg_put_bind_to(bout, c->marker) != 0)
		return -1;
	if (kind == PG_PEND_DENIED_SIMPLE) {
		c->ext_open = 0;
		return pg_put_sync(bout);
	}
	c->ext_open = 1;
	c->discard_until_sync = 1;
	return 0;
}

/* A refused Parse of `name`: the server gets a Parse of the marker under
 * that name, which fails with the marker in its syntax error. For the
 * unnamed statement this also drops the previous one, as the client's
 * Parse would have: nothing runnable is left under a refused name. A named
 * one that exists stays (the client's Parse would have failed with 42P05). */
static int deny_parse(struct pg_conn *c, const char *name, const char *sqlstate,
		      const char *message)
{
	struct pg_pending *p = pg_pend_push(c, PG_PEND_DENIED_PARSE);
	if (!p)
		return -1;
	p->deny_message = strdup(message);
	p->name = strdup(name);
	snprintf(p->deny_sqlstate, sizeof p->deny_sqlstate, "%s", sqlstate);
	if (!p->deny_message || !p->name)
		return -1;
	c->ext_open = 1;
	c->discard_until_sync = 1;
	return pg_put_parse(sess_output(c->s, SESS_BACKEND), name, c->marker) == 0 ? MSG_CONSUMED
										    : -1;
}

static const char *deny_sqlstate(enum policy_action a)
{
	(void)a;
	return "42501"; /* insufficient_privilege, as DESIGN.md fixes */
}

static int denied_simple(struct pg_conn *c, const char *sqlstate, const char *msg)
{
	return pg_inject_denial(c, PG_PEND_DENIED_SIMPLE, sqlstate, msg) == 0 ? MSG_CONSUMED : -1;
}

static int denied_ext(struct pg_conn *c, const char *sqlstate, const char *msg)
{
	return pg_inject_denial(c, PG_PEND_DENIED_PARSE, sqlstate, msg) == 0 ? MSG_CONSUMED : -1;
}

/* Audit a refusal the proxy makes itself (no policy rule). */
static void audit_refusal(struct pg_conn *c, const char *sql, size_t len, const char *rule)
{
	struct sess_stmt_info st = {.sql = sql, .len = len, .rule = rule, .action = POLICY_DENY};
	if (!sess_audit_statement(c->s, &st))
		sess_log(c->s, LOG_ERR, "audit failed for a refused statement");
}

/* Query: one message, possibly several statements; decided as a whole. */
static int on_query(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *sql;
	size_t len;
	if (pg_parse_query(b, n, &sql, &len) != 0) {
		pg_fatal(c, "08P01", "invalid Query message", "malformed Query message");
		return -1;
	}
	enum lexing lx = lexing_settled(c, sql, len);
	if (lx == LEX_HOLD)
		return MSG_HOLD;
	stmt_note(&c->pend, sql, len);
	if (lx == LEX_REFUSE) {
		audit_refusal(c, sql, len, "unsettled-lexing");
		return denied_simple(c, "42501", UNSETTLED_MESSAGE);
	}
	int rh = evaluate_calls(c, sql, len);
	if (rh)
		return rh < 0 ? -1 : MSG_HOLD;
	if (pg_syntax_wanted(c)) /* the server may say why it cannot be read */
		return pg_syntax_check(c, PG_PEND_DENIED_SIMPLE, NULL, sql, len, NULL, 0) == 0
			       ? MSG_CONSUMED
			       : -1;
	enum policy_action a = c->pend.pres.action;
	uint64_t qid = stmt_audit_decided(&c->pend, sql, len, NULL);
	if (!qid)
		return denied_simple(c, "58030", SESS_AUDIT_DOWN_MESSAGE);
	if (a >= POLICY_REVIEW) {
		if (a == POLICY_KILL)
			c->kill_after_error = 1;
		return denied_simple(c, deny_sqlstate(a), c->pend.pres.message);
	}
	struct pg_pending *p = pg_pend_push(c, PG_PEND_SIMPLE);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	pg_routines_forwarded(c, &c->pend.pres);
	if (c->n_stmts && mentions_prepared(sql, len))
		c->stmts_suspect = 1;
	return MSG_FORWARD;
}

/* Parse: decided now, audited when executed (Execute carries no text);
 * the statement enters the map when the server says ParseComplete. */
static int on_parse(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *name, *sql;
	size_t len;
	if (pg_parse_parse(b, n, &name, &sql, &len) != 0) {
		pg_fatal(c, "08P01", "invalid Parse message", "malformed Parse message");
		return -1;
	}
	enum lexing lx = lexing_settled(c, sql, len);
	if (lx == LEX_HOLD)
		return MSG_HOLD;
	stmt_note(&c->pend, sql, len);
	if (lx == LEX_REFUSE) {
		audit_refusal(c, sql, len, "unsettled-lexing");
		return deny_parse(c, name, "42501", UNSETTLED_MESSAGE);
	}
	if (c->n_stmts >= PG_STMTS_MAX || c->stmt_bytes + len > PG_STMT_BYTES_MAX) {
		audit_refusal(c, sql, len, "session-limit");
		return deny_parse(c, name, "54000",
				  "sqlbastion: too many prepared statements in this session "
				  "(Close some)");
	}
	int rh = evaluate_calls(c, sql, len);
	if (rh)
		return rh < 0 ? -1 : MSG_HOLD;
	pg_routines_forwarded(c, &c->pend.pres);
	if (pg_syntax_wanted(c)) {
		size_t skip = strlen(name) + 1; /* the rest: text and parameter types */
		return pg_syntax_check(c, PG_PEND_DENIED_PARSE, name, sql, len, b + skip, n - skip) == 0
			       ? MSG_CONSUMED
			       : -1;
	}
	if (c->pend.pres.action >= POLICY_REVIEW) {
		if (!stmt_audit_decided(&c->pend, sql, len, NULL))
			sess_log(c->s, LOG_ERR, "audit failed for a denied statement");
		if (c->pend.pres.action == POLICY_KILL)
			c->kill_after_error = 1;
		return deny_parse(c, name, deny_sqlstate(c->pend.pres.action), c->pend.pres.message);
	}
	struct pg_stmt *st = stmt_new(c, name, sql, len);
	struct pg_pending *p = st ? pg_pend_push(c, PG_PEND_PARSE) : NULL;
	if (!p) {
		stmt_unref(c, st);
		return -1;
	}
	p->stmt = st;
	p->name = strdup(name);
	c->ext_open = 1;
	return p->name ? MSG_FORWARD : -1;
}

static int on_bind(struct pg_conn *c, const uint8_t *b, size_t n)
{
	struct pg_bind bd;
	struct pg_stmt *st = NULL;
	if (pg_parse_bind(b, n, &bd) != 0) {
		pg_fatal(c, "08P01", "invalid Bind message", "malformed Bind message");
		return -1;
	}
	int from_map;
	if (lookup_stmt(c, bd.stmt, &st, &from_map) == LK_HOLD)
		return MSG_HOLD;
	if (bd.stmt[0] && from_map && c->stmts_suspect) {
		int r = verify_named(c);
		if (r == VERIFY_ABORTED) {
			/* In an aborted transaction the check cannot run; the server
			 * refuses the Bind (25P02) unless the statement ends the
			 * transaction, and then its text is not known for sure: the
			 * portal is bound as unknown (its Execute is refused). */
			st = NULL;
			r = MSG_FORWARD;
		}
		if (r == VERIFY_OPEN_BLOCK) {
			audit_refusal(c, "BIND", 4, "unconfirmed-statement");
			return denied_ext(c, "42501",
					  "sqlbastion: prepared statements may have been changed by SQL "
					  "PREPARE/DEALLOCATE; send Sync before binding one");
		}
		if (r != MSG_FORWARD)
			return r;
	}
	if (c->n_portals >= PG_PORTALS_MAX) {
		audit_refusal(c, "BIND", 4, "session-limit");
		return denied_ext(c, "54000", "sqlbastion: too many portals in this session");
	}
	struct pg_portal *p = calloc(1, sizeof *p);
	if (!p || !(p->name = strdup(bd.portal)) ||
	    (bd.params.n && !(p->params = pg_values_json(&bd.params)))) {
		portal_free(c, p);
		return -1;
	}
	if (st) {
		p->stmt = st;
		st->refs++;
	}
	struct pg_pending *e = pg_pend_push(c, PG_PEND_BIND);
	if (!e) {
		portal_free(c, p);
		return -1;
	}
	e->portal = p;
	c->ext_open = 1;
	return MSG_FORWARD;
}

/* A statement allowed by an approval runs once (stmt_approved_run): the
 * first portal of it to be executed uses the approval taken at Parse; a
 * later one (a named statement bound again) is decided again. Continuing
 * a suspended portal is the same run. Returns 0 to run it (pt->approval
 * set), 1 when refused here (recorded, denial injected), -1 when the
 * session was closed. */
static int approved_run(struct pg_conn *c, struct pg_portal *pt)
{
	int64_t approval;
	if (pt->run_decided)
		return 0;
	int r = stmt_approved_run_q(&c->pend, &pt->stmt->dec, pt->params, &approval);
	if (r == 0 && pt->stmt->dec.approval) {
		pt->run_decided = 1;
		pt->approval = approval;
	}
	return r;
}

/* stmt_ops.deny: a refused extended message (approved_run). */
static int pend_deny(void *conn, const struct policy_result *pres)
{
	struct pg_conn *c = conn;
	if (pres->action == POLICY_KILL)
		c->kill_after_error = 1;
	return denied_ext(c, deny_sqlstate(pres->action), pres->message);
}

static int on_execute(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *portal;
	struct pg_portal *pt = NULL;
	if (pg_parse_execute(b, n, &portal) != 0) {
		pg_fatal(c, "08P01", "invalid Execute message", "malformed Execute message");
		return -1;
	}
	if (lookup_portal(c, portal, &pt) == LK_HOLD)
		return MSG_HOLD;
	struct pg_stmt *st = pt ? pt->stmt : NULL;
	if (!st) {
		/* A portal whose text the proxy does not know (an SQL DECLARE'd
		 * cursor, a statement made by SQL PREPARE, a failed Bind): refused,
		 * so nothing runs that the audit cannot name. FETCH reads cursors. */
		char what[96];
		snprintf(what, sizeof what, "EXECUTE PORTAL \"%.64s\"", portal);
		stmt_note(&c->pend, what, strlen(what));
		audit_refusal(c, what, strlen(what), "unknown-portal");
		return denied_ext(c, "42501",
				  "sqlbastion: portal unknown to the proxy (only portals bound "
				  "with Bind can be executed; use FETCH for cursors)");
	}
	stmt_note(&c->pend, st->dec.sql, st->dec.sql_len);
	int r = approved_run(c, pt);
	if (r != 0)
		return r;
	uint64_t qid = stmt_decision_audit(c->s, &st->dec, pt->approval, pt->params);
	if (!qid)
		return denied_ext(c, "58030", SESS_AUDIT_DOWN_MESSAGE);
	struct pg_pending *p = pg_pend_push(c, PG_PEND_EXEC);
	if (!p)
		return -1;
	p->hd.query_id = qid;
	c->ext_open = 1;
	if (c->n_stmts && mentions_prepared(st->dec.sql, st->dec.sql_len))
		c->stmts_suspect = 1;
	return MSG_FORWARD;
}

/* Close and Describe: forwarded, with an entry that their reply ends. */
static int on_target(struct pg_conn *c, char type, const uint8_t *b, size_t n)
{
	char kind;
	const char *name;
	if (pg_parse_target(b, n, &kind, &name) != 0 || (kind != 'S' && kind != 'P')) {
		pg_fatal(c, "08P01", "invalid Close/Describe message", "malformed Close/Describe message");
		return -1;
	}
	struct pg_pending *p = pg_pend_push(c, type == 'C' ? PG_PEND_CLOSE : PG_PEND_DESCRIBE);
	if (!p || (type == 'C' && !(p->name = strdup(name))))
		return -1; /* (a Describe's name is never looked up) */
	p->target = kind;
	c->ext_open = 1;
	return MSG_FORWARD;
}

/* Returns MSG_CONSUMED when the message was consumed (not to be
 * forwarded), MSG_FORWARD to forward it, MSG_HOLD to leave it unread until
 * the server has answered what it depends on, -1 when the session was
 * closed. */
static int on_client_message(struct pg_conn *c, char type, const uint8_t *b, size_t n)
{
	if (c->discard_until_sync && type != 'S')
		return MSG_CONSUMED;
	switch (type) {
	case 'Q':
		return on_query(c, b, n);
	case 'P':
		return on_parse(c, b, n);
	case 'B':
		return on_bind(c, b, n);
	case 'E':
		return on_execute(c, b, n);
	case 'C':
	case 'D':
		return on_target(c, type, b, n);
	case 'S':
		c->discard_until_sync = 0;
		c->ext_open = 0;
		return pg_pend_push(c, PG_PEND_SYNC) ? MSG_FORWARD : -1;
	case 'F': {
		int hold = 0;
		int r = pg_on_function_call(c, b, n, &hold);
		return hold ? MSG_HOLD : r;
	}
	case 'H':
		c->ext_open = 1;
		return MSG_FORWARD;
	case 'c':
	case 'f':
		return MSG_FORWARD;
	case 'X':
		sess_close(c->s, "client terminated the session");
		return -1;
	default: {
		char msg[80];
		snprintf(msg, sizeof msg, "invalid frontend message type %d", (int)(unsigned char)type);
		pg_fatal(c, "08P01", msg, msg);
		return -1;
	}
	}
}

void pg_relay_client(struct pg_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	struct evbuffer *bout = sess_output(s, SESS_BACKEND);
	while (stmt_relay_next(&c->pend, SESS_CLIENT)) {
		if (held(c)) {
			/* Unread input stays in the socket: at most one read's worth
			 * (SESS_READ_MAX) more is buffered here. */
			sess_hold_client(s, 1);
			return;
		}
		uint8_t h[PG_HEADER_LEN];
		struct pg_frame f;
		size_t max_len = s->px->cfg.max_message > SIZE_MAX - 4 ? SIZE_MAX : s->px->cfg.max_message + 4;
		enum pg_peek pr = pg_peek_header(h, pg_head(in, h), max_len, &f);
		if (pr == PG_PEEK_AGAIN)
			return;
		char type = f.type;
		uint32_t len = f.len;
		if (pr == PG_PEEK_INVALID && len < 4) {
			pg_fatal(c, "08P01", "invalid message length", "invalid message length from client");
			return;
		}
		if (pr == PG_PEEK_INVALID) {
			char msg[120];
			snprintf(msg, sizeof msg, "sqlbastion: message of %u bytes exceeds max_message", len);
			pg_fatal(c, "54000", msg, "client message too large");
			return;
		}
		if (type == 'd' && !c->discard_until_sync) {
			/* CopyData streams: no need to hold a whole row in memory. */
			stmt_stream_start(&c->pend, SESS_CLIENT, (size_t)len + 1);
			continue;
		}
		uint8_t *m = stream_whole(s, SESS_CLIENT, (size_t)len + 1);
		if (!m)
			return;
		int r = on_client_message(c, type, m + 5, len - 4);
		if (r < 0) {
			if (!s->closing && !s->close_after_flush)
				sess_close(s, "out of memory");
			return;
		}
		if (r == MSG_HOLD) {
			sess_hold_client(s, 1);
			return;
		}
		if (r == MSG_FORWARD)
			evbuffer_remove_buffer(in, bout, (size_t)len + 1);
		else
			evbuffer_drain(in, (size_t)len + 1);
		sess_backpressure(s, SESS_BACKEND);
	}
}

/* ---- backend → client ---- */

/* The server reported an error for an extended-protocol message: it now
 * skips everything up to the client's next Sync. If that Sync has not been
 * forwarded yet, the proxy drops what comes before it too (as the server
 * would), so nothing queues up behind a failed pipeline. */
static void server_skips(struct pg_conn *c)
{
	c->srv_skipping = 1;
	for (size_t i = 0; i < stmt_count(&c->pend); i++) {
		enum pg_pending_kind k = pend_at(c, i)->kind;
		if (k == PG_PEND_SYNC || k == PG_PEND_DENIED_SIMPLE)
			return;
	}
	c->discard_until_sync = 1;
}

/* An ErrorResponse: ours (the marker) is rewritten, others recorded. */
static void on_backend_error(struct pg_conn *c, const uint8_t *b, size_t n, int *rewritten)
{
	struct pg_pending *p = pend_head(c);
	const char *msg = NULL;
	size_t ml = 0;
	*rewritten = 0;
	(void)pg_error_field(b, n, 'M', &msg, &ml);
	if (!p)
		return;
	if ((p->kind == PG_PEND_DENIED_SIMPLE || p->kind == PG_PEND_DENIED_PARSE) && msg &&
	    memmem(msg, ml, c->marker, strlen(c->marker))) {
		pg_put_error(sess_output(c->s, SESS_CLIENT), "ERROR", p->deny_sqlstate,
			     p->deny_message);
		*rewritten = 1;
		if (p->kind == PG_PEND_DENIED_PARSE) {
			if (p->name && !p->name[0])
				stmt_remove(c, ""); /* the marker Parse dropped it */
			pend_pop(c, NULL);
			server_skips(c);
		}
		return;
	}
	if (p->kind == PG_PEND_SIMPLE || p->kind == PG_PEND_EXEC || p->kind == PG_PEND_FUNC) {
		const char *code = "";
		(void)pg_error_field(b, n, 'C', &code, NULL);
		stmt_set_error(&p->hd, "%s %.*s", code, (int)(ml > 250 ? 250 : ml), msg ? msg : "");
	}
	switch (p->kind) {
	case PG_PEND_PARSE:
		if (!p->name[0])
			stmt_remove(c, ""); /* dropped before the new one failed */
		break;
	case PG_PEND_BIND:
		/* Whether the old portal of that name survived depends on where
		 * the Bind failed: forget it (an Execute of it is then refused). */
		portal_remove(c, p->portal->name);
		break;
	case PG_PEND_CLOSE:
	case PG_PEND_DESCRIBE:
	case PG_PEND_EXEC:
	case PG_PEND_DENIED_PARSE:
		break;
	default:
		return; /* ends at its ReadyForQuery */
	}
	pend_pop(c, NULL);
	server_skips(c);
}

/* ReadyForQuery closes everything up to the Sync/Query it answers. */
static void on_ready(struct pg_conn *c, char status)
{
	c->tx_status = status;
	int skipping = c->srv_skipping;
	c->srv_skipping = 0;
	while (stmt_count(&c->pend)) {
		struct pg_pending *p = pend_head(c);
		enum pg_pending_kind k = p->kind;
		int ends = skipping ? (k == PG_PEND_SYNC || k == PG_PEND_DENIED_SIMPLE) : is_boundary(k);
		if (k == PG_PEND_SIMPLE && !skipping) {
			/* exec_simple_query drops the unnamed statement and portal */
			stmt_remove(c, "");
			portal_remove(c, "");
		}
		pend_pop(c, ends && !(skipping && k == PG_PEND_SIMPLE) && k != PG_PEND_EXEC
				    ? NULL
				    : "not executed: an earlier message failed");
		if (ends)
			break;
	}
	if (status == 'I')
		portals_clear(c); /* the transaction ended: its portals are gone */
}

void pg_note_parameter(struct pg_conn *c, const uint8_t *b, size_t n)
{
	struct wire_reader r;
	const char *name, *value;
	wire_reader_init(&r, b, n);
	if (wire_get_cstr(&r, &name, NULL) != 0 || wire_get_cstr(&r, &value, NULL) != 0)
		return;
	if (strcmp(name, "standard_conforming_strings") == 0)
		c->s->lex.std_strings_off = strcmp(value, "off") == 0;
	else if (strcmp(name, "client_encoding") == 0)
		snprintf(c->s->lex.client_encoding, sizeof c->s->lex.client_encoding, "%s", value);
}

static int backend_streams(char type)
{
	switch (type) {
	case 'S': /* ParameterStatus: may change how policy must lex */
	case 'Z':
	case 'E':
	case 'C':
	case 'I':
	case 's':
	case '1':
	case '2':
	case '3':
	case 'T':
	case 'n':
		return 0;
	default:
		return 1;
	}
}

/* A reply that answers the head entry only if it is of kind k. */
static int head_is(struct pg_conn *c, enum pg_pending_kind k)
{
	struct pg_pending *p = pend_head(c);
	return p && p->kind == k;
}

/* Apply one control message; 1 = consumed (not relayed), 0 = relay, -1 =
 * session closed. */
static int on_backend_message(struct pg_conn *c, char type, const uint8_t *b, size_t n)
{
	struct pg_pending *p = pend_head(c);
	int consumed = 0;
	if (p && p->chk) {
		enum pg_syntax_reply sr = pg_syntax_backend(c, p, type, b, n);
		if (sr == PG_SYN_CONSUMED)
			return 1;
		if (sr == PG_SYN_RELAY) {
			/* The server's own error answers the client's message. A
			 * Query's entry ends at its ReadyForQuery; a Parse's here,
			 * and the server skips to the client's Sync. */
			if (p->kind == PG_PEND_DENIED_PARSE) {
				pend_pop(c, NULL);
				server_skips(c);
			}
			return 0;
		}
	}
	switch (type) {
	case '1':
		if (!head_is(c, PG_PEND_PARSE))
			goto out_of_order;
		stmt_confirm(c, p->stmt);
		pend_pop(c, NULL);
		break;
	case '2':
		if (!head_is(c, PG_PEND_BIND))
			goto out_of_order;
		portal_confirm(c, p->portal);
		p->portal = NULL;
		pend_pop(c, NULL);
		break;
	case '3':
		if (!head_is(c, PG_PEND_CLOSE))
			goto out_of_order;
		if (p->target == 'S')
			stmt_remove(c, p->name);
		else
			portal_remove(c, p->name);
		pend_pop(c, NULL);
		break;
	case 'T':
	case 'n':
		if (head_is(c, PG_PEND_DESCRIBE))
			pend_pop(c, NULL);
		else if (type == 'n')
			goto out_of_order;
		break;
	case 'C':
		if (p && (p->kind == PG_PEND_SIMPLE || p->kind == PG_PEND_EXEC)) {
			int64_t rows = pg_command_rows(b, n);
			if (rows >= 0)
				stmt_add_rows(&p->hd, rows);
			if (p->kind == PG_PEND_EXEC)
				pend_pop(c, NULL);
		}
		break;
	case 'I':
	case 's':
		if (p && p->kind == PG_PEND_EXEC)
			pend_pop(c, NULL);
		break;
	case 'E':
		on_backend_error(c, b, n, &consumed);
		break;
	case 'Z':
		if (!p)
			goto out_of_order;
		on_ready(c, n ? (char)b[0] : 'I');
		break;
	case 'S':
		pg_note_parameter(c, b, n);
		break;
	}
	return consumed;
out_of_order:
	sess_log(c->s, LOG_ERR, "backend reply '%c' does not match what the proxy forwarded", type);
	sess_close(c->s, "backend reply out of order");
	return -1;
}

void pg_relay_backend(struct pg_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	struct evbuffer *cout = sess_output(s, SESS_CLIENT);
	while (stmt_relay_next(&c->pend, SESS_BACKEND)) {
		uint8_t h[PG_HEADER_LEN];
		struct pg_frame f;
		size_t have = pg_head(in, h);
		enum pg_peek pr = pg_peek_header(h, have, UINT32_MAX, &f);
		if (pr == PG_PEEK_AGAIN)
			break;
		if (pr == PG_PEEK_INVALID) {
			sess_close(s, "invalid message length from backend");
			return;
		}
		char type = f.type;
		uint32_t len = f.len;
		if (!c->internal && backend_streams(type)) {
			stmt_stream_start(&c->pend, SESS_BACKEND, f.total);
			continue;
		}
		pr = pg_peek_message(h, have, PG_CONTROL_MESSAGE_MAX, &f);
		if (pr == PG_PEEK_INVALID) {
			sess_close(s, "oversized control message from backend");
			return;
		}
		if (pr == PG_PEEK_AGAIN)
			break;
		uint8_t *m = stream_whole(s, SESS_BACKEND, (size_t)len + 1);
		if (!m)
			break; /* (closed when out of memory) */
		int consumed;
		if (c->internal)
			consumed = pg_internal_backend(c, type, m + 5, len - 4);
		else
			consumed = on_backend_message(c, type, m + 5, len - 4);
		if (consumed < 0)
			return;
		if (consumed)
			evbuffer_drain(in, (size_t)len + 1);
		else
			evbuffer_remove_buffer(in, cout, (size_t)len + 1);
		if (type == 'Z' && c->kill_after_error && !c->internal) {
			sess_close_after_flush(s, "ended by a kill rule");
			return;
		}
		sess_backpressure(s, SESS_CLIENT);
		maybe_resume(c);
	}
	maybe_resume(c);
}

void pg_relay_free(struct pg_conn *c)
{
	pg_internal_free(c);
	pg_routines_free(c);
	stmt_queue_free(&c->pend);
	portals_clear(c);
	while (c->stmts)
		stmt_remove(c, c->stmts->name);
	policy_result_free(&c->pres_alt);
}

static const struct stmt_ops pg_stmt_ops = {
	.dialect = POLICY_DIALECT_PG,
	.entry_size = sizeof(struct pg_pending),
	.max_pending = STMT_PG_PENDING_MAX,
	.release = pend_release,
	.deny = pend_deny,
};
