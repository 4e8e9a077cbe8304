/* my_syntax: ask the server to parse what the classifier cannot read (see
 * my_syntax.h). */
#include "protocols/mysql/my_syntax.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocols/mysql/my_mode.h"
#include "proxy/decide.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

#define SYN_CONTROL_MAX (1u << 20) /* largest packet of a prepare reply read here */

#define MY_ER_PARSE_ERROR 1064  /* 42000 "You have an error in your SQL syntax ... near" */
#define MY_ER_SYNTAX_ERROR 1149 /* 42000 the same without a position (grammar actions) */

/* One COM_STMT_PREPARE of the check and what the server answered. */
struct syn_probe {
	size_t off, len;      /* the text prepared: bytes of the client's text */
	int answered;         /* the answer is complete */
	int parsed;           /* PREPARE_OK: the server can parse it */
	uint64_t left;        /* definitions still to come after PREPARE_OK */
	uint16_t code;        /* ERR: the server's code */
	uint8_t *err;         /* owned: ERR payload as the server sent it */
	size_t err_len;
};

struct my_syntax_check {
	int prepare;          /* the client's command was a COM_STMT_PREPARE */
	struct stmt_decision dec; /* owned: the client's text and decision, for the audit */
	char *deny_message;
	uint8_t reply_seq;    /* sequence id of a reply to the client's command */
	size_t prefix_len;    /* a batch: the statements before the unreadable one */
	int n, cur;           /* probes sent; the one being answered */
	struct syn_probe pr[2]; /* [0] from the statement to the end; [1] the
				   statement alone (when more text follows) */
	int done;             /* the client was answered and the record written */
	const struct syn_probe *err_after; /* the prefix went out: this ERR follows
					      its last result (my_syntax_batch_end) */
};

/* Does the word END (any case, not part of a longer name) occur in t? */
static int has_end_word(const char *t, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++) {
		if ((t[i] | 0x20) != 'e' || (t[i + 1] | 0x20) != 'n' || (t[i + 2] | 0x20) != 'd')
			continue;
		unsigned char before = i ? (unsigned char)t[i - 1] : ' ';
		unsigned char after = i + 3 < n ? (unsigned char)t[i + 3] : ' ';
		if (!isalnum(before) && before != '_' && before != '$' && before < 0x80 &&
		    !isalnum(after) && after != '_' && after != '$' && after < 0x80)
			return 1;
	}
	return 0;
}

/* Does t (n bytes) hold, in any case, one of the words of a statement
 * that may change how the server parses the statements after it in a
 * batch (sql_mode, the character set; a routine or prepared statement may
 * do either)? Read as substrings, also in strings and comments. */
static int may_change_parse(const char *t, size_t n)
{
	static const char *const w[] = {"sql_mode", "names", "charac", "charset",
					"exec", "call", "binlog"};
	for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
		size_t wl = strlen(w[k]);
		for (size_t i = 0; i + wl <= n; i++)
			if (strncasecmp(t + i, w[k], wl) == 0)
				return 1;
	}
	return 0;
}

int my_syntax_wanted(const struct my_conn *c, const char *sql, size_t len, int prepare)
{
	if (!c->s->ident.policy || c->pend.pres.action != POLICY_DENY ||
	    !(c->pend.pres.flags & POLICY_F_UNPARSEABLE) || strcmp(c->pend.pres.rule, "fail-closed") != 0)
		return 0;
	/* The server splits a multi-statement COM_QUERY where its grammar says
	 * a statement ends; the classifier's split is the same except inside
	 * compound statements (stored program bodies, BEGIN NOT ATOMIC, IF ...
	 * END IF), where a ';' ends an inner statement only. Every such
	 * compound ends with the word END: a batch holding it is not split,
	 * and with several statements it is not checked (the denial stands). */
	if (!prepare && (c->caps & MY_CLIENT_MULTI_STATEMENTS) && c->pend.pres.n_statements > 1 &&
	    has_end_word(sql, len))
		return 0;
	/* The check parses under the session's state now; a statement before
	 * the unreadable one that may change it would make that a guess. */
	if (!prepare && (c->caps & MY_CLIENT_MULTI_STATEMENTS) &&
	    may_change_parse(sql, c->pend.pres.unreadable_start < len ? c->pend.pres.unreadable_start : len))
		return 0;
	return 1;
}

/* Errors the server's parser raises from the text alone, before looking
 * at any object or state: the statement could never run as written.
 * Everything else a prepare can fail with means the text parsed (1146 and
 * other name resolution, done after the parse) or says nothing about the
 * syntax (1295 ER_UNSUPPORTED_PS: PREPARE/EXECUTE/DEALLOCATE and others
 * cannot be prepared; 1461 too many statements; out of memory, killed). */
int my_syntax_parse_error(uint16_t code)
{
	return code == MY_ER_PARSE_ERROR || code == MY_ER_SYNTAX_ERROR;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void check_free(struct my_syntax_check *k)
{
	if (!k)
		return;
	stmt_decision_clear(&k->dec);
	free(k->deny_message);
	for (int i = 0; i < 2; i++)
		free(k->pr[i].err);
	free(k);
}

/* Which bytes to prepare (see my_syntax.h): probe 0 from the unreadable
 * statement's start (leading whitespace skipped, as the server does
 * between statements) to the end; probe 1 that statement alone when
 * anything but whitespace and its ';' follows it. */
static void plan(struct my_conn *c, struct my_syntax_check *k)
{
	size_t start = 0, end = k->dec.sql_len;
	if (!k->prepare && (c->caps & MY_CLIENT_MULTI_STATEMENTS) &&
	    c->pend.pres.unreadable_end > c->pend.pres.unreadable_start && c->pend.pres.unreadable_end <= k->dec.sql_len) {
		start = c->pend.pres.unreadable_start;
		end = c->pend.pres.unreadable_end;
	}
	k->prefix_len = start;
	while (start < end && is_space(k->dec.sql[start]))
		start++;
	k->pr[0] = (struct syn_probe){.off = start, .len = k->dec.sql_len - start};
	k->n = 1;
	size_t rest = end;
	if (rest < k->dec.sql_len && k->dec.sql[rest] == ';')
		rest++;
	while (rest < k->dec.sql_len && is_space(k->dec.sql[rest]))
		rest++;
	if (rest < k->dec.sql_len) {
		k->pr[1] = (struct syn_probe){.off = start, .len = end - start};
		k->n = 2;
	}
}

static int send_prepare(struct my_conn *c, const char *text, size_t len)
{
	uint8_t *pk = malloc(len + 1);
	if (!pk)
		return -1;
	pk[0] = MY_COM_STMT_PREPARE;
	memcpy(pk + 1, text, len);
	int r = my_put_packets(sess_output(c->s, SESS_BACKEND), 0, pk, len + 1);
	free(pk);
	return r < 0 ? -1 : 0;
}

int my_syntax_check(struct my_conn *c, const char *sql, size_t len, int prepare)
{
	if (len > c->s->px->cfg.max_message)
		return -1; /* the relay never holds more: cannot happen */
	struct my_syntax_check *k = calloc(1, sizeof *k);
	if (!k)
		return -1;
	k->prepare = prepare;
	k->deny_message = strdup(c->pend.pres.message);
	if (!k->deny_message || stmt_decision_set(&k->dec, sql, len, &c->pend.pres, 0) != 0) {
		check_free(k);
		return -1;
	}
	k->reply_seq = c->cmd_packets ? c->cmd_packets : 1;
	plan(c, k);

	struct my_pending *p = stmt_push(&c->pend);
	if (!p) {
		check_free(k);
		return -1;
	}
	p->kind = MY_PEND_SYNTAX;
	p->chk = k;
	/* The server's "last prepared statement" becomes the check's. */
	c->last_stmt_id = 0;
	for (int i = 0; i < k->n; i++)
		if (send_prepare(c, k->dec.sql + k->pr[i].off, k->pr[i].len) != 0)
			return -1;
	sess_log(c->s, LOG_DEBUG, "asked the server to parse an unreadable statement (%d prepare%s)",
		 k->n, k->n > 1 ? "s" : "");
	return MY_CONSUMED_HOLD;
}

static void audit_check(struct my_conn *c, struct my_syntax_check *k, const char *decision,
			const char *error)
{
	stmt_decision_audit_unreadable(c->s, &k->dec, decision, error);
}

/* The server rejected the unreadable statement of a batch: run the
 * statements before it, as the server would have, when they are allowed
 * on their own and cannot change how the rest parses. They are decided
 * and audited as a COM_QUERY of their text (without the review step: a
 * statement held for review is not asked for here) and go out with a
 * MY_PEND_RESULT entry that carries the check, so that the server's ERR
 * follows their last result (my_syntax_batch_end). Returns 1 when they
 * went out (k is the entry's now), 0 when the whole batch is refused, -1
 * when out of memory. */
static int run_prefix(struct my_conn *c, struct my_syntax_check *k, const struct syn_probe *use)
{
	const unsigned unsafe = POLICY_F_UNPARSEABLE | POLICY_F_ENDS_SESSION | POLICY_F_CLIENT_FILE;
	if (!k->prefix_len || my_text_may_change_mode((const uint8_t *)k->dec.sql, k->prefix_len))
		return 0;
	sess_evaluate_no_review(c->s, POLICY_DIALECT_MYSQL, k->dec.sql, k->prefix_len, &c->pend.pres);
	if (c->pend.pres.action > POLICY_ALERT || (c->pend.pres.flags & unsafe) || c->pend.pres.use_seen ||
	    c->pend.pres.routines_missing || c->pend.pres.n_statements == 0)
		return 0;
	uint64_t qid = stmt_audit_result(c->s, k->dec.sql, k->prefix_len, &c->pend.pres, 0, NULL);
	if (!qid)
		return 0; /* audit down: none of it runs */
	uint8_t *pk = malloc(k->prefix_len + 1);
	struct my_pending *r = pk ? stmt_push(&c->pend) : NULL;
	if (!r) {
		free(pk);
		return -1;
	}
	r->kind = MY_PEND_RESULT;
	r->phase = MY_RES_FIRST;
	r->hd.query_id = qid;
	r->chk = k;
	k->err_after = use;
	pk[0] = MY_COM_QUERY;
	memcpy(pk + 1, k->dec.sql, k->prefix_len);
	int w = my_put_packets(sess_output(c->s, SESS_BACKEND), 0, pk, k->prefix_len + 1);
	free(pk);
	sess_log(c->s, LOG_DEBUG, "ran the %zu bytes before an unreadable statement the server "
		 "rejected", k->prefix_len);
	return w < 0 ? -1 : 1;
}

/* Every probe answered: answer the client and audit. Returns 0 (k is still
 * the caller's), 1 (k moved to the prefix's entry, see run_prefix) or -1. */
static int conclude(struct my_conn *c, struct my_syntax_check *k)
{
	struct evbuffer *cout = sess_output(c->s, SESS_CLIENT);
	struct syn_probe *decider = &k->pr[k->n - 1], *whole = &k->pr[0];
	k->done = 1;
	if (!decider->parsed && decider->err && my_syntax_parse_error(decider->code)) {
		/* the server's error for the text as it would have parsed it */
		struct syn_probe *use =
			!whole->parsed && whole->err && my_syntax_parse_error(whole->code) ? whole
											     : decider;
		uint16_t code;
		char state[MY_SQLSTATE_LEN + 1], e[300];
		const char *msg = "";
		size_t ml = 0;
		if (my_parse_err(use->err, use->err_len, &code, state, &msg, &ml) != 0)
			return -1;
		snprintf(e, sizeof e, "%u (%s) %.*s", code, state, (int)(ml > 250 ? 250 : ml), msg);
		int r = run_prefix(c, k, use);
		audit_check(c, k, "server-rejected", e);
		if (r != 0)
			return r;
		return my_put_packets(cout, k->reply_seq, use->err, use->err_len) < 0 ? -1 : 0;
	}
	audit_check(c, k, NULL, NULL);
	return my_put_err(cout, k->reply_seq, MY_ER_SPECIFIC_ACCESS, "42000", k->deny_message) < 0
		       ? -1
		       : 0;
}

/* One whole packet of the answer to probe pr. Returns 0 or -1 (malformed). */
static int on_packet(struct my_conn *c, struct syn_probe *pr, const uint8_t *b, size_t n)
{
	int deprecate = (c->caps & MY_CLIENT_DEPRECATE_EOF) != 0;
	if (pr->parsed) { /* a parameter or column definition, or an EOF */
		if (--pr->left == 0)
			pr->answered = 1;
		return 0;
	}
	if (my_is_err(b, n)) {
		char state[MY_SQLSTATE_LEN + 1];
		const char *msg;
		size_t ml;
		if (my_parse_err(b, n, &pr->code, state, &msg, &ml) != 0)
			return -1;
		pr->err = malloc(n);
		if (!pr->err)
			return -1;
		memcpy(pr->err, b, n);
		pr->err_len = n;
		pr->answered = 1;
		return 0;
	}
	struct my_prepare_ok po;
	if (n < 1 || b[0] != 0x00 || my_parse_prepare_ok(b, n, &po) != 0)
		return -1;
	pr->parsed = 1;
	/* closed at once (no reply); the server reads it after this answer */
	uint8_t close[5] = {MY_COM_STMT_CLOSE, (uint8_t)po.stmt_id, (uint8_t)(po.stmt_id >> 8),
			    (uint8_t)(po.stmt_id >> 16), (uint8_t)(po.stmt_id >> 24)};
	if (my_put_packets(sess_output(c->s, SESS_BACKEND), 0, close, sizeof close) < 0)
		return -1;
	pr->left = (uint64_t)po.num_params + (po.num_params && !deprecate) + po.num_columns +
		   (po.num_columns && !deprecate);
	pr->answered = pr->left == 0;
	return 0;
}

int my_syntax_backend(struct my_conn *c, struct my_pending *p)
{
	struct session *s = c->s;
	struct my_syntax_check *k = p->chk;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	while (!s->closing && k && k->cur < k->n) {
		struct my_frame f;
		const uint8_t *m;
		enum my_peek rp = my_peek_packet_in(in, SYN_CONTROL_MAX - 1, &f, &m);
		if (rp == MY_PEEK_INVALID) {
			sess_close(s, "oversized reply to the proxy's parse check (%u bytes)", f.len);
			return -1;
		}
		if (rp == MY_PEEK_AGAIN)
			return 0;
		uint32_t len = f.len;
		if (!m) {
			sess_close(s, "out of memory");
			return -1;
		}
		struct syn_probe *pr = &k->pr[k->cur];
		if (on_packet(c, pr, m, len) != 0) {
			sess_close(s, "unexpected reply to the proxy's parse check (0x%02x, %u bytes)",
				   len ? m[0] : 0, len);
			return -1;
		}
		evbuffer_drain(in, f.raw);
		if (pr->answered)
			k->cur++;
	}
	if (s->closing || !k)
		return -1;
	p->chk = NULL; /* p may move: conclude() can push the prefix's entry */
	int r = conclude(c, k);
	if (r <= 0)
		check_free(k);
	if (r < 0) {
		sess_close(s, "out of memory");
		return -1;
	}
	return 1;
}

/* Where the status flags of an OK or EOF payload are, or NULL. */
static uint8_t *status_at(struct my_conn *c, uint8_t *b, size_t n)
{
	if (n >= 5 && b[0] == 0xFE && n < 9 && !(c->caps & MY_CLIENT_DEPRECATE_EOF))
		return b + 3; /* EOF: 0xFE, warnings, status */
	if (n < 1 || (b[0] != 0x00 && b[0] != 0xFE))
		return NULL;
	size_t i = 1;
	for (int f = 0; f < 2; f++) { /* affected rows, last insert id */
		if (i >= n)
			return NULL;
		uint8_t l = b[i];
		i += l < 0xFB ? 1 : l == 0xFC ? 3 : l == 0xFD ? 4 : l == 0xFE ? 9 : n;
	}
	return i + 2 <= n ? b + i : NULL;
}

int my_syntax_batch_status(struct my_conn *c, struct my_pending *p, uint8_t *b, size_t n)
{
	struct my_syntax_check *k = p->chk;
	if (!k || !k->err_after || my_is_err(b, n))
		return 0; /* a statement of the prefix failed: the batch ends there */
	uint8_t *st = status_at(c, b, n);
	if (!st)
		return 0;
	st[0] |= (uint8_t)MY_SERVER_MORE_RESULTS_EXISTS;
	return 1;
}

int my_syntax_batch_err(struct my_conn *c, struct my_pending *p, uint8_t seq)
{
	struct my_syntax_check *k = p->chk;
	const struct syn_probe *e = k ? k->err_after : NULL;
	if (!e)
		return 0;
	return my_put_packets(sess_output(c->s, SESS_CLIENT), (uint8_t)(seq + 1), e->err,
			      e->err_len) < 0
		       ? -1
		       : 0;
}

void my_syntax_free(struct my_conn *c, struct my_pending *p)
{
	struct my_syntax_check *k = p->chk;
	if (!k)
		return;
	if (!k->done)
		audit_check(c, k, NULL, "not checked: the server did not answer");
	check_free(k);
	p->chk = NULL;
}
