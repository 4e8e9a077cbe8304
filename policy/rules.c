/* policy/rules: parse rule files and match rules (see rules.h).
 *
 * Parsing happens once per load, so it favours clear errors over speed;
 * matching happens per statement, so a rule is checked cheapest condition
 * first (flags, verb, level, scope) and a regex, the only costly one, last.
 * Regexes run with a match limit so that a crafted statement cannot stall
 * the proxy; hitting the limit is reported and the caller fails closed.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "policy/rules.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RULES_MAX_HOURS 16
/* Backtracking budget per regex and statement: plenty for patterns written
 * for SQL (PCRE2's default of 10 million lets one statement burn seconds). */
#define RULES_MATCH_LIMIT 200000

struct rules_list {
	int present, negate;
	size_t n;
	char **items; /* owned */
};

struct rules_rule {
	char name[64];
	enum policy_action action;
	int line;
	struct rules_list verb, object, function, users, assets, accounts;
	int has_flags, flags_neg;
	unsigned flags;
	int has_level, level_neg;
	unsigned level_mask;
	int has_hours, hours_neg, nhours;
	struct {
		short from, to; /* minutes; to may be 1440 */
	} hours[RULES_MAX_HOURS];
	pcre2_code *re; /* owned */
};

struct rules_set {
	size_t n, cap;
	struct rules_rule *r; /* owned */
	pcre2_match_context *mctx;
	int have_regex;
};

static const struct {
	const char *name;
	unsigned bit;
} flag_names[] = {
	{"writes", POLICY_F_WRITES},
	{"ddl", POLICY_F_DDL},
	{"has-where", POLICY_F_HAS_WHERE},
	{"trivial-where", POLICY_F_WHERE_TRIVIAL},
	{"no-where", POLICY_F_NO_WHERE},
	{"dynamic", POLICY_F_DYNAMIC},
	{"file-access", POLICY_F_FILE_ACCESS},
	{"rw-switch", POLICY_F_RW_SWITCH},
	{"unparseable", POLICY_F_UNPARSEABLE},
	{"privilege", POLICY_F_PRIVILEGE},
	{"tx-control", POLICY_F_TX_CONTROL},
	{"alter-drop", POLICY_F_ALTER_DROP},
	{"rename", POLICY_F_RENAME},
	{"ends-session", POLICY_F_ENDS_SESSION},
	{"client-file", POLICY_F_CLIENT_FILE},
	{"server-admin", POLICY_F_SERVER_ADMIN},
};

/* ---- matching helpers ----------------------------------------------- */

static unsigned char fold(unsigned char c, int ci)
{
	return (ci && c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Glob with * and ?, on s[0..n). Iterative, linear in practice. */
static int glob(const char *pat, size_t pn, const char *s, size_t n, int ci)
{
	size_t p = 0, i = 0, star_p = (size_t)-1, star_i = 0;

	while (i < n) {
		if (p < pn && pat[p] == '*') {
			star_p = p++;
			star_i = i;
		} else if (p < pn && (pat[p] == '?' ||
				      fold((unsigned char)pat[p], ci) == fold((unsigned char)s[i], ci))) {
			p++;
			i++;
		} else if (star_p != (size_t)-1) {
			p = star_p + 1;
			i = ++star_i;
		} else {
			return 0;
		}
	}
	while (p < pn && pat[p] == '*')
		p++;
	return p == pn;
}

/* Match a dotted pattern against a name whose parts are separated by
 * CLS_NAME_SEP, comparing the rightmost parts they both have. */
static int name_match(const char *pat, const char *name, size_t nlen)
{
	const char *pp[8], *np[8];
	size_t pl[8], nl[8];
	int pc = 0, nc = 0;

	for (const char *s = pat;;) {
		const char *e = strchr(s, '.');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (pc < 8) {
			pp[pc] = s;
			pl[pc++] = l;
		}
		if (!e)
			break;
		s = e + 1;
	}
	for (size_t i = 0, st = 0; i <= nlen; i++) {
		if (i == nlen || name[i] == CLS_NAME_SEP) {
			if (nc < 8) {
				np[nc] = name + st;
				nl[nc++] = i - st;
			}
			st = i + 1;
		}
	}
	/* "hr.*" covers a schema: only names written with a schema */
	if (nc < pc && pl[pc - 1] == 1 && pp[pc - 1][0] == '*')
		return 0;
	int k = pc < nc ? pc : nc;
	for (int j = 1; j <= k; j++)
		if (!glob(pp[pc - j], pl[pc - j], np[nc - j], nl[nc - j], 1))
			return 0;
	return 1;
}

/* Any name of this type in the statement matching any pattern? */
static int names_match(const struct rules_list *l, const struct cls_stmt *st,
		       char type)
{
	for (size_t i = 0; i < st->names_len;) {
		const char *e = st->names + i;
		size_t n = strlen(e + 1);
		/* MySQL's other spellings of calls ('q', 'p') are calls too */
		if (e[0] == type || (type == 'f' && (e[0] == 'q' || e[0] == 'p')))
			for (size_t j = 0; j < l->n; j++)
				if (name_match(l->items[j], e + 1, n))
					return 1;
		i += n + 2;
	}
	return 0;
}

static int scope_match(const struct rules_list *l, const char *v)
{
	if (!v)
		v = "";
	for (size_t j = 0; j < l->n; j++)
		if (glob(l->items[j], strlen(l->items[j]), v, strlen(v), 0))
			return 1;
	return 0;
}

static int verb_match(const struct rules_list *l, const struct cls_stmt *st)
{
	size_t first = strcspn(st->verb, " ");
	for (size_t j = 0; j < l->n; j++) {
		const char *it = l->items[j];
		if (strchr(it, ' ')) {
			if (strcmp(it, st->verb) == 0)
				return 1;
			continue;
		}
		if (strlen(it) == first && memcmp(it, st->verb, first) == 0)
			return 1;
		unsigned bit = !strcmp(it, "INSERT") ? CLS_DML_INSERT :
			       !strcmp(it, "UPDATE") ? CLS_DML_UPDATE :
			       !strcmp(it, "DELETE") ? CLS_DML_DELETE :
			       !strcmp(it, "MERGE") ? CLS_DML_MERGE : 0;
		if (st->dml & bit)
			return 1;
	}
	return 0;
}

static int minute_of_day(struct rules_input *in)
{
	if (in->minute < 0) {
		struct tm tm;
		time_t now = in->req->now;
		if (!localtime_r(&now, &tm))
			return in->minute = 0;
		in->minute = tm.tm_hour * 60 + tm.tm_min;
	}
	return in->minute;
}

static int hours_match(const struct rules_rule *r, int m)
{
	for (int i = 0; i < r->nhours; i++) {
		int f = r->hours[i].from, t = r->hours[i].to;
		if (f < t ? (m >= f && m < t) : (m >= f || m < t))
			return 1;
	}
	return 0;
}

/* 1 match, 0 no match, -1 could not tell (regex limit). */
static int rule_match(const struct rules_set *rs, const struct rules_rule *r,
		      struct rules_input *in)
{
	const struct cls_stmt *st = in->st;
	const struct policy_request *req = in->req;

#define NEG(cond, neg) (((cond) != 0) != ((neg) != 0))
	if (r->has_flags && !NEG(st->flags & r->flags, r->flags_neg))
		return 0;
	if (r->verb.present && !NEG(verb_match(&r->verb, st), r->verb.negate))
		return 0;
	if (r->has_level &&
	    !NEG(r->level_mask & (1u << (unsigned)req->level), r->level_neg))
		return 0;
	if (r->users.present && !NEG(scope_match(&r->users, req->user), r->users.negate))
		return 0;
	if (r->assets.present && !NEG(scope_match(&r->assets, req->asset), r->assets.negate))
		return 0;
	if (r->accounts.present &&
	    !NEG(scope_match(&r->accounts, req->account), r->accounts.negate))
		return 0;
	if (r->has_hours && !NEG(hours_match(r, minute_of_day(in)), r->hours_neg))
		return 0;
	if (r->object.present && !NEG(names_match(&r->object, st, 'o'), r->object.negate))
		return 0;
	if (r->function.present &&
	    !NEG(names_match(&r->function, st, 'f'), r->function.negate))
		return 0;
#undef NEG
	if (r->re) {
		if (!in->match_data)
			return -1;
		int rc = pcre2_match(r->re, (PCRE2_SPTR)in->fp, in->fp_len, 0, 0,
				     in->match_data, rs->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		if (rc < 0)
			return -1;
	}
	return 1;
}

int rules_decide(const struct rules_set *rs, struct rules_input *in,
		 enum policy_action *action, const char **name)
{
	for (size_t i = 0; rs && i < rs->n; i++) {
		int m = rule_match(rs, &rs->r[i], in);
		if (m < 0)
			return -1;
		if (m) {
			*action = rs->r[i].action;
			*name = rs->r[i].name;
			return 1;
		}
	}
	return 0;
}

void *rules_match_data_new(void)
{
	return pcre2_match_data_create(1, NULL);
}

void rules_match_data_free(void *md)
{
	pcre2_match_data_free(md);
}

size_t rules_count(const struct rules_set *rs)
{
	return rs ? rs->n : 0;
}

int rules_have_regex(const struct rules_set *rs)
{
	return rs && rs->have_regex;
}

/* ---- parsing -------------------------------------------------------------- */

static void list_free(struct rules_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
}

void rules_free(struct rules_set *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		struct rules_rule *r = &rs->r[i];
		list_free(&r->verb);
		list_free(&r->object);
		list_free(&r->function);
		list_free(&r->users);
		list_free(&r->assets);
		list_free(&r->accounts);
		pcre2_code_free(r->re);
	}
	free(rs->r);
	pcre2_match_context_free(rs->mctx);
	free(rs);
}

struct parser {
	const char *file;
	int line;
	struct policy_error *err;
};

static int perr(struct parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	snprintf(ps->err->file, sizeof ps->err->file, "%s", ps->file);
	ps->err->line = ps->line;
	va_start(ap, fmt);
	vsnprintf(ps->err->message, sizeof ps->err->message, fmt, ap);
	va_end(ap);
	return -1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split value v into the list l: optional leading '!', comma-separated,
 * items trimmed. upper: fold items to upper case and collapse spaces. */
static int list_parse(struct parser *ps, const char *key, const char *v,
		      struct rules_list *l, int upper)
{
	if (l->present)
		return perr(ps, "condition '%s' given twice", key);
	l->present = 1;
	if (*v == '!') {
		l->negate = 1;
		v++;
	}
	for (;;) {
		const char *e = strchr(v, ',');
		size_t n = e ? (size_t)(e - v) : strlen(v);
		while (n && is_blank(*v)) {
			v++;
			n--;
		}
		while (n && is_blank(v[n - 1]))
			n--;
		if (n == 0)
			return perr(ps, "empty item in '%s'", key);
		char *it = malloc(n + 1);
		char **grown = realloc(l->items, (l->n + 1) * sizeof *l->items);
		if (!it || !grown) {
			free(it);
			if (grown)
				l->items = grown;
			return perr(ps, "out of memory");
		}
		l->items = grown;
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			char c = v[i];
			if (upper) {
				if (is_blank(c)) {
					if (k && it[k - 1] != ' ')
						it[k++] = ' ';
					continue;
				}
				c = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
			}
			it[k++] = c;
		}
		it[k] = '\0';
		l->items[l->n++] = it;
		if (!e)
			return 0;
		v = e + 1;
	}
}

static int parse_flags(struct parser *ps, struct rules_rule *r, const char *v)
{
	struct rules_list l = {0};
	if (r->has_flags)
		return perr(ps, "condition 'flag' given twice");
	if (list_parse(ps, "flag", v, &l, 0) < 0) {
		list_free(&l);
		return -1;
	}
	r->has_flags = 1;
	r->flags_neg = l.negate;
	for (size_t i = 0; i < l.n; i++) {
		size_t j;
		for (j = 0; j < sizeof flag_names / sizeof flag_names[0]; j++)
			if (!strcmp(l.items[i], flag_names[j].name))
				break;
		if (j == sizeof flag_names / sizeof flag_names[0]) {
			perr(ps, "unknown flag '%s' (known: writes, ddl, has-where, "
			     "trivial-where, no-where, dynamic, file-access, rw-switch, "
			     "unparseable, privilege, tx-control, alter-drop, rename, ends-session, client-file, server-admin)",
			     l.items[i]);
			list_free(&l);
			return -1;
		}
		r->flags |= flag_names[j].bit;
	}
	list_free(&l);
	return 0;
}

static int parse_level(struct parser *ps, struct rules_rule *r, const char *v)
{
	struct rules_list l = {0};
	if (r->has_level)
		return perr(ps, "condition 'level' given twice");
	if (list_parse(ps, "level", v, &l, 0) < 0) {
		list_free(&l);
		return -1;
	}
	r->has_level = 1;
	r->level_neg = l.negate;
	for (size_t i = 0; i < l.n; i++) {
		enum policy_level lv;
		if (policy_level_parse(l.items[i], &lv) < 0) {
			perr(ps, "unknown level '%s' (read, write, operate, admin)", l.items[i]);
			list_free(&l);
			return -1;
		}
		r->level_mask |= 1u << (unsigned)lv;
	}
	list_free(&l);
	return 0;
}

static int parse_clock(const char *s, size_t n, int allow24)
{
	if (n != 5 || s[2] != ':')
		return -1;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow24)))
		return -1;
	return h * 60 + m;
}

static int parse_hours(struct parser *ps, struct rules_rule *r, const char *v)
{
	struct rules_list l = {0};
	if (r->has_hours)
		return perr(ps, "condition 'hours' given twice");
	if (list_parse(ps, "hours", v, &l, 0) < 0) {
		list_free(&l);
		return -1;
	}
	r->has_hours = 1;
	r->hours_neg = l.negate;
	int rc = 0;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		const char *it = l.items[i], *dash = strchr(it, '-');
		int f = dash ? parse_clock(it, (size_t)(dash - it), 0) : -1;
		int t = dash ? parse_clock(dash + 1, strlen(dash + 1), 1) : -1;
		if (f < 0 || t < 0)
			rc = perr(ps, "bad hours '%s' (expected HH:MM-HH:MM)", it);
		else if (f == t)
			rc = perr(ps, "empty hours range '%s'", it);
		else if (r->nhours == RULES_MAX_HOURS)
			rc = perr(ps, "more than %d hours ranges", RULES_MAX_HOURS);
		else {
			r->hours[r->nhours].from = (short)f;
			r->hours[r->nhours++].to = (short)t;
		}
	}
	list_free(&l);
	return rc;
}

static int parse_regex(struct parser *ps, struct rules_set *rs,
		       struct rules_rule *r, const char *pat, size_t n,
		       const char *flags)
{
	uint32_t opts = 0;
	int code;
	PCRE2_SIZE off;

	if (r->re)
		return perr(ps, "condition 'regex' given twice");
	for (const char *f = flags; *f; f++) {
		switch (*f) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		default: return perr(ps, "unknown regex flag '%c' (i, m, s, x)", *f);
		}
	}
	r->re = pcre2_compile((PCRE2_SPTR)pat, n, opts, &code, &off, NULL);
	if (!r->re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof msg);
		return perr(ps, "bad regex: %s at offset %zu", (const char *)msg, (size_t)off);
	}
	(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* optional speed-up */
	rs->have_regex = 1;
	return 0;
}

static int valid_name(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-' || c == '.'));
		if (!ok)
			return 0;
	}
	return 1;
}

/* Parse one condition at *pp (key=value), advancing *pp. */
static int parse_condition(struct parser *ps, struct rules_set *rs,
			   struct rules_rule *r, const char **pp, const char *end)
{
	const char *p = *pp, *k = p;
	char key[24], val[1024];

	while (p < end && *p != '=' && !is_blank(*p))
		p++;
	size_t kn = (size_t)(p - k);
	if (p >= end || *p != '=')
		return perr(ps, "condition '%.*s' is not key=value", (int)kn, k);
	if (kn == 0 || kn >= sizeof key)
		return perr(ps, "bad condition name '%.*s'", (int)kn, k);
	memcpy(key, k, kn);
	key[kn] = '\0';
	p++;

	if (!strcmp(key, "regex")) {
		if (p >= end || *p != '/')
			return perr(ps, "regex must be written /pattern/flags");
		const char *s = ++p;
		while (p < end && *p != '/')
			p += (*p == '\\' && p + 1 < end) ? 2 : 1;
		if (p >= end)
			return perr(ps, "unterminated regex (no closing '/')");
		const char *pe = p++;
		char fl[8];
		size_t fn = 0;
		while (p < end && !is_blank(*p)) {
			if (fn + 1 >= sizeof fl)
				return perr(ps, "too many regex flags");
			fl[fn++] = *p++;
		}
		fl[fn] = '\0';
		*pp = p;
		return parse_regex(ps, rs, r, s, (size_t)(pe - s), fl);
	}

	size_t vn = 0;
	if (p < end && *p == '"') {
		p++;
		while (p < end && *p != '"') {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (vn + 1 >= sizeof val)
				return perr(ps, "value of '%s' too long", key);
			val[vn++] = *p++;
		}
		if (p >= end)
			return perr(ps, "unterminated quote in '%s'", key);
		p++;
		if (p < end && !is_blank(*p))
			return perr(ps, "text after closing quote of '%s'", key);
	} else {
		while (p < end && !is_blank(*p)) {
			if (vn + 1 >= sizeof val)
				return perr(ps, "value of '%s' too long", key);
			val[vn++] = *p++;
		}
	}
	val[vn] = '\0';
	*pp = p;
	if (vn == 0)
		return perr(ps, "empty value for '%s'", key);

	if (!strcmp(key, "verb"))
		return list_parse(ps, key, val, &r->verb, 1);
	if (!strcmp(key, "flag") || !strcmp(key, "flags"))
		return parse_flags(ps, r, val);
	if (!strcmp(key, "object") || !strcmp(key, "objects"))
		return list_parse(ps, "object", val, &r->object, 0);
	if (!strcmp(key, "function") || !strcmp(key, "functions"))
		return list_parse(ps, "function", val, &r->function, 0);
	if (!strcmp(key, "users") || !strcmp(key, "user"))
		return list_parse(ps, "users", val, &r->users, 0);
	if (!strcmp(key, "assets") || !strcmp(key, "asset"))
		return list_parse(ps, "assets", val, &r->assets, 0);
	if (!strcmp(key, "accounts") || !strcmp(key, "account"))
		return list_parse(ps, "accounts", val, &r->accounts, 0);
	if (!strcmp(key, "hours"))
		return parse_hours(ps, r, val);
	if (!strcmp(key, "level") || !strcmp(key, "levels"))
		return parse_level(ps, r, val);
	return perr(ps, "unknown condition '%s' (verb, flag, object, function, "
		    "regex, users, assets, accounts, hours, level)", key);
}

static int parse_line(struct parser *ps, struct rules_set *rs, const char *p,
		      const char *end)
{
	static const char *const actions[] = {"allow", "alert", "review", "deny", "kill"};

	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == '#')
		return 0;

	const char *a = p;
	while (p < end && !is_blank(*p))
		p++;
	size_t an = (size_t)(p - a);
	int act = -1;
	for (int i = 0; i < 5; i++)
		if (strlen(actions[i]) == an && !memcmp(a, actions[i], an))
			act = i;
	if (act < 0)
		return perr(ps, "unknown action '%.*s' (allow, alert, deny, review, kill)",
			    (int)(an > 40 ? 40 : an), a);

	while (p < end && is_blank(*p))
		p++;
	const char *nm = p;
	while (p < end && !is_blank(*p))
		p++;
	size_t nn = (size_t)(p - nm);
	if (nn == 0 || *nm == '#')
		return perr(ps, "rule has no name");
	if (!valid_name(nm, nn))
		return perr(ps, "bad rule name '%.*s' (letters, digits, '_', '-', '.'; "
			    "at most 63)", (int)(nn > 63 ? 63 : nn), nm);
	if (nn == 11 && !memcmp(nm, "fail-closed", 11))
		return perr(ps, "rule name 'fail-closed' is reserved");
	for (size_t i = 0; i < rs->n; i++)
		if (strlen(rs->r[i].name) == nn && !memcmp(rs->r[i].name, nm, nn))
			return perr(ps, "rule '%.*s' defined twice (first on line %d)",
				    (int)nn, nm, rs->r[i].line);

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct rules_rule *g = realloc(rs->r, cap * sizeof *g);
		if (!g)
			return perr(ps, "out of memory");
		rs->r = g;
		rs->cap = cap;
	}
	struct rules_rule *r = &rs->r[rs->n++];
	memset(r, 0, sizeof *r);
	memcpy(r->name, nm, nn);
	r->action = act == 0 ? POLICY_ALLOW : act == 1 ? POLICY_ALERT :
		    act == 2 ? POLICY_REVIEW : act == 3 ? POLICY_DENY : POLICY_KILL;
	r->line = ps->line;

	for (;;) {
		while (p < end && is_blank(*p))
			p++;
		if (p == end || *p == '#')
			return 0;
		if (parse_condition(ps, rs, r, &p, end) < 0)
			return -1;
	}
}

int rules_parse(const char *file, const char *text, size_t len,
		struct rules_set **out, struct policy_error *err)
{
	struct parser ps = {file ? file : "", 0, err};
	struct rules_set *rs = calloc(1, sizeof *rs);

	memset(err, 0, sizeof *err);
	if (!rs)
		return perr(&ps, "out of memory");
	rs->mctx = pcre2_match_context_create(NULL);
	if (!rs->mctx) {
		free(rs);
		return perr(&ps, "out of memory");
	}
	pcre2_set_match_limit(rs->mctx, RULES_MATCH_LIMIT);

	const char *p = text ? text : "", *end = p + (text ? len : 0);
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		const char *le = e ? e : end;
		ps.line++;
		if (memchr(p, '\0', (size_t)(le - p))) {
			perr(&ps, "NUL byte in rule file");
			goto fail;
		}
		if (le > p && le[-1] == '\r')
			le--;
		if (parse_line(&ps, rs, p, le) < 0)
			goto fail;
		p = e ? e + 1 : end;
	}
	*out = rs;
	return 0;
fail:
	rules_free(rs);
	return -1;
}
