/* tns_ttc: TTC call reader (see tns_ttc.h). The field lists follow the
 * thin clients' writers (python-oracledb messages.pyx and its messages folder,
 * node-oracledb lib/thin/protocol/messages). */
#include "protocols/tns/tns_ttc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LONG_LEN 0xFE /* TNS_LONG_LENGTH_INDICATOR: chunks follow */

struct rd {
	const uint8_t *p;
	size_t n, i;
	int again; /* ran out of bytes */
	int bad;   /* malformed */
};

static int ok(const struct rd *r)
{
	return !r->again && !r->bad;
}

static uint8_t u8(struct rd *r)
{
	if (!ok(r))
		return 0;
	if (r->i >= r->n) {
		r->again = 1;
		return 0;
	}
	return r->p[r->i++];
}

/* ub2/ub4/ub8: a length byte (0-8, high bit = negative) then that many
 * big-endian bytes. */
static uint64_t ubn(struct rd *r, int max)
{
	uint8_t len = u8(r) & 0x7f;
	if (!ok(r))
		return 0;
	if (len > max) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	for (int k = 0; k < len; k++)
		v = (v << 8) | u8(r);
	return v;
}

static uint32_t ub4(struct rd *r)
{
	return (uint32_t)ubn(r, 4);
}

static void skip(struct rd *r, size_t k)
{
	if (!ok(r))
		return;
	if (r->n - r->i < k) {
		r->again = 1;
		return;
	}
	r->i += k;
}

/* Length-prefixed bytes (short, or LONG_LEN then ub4-sized chunks ended
 * by a zero chunk) into a new buffer (*out, *len; *out NULL for a
 * zero-length/NULL value). */
static void bytes_len(struct rd *r, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	uint8_t l = u8(r);
	if (!ok(r))
		return;
	if (l != LONG_LEN) {
		if (l == 0 || l == 0xFF)
			return;
		if (r->n - r->i < l) {
			r->again = 1;
			return;
		}
		*out = malloc((size_t)l + 1);
		if (!*out) {
			r->bad = 1;
			return;
		}
		memcpy(*out, r->p + r->i, l);
		(*out)[l] = '\0';
		*len = l;
		r->i += l;
		return;
	}
	size_t cap = 0;
	for (;;) {
		uint32_t c = ub4(r);
		if (!ok(r) || c == 0)
			break;
		if (r->n - r->i < c) {
			r->again = 1;
			break;
		}
		if (*len + c + 1 > cap) {
			size_t ncap = (*len + c + 1) * 2;
			uint8_t *nb = realloc(*out, ncap);
			if (!nb) {
				r->bad = 1;
				break;
			}
			*out = nb;
			cap = ncap;
		}
		memcpy(*out + *len, r->p + r->i, c);
		*len += c;
		(*out)[*len] = '\0';
		r->i += c;
	}
	if (!ok(r)) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
}

void tns_call_clear(struct tns_call *c)
{
	free(c->sql);
	free(c->params);
	free(c->meta);
	memset(c, 0, sizeof *c);
}

/* ---- Oracle NUMBER ---- */

int tns_number_text(const uint8_t *b, size_t n, char *out, size_t cap)
{
	if (n == 0 || n > 22 || cap < 48)
		return -1;
	if (n == 1 && b[0] == 0x80) {
		snprintf(out, cap, "0");
		return 0;
	}
	int neg = !(b[0] & 0x80);
	int exp = neg ? (int)((~b[0]) & 0x7f) - 65 : (int)(b[0] & 0x7f) - 65;
	int digits[21], nd = 0;
	for (size_t i = 1; i < n; i++) {
		int d = neg ? 101 - b[i] : b[i] - 1;
		if (neg && b[i] == 102 && i == n - 1)
			break;
		if (d < 0 || d > 99)
			return -1;
		digits[nd++] = d;
	}
	/* value = sum digits[i] * 100^(exp - i); exp is in -65..62, so at most
	 * 2 + 2 * 64 zeros + 2 * 20 digits + sign and point */
	char buf[256];
	size_t len = 0;
	if (neg)
		buf[len++] = '-';
	if (exp < 0) {
		buf[len++] = '0';
		buf[len++] = '.';
		for (int k = 0; k < -exp - 1; k++) {
			buf[len++] = '0';
			buf[len++] = '0';
		}
	}
	int last = exp < 0 ? nd - 1 : (nd - 1 > exp ? nd - 1 : exp);
	for (int i = 0; i <= last && len < sizeof buf - 4; i++) {
		int d = i < nd ? digits[i] : 0;
		if (i == exp + 1 && exp >= 0)
			buf[len++] = '.';
		if (i == 0 && exp >= 0 && d < 10) {
			buf[len++] = (char)('0' + d);
		} else {
			buf[len++] = (char)('0' + d / 10);
			buf[len++] = (char)('0' + d % 10);
		}
	}
	buf[len] = '\0';
	/* trim trailing zeros after a point */
	if (strchr(buf, '.')) {
		while (len && buf[len - 1] == '0')
			buf[--len] = '\0';
		if (len && buf[len - 1] == '.')
			buf[--len] = '\0';
	}
	if (len >= cap)
		return -1; /* too long for the caller: shown as its bytes instead */
	memcpy(out, buf, len + 1);
	return 0;
}

/* ---- binds ---- */

struct jbuf {
	char *p;
	size_t len, cap;
	int full;
};

static void jput(struct jbuf *j, const char *s, size_t n)
{
	if (j->full)
		return;
	if (j->len + n + 1 > TTC_PARAMS_MAX) {
		j->full = 1;
		return;
	}
	if (j->len + n + 1 > j->cap) {
		size_t nc = (j->len + n + 1) * 2;
		char *np = realloc(j->p, nc);
		if (!np) {
			j->full = 1;
			return;
		}
		j->p = np;
		j->cap = nc;
	}
	memcpy(j->p + j->len, s, n);
	j->len += n;
	j->p[j->len] = '\0';
}

static void jstr(struct jbuf *j, const uint8_t *s, size_t n)
{
	jput(j, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		char e[8];
		uint8_t ch = s[i];
		if (ch == '"' || ch == '\\') {
			e[0] = '\\';
			e[1] = (char)ch;
			jput(j, e, 2);
		} else if (ch < 0x20) {
			snprintf(e, sizeof e, "\\u%04x", ch);
			jput(j, e, 6);
		} else {
			jput(j, (const char *)&ch, 1);
		}
	}
	jput(j, "\"", 1);
}

/* The rendered array, or a note in its place when it outgrew the cap. */
static char *jdone(struct jbuf *j)
{
	if (!j->full)
		return j->p;
	free(j->p);
	char note[96];
	snprintf(note, sizeof note, "[\"sqlbastion: binds longer than %u bytes not kept\"]",
		 TTC_PARAMS_MAX);
	return strdup(note);
}

enum { T_VARCHAR = 1, T_NUMBER = 2, T_BINARY_INTEGER = 3, T_LONG = 8, T_ROWID = 11,
       T_DATE = 12, T_RAW = 23, T_LONG_RAW = 24, T_CHAR = 96, T_BFLOAT = 100,
       T_BDOUBLE = 101, T_UROWID = 208, T_TS = 180, T_TSTZ = 181, T_TSLTZ = 231,
       T_IDS = 183 };

/* The bind rows read (rows of them, each an array in j) become c->params:
 * one execution's row is the params array, several make an array of rows.
 * Nothing is kept when the call could not be read (ok = 0). */
static void params_done(struct tns_call *c, struct jbuf *j, unsigned rows, int ok)
{
	if (!ok) {
		free(j->p);
		return;
	}
	if (rows == 1 || j->full) {
		c->params = jdone(j);
		return;
	}
	struct jbuf w = {0};
	jput(&w, "[", 1);
	if (j->p)
		jput(&w, j->p, j->len);
	jput(&w, "]", 1);
	free(j->p);
	c->params = jdone(&w);
}

static int simple_type(uint8_t t)
{
	switch (t) {
	case T_VARCHAR: case T_NUMBER: case T_BINARY_INTEGER: case T_LONG: case T_ROWID:
	case T_DATE: case T_RAW: case T_LONG_RAW: case T_CHAR: case T_BFLOAT: case T_BDOUBLE:
	case T_UROWID: case T_TS: case T_TSTZ: case T_TSLTZ: case T_IDS:
		return 1;
	default:
		return 0;
	}
}

static void render_value(struct jbuf *j, uint8_t type, uint8_t csfrm, const uint8_t *v,
			 size_t n)
{
	char num[64];
	if (!v) {
		jput(j, "null", 4);
		return;
	}
	if ((type == T_NUMBER || type == T_BINARY_INTEGER) &&
	    tns_number_text(v, n, num, sizeof num) == 0) {
		jput(j, num, strlen(num));
		return;
	}
	if ((type == T_VARCHAR || type == T_CHAR || type == T_LONG || type == T_ROWID ||
	     type == T_UROWID) && csfrm != 2) {
		jstr(j, v, n);
		return;
	}
	/* anything else as hex, so the audit keeps its bytes */
	jput(j, "\"0x", 3);
	for (size_t i = 0; i < n && !j->full; i++) {
		char h[3];
		snprintf(h, sizeof h, "%02x", v[i]);
		jput(j, h, 2);
	}
	jput(j, "\"", 1);
}

#define BINDS_MAX 1000 /* metadata entries read (Oracle allows 65535) */


/* Bind metadata (nb entries) then each execution's ROW_DATA (7) row. The
 * row count is not in the call: rows are read until the call ends. */
static void read_binds(struct rd *r, int fv122, uint32_t nb, uint32_t nrows, struct tns_call *c)
{
	struct tns_bind_meta *m = calloc(nb ? nb : 1, sizeof *m);
	struct jbuf j = {0};
	if (!m) {
		r->bad = 1;
		return;
	}
	for (uint32_t k = 0; k < nb && ok(r); k++) {
		m[k].type = u8(r);
		uint8_t flags = u8(r);
		skip(r, 2);   /* precision, scale */
		(void)ub4(r); /* buffer size */
		(void)ub4(r); /* max elements */
		(void)ubn(r, 8); /* cont flag */
		uint32_t oid = ub4(r);
		if (oid) {
			uint8_t *b;
			size_t bl;
			bytes_len(r, &b, &bl);
			free(b);
		}
		(void)ub4(r); /* version */
		(void)ub4(r); /* charset */
		m[k].csfrm = u8(r);
		(void)ub4(r); /* max chars */
		if (fv122)
			(void)ub4(r); /* oaccolid */
		if (!simple_type(m[k].type) || (flags & 0x40 /* array */))
			c->binds_unread = 1;
	}
	if (c->binds_unread) {
		/* the values' layout is not read: the rest of the call is taken whole */
		r->i = r->n;
		free(m);
		free(j.p);
		return;
	}
	c->meta = m;
	uint32_t rows = 0;
	while (ok(r) && rows < nrows) {
		uint8_t t = u8(r);
		if (!ok(r))
			break;
		if (t != 7 /* ROW_DATA */) {
			r->bad = 1;
			break;
		}
		jput(&j, rows ? ",[" : "[", rows ? 2 : 1);
		for (uint32_t k = 0; k < nb && ok(r); k++) {
			uint8_t *v;
			size_t vl;
			bytes_len(r, &v, &vl);
			if (ok(r)) {
				if (k)
					jput(&j, ",", 1);
				render_value(&j, m[k].type, m[k].csfrm, v, vl);
			}
			free(v);
		}
		jput(&j, "]", 1);
		rows++;
	}
	params_done(c, &j, rows, ok(r));
}

/* ---- calls ---- */

/* Layouts tried, from the 23ai field versions down. */
struct layout {
	int token;  /* ub8 token number after the sequence byte */
	int fv122;  /* SQL signature / SQL id fields (field version 12.2) */
	int ext1;   /* chunk id fields (12.2 ext1) */
	int prefixed; /* SQL text length-prefixed (else raw) */
};

static const struct layout layouts[] = {
	{1, 1, 1, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}, {0, 1, 0, 1}, {0, 1, 0, 0},
	{0, 0, 0, 1}, {0, 0, 0, 0},
};

static void call_head(struct rd *r, const struct layout *l, struct tns_call *c)
{
	c->msg = u8(r);
	c->func = u8(r);
	(void)u8(r); /* sequence */
	if (l->token)
		(void)ubn(r, 8);
}

/* Piggybacks before the call (python-oracledb, node-oracledb send them
 * with the next call): close-cursor ones are read (the cursor map forgets
 * those cursors); the others (end-to-end attributes, current schema, temp
 * LOB frees, session state) are skipped without reading their fields,
 * whose layout differs by client and version: the next message starts at
 * the first byte 3 (a call) or 17 (another piggyback) whose sequence byte
 * is this piggyback's plus one (clients number every message they write). */
static uint8_t next_seq(uint8_t s)
{
	return s == 255 ? 1 : (uint8_t)(s + 1);
}

static void piggybacks(struct rd *r, const struct layout *l, struct tns_call *c)
{
	while (ok(r) && r->i + 2 < r->n && r->p[r->i] == TTC_MSG_PIGGYBACK) {
		uint8_t seq = r->p[r->i + 2];
		if (r->p[r->i + 1] != TTC_FN_CLOSE_CURSORS) {
			size_t k = r->i + 3;
			while (k + 2 < r->n && !((r->p[k] == TTC_MSG_FUNCTION ||
						  r->p[k] == TTC_MSG_PIGGYBACK) &&
						 r->p[k + 2] == next_seq(seq)))
				k++;
			if (k + 2 >= r->n) {
				r->again = 1; /* the next message is not here yet */
				return;
			}
			r->i = k;
			continue;
		}
		struct tns_call pb = {0};
		call_head(r, l, &pb);
		(void)u8(r); /* pointer */
		uint32_t k = ub4(r);
		for (uint32_t i = 0; i < k && ok(r); i++) {
			uint32_t id = ub4(r);
			if (c->nclosed < TTC_CLOSE_MAX)
				c->closed[c->nclosed++] = id;
		}
	}
}

static void read_execute(struct rd *r, const struct layout *l, struct tns_call *c)
{
	c->options = ub4(r);
	c->cursor = ub4(r);
	uint8_t sql_ptr = u8(r);
	uint32_t sql_len = ub4(r);
	(void)u8(r);                /* pointer (vector) */
	uint32_t al8i4 = ub4(r);    /* 13 */
	skip(r, 2);                 /* al8o4, al8o4l */
	(void)ub4(r);               /* prefetch buffer size */
	(void)ub4(r);               /* prefetch rows */
	(void)ub4(r);               /* max long size */
	(void)u8(r);                /* pointer (binds) */
	uint32_t nb = ub4(r);
	skip(r, 5);                 /* al8app, al8txn, al8txl, al8kv, al8kvl */
	(void)u8(r);                /* pointer (al8doac) */
	uint32_t ndef = ub4(r);
	(void)ub4(r);               /* registration id */
	skip(r, 3);                 /* al8objlist, al8objlen, al8blv */
	(void)ub4(r);               /* al8blvl */
	(void)u8(r);                /* al8dnam */
	(void)ub4(r);               /* al8dnaml */
	(void)ub4(r);               /* al8regid_msb */
	(void)u8(r);                /* al8pidmlrc */
	(void)ub4(r);               /* al8pidmlrcbl */
	(void)u8(r);                /* al8pidmlrcl */
	if (l->fv122) {
		(void)u8(r);
		(void)ub4(r);
		(void)u8(r);
		(void)ub4(r);
		(void)u8(r);
		if (l->ext1) {
			(void)u8(r);
			(void)ub4(r);
		}
	}
	if (!ok(r))
		return;
	if (al8i4 != 13 || nb > BINDS_MAX || ndef > 65535) {
		r->bad = 1;
		return;
	}
	c->nbinds = nb;
	if (sql_ptr && sql_len) {
		if (l->prefixed) {
			uint8_t *s;
			size_t sl;
			bytes_len(r, &s, &sl);
			if (!ok(r))
				return;
			if (sl != sql_len) {
				free(s);
				r->bad = 1;
				return;
			}
			c->sql = (char *)s;
			c->sql_len = sl;
		} else {
			if (r->n - r->i < sql_len) {
				r->again = 1;
				return;
			}
			c->sql = malloc((size_t)sql_len + 1);
			if (!c->sql) {
				r->bad = 1;
				return;
			}
			memcpy(c->sql, r->p + r->i, sql_len);
			c->sql[sql_len] = '\0';
			c->sql_len = sql_len;
			r->i += sql_len;
		}
	} else if (sql_ptr || sql_len) {
		r->bad = 1;
		return;
	}
	uint32_t al[13];
	for (int k = 0; k < 13; k++)
		al[k] = ub4(r);
	/* al8i4[0] says "parse" exactly when text came */
	if (ok(r) && (al[0] != 0) != (c->sql != NULL)) {
		r->bad = 1;
		return;
	}
	if (!ok(r))
		return;
	if (c->options & TTC_EXEC_DEFINE) {
		r->i = r->n; /* column defines follow: not read */
		return;
	}
	/* bind rows: one per execution of DML (al8i4[1]), one for a query
	 * (al8i4[7] = is query; its [1] counts rows to fetch) */
	if (nb)
		read_binds(r, l->fv122, nb, al[7] || al[1] == 0 ? 1 : al[1], c);
}

static void read_reexecute(struct rd *r, const struct tns_read_env *env, struct tns_call *c)
{
	c->cursor = ub4(r);
	uint32_t iters = ub4(r);
	(void)ub4(r); /* exec flags 1 */
	(void)ub4(r); /* exec flags 2 */
	if (!ok(r) || r->i >= r->n)
		return;
	/* bind rows: their types went with the execute that parsed the
	 * statement (env->binds_of); without them values show as strings */
	uint32_t nm = 0;
	const struct tns_bind_meta *m =
		env && env->binds_of ? env->binds_of(env->ctx, c->cursor, &nm) : NULL;
	/* re-execute and fetch: one row of a query's binds; re-execute: one
	 * per iteration */
	uint32_t nrows = c->func == TTC_FN_REEXECUTE_FETCH || iters == 0 ? 1 : iters;
	struct jbuf j = {0};
	uint32_t rows = 0;
	while (ok(r) && rows < nrows) {
		uint8_t t = u8(r);
		if (!ok(r))
			break;
		if (t != 7 /* ROW_DATA */) {
			r->bad = 1;
			break;
		}
		jput(&j, rows ? ",[" : "[", rows ? 2 : 1);
		uint32_t k = 0;
		while (ok(r) && (m ? k < nm : r->i < r->n && r->p[r->i] != 7)) {
			uint8_t *v;
			size_t vl;
			bytes_len(r, &v, &vl);
			if (ok(r)) {
				if (k)
					jput(&j, ",", 1);
				render_value(&j, m ? m[k].type : T_VARCHAR, m ? m[k].csfrm : 0, v, vl);
			}
			k++;
			free(v);
		}
		jput(&j, "]", 1);
		rows++;
	}
	params_done(c, &j, rows, ok(r));
}

/* AUTH phase one/two: pointer (user), user length, mode, pointer, pair
 * count, two pointers, then the user (raw or length-prefixed). */
static void read_auth(struct rd *r, const struct layout *l, struct tns_call *c)
{
	uint8_t has_user = u8(r);
	uint32_t ulen = ub4(r);
	(void)ub4(r); /* mode */
	(void)u8(r);
	(void)ub4(r); /* pairs */
	skip(r, 2);
	if (!ok(r))
		return;
	if (!has_user || ulen == 0)
		return;
	if (ulen >= sizeof c->user) {
		r->bad = 1;
		return;
	}
	if (r->i < r->n && r->p[r->i] == ulen && ulen < 0x20) {
		r->i++; /* length-prefixed (a name never starts with a control byte) */
	}
	if (r->n - r->i < ulen) {
		r->again = 1;
		return;
	}
	memcpy(c->user, r->p + r->i, ulen);
	c->user[ulen] = '\0';
	r->i += ulen;
	/* the first key/value pair's key (AUTH_..., SESSION_...) proves the
	 * layout: ub4 length, then the length-prefixed key */
	uint32_t klen = ub4(r);
	uint8_t kl = u8(r);
	if (!ok(r))
		return;
	if (klen == 0 || kl != klen || r->n - r->i < 5 ||
	    (memcmp(r->p + r->i, "AUTH_", 5) != 0 && memcmp(r->p + r->i, "SESSI", 5) != 0)) {
		r->bad = 1;
		return;
	}
	r->i = r->n; /* the key/value pairs are not read */
}

static enum tns_peek read_with(const uint8_t *p, size_t n, const struct layout *l,
			       const struct tns_read_env *env, struct tns_call *c)
{
	struct rd r = {.p = p, .n = n};
	memset(c, 0, sizeof *c);
	piggybacks(&r, l, c);
	call_head(&r, l, c);
	if (!ok(&r))
		goto out;
	if (c->msg != TTC_MSG_FUNCTION)
		return TNS_OK; /* not a function call (e.g. a LOB piece, a marker reply) */
	switch (c->func) {
	case TTC_FN_EXECUTE:
		read_execute(&r, l, c);
		break;
	case TTC_FN_REEXECUTE:
	case TTC_FN_REEXECUTE_FETCH:
		read_reexecute(&r, env, c);
		break;
	case TTC_FN_FETCH:
		c->cursor = ub4(&r);
		(void)ub4(&r); /* rows */
		break;
	case TTC_FN_AUTH1:
	case TTC_FN_AUTH2:
		read_auth(&r, l, c);
		break;
	default:
		return TNS_OK; /* commit, rollback, logoff, ping, ...: nothing to read */
	}
out:
	if (r.bad || (ok(&r) && c->func == TTC_FN_EXECUTE && r.i != r.n)) {
		tns_call_clear(c);
		return TNS_INVALID;
	}
	if (r.again) {
		tns_call_clear(c);
		return TNS_AGAIN;
	}
	return TNS_OK;
}

enum tns_peek tns_ttc_read_call(const uint8_t *p, size_t n, const struct tns_read_env *env,
				struct tns_call *c)
{
	/* A layout that reads the whole call, binds included, wins; one that
	 * needs more bytes comes next (the call is not all here: a wrong
	 * layout rarely reads to the exact end); one that only got through by
	 * not reading the binds last. */
	int again = 0;
	int token_mode = env ? env->token_mode : -1;
	struct tns_call weak;
	int have_weak = 0;
	memset(&weak, 0, sizeof weak);
	for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
		if (token_mode >= 0 && layouts[i].token != token_mode)
			continue;
		enum tns_peek st = read_with(p, n, &layouts[i], env, c);
		if (st == TNS_OK && !c->binds_unread) {
			c->token = layouts[i].token;
			tns_call_clear(&weak);
			return TNS_OK;
		}
		if (st == TNS_OK) {
			if (!have_weak) {
				c->token = layouts[i].token;
				weak = *c;
				have_weak = 1;
			} else {
				tns_call_clear(c);
			}
		}
		if (st == TNS_AGAIN)
			again = 1;
	}
	if (again) {
		tns_call_clear(&weak);
		memset(c, 0, sizeof *c);
		return TNS_AGAIN;
	}
	if (have_weak) {
		*c = weak;
		return TNS_OK;
	}
	memset(c, 0, sizeof *c);
	return TNS_INVALID;
}
/* ---- the end of a reply ---- */

static int read_end(const uint8_t *p, size_t n, int extra, struct tns_call_end *e)
{
	struct rd r = {.p = p, .n = n};
	memset(e, 0, sizeof *e);
	if (u8(&r) != 4)
		return -1;
	(void)ub4(&r);             /* call status */
	(void)ubn(&r, 2);          /* end-to-end seq */
	(void)ub4(&r);             /* current row */
	(void)ubn(&r, 2);          /* error number (short) */
	(void)ubn(&r, 2);
	(void)ubn(&r, 2);          /* array element errors */
	e->cursor = (uint32_t)ubn(&r, 2);
	(void)ubn(&r, 2);          /* error position */
	(void)u8(&r);              /* sql type */
	(void)u8(&r);              /* fatal */
	(void)ubn(&r, 2);          /* flags */
	(void)ubn(&r, 2);          /* user cursor options */
	(void)u8(&r);              /* UPI parameter */
	(void)u8(&r);              /* warning flag */
	(void)ub4(&r);             /* rowid: rba */
	(void)ubn(&r, 2);          /* partition */
	(void)u8(&r);
	(void)ub4(&r);             /* block */
	(void)ubn(&r, 2);          /* slot */
	(void)ub4(&r);             /* OS error */
	(void)u8(&r);              /* statement number */
	(void)u8(&r);              /* call number */
	(void)ubn(&r, 2);          /* padding */
	(void)ub4(&r);             /* success iterations */
	if (ub4(&r) != 0)          /* oerrdd (a logical rowid): not read */
		return -1;
	for (int k = 0; k < 3; k++)
		if (ubn(&r, 2) != 0) /* batch errors: not read */
			return -1;
	e->error = ub4(&r);
	e->rows = ubn(&r, 8);
	if (extra) {
		(void)ub4(&r); /* sql type (field version 20.1) */
		(void)ub4(&r); /* server checksum */
	}
	if (!ok(&r))
		return -1;
	if (e->error) {
		uint8_t *m;
		size_t ml;
		bytes_len(&r, &m, &ml);
		if (!ok(&r))
			return -1;
		if (m) {
			size_t k = ml < sizeof e->message - 1 ? ml : sizeof e->message - 1;
			memcpy(e->message, m, k);
			while (k && (e->message[k - 1] == '\n' || e->message[k - 1] == ' '))
				k--;
			e->message[k] = '\0';
			free(m);
		}
	}
	if (r.i < r.n && r.p[r.i] == 29 /* END_OF_RESPONSE */)
		r.i++;
	return r.i == r.n ? 0 : -1;
}

int tns_ttc_call_end(const uint8_t *tail, size_t n, struct tns_call_end *e)
{
	for (size_t i = 0; i < n; i++) {
		if (tail[i] != 4)
			continue;
		if (read_end(tail + i, n - i, 0, e) == 0 || read_end(tail + i, n - i, 1, e) == 0)
			return 0;
	}
	memset(e, 0, sizeof *e);
	return -1;
}
