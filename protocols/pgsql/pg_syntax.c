/* pg_syntax: ask the server to parse what the classifier cannot read (see
 * pg_syntax.h). */
#include "protocols/pgsql/pg_syntax.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/decide.h"
#include "proxy/session.h"

enum chk_state { CHK_SENT, CHK_PARSED, CHK_DONE };

struct pg_syntax_check {
	enum chk_state state;
	int simple;            /* a Query (else a Parse) */
	struct stmt_decision dec; /* owned: the client's text and decision, for the audit */
};

int pg_syntax_wanted(const struct pg_conn *c)
{
	return c->s->ident.policy && c->pend.pres.action == POLICY_DENY &&
	       (c->pend.pres.flags & POLICY_F_UNPARSEABLE) && strcmp(c->pend.pres.rule, "fail-closed") == 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Parse(name, sql) with the client's parameter types (tail = text, NUL,
 * types, as in the client's Parse), or none (tail NULL). */
static int put_check_parse(struct evbuffer *out, const char *name, const char *sql, size_t len,
			   const uint8_t *tail, size_t tail_len)
{
	static const uint8_t nul_and_no_types[3] = {0, 0, 0};
	size_t nl = strlen(name) + 1;
	size_t body = nl + (tail ? tail_len : len + 3);
	uint8_t h[5];
	if (body + 4 > UINT32_MAX)
		return -1;
	h[0] = 'P';
	put_u32(h + 1, (uint32_t)(body + 4));
	int rc = evbuffer_add(out, h, 5) | evbuffer_add(out, name, nl);
	if (tail)
		rc |= evbuffer_add(out, tail, tail_len);
	else
		rc |= evbuffer_add(out, sql, len) | evbuffer_add(out, nul_and_no_types, 3);
	return rc ? -1 : 0;
}

static void check_free(struct pg_syntax_check *k)
{
	if (!k)
		return;
	stmt_decision_clear(&k->dec);
	free(k);
}

int pg_syntax_check(struct pg_conn *c, enum pg_pending_kind kind, const char *name,
		    const char *sql, size_t len, const uint8_t *parse_tail, size_t tail_len)
{
	struct evbuffer *bout = sess_output(c->s, SESS_BACKEND);
	struct pg_syntax_check *k = calloc(1, sizeof *k);
	if (!k)
		return -1;
	k->simple = kind == PG_PEND_DENIED_SIMPLE;
	if (stmt_decision_set(&k->dec, sql, len, &c->pend.pres, 0) != 0) {
		free(k);
		return -1;
	}

	struct pg_pending *p = pg_pend_push(c, kind);
	if (!p) {
		check_free(k);
		return -1;
	}
	p->chk = k;
	p->deny_message = strdup(c->pend.pres.message);
	snprintf(p->deny_sqlstate, sizeof p->deny_sqlstate, "42501");
	if (!k->simple)
		p->name = strdup(name);
	if (!p->deny_message || (!k->simple && !p->name))
		return -1;

	char chk_name[96];
	snprintf(chk_name, sizeof chk_name, "%s_syn%llu", c->marker,
		 (unsigned long long)++c->internal_count);
	if (put_check_parse(bout, chk_name, sql, len, parse_tail, tail_len) != 0 ||
	    pg_put_close(bout, 'S', chk_name) != 0)
		return -1;
	if (k->simple) {
		c->ext_open = 0;
		return pg_put_bind_to(bout, c->marker) | pg_put_sync(bout) ? -1 : 0;
	}
	/* As deny_parse in pg_relay.c: the marker Parse under the client's
	 * name fails on the server (and drops an unnamed statement). */
	c->ext_open = 1;
	c->discard_until_sync = 1;
	return pg_put_parse(bout, name, c->marker);
}

static void audit_check(struct pg_conn *c, struct pg_syntax_check *k, const char *decision,
			const char *error)
{
	stmt_decision_audit_unreadable(c->s, &k->dec, decision, error);
}

enum pg_syntax_reply pg_syntax_backend(struct pg_conn *c, struct pg_pending *p, char type,
				       const uint8_t *b, size_t n)
{
	struct pg_syntax_check *k = p ? p->chk : NULL;
	if (!k || k->state == CHK_DONE)
		return PG_SYN_NOT_MINE;
	if (type == '1' && k->state == CHK_SENT) {
		k->state = CHK_PARSED; /* the server can parse it: refused below */
		return PG_SYN_CONSUMED;
	}
	if (type == '3' && k->state == CHK_PARSED) {
		k->state = CHK_DONE;
		audit_check(c, k, NULL, NULL);
		return PG_SYN_CONSUMED; /* the marker's error follows */
	}
	if (type != 'E' || k->state != CHK_SENT)
		return PG_SYN_NOT_MINE;
	k->state = CHK_DONE;
	const char *code = "", *msg = "", *routine = "";
	size_t ml = 0, rl = 0;
	(void)pg_error_field(b, n, 'C', &code, NULL);
	(void)pg_error_field(b, n, 'M', &msg, &ml);
	(void)pg_error_field(b, n, 'R', &routine, &rl);
	/* Raised by exec_parse_message itself, after the text was parsed:
	 * "cannot insert multiple commands into a prepared statement" and
	 * the like. A Query would not have met them: the server could read
	 * it, so the client gets the fail-closed denial. (25P02 in an
	 * aborted transaction is what the Query would have got too.) */
	if (k->simple && rl == strlen("exec_parse_message") &&
	    memcmp(routine, "exec_parse_message", rl) == 0 && strcmp(code, "25P02") != 0) {
		audit_check(c, k, NULL, NULL);
		if (pg_put_error(sess_output(c->s, SESS_CLIENT), "ERROR", p->deny_sqlstate,
				 p->deny_message) != 0)
			sess_close(c->s, "out of memory");
		return PG_SYN_CONSUMED; /* the server skips to the Sync: ReadyForQuery */
	}
	char e[300];
	snprintf(e, sizeof e, "%s %.*s", code, (int)(ml > 250 ? 250 : ml), msg);
	audit_check(c, k, "server-rejected", e);
	return PG_SYN_RELAY;
}

void pg_syntax_free(struct pg_conn *c, struct pg_pending *p)
{
	struct pg_syntax_check *k = p->chk;
	if (!k)
		return;
	if (k->state != CHK_DONE)
		audit_check(c, k, NULL, "not checked: the server did not answer");
	check_free(k);
	p->chk = NULL;
}
