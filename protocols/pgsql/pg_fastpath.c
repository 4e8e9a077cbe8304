/* pg_fastpath: FunctionCall ('F'), decided by the function's name.
 *
 * A FunctionCall names its function only by OID. The proxy resolves the
 * OID to schema.name with a catalog query of its own (pg_internal.c) the
 * first time it sees it in a session (results are cached per session),
 * then decides the call exactly as `SELECT "schema"."name"()`: the
 * policy's function rules (e.g. the guard policy's lo_export,
 * pg_read_file: flag=file-access) and grant levels apply. A read grant
 * never calls functions by OID (large-object writes go this way). An OID
 * that names no function is refused. The audit record's statement is
 * "FUNCTION CALL oid=N schema.name" with the arguments in params.
 *
 * Resolving needs the backend to itself: the client is held until nothing
 * it sent is in flight, and while the query runs. In an aborted
 * transaction the server would refuse the call with 25P02; the proxy
 * gives the client that same error (through the marker, so the server
 * still sees nothing run). In an extended-protocol block not yet ended by
 * Sync, an unresolved OID is refused (the server would answer nothing
 * before the Sync the proxy would wait for).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/pgsql/pg_conn.h"
#include "protocols/pgsql/pg_internal.h"
#include "protocols/pgsql/pg_params.h"
#include "proxy/decide.h"
#include "proxy/session.h"

#define FN_LOOKUP_SQL                                                                   \
	PG_INTERNAL_TAG " SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p "          \
	"JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = $1::pg_catalog.oid"

static const char *cache_find(struct pg_conn *c, uint32_t oid)
{
	for (int i = 0; i < c->fn_cache_len; i++)
		if (c->fn_cache[i].oid == oid)
			return c->fn_cache[i].name;
	return NULL;
}

/* Append "ident" quoted as SQL (doubling quotes) to buf at *len. */
static void put_quoted(char *buf, size_t cap, size_t *len, const char *id)
{
	if (*len + 1 < cap)
		buf[(*len)++] = '"';
	for (; *id && *len + 3 < cap; id++) {
		if (*id == '"')
			buf[(*len)++] = '"';
		buf[(*len)++] = *id;
	}
	if (*len + 1 < cap)
		buf[(*len)++] = '"';
	buf[*len] = '\0';
}

static void resolved(struct pg_conn *c, const struct pg_internal_result *r, void *arg)
{
	uint32_t oid = (uint32_t)(uintptr_t)arg;
	if (!r->ok) {
		/* Not cached: this call is refused, a later one asks again. */
		c->fn_failed_oid = oid;
		c->fn_failed = 1;
		return;
	}
	if (c->fn_cache_len == PG_FN_CACHE)
		c->fn_cache_len = 0; /* bounded: start over */
	struct pg_fn_name *f = &c->fn_cache[c->fn_cache_len++];
	f->oid = oid;
	f->name[0] = '\0';
	if (r->n_rows >= 1 && r->n_cols >= 2 && r->cell[0][0] && r->cell[0][1]) {
		size_t len = 0;
		put_quoted(f->name, sizeof f->name, &len, r->cell[0][0]);
		if (len + 1 < sizeof f->name)
			f->name[len++] = '.';
		put_quoted(f->name, sizeof f->name, &len, r->cell[0][1]);
	}
}

static int refuse(struct pg_conn *c, const char *what, const char *rule, const char *sqlstate,
		  const char *message, const char *params)
{
	if (!sess_audit_statement(c->s, &(struct sess_stmt_info){.sql = what,
								 .len = strlen(what),
								 .verb = "FUNCTION CALL",
								 .fingerprint = what,
								 .rule = rule,
								 .action = POLICY_DENY,
								 .params = params}))
		sess_log(c->s, LOG_ERR, "audit failed for a refused FunctionCall");
	return pg_inject_denial(c, PG_PEND_DENIED_SIMPLE, sqlstate, message) == 0 ? 1 : -1;
}

int pg_on_function_call(struct pg_conn *c, const uint8_t *b, size_t n, int *held)
{
	uint32_t oid;
	struct pg_values args;
	char what[200], sel[200], oidtxt[16];
	*held = 0;
	if (pg_parse_function_call(b, n, &oid, &args) != 0) {
		pg_fatal(c, "08P01", "invalid FunctionCall message", "malformed FunctionCall message");
		return -1;
	}
	const char *name = cache_find(c, oid);
	int failed = c->fn_failed && c->fn_failed_oid == oid;
	c->fn_failed = 0;
	if (!name && !failed && c->s->ident.target.level != POLICY_LEVEL_READ) {
		if (!pg_quiet(c) && !c->ext_open) {
			pg_hold_until_quiet(c); /* then tx_status is the server's */
			*held = 1;
			return 0;
		}
		if (pg_quiet(c) && c->tx_status != 'E') {
			snprintf(oidtxt, sizeof oidtxt, "%u", oid);
			const char *p[1] = {oidtxt};
			if (pg_internal_run(c, FN_LOOKUP_SQL, p, 1, NULL, resolved,
					    (void *)(uintptr_t)oid) != 0)
				return -1;
			*held = 1;
			return 0;
		}
	}
	snprintf(what, sizeof what, "FUNCTION CALL oid=%u%s%s", oid, name && *name ? " " : "",
		 name ? name : "");
	stmt_note(&c->pend, what, strlen(what));
	char *params = args.n ? pg_values_json(&args) : NULL;
	if (args.n && !params) {
		pg_fatal(c, "53200", "out of memory", "out of memory rendering FunctionCall arguments");
		return -1;
	}
	int r;
	if (c->s->ident.target.level == POLICY_LEVEL_READ) {
		r = refuse(c, what, "grant-level:read", "42501",
			   "sqlbastion: blocked by rule 'grant-level:read'", params);
	} else if (!name && pg_quiet(c) && c->tx_status == 'E') {
		/* What the server says to any command in an aborted transaction. */
		r = refuse(c, what, "aborted-transaction", "25P02",
			   "current transaction is aborted, commands ignored until end of "
			   "transaction block",
			   params);
	} else if (!name) {
		r = refuse(c, what, "unresolved-function", "42501",
			   "sqlbastion: FunctionCall refused: the proxy could not name the function "
			   "(send Sync before it, or call it with SELECT)",
			   params);
	} else if (!*name) {
		r = refuse(c, what, "unknown-function", "42501",
			   "sqlbastion: FunctionCall refused: no function has this OID", params);
	} else {
		snprintf(sel, sizeof sel, "SELECT %s()", name);
		int64_t approval = sess_evaluate(c->s, POLICY_DIALECT_PG, sel, strlen(sel), &c->pend.pres);
		enum policy_action a = c->pend.pres.action;
		uint64_t qid = sess_audit_statement(
			c->s, &(struct sess_stmt_info){.sql = what,
						       .len = strlen(what),
						       .verb = "FUNCTION CALL",
						       .fingerprint = sel,
						       .objects = c->pend.pres.objects,
						       .rule = c->pend.pres.rule,
						       .action = a,
						       .approval = approval,
						       .params = params});
		if (!qid) {
			r = pg_inject_denial(c, PG_PEND_DENIED_SIMPLE, "58030", SESS_AUDIT_DOWN_MESSAGE) == 0
				    ? 1
				    : -1;
		} else if (a >= POLICY_REVIEW) {
			if (a == POLICY_KILL)
				c->kill_after_error = 1;
			r = pg_inject_denial(c, PG_PEND_DENIED_SIMPLE, "42501", c->pend.pres.message) == 0 ? 1
												   : -1;
		} else {
			struct pg_pending *p = pg_pend_push(c, PG_PEND_FUNC);
			if (p)
				p->hd.query_id = qid;
			r = p ? 0 : -1;
		}
	}
	free(params);
	return r;
}
