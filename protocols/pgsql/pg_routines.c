/* pg_routines: called routines' facts from pg_proc (see pg_routines.h). */
#include "protocols/pgsql/pg_routines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/classify.h"
#include "protocols/pgsql/pg_conn.h"
#include "protocols/pgsql/pg_internal.h"
#include "proxy/session.h"

/* Look-ups for one client message: a body that calls other routines
 * needs another round (BODY_DEPTH in policy.c bounds the nesting). */
#define RT_MAX_ROUNDS 4

/* Every routine of the asked names, in any schema. pg_catalog rows only say
 * "a built-in of that name exists" (their bodies are the built-in
 * knowledge's). Operators and functions are schema-qualified: the query
 * runs under the client's search_path. */
#define RT_LOOKUP_SQL                                                                           \
	PG_INTERNAL_TAG                                                                         \
	" SELECT q.n, ns.nspname OPERATOR(pg_catalog.=) 'pg_catalog', l.lanname, p.prosecdef,"   \
	" p.provolatile, b.body, pg_catalog.octet_length(b.body)"                               \
	" FROM pg_catalog.unnest($1::pg_catalog.text[]) AS q(n)"                                \
	" JOIN pg_catalog.pg_proc p ON p.proname OPERATOR(pg_catalog.=) q.n::pg_catalog.name"    \
	" JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) p.pronamespace"       \
	" JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang"              \
	" CROSS JOIN LATERAL (SELECT CASE WHEN ns.nspname OPERATOR(pg_catalog.=) 'pg_catalog'"  \
	" THEN NULL WHEN p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_function_sqlbody(p.oid)" \
	" ELSE p.prosrc END AS body) b"

struct rt_entry {
	char *name;    /* the called name's last part, as the classifier gave it */
	int keep;      /* kept for the session (no user routine, a built-in exists) */
	int builtin;   /* a pg_catalog routine of that name exists */
	int fresh;     /* made by the look-up in flight */
	int n, cap;
	struct policy_routine *defs; /* language and body strings owned */
};

struct pg_routines {
	struct rt_entry *e;
	int n, cap, n_kept;
	char **missing; /* names asked for and not known (this evaluation) */
	int n_missing, cap_missing;
	int can_lookup; /* between _begin and _end: PENDING may be answered */
	int rounds;     /* look-ups made for the current client message */
	int failed;     /* a look-up failed: unknown names are dynamic for it */
};

static void entry_free(struct rt_entry *e)
{
	for (int i = 0; i < e->n; i++) {
		free((char *)e->defs[i].language);
		free((char *)e->defs[i].body);
	}
	free(e->defs);
	free(e->name);
}

/* Drop the entries not kept for the session (keep_all = 0: drop all). */
static void drop_entries(struct pg_routines *rt, int keep_all)
{
	int j = 0;
	for (int i = 0; i < rt->n; i++) {
		if (keep_all && rt->e[i].keep)
			rt->e[j++] = rt->e[i];
		else
			entry_free(&rt->e[i]);
	}
	rt->n = j;
	if (!keep_all)
		rt->n_kept = 0;
}

static void clear_missing(struct pg_routines *rt)
{
	for (int i = 0; i < rt->n_missing; i++)
		free(rt->missing[i]);
	rt->n_missing = 0;
}

static struct rt_entry *find(struct pg_routines *rt, const char *name, size_t len)
{
	for (int i = 0; i < rt->n; i++)
		if (strlen(rt->e[i].name) == len && memcmp(rt->e[i].name, name, len) == 0)
			return &rt->e[i];
	return NULL;
}

/* Where no look-up can run (an extended-protocol block not ended by Sync:
 * the server answers nothing before it), an unqualified name not known
 * yet is taken as the built-in when it is one of these pg_catalog
 * functions (and SQL forms the classifier reports as calls) that ORMs and
 * drivers put in pipelined statements; any other is dynamic. A user
 * routine shadowing one of them is not seen there (README "Known
 * limits"). Sorted for bsearch. */
static const char *const common_builtins[] = {
	"abs", "age", "array_agg", "array_length", "array_position", "array_to_string",
	"avg", "bool_and", "bool_or", "btrim", "cardinality", "cast", "ceil", "ceiling",
	"char_length", "character_length", "clock_timestamp", "coalesce", "concat", "concat_ws",
	"count", "current_database", "current_date", "current_schema", "current_setting",
	"current_time", "current_timestamp", "date_part", "date_trunc", "decode",
	"encode", "every", "exists", "exp", "extract", "floor", "format", "gen_random_uuid",
	"generate_series", "greatest", "initcap", "json_agg", "json_build_array",
	"json_build_object", "json_object_agg", "jsonb_agg", "jsonb_build_array",
	"jsonb_build_object", "jsonb_object_agg", "jsonb_set", "least", "left", "length",
	"ln", "localtime", "localtimestamp", "log", "lower", "lpad", "ltrim", "make_date",
	"make_interval", "make_timestamp", "max", "md5", "min", "mod", "now", "nullif",
	"octet_length", "overlaps", "overlay", "position", "power", "random", "regexp_match",
	"regexp_matches", "regexp_replace", "regexp_split_to_array", "repeat", "replace",
	"reverse", "right", "round", "row_number", "rpad", "rtrim", "sign", "split_part",
	"sqrt", "statement_timestamp", "string_agg", "strpos", "substr", "substring", "sum",
	"timeofday", "to_char", "to_date", "to_json", "to_jsonb", "to_number",
	"to_timestamp", "transaction_timestamp", "translate", "trim", "trunc", "unnest",
	"upper", "version",
};

static int cmp_name(const void *k, const void *e)
{
	return strcmp(k, *(const char *const *)e);
}

static int common_builtin(const char *name, size_t len)
{
	char k[32];
	if (len >= sizeof k)
		return 0;
	memcpy(k, name, len);
	k[len] = '\0';
	return bsearch(k, common_builtins, sizeof common_builtins / sizeof common_builtins[0],
		       sizeof common_builtins[0], cmp_name) != NULL;
}

/* policy_request.routine */
static int rt_routine(void *ctx, const char *name, size_t len, const struct policy_routine **defs)
{
	struct pg_conn *c = ctx;
	struct pg_routines *rt = c->routines;
	const char *last = name, *schema = NULL;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == CLS_NAME_SEP) {
			schema = last;
			last = name + i + 1;
		}
	}
	size_t ln = (size_t)(name + len - last);
	/* pg_catalog.f: a built-in (only a superuser creates there) */
	if (schema && (size_t)(last - 1 - schema) == 10 && memcmp(schema, "pg_catalog", 10) == 0)
		return 0;
	*defs = NULL;
	struct rt_entry *e = find(rt, last, ln);
	if (e && !e->fresh) {
		*defs = e->defs;
		return e->n;
	}
	if (!rt->can_lookup || ln == 0 || memchr(last, '\0', ln))
		return !schema && common_builtin(last, ln) ? 0 : POLICY_ROUTINE_UNKNOWN;
	for (int i = 0; i < rt->n_missing; i++)
		if (strlen(rt->missing[i]) == ln && memcmp(rt->missing[i], last, ln) == 0)
			return POLICY_ROUTINE_PENDING;
	if (rt->n_missing == rt->cap_missing) {
		int cap = rt->cap_missing ? rt->cap_missing * 2 : 8;
		char **m = realloc(rt->missing, (size_t)cap * sizeof *m);
		if (!m)
			return POLICY_ROUTINE_UNKNOWN;
		rt->missing = m;
		rt->cap_missing = cap;
	}
	char *dup = strndup(last, ln);
	if (!dup)
		return POLICY_ROUTINE_UNKNOWN;
	rt->missing[rt->n_missing++] = dup;
	return POLICY_ROUTINE_PENDING;
}

int pg_routines_init(struct pg_conn *c)
{
	c->routines = calloc(1, sizeof *c->routines);
	if (!c->routines)
		return -1;
	c->s->routine = rt_routine;
	c->s->routine_ctx = c;
	return 0;
}

void pg_routines_free(struct pg_conn *c)
{
	struct pg_routines *rt = c->routines;
	if (!rt)
		return;
	drop_entries(rt, 0);
	clear_missing(rt);
	free(rt->missing);
	free(rt->e);
	free(rt);
	c->routines = NULL;
	c->s->routine = NULL;
	c->s->routine_ctx = NULL;
}

void pg_routines_begin(struct pg_conn *c)
{
	struct pg_routines *rt = c->routines;
	if (!rt)
		return;
	clear_missing(rt);
	/* Possible now (quiet, transaction not aborted) or after holding the
	 * client until quiet (nothing of an unsynced block in flight). */
	int quiet = pg_quiet(c);
	rt->can_lookup = rt->rounds < RT_MAX_ROUNDS && !rt->failed &&
			 (quiet ? c->tx_status != 'E' : !c->ext_open);
}

/* pg_get_function_sqlbody() of a `BEGIN ATOMIC ... END` SQL function: the
 * statements between those words (read as statements of a body). */
static void strip_atomic(const char **body, size_t *len)
{
	const char *b = *body, *e = b + *len;
	while (b < e && (*b == ' ' || *b == '\n' || *b == '\t' || *b == '\r'))
		b++;
	if (e - b < 12 || strncasecmp(b, "BEGIN ATOMIC", 12) != 0)
		return;
	b += 12;
	while (e > b && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == ';'))
		e--;
	if (e - b >= 3 && strncasecmp(e - 3, "END", 3) == 0)
		e -= 3;
	*body = b;
	*len = (size_t)(e - b);
}

/* Rows of the look-up: q.n, in pg_catalog, lanname, prosecdef,
 * provolatile, body, octet_length(body). */
static void lookup_row(struct pg_conn *c, const struct pg_internal_result *r, void *arg)
{
	(void)arg;
	struct pg_routines *rt = c->routines;
	char *const *v = r->cell[0];
	if (!rt || r->n_cols < 7 || !v[0])
		return;
	struct rt_entry *e = find(rt, v[0], strlen(v[0]));
	if (!e || !e->fresh)
		return;
	if (v[1] && v[1][0] == 't') {
		e->builtin = 1;
		return;
	}
	if (e->n == e->cap) {
		int cap = e->cap ? e->cap * 2 : 4;
		struct policy_routine *d = realloc(e->defs, (size_t)cap * sizeof *d);
		if (!d) {
			rt->failed = 1;
			return;
		}
		e->defs = d;
		e->cap = cap;
	}
	struct policy_routine *d = &e->defs[e->n++];
	memset(d, 0, sizeof *d);
	d->language = v[2] ? strdup(v[2]) : NULL;
	d->security_definer = v[3] && v[3][0] == 't';
	d->volatility = v[4] ? v[4][0] : 'v';
	/* a body cut by PG_INTERNAL_CELL_MAX is not read: body NULL = dynamic */
	if (v[5] && v[6] && strtoull(v[6], NULL, 10) == strlen(v[5])) {
		const char *b = v[5];
		size_t bl = strlen(b);
		strip_atomic(&b, &bl);
		d->body = strndup(b, bl);
		d->body_len = d->body ? bl : 0;
	}
	if (!d->language)
		rt->failed = 1;
}

static void lookup_done(struct pg_conn *c, const struct pg_internal_result *r, void *arg)
{
	(void)arg;
	struct pg_routines *rt = c->routines;
	if (!rt)
		return;
	if (!r->ok)
		rt->failed = 1;
	int j = 0;
	for (int i = 0; i < rt->n; i++) {
		struct rt_entry *e = &rt->e[i];
		if (e->fresh && rt->failed) {
			entry_free(e); /* not known: dynamic for this message */
			continue;
		}
		if (e->fresh) {
			e->fresh = 0;
			e->keep = e->n == 0 && e->builtin && rt->n_kept < PG_RT_KEEP;
			rt->n_kept += e->keep;
		}
		rt->e[j++] = *e;
	}
	rt->n = j;
}

/* Append s to the array literal in buf as a double-quoted element. */
static int put_element(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t need = *len + 2 * strlen(s) + 6; /* ',', quotes, '}', NUL */
	if (need > *cap) {
		size_t nc = need * 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	char *o = *buf;
	if (*len > 1)
		o[(*len)++] = ',';
	o[(*len)++] = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			o[(*len)++] = '\\';
		o[(*len)++] = *s;
	}
	o[(*len)++] = '"';
	o[*len] = '\0';
	return 0;
}

/* Start the look-up of rt->missing. Returns 0 started, -1 out of memory. */
static int start_lookup(struct pg_conn *c, struct pg_routines *rt)
{
	size_t len = 1, cap = 64;
	char *arr = malloc(cap);
	if (!arr)
		return -1;
	arr[0] = '{';
	arr[1] = '\0';
	for (int i = 0; i < rt->n_missing; i++) {
		if (rt->n == rt->cap) {
			int nc = rt->cap ? rt->cap * 2 : 16;
			struct rt_entry *ne = realloc(rt->e, (size_t)nc * sizeof *ne);
			if (!ne)
				goto oom;
			rt->e = ne;
			rt->cap = nc;
		}
		if (put_element(&arr, &len, &cap, rt->missing[i]) != 0)
			goto oom;
		struct rt_entry *e = &rt->e[rt->n++];
		memset(e, 0, sizeof *e);
		e->fresh = 1;
		e->name = rt->missing[i]; /* moved */
		rt->missing[i] = NULL;
	}
	rt->n_missing = 0;
	/* put_element leaves at least 2 bytes free after each element */
	arr[len++] = '}';
	arr[len] = '\0';
	const char *p[1] = {arr};
	int rc = pg_internal_run(c, RT_LOOKUP_SQL, p, 1, lookup_row, lookup_done, NULL);
	free(arr);
	return rc;
oom:
	free(arr);
	return -1;
}

int pg_routines_end(struct pg_conn *c, const struct policy_result *res)
{
	struct pg_routines *rt = c->routines;
	if (!rt)
		return 0;
	int could = rt->can_lookup;
	rt->can_lookup = 0;
	if (!res->routines_missing || !could || rt->n_missing == 0) {
		/* final: the facts of user routines served this decision only */
		drop_entries(rt, 1);
		clear_missing(rt);
		rt->rounds = 0;
		rt->failed = 0;
		return 0;
	}
	if (!pg_quiet(c)) {
		clear_missing(rt);
		pg_hold_until_quiet(c);
		return 1;
	}
	rt->rounds++;
	return start_lookup(c, rt) == 0 ? 1 : -1;
}

/* A single statement that starts or commits its own transaction. */
static int plain_tx_verb(const char *v)
{
	static const char *const ok[] = {"BEGIN", "START TRANSACTION", "COMMIT", "END",
					 "SAVEPOINT", "RELEASE"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(v, ok[i]) == 0 || (strncmp(v, ok[i], strlen(ok[i])) == 0 &&
					      v[strlen(ok[i])] == ' ' && !strstr(v, "PREPARED")))
			return 1;
	return 0;
}

void pg_routines_forwarded(struct pg_conn *c, const struct policy_result *res)
{
	struct pg_routines *rt = c->routines;
	if (!rt || rt->n == 0)
		return;
	int forget = (res->flags & (POLICY_F_DDL | POLICY_F_DYNAMIC | POLICY_F_UNPARSEABLE)) != 0;
	if ((res->flags & POLICY_F_TX_CONTROL) &&
	    (res->n_statements != 1 || !plain_tx_verb(res->verb)))
		forget = 1; /* ROLLBACK may undo the DDL that made a name a user routine's */
	if (forget)
		drop_entries(rt, 0);
}
