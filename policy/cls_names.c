/* policy/cls_names: the names a statement refers to (classify.h cls_stmt.names):
 * objects (out->objects for the audit) and functions called, with the flags
 * the classifier knows for a function (cls_words.h CLS_FUNCTIONS, the
 * writes and dialect hooks), and take_name, which reads a qualified name
 * and decides what it is. Part of the classifier core (cls_core.h).
 */
#include "policy/cls_core.h"
#include "policy/my_builtins.h"

#include <string.h>

/* ---- functions the classifier knows ----------------------------------- */

static const struct {
	const char *name;
	unsigned char prefix; /* name is a prefix */
	unsigned flags;
} known_funcs[] = {
#define X(n, pre, fl) {n, pre, fl},
	CLS_FUNCTIONS(X)
#undef X
};

static unsigned func_flags(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof known_funcs / sizeof known_funcs[0]; i++) {
		size_t k = strlen(known_funcs[i].name);
		if (known_funcs[i].prefix ? (n >= k && memcmp(name, known_funcs[i].name, k) == 0)
					  : (n == k && memcmp(name, known_funcs[i].name, k) == 0))
			return known_funcs[i].flags;
	}
	return 0;
}

/* ---- names and objects ----------------------------------------------------- */

void cls_names_add(struct cls_batch *b, char type, const char *nm, size_t n)
{
	struct cls_names *w = b->names;
	if (cls_grow(&w->buf, &w->cap, w->len + n + 2)) {
		b->oom = 1;
		return;
	}
	w->buf[w->len++] = type;
	memcpy(w->buf + w->len, nm, n);
	w->len += n;
	w->buf[w->len++] = '\0';
}

/* Add one object to out->objects unless it is there already. */
void cls_objects_add(struct cls_batch *b, const char *nm, size_t n)
{
	struct policy_result *o = b->out;
	char item[4 * (LEX_NAME_MAX + 1)];
	size_t len = strlen(o->objects);

	if (n >= sizeof item)
		n = sizeof item - 1;
	for (size_t i = 0; i < n; i++)
		item[i] = nm[i] == CLS_NAME_SEP ? '.' : nm[i];
	for (const char *p = o->objects; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && memcmp(p, item, n) == 0)
			return;
		p += l + (e ? 1 : 0);
	}
	if (b->obj_cut)
		return;
	if (len + n + 2 > CLS_OBJECTS_MAX) {
		b->obj_cut = 1;
		if (len + 4 < CLS_OBJECTS_MAX && !cls_grow(&o->objects, &o->objects_cap, len + 5))
			memcpy(o->objects + len, len ? ",..." : "...", 5);
		return;
	}
	if (cls_grow(&o->objects, &o->objects_cap, len + n + 2)) {
		b->oom = 1;
		return;
	}
	if (len)
		o->objects[len++] = ',';
	memcpy(o->objects + len, item, n);
	o->objects[len + n] = '\0';
}

/* type: 'f' (in MySQL: written as a bare word directly followed by '('),
 * 'q' (MySQL: any other spelling, `f`(...), f (...)), 'p' (MySQL: the
 * procedure of a CALL); see cls_stmt.names. */
void cls_function_called(struct cls_batch *b, const char *nm, size_t n,
			 int from_item, char type)
{
	const char *last = nm;
	for (size_t i = 0; i < n; i++)
		if (nm[i] == CLS_NAME_SEP)
			last = nm + i + 1;
	size_t ln = (size_t)(nm + n - last);
	char folded[LEX_NAME_MAX + 1];

	cls_names_add(b, type, nm, n);
	if (b->mysql && ln < sizeof folded) {
		/* MySQL function names ignore case, `LOAD_FILE` too */
		for (size_t i = 0; i < ln; i++)
			folded[i] = (char)down((unsigned char)last[i]);
		last = folded;
	}
	b->st->flags |= func_flags(last, ln) | cw_func_flags(b, last, ln);
	if (b->d->func_flags)
		b->st->flags |= b->d->func_flags(nm, n, last, ln);
	if (cls_kill_func(&b->kt, &b->st->kill, last, ln, b->mysql))
		b->st->flags |= POLICY_F_ENDS_SESSION;
	b->next_paren = from_item ? P_FROMFUNC : P_FUNC;
	if (ln == 10 && memcmp(last, "set_config", 10) == 0) {
		if (b->watch_depth)
			b->st->flags |= POLICY_F_RW_SWITCH; /* nested: give up */
		else
			b->next_paren = P_WATCH;
	}
}

/* cur is the last part of a called name and nx its '(': 'f', or in MySQL
 * 'q' unless written as a bare word directly followed by '(' (only that
 * spelling reaches the grammar's built-ins: count, now, ...). */
char cls_my_call_type(const struct cls_batch *b)
{
	if (!b->mysql)
		return 'f';
	if (b->cur.kind != LEX_IDENT)
		return 'q';
	/* RETURN (...), IF (...): a reserved word never calls a stored function */
	if (b->nx.s == b->cur.s + b->cur.len || my_reserved_word(b->cur.s, b->cur.len))
		return 'f';
	return 'q';
}

/* cur is the first part of a (possibly qualified) name: read it all and
 * decide whether it names an object, a function called, or neither. */
void cls_take_name(struct cls_batch *b, int alias)
{
	char nm[4 * (LEX_NAME_MAX + 1)];
	size_t n = 0;
	int parts = 0, single_kw = b->kw, before = b->prev_kw;
	int after_sep = b->prev_kind == LEX_COMMA || b->prev_kind == LEX_LPAREN;

	for (;;) {
		if (parts < 4) {
			char part[LEX_NAME_MAX + 1];
			size_t l = lex_ident_value(&b->cur, part, sizeof part);
			if (parts)
				nm[n++] = CLS_NAME_SEP;
			memcpy(nm + n, part, l);
			n += l;
		}
		parts++;
		if (b->nx.kind != LEX_DOT)
			break;
		cls_advance(b); /* to the dot */
		if (b->nx.kind != LEX_IDENT && b->nx.kind != LEX_QIDENT)
			return; /* "t.*": a column reference */
		cls_advance(b);
	}

	b->name_here = 1; /* "name(" is written without a space */
	if (b->call_proc) { /* MySQL CALL: the procedure, with or without () */
		b->call_proc = 0;
		if (b->nx.kind == LEX_LPAREN) {
			cls_function_called(b, nm, n, 0, 'p');
		} else {
			cls_names_add(b, 'p', nm, n);
		}
		return;
	}
	struct cls_level *L = &b->lv[b->depth];
	int arm = L->arm;
	if (b->w.zone && cw_name(b, nm, n, parts, arm != 0, after_sep))
		return; /* a MySQL modifier word: the object still follows */
	if (arm) {
		L->arm = OBJ_NONE;
		if (arm == OBJ_FROM && b->nx.kind == LEX_LPAREN) {
			cls_function_called(b, nm, n, 1, cls_my_call_type(b));
		} else {
			cls_names_add(b, 'o', nm, n);
			if (arm == OBJ_FROM)
				L->alias = 1;
		}
		if (b->ph == PH_ALTER_NAME && b->depth == 0)
			b->ph = PH_ALTER_ACT;
		return;
	}
	if (alias || b->nx.kind != LEX_LPAREN)
		return;
	if (parts == 1 && kw_flag(single_kw, KF_NOTFUNC))
		return;
	if (before == KW_USING) /* CREATE INDEX ... USING gin (...) */
		return;
	cls_function_called(b, nm, n, 0, cls_my_call_type(b));
}
