/* my_routines: called stored routines' facts from information_schema
 * (see my_routines.h). */
#include "protocols/mysql/my_routines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/classify.h"
#include "protocols/mysql/my_codec.h"
#include "protocols/mysql/my_conn.h"
#include "protocols/mysql/my_mode.h"
#include "proxy/session.h"

/* Columns of the look-up's rows (MY_RT_SELECT). */
enum { COL_K, COL_SCHEMA, COL_BODY_KIND, COL_MODE, COL_SECURITY, COL_ACCESS, COL_BODY, N_COLS };

/* Every routine (procedure, function, package) of each asked schema and
 * name; names compare case-insensitively as the server's do. Only hex
 * literals, CONVERT and CASE: the text reads the same under every
 * sql_mode and character set the session may have, and the hex columns
 * arrive as ASCII whatever character_set_results is. */
#define MY_RT_SELECT                                                                            \
	MY_RT_TAG " SELECT q.k, HEX(r.ROUTINE_SCHEMA), r.ROUTINE_BODY, r.SQL_MODE,"             \
	" r.SECURITY_TYPE, r.SQL_DATA_ACCESS, CASE WHEN OCTET_LENGTH(r.ROUTINE_DEFINITION)"     \
	" <= 65536 THEN HEX(r.ROUTINE_DEFINITION) END FROM ("
#define MY_RT_JOIN                                                                              \
	") q JOIN information_schema.ROUTINES r ON r.ROUTINE_SCHEMA = q.s"                      \
	" AND r.ROUTINE_NAME = q.n"

struct rt_entry {
	char *name;  /* as policy.c asked: "db\x1fname" or "name" (current database) */
	size_t len;
	int fresh;   /* made by the look-up in flight */
	int n, cap;
	struct policy_routine *defs; /* language, body, schema owned */
};

struct my_routines {
	struct rt_entry *e;
	int n, cap;
	char **missing; /* names asked for and not known (this evaluation) */
	size_t *missing_len;
	int n_missing;
	int can_lookup; /* between _begin and _end */
	int rounds;     /* look-ups made for the current client command */
	int failed;     /* a look-up failed: unknown names are dynamic */
	int risk;       /* see my_routines_mode_risk */
	int lookup_from; /* first entry of the look-up in flight */
};

static void entry_free(struct rt_entry *e)
{
	for (int i = 0; i < e->n; i++) {
		free((char *)e->defs[i].language);
		free((char *)e->defs[i].body);
		free((char *)e->defs[i].schema);
	}
	free(e->defs);
	free(e->name);
}

static void drop_entries(struct my_routines *rt)
{
	for (int i = 0; i < rt->n; i++)
		entry_free(&rt->e[i]);
	rt->n = 0;
}

static void clear_missing(struct my_routines *rt)
{
	for (int i = 0; i < rt->n_missing; i++)
		free(rt->missing[i]);
	rt->n_missing = 0;
}

static struct rt_entry *find(struct my_routines *rt, const char *name, size_t len)
{
	for (int i = 0; i < rt->n; i++)
		if (rt->e[i].len == len && memcmp(rt->e[i].name, name, len) == 0)
			return &rt->e[i];
	return NULL;
}

/* policy_request.routine */
static int rt_routine(void *ctx, const char *name, size_t len, const struct policy_routine **defs)
{
	struct my_conn *c = ctx;
	struct my_routines *rt = c->routines;
	*defs = NULL;
	struct rt_entry *e = find(rt, name, len);
	if (e && !e->fresh) {
		if (e->n == 0) { /* not a stored routine: a UDF, or nothing */
			rt->risk = 1;
			return POLICY_ROUTINE_UNKNOWN;
		}
		for (int i = 0; i < e->n; i++)
			if (!e->defs[i].body ||
			    my_text_may_change_mode((const uint8_t *)e->defs[i].body, e->defs[i].body_len))
				rt->risk = 1;
		*defs = e->defs;
		return e->n;
	}
	int seps = 0;
	for (size_t i = 0; i < len; i++)
		seps += name[i] == CLS_NAME_SEP;
	if (!rt->can_lookup || len == 0 || seps > 1 || memchr(name, '\0', len)) {
		rt->risk = 1;
		return POLICY_ROUTINE_UNKNOWN;
	}
	for (int i = 0; i < rt->n_missing; i++)
		if (rt->missing_len[i] == len && memcmp(rt->missing[i], name, len) == 0)
			return POLICY_ROUTINE_PENDING;
	if (rt->n_missing == MY_RT_NAMES_MAX)
		return POLICY_ROUTINE_PENDING; /* asked in a later round */
	char *dup = malloc(len + 1);
	if (!dup) {
		rt->risk = 1;
		return POLICY_ROUTINE_UNKNOWN;
	}
	memcpy(dup, name, len);
	dup[len] = '\0';
	rt->missing[rt->n_missing] = dup;
	rt->missing_len[rt->n_missing++] = len;
	return POLICY_ROUTINE_PENDING;
}

int my_routines_init(struct my_conn *c)
{
	struct my_routines *rt = calloc(1, sizeof *rt);
	if (!rt)
		return -1;
	rt->missing = calloc(MY_RT_NAMES_MAX, sizeof *rt->missing);
	rt->missing_len = calloc(MY_RT_NAMES_MAX, sizeof *rt->missing_len);
	if (!rt->missing || !rt->missing_len) {
		free(rt->missing);
		free(rt->missing_len);
		free(rt);
		return -1;
	}
	c->routines = rt;
	c->s->routine = rt_routine;
	c->s->routine_ctx = c;
	return 0;
}

void my_routines_free(struct my_conn *c)
{
	struct my_routines *rt = c->routines;
	if (!rt)
		return;
	drop_entries(rt);
	clear_missing(rt);
	free(rt->missing);
	free(rt->missing_len);
	free(rt->e);
	free(rt);
	c->routines = NULL;
	if (c->s && c->s->routine_ctx == c) {
		c->s->routine = NULL;
		c->s->routine_ctx = NULL;
	}
}

void my_routines_begin(struct my_conn *c)
{
	struct my_routines *rt = c->routines;
	if (!rt)
		return;
	clear_missing(rt);
	rt->risk = 0;
	rt->can_lookup = rt->rounds < MY_RT_ROUNDS && !rt->failed;
}

int my_routines_end(struct my_conn *c, const struct policy_result *res)
{
	struct my_routines *rt = c->routines;
	if (!rt)
		return 0;
	int could = rt->can_lookup;
	rt->can_lookup = 0;
	if (!res->routines_missing || !could || rt->n_missing == 0) {
		/* final: the facts served this decision only */
		drop_entries(rt);
		clear_missing(rt);
		rt->rounds = 0;
		rt->failed = 0;
		return 0;
	}
	if (stmt_count(&c->pend)) {
		clear_missing(rt); /* asked again once nothing is in flight */
		return 1;
	}
	rt->rounds++;
	return 2;
}

int my_routines_mode_risk(const struct my_conn *c)
{
	return c->routines && c->routines->risk;
}

static void put_hex(struct my_buf *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	my_buf_add(b, "CONVERT(X'", 10);
	for (size_t i = 0; i < n; i++) {
		char two[2] = {hx[(unsigned char)s[i] >> 4], hx[(unsigned char)s[i] & 15]};
		my_buf_add(b, two, 2);
	}
	my_buf_add(b, "' USING utf8mb3)", 16);
}

int my_routines_lookup_sql(struct my_conn *c, uint8_t **sql, size_t *len)
{
	struct my_routines *rt = c->routines;
	struct my_buf b;
	my_buf_init(&b);
	my_buf_u8(&b, MY_COM_QUERY);
	my_buf_add(&b, MY_RT_SELECT, sizeof MY_RT_SELECT - 1);
	if (rt->n + rt->n_missing > rt->cap) {
		int cap = (rt->n + rt->n_missing) * 2;
		struct rt_entry *ne = realloc(rt->e, (size_t)cap * sizeof *ne);
		if (!ne) {
			my_buf_free(&b);
			return -1;
		}
		rt->e = ne;
		rt->cap = cap;
	}
	rt->lookup_from = rt->n;
	for (int i = 0; i < rt->n_missing; i++) {
		const char *nm = rt->missing[i], *sep = memchr(nm, CLS_NAME_SEP, rt->missing_len[i]);
		char k[32];
		int kl = snprintf(k, sizeof k, "%sSELECT %d AS k, ", i ? " UNION ALL " : "", i);
		my_buf_add(&b, k, (size_t)kl);
		if (sep)
			put_hex(&b, nm, (size_t)(sep - nm));
		else
			my_buf_add(&b, "DATABASE()", 10); /* where the server resolves it */
		my_buf_add(&b, " AS s, ", 7);
		const char *last = sep ? sep + 1 : nm;
		put_hex(&b, last, rt->missing_len[i] - (size_t)(last - nm));
		my_buf_add(&b, " AS n", 5);
		struct rt_entry *e = &rt->e[rt->n++];
		memset(e, 0, sizeof *e);
		e->fresh = 1;
		e->name = rt->missing[i]; /* moved */
		e->len = rt->missing_len[i];
		rt->missing[i] = NULL;
	}
	rt->n_missing = 0;
	my_buf_add(&b, MY_RT_JOIN, sizeof MY_RT_JOIN - 1);
	if (!my_buf_ok(&b)) {
		my_buf_free(&b);
		return -1;
	}
	*len = b.len;
	*sql = malloc(b.len);
	if (!*sql) {
		my_buf_free(&b);
		return -1;
	}
	memcpy(*sql, b.p, b.len);
	my_buf_free(&b);
	return 0;
}

/* hex text (n bytes) to bytes in a new NUL-terminated buffer; NULL when
 * not hex or out of memory */
static char *unhex(const uint8_t *h, size_t n, size_t *out_len)
{
	if (n % 2)
		return NULL;
	char *o = malloc(n / 2 + 1);
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i += 2) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			uint8_t ch = h[i + (size_t)j];
			int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
			if (d < 0) {
				free(o);
				return NULL;
			}
			v = v * 16 + d;
		}
		o[i / 2] = (char)v;
	}
	o[n / 2] = '\0';
	*out_len = n / 2;
	return o;
}

static int has_word(const uint8_t *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++)
		if (memcmp(s + i, w, wl) == 0 && (i == 0 || s[i - 1] == ',') &&
		    (i + wl == n || s[i + wl] == ','))
			return 1;
	return 0;
}

/* One row: k, HEX(schema), ROUTINE_BODY, SQL_MODE, SECURITY_TYPE,
 * SQL_DATA_ACCESS, HEX(body) or NULL. Returns 0, -1 malformed. */
static int on_row(struct my_routines *rt, const uint8_t *b, size_t n)
{
	struct wire_reader r;
	const uint8_t *v[N_COLS];
	size_t l[N_COLS];
	wire_reader_init(&r, b, n);
	for (int i = 0; i < N_COLS; i++) {
		v[i] = NULL;
		l[i] = 0;
		if (wire_left(&r) < 1)
			return -1;
		if (b[r.off] == 0xFB) { /* NULL */
			r.off++;
			continue;
		}
		if (my_get_lenenc_str(&r, &v[i], &l[i]) != 0)
			return -1;
	}
	if (wire_left(&r) != 0 || !v[COL_K] || l[COL_K] == 0 || l[COL_K] > 3)
		return -1;
	int k = 0;
	for (size_t i = 0; i < l[COL_K]; i++) {
		if (v[COL_K][i] < '0' || v[COL_K][i] > '9')
			return -1;
		k = k * 10 + (v[COL_K][i] - '0');
	}
	int at = rt->lookup_from + k;
	if (at >= rt->n || !rt->e[at].fresh)
		return -1;
	struct rt_entry *e = &rt->e[at];
	if (e->n == e->cap) {
		int cap = e->cap ? e->cap * 2 : 2;
		struct policy_routine *d = realloc(e->defs, (size_t)cap * sizeof *d);
		if (!d) {
			rt->failed = 1;
			return 0;
		}
		e->defs = d;
		e->cap = cap;
	}
	struct policy_routine *d = &e->defs[e->n++];
	memset(d, 0, sizeof *d);
	int sql = v[COL_BODY_KIND] && l[COL_BODY_KIND] == 3 && memcmp(v[COL_BODY_KIND], "SQL", 3) == 0;
	d->language = strdup(sql ? "sql" : "external");
	d->security_definer = v[COL_SECURITY] && l[COL_SECURITY] == 7 &&
			      memcmp(v[COL_SECURITY], "DEFINER", 7) == 0;
	d->volatility = v[COL_ACCESS] && l[COL_ACCESS] >= 2 && memcmp(v[COL_ACCESS], "NO", 2) == 0
				? 'i' : 'v';
	size_t sl = 0;
	d->schema = v[COL_SCHEMA] ? unhex(v[COL_SCHEMA], l[COL_SCHEMA], &sl) : NULL;
	const uint8_t *m = v[COL_MODE];
	size_t ml = m ? l[COL_MODE] : 0;
	d->mysql_mode = POLICY_MY_MODE_KNOWN;
	if (m && has_word(m, ml, "NO_BACKSLASH_ESCAPES"))
		d->mysql_mode |= POLICY_MY_NO_BACKSLASH;
	if (m && (has_word(m, ml, "ANSI_QUOTES") || has_word(m, ml, "ANSI")))
		d->mysql_mode |= POLICY_MY_ANSI_QUOTES;
	/* a body in Oracle's syntax (sql_mode ORACLE) is not read: dynamic */
	int oracle = m && has_word(m, ml, "ORACLE");
	if (sql && !oracle && v[COL_BODY] && m && d->schema)
		d->body = unhex(v[COL_BODY], l[COL_BODY], &d->body_len);
	if (!d->language)
		rt->failed = 1;
	return 0;
}

static void lookup_done(struct my_routines *rt)
{
	int j = 0;
	for (int i = 0; i < rt->n; i++) {
		struct rt_entry *e = &rt->e[i];
		if (e->fresh && rt->failed) {
			entry_free(e); /* not known: dynamic for this command */
			continue;
		}
		e->fresh = 0;
		rt->e[j++] = *e;
	}
	rt->n = j;
}

int my_routines_packet(struct my_conn *c, struct my_pending *p, const uint8_t *b, size_t n,
		       int *done)
{
	struct my_routines *rt = c->routines;
	int deprecate = (c->caps & MY_CLIENT_DEPRECATE_EOF) != 0;
	*done = 0;
	if (!rt)
		return -1;
	if (my_is_err(b, n)) {
		/* fail closed: the names stay unknown, the call dynamic */
		sess_log(c->s, LOG_WARN, "routine look-up failed: %.*s", (int)(n > 200 ? 200 : n),
			 n > 9 ? (const char *)b + 9 : "");
		rt->failed = 1;
		lookup_done(rt);
		*done = 1;
		return 0;
	}
	switch (my_own_result_packet(p, b, n, deprecate, N_COLS)) {
	case MY_WALK_META:
		return 0;
	case MY_WALK_END:
		lookup_done(rt);
		*done = 1;
		return 0;
	case MY_WALK_ROW:
		return on_row(rt, b, n);
	default:
		return -1;
	}
}
