/* tns_desc: connect descriptor parser and rewriter (see tns_desc.h). */
#include "protocols/tns/tns_desc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct parser {
	struct tns_desc *d;
	const char *s;
	size_t n, i;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *what)
{
	snprintf(p->err, p->errlen, "bad connect descriptor at byte %zu: %s", p->i, what);
	return -1;
}

static void skip_ws(struct parser *p)
{
	while (p->i < p->n && isspace((unsigned char)p->s[p->i]))
		p->i++;
}

/* Room for len bytes and a NUL in the store; NULL when full. */
static char *store_room(struct tns_desc *d, size_t len)
{
	if (len + 1 > sizeof d->store - d->used)
		return NULL;
	char *r = d->store + d->used;
	d->used += len + 1;
	return r;
}

static int key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

static int parse_key(struct parser *p, const char **key)
{
	size_t start = p->i;
	while (p->i < p->n && key_char(p->s[p->i]))
		p->i++;
	if (p->i == start)
		return fail(p, "keyword expected");
	char *k = store_room(p->d, p->i - start);
	if (!k)
		return fail(p, "too long");
	memcpy(k, p->s + start, p->i - start);
	k[p->i - start] = '\0';
	*key = k;
	return 0;
}

/* A string value up to the closing ')': quoted parts taken as they are,
 * a backslash escapes the next character, blanks around it dropped. */
static int parse_string(struct parser *p, const char **value)
{
	size_t reserved = p->n - p->i;
	char *v = store_room(p->d, reserved);
	if (!v)
		return fail(p, "too long");
	size_t len = 0, keep = 0; /* keep: length up to the last significant byte */
	while (p->i < p->n) {
		char c = p->s[p->i];
		if (c == ')')
			break;
		/* '=' is data in a value (CONNECTION_ID is base64); '(' is not */
		if (c == '(')
			return fail(p, "unexpected '(' in a value");
		if (c == '"' || c == '\'') {
			p->i++;
			while (p->i < p->n && p->s[p->i] != c)
				v[len++] = p->s[p->i++];
			if (p->i >= p->n)
				return fail(p, "unterminated quote");
			p->i++;
			keep = len;
			continue;
		}
		if (c == '\\') {
			if (++p->i >= p->n)
				return fail(p, "backslash at the end");
			v[len++] = p->s[p->i++];
			keep = len;
			continue;
		}
		if (isspace((unsigned char)c) && len == 0) {
			p->i++;
			continue;
		}
		v[len++] = c;
		p->i++;
		if (!isspace((unsigned char)c))
			keep = len;
	}
	v[keep] = '\0';
	/* give back what the value did not use */
	p->d->used -= reserved - keep;
	*value = v;
	return 0;
}

static int parse_list(struct parser *p, int parent, int depth, int *first);

/* One (KEY=value) at p->i (on the '('). */
static int parse_item(struct parser *p, int parent, int depth, int *idx)
{
	struct tns_desc *d = p->d;
	if (depth >= TNS_DESC_DEPTH_MAX)
		return fail(p, "nested too deep");
	if (d->n >= TNS_DESC_NODES_MAX)
		return fail(p, "too many items");
	int me = d->n++;
	struct tns_desc_node *nd = &d->node[me];
	nd->parent = parent;
	nd->child = nd->next = -1;
	nd->value = NULL;
	p->i++; /* '(' */
	skip_ws(p);
	if (parse_key(p, &nd->key) != 0)
		return -1;
	skip_ws(p);
	if (p->i >= p->n || p->s[p->i] != '=')
		return fail(p, "'=' expected");
	p->i++;
	skip_ws(p);
	if (p->i < p->n && p->s[p->i] == '(') {
		int first = -1;
		if (parse_list(p, me, depth + 1, &first) != 0)
			return -1;
		d->node[me].child = first;
	} else if (parse_string(p, &d->node[me].value) != 0) {
		return -1;
	}
	skip_ws(p);
	if (p->i >= p->n || p->s[p->i] != ')')
		return fail(p, "')' expected");
	p->i++;
	*idx = me;
	return 0;
}

/* Items side by side, from p->i (on a '(') to the first non-'('. */
static int parse_list(struct parser *p, int parent, int depth, int *first)
{
	int prev = -1;
	*first = -1;
	for (;;) {
		skip_ws(p);
		if (p->i >= p->n || p->s[p->i] != '(')
			return 0;
		int idx;
		if (parse_item(p, parent, depth, &idx) != 0)
			return -1;
		if (prev < 0)
			*first = idx;
		else
			p->d->node[prev].next = idx;
		prev = idx;
	}
}

int tns_desc_parse(struct tns_desc *d, const char *s, size_t n, char *err, size_t errlen)
{
	struct parser p = {.d = d, .s = s, .n = n, .err = err, .errlen = errlen};
	d->n = 0;
	d->used = 0;
	d->first = -1;
	if (n > TNS_CONNECT_DATA_MAX)
		return fail(&p, "too long");
	if (parse_list(&p, -1, 0, &d->first) != 0)
		return -1;
	skip_ws(&p);
	/* Oracle Net clients may end the data with a NUL */
	while (p.i < p.n && p.s[p.i] == '\0')
		p.i++;
	if (p.i != p.n || d->first < 0)
		return fail(&p, d->first < 0 ? "no (KEYWORD=value) list" : "trailing bytes");
	return 0;
}

/* Depth-first search from node i (and its following siblings when
 * siblings is set). */
static int find_from(const struct tns_desc *d, int i, const char *key, int siblings)
{
	for (; i >= 0; i = siblings ? d->node[i].next : -1) {
		if (strcasecmp(d->node[i].key, key) == 0)
			return i;
		int c = find_from(d, d->node[i].child, key, 1);
		if (c >= 0)
			return c;
	}
	return -1;
}

int tns_desc_find(const struct tns_desc *d, int under, const char *key)
{
	if (under < 0)
		return find_from(d, d->first, key, 1);
	return find_from(d, d->node[under].child, key, 1);
}

int tns_desc_service(const struct tns_desc *d, const char **value, int *is_sid)
{
	int found = 0;
	for (int i = 0; i < d->n; i++) {
		const struct tns_desc_node *nd = &d->node[i];
		int sid = strcasecmp(nd->key, "SID") == 0;
		if (!sid && strcasecmp(nd->key, "SERVICE_NAME") != 0)
			continue;
		/* only inside CONNECT_DATA (an ADDRESS may not carry them) */
		if (nd->parent < 0 || strcasecmp(d->node[nd->parent].key, "CONNECT_DATA") != 0)
			continue;
		if (!nd->value)
			return -1;
		if (found && strcmp(*value, nd->value) != 0)
			return -1;
		if (!found) {
			*value = nd->value;
			*is_sid = sid;
		}
		found = 1;
	}
	return found;
}

const char *tns_desc_cid(const struct tns_desc *d, const char *key)
{
	int cd = tns_desc_find(d, -1, "CONNECT_DATA");
	int cid = cd >= 0 ? tns_desc_find(d, cd, "CID") : -1;
	if (cid < 0)
		return NULL;
	for (int i = d->node[cid].child; i >= 0; i = d->node[i].next)
		if (strcasecmp(d->node[i].key, key) == 0)
			return d->node[i].value;
	return NULL;
}

struct out {
	char *p;
	size_t cap, len;
	int bad;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->bad || n >= o->cap - o->len) {
		o->bad = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A value written back so that the backend reads the same string: bare
 * when it is plain, in double quotes when it holds parentheses, blanks at
 * its ends or '#', and with backslashes only where quotes cannot help. */
static void put_value(struct out *o, const char *v)
{
	size_t n = strlen(v);
	int special = n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]));
	for (const char *q = v; *q; q++)
		if (strchr("()#'\\", *q))
			special = 1;
	if (!special) {
		put(o, v, n);
		return;
	}
	if (!strchr(v, '"')) {
		put(o, "\"", 1);
		put(o, v, n);
		put(o, "\"", 1);
		return;
	}
	for (; *v; v++) {
		if (strchr("()\\\"'#", *v) || (unsigned char)*v < ' ')
			put(o, "\\", 1);
		put(o, v, 1);
	}
}

static int is_key(const struct tns_desc *d, int i, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcasecmp(d->node[i].key, *keys) == 0)
			return 1;
	return 0;
}

/* Keywords that name where to connect or what to connect to: the proxy
 * writes its own, so a copied item never carries one, at any depth (a
 * nested (CONNECT_DATA=(SERVICE_NAME=...)) must not reach the listener). */
static const char *const routing[] = {"SERVICE_NAME", "SID", "INSTANCE_NAME", "GLOBAL_NAME",
				      "CONNECT_DATA", "ADDRESS", "ADDRESS_LIST", "DESCRIPTION",
				      "DESCRIPTION_LIST", NULL};

static void put_node(struct out *o, const struct tns_desc *d, int i)
{
	const struct tns_desc_node *nd = &d->node[i];
	puts_(o, "(");
	puts_(o, nd->key);
	puts_(o, "=");
	if (nd->value)
		put_value(o, nd->value);
	int kids = 0;
	for (int c = nd->child; c >= 0; c = d->node[c].next)
		if (!is_key(d, c, routing)) {
			put_node(o, d, c);
			kids++;
		}
	if (!nd->value && !kids)
		puts_(o, "\"\""); /* every child dropped: an empty value */
	puts_(o, ")");
}

long tns_desc_rewrite(const struct tns_desc *d, const char *host, int port, const char *service,
		      char *out, size_t cap)
{
	static const char *const drop_desc[] = {"ADDRESS", "ADDRESS_LIST", "CONNECT_DATA",
						"SECURITY", "SOURCE_ROUTE", "LOAD_BALANCE",
						"FAILOVER", NULL};
	static const char *const drop_cd[] = {"SERVICE_NAME", "SID", "INSTANCE_NAME",
					      "GLOBAL_NAME", NULL};
	struct out o = {.p = out, .cap = cap};
	if (cap == 0)
		return -1;
	out[0] = '\0';
	int desc = tns_desc_find(d, -1, "DESCRIPTION");
	int cd = tns_desc_find(d, desc, "CONNECT_DATA");
	char addr[SB_TNS_ADDR_MAX];
	puts_(&o, "(DESCRIPTION=");
	if (desc >= 0)
		for (int c = d->node[desc].child; c >= 0; c = d->node[c].next)
			if (!is_key(d, c, drop_desc))
				put_node(&o, d, c);
	snprintf(addr, sizeof addr, "(ADDRESS=(PROTOCOL=tcp)(HOST=");
	puts_(&o, addr);
	put_value(&o, host);
	snprintf(addr, sizeof addr, ")(PORT=%d))(CONNECT_DATA=", port);
	puts_(&o, addr);
	if (cd >= 0)
		for (int c = d->node[cd].child; c >= 0; c = d->node[c].next)
			if (!is_key(d, c, drop_cd))
				put_node(&o, d, c);
	puts_(&o, "(SERVICE_NAME=");
	put_value(&o, service);
	puts_(&o, ")))");
	return o.bad ? -1 : (long)o.len;
}
