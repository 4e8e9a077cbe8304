/* audit_json: byte buffer, JSON escaping, validation and a record reader.
 *
 * See audit_json.h for the escaping rule. The escaper is on the per-record
 * hot path: printable ASCII is copied in a tight loop, room is reserved once
 * per 4 KiB of input, and nothing is allocated once the buffer has grown to
 * its working size. The validator and the reader are for audit_verify.c,
 * audit_index.c and audit_search.c, which read back what the writer wrote;
 * they are not a general JSON library (no DOM, no floats).
 */
#include "audit/audit_json.h"

#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

void audit_buf_init(struct audit_buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = 0;
}

void audit_buf_free(struct audit_buf *b)
{
	free(b->p);
	audit_buf_init(b);
}

int audit_buf_reserve(struct audit_buf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->cap - b->len > n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return -1;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void audit_buf_put(struct audit_buf *b, const void *p, size_t n)
{
	if (n == 0 || audit_buf_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void audit_buf_putc(struct audit_buf *b, char c)
{
	if (audit_buf_reserve(b, 1) < 0)
		return;
	b->p[b->len++] = c;
}

void audit_buf_puts(struct audit_buf *b, const char *s)
{
	audit_buf_put(b, s, strlen(s));
}

void audit_buf_put_u64(struct audit_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	audit_buf_put(b, tmp + i, sizeof tmp - i);
}

void audit_buf_put_i64(struct audit_buf *b, int64_t v)
{
	if (v < 0) {
		audit_buf_putc(b, '-');
		audit_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		audit_buf_put_u64(b, (uint64_t)v);
	}
}

const char *audit_buf_cstr(struct audit_buf *b)
{
	if (audit_buf_reserve(b, 1) < 0)
		return NULL;
	b->p[b->len] = '\0';
	return b->p;
}

/* ---- UTF-8 and escaping ---- */

/* Length of the well-formed UTF-8 sequence starting at s (1..4), or 0 when
 * the byte at s does not start one (RFC 3629 table, no overlongs, no
 * surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
	unsigned c = s[0];
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
	    (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
		return 0;
	return n;
}

size_t audit_utf8_len(const void *s, size_t n)
{
	const unsigned char *p = s;
	return utf8_seq(p, p + n);
}

static const char hexdig[] = "0123456789abcdef";

#define BYTES8(c) (0x0101010101010101ull * (uint64_t)(c))

/* Whether any byte of w is zero (exact as a yes/no answer). */
static int has_zero8(uint64_t w)
{
	return ((w - BYTES8(0x01)) & ~w & BYTES8(0x80)) != 0;
}

/* Whether any of the 8 bytes in w is not copied as is: a control byte,
 * DEL, '"', '\\' or a byte of a multi-byte sequence (checked one by one). */
static int needs_escape8(uint64_t w)
{
	if (w & BYTES8(0x80))
		return 1;
	/* bytes below 0x20 (valid as a test because no byte has its top bit) */
	if (((w - BYTES8(0x20)) & ~w & BYTES8(0x80)) != 0)
		return 1;
	return has_zero8(w ^ BYTES8('"')) || has_zero8(w ^ BYTES8('\\')) ||
	       has_zero8(w ^ BYTES8(0x7f));
}

/* Input bytes escaped per reserve; each takes at most 6 output bytes, and a
 * UTF-8 sequence starting at the last byte may run 3 bytes past. */
#define ESC_CHUNK 4096

void audit_json_put_str(struct audit_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + n;

	audit_buf_putc(b, '"');
	while (p < end) {
		size_t chunk = (size_t)(end - p) < ESC_CHUNK ? (size_t)(end - p)
							    : ESC_CHUNK;
		if (audit_buf_reserve(b, chunk * 6 + 8) < 0)
			return;
		char *o = b->p + b->len;
		const unsigned char *stop = p + chunk;
		while (p < stop) {
			/* Eight plain ASCII bytes at a time: most of a statement. */
			if (stop - p >= 8) {
				uint64_t w;
				memcpy(&w, p, 8);
				if (!needs_escape8(w)) {
					memcpy(o, p, 8);
					o += 8;
					p += 8;
					continue;
				}
			}
			unsigned c = *p;
			if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
				*o++ = (char)c;
				p++;
				continue;
			}
			if (c >= 0x80) {
				size_t k = utf8_seq(p, end);
				if (k) {
					memcpy(o, p, k);
					o += k;
					p += k;
					continue;
				}
			}
			*o++ = '\\';
			switch (c) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '\b': *o++ = 'b'; break;
			case '\f': *o++ = 'f'; break;
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			default:
				/* other controls and DEL as \u00XX; a byte that is
				 * not valid UTF-8 (always >= 0x80) as the lone low
				 * surrogate \udcXX, which no valid UTF-8 text can
				 * produce, so the byte is recoverable (the
				 * "surrogateescape" convention). */
				*o++ = 'u';
				*o++ = c >= 0x80 ? 'd' : '0';
				*o++ = c >= 0x80 ? 'c' : '0';
				*o++ = hexdig[c >> 4];
				*o++ = hexdig[c & 15];
			}
			p++;
		}
		b->len = (size_t)(o - b->p);
	}
	audit_buf_putc(b, '"');
}

/* ---- strict validator ---- */

struct vstate {
	const unsigned char *p;
	const unsigned char *end;
};

#define JSON_MAX_DEPTH 64

static void v_ws(struct vstate *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' ||
				 *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static int is_hex(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static int is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static int v_string(struct vstate *v)
{
	v->p++; /* opening quote */
	while (v->p < v->end) {
		unsigned c = *v->p;
		if (c == '"') {
			v->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (v->end - v->p < 2)
				return 0;
			c = v->p[1];
			if (c == 'u') {
				if (v->end - v->p < 6)
					return 0;
				for (int i = 2; i < 6; i++)
					if (!is_hex(v->p[i]))
						return 0;
				v->p += 6;
			} else if (strchr("\"\\/bfnrt", (int)c) && c) {
				v->p += 2;
			} else {
				return 0;
			}
			continue;
		}
		size_t k = utf8_seq(v->p, v->end);
		if (!k)
			return 0;
		v->p += k;
	}
	return 0;
}

static int v_number(struct vstate *v)
{
	if (v->p < v->end && *v->p == '-')
		v->p++;
	if (v->p >= v->end || !is_digit(*v->p))
		return 0;
	if (*v->p == '0')
		v->p++;
	else
		while (v->p < v->end && is_digit(*v->p))
			v->p++;
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (v->p >= v->end || !is_digit(*v->p))
			return 0;
		while (v->p < v->end && is_digit(*v->p))
			v->p++;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (v->p >= v->end || !is_digit(*v->p))
			return 0;
		while (v->p < v->end && is_digit(*v->p))
			v->p++;
	}
	return 1;
}

static int v_literal(struct vstate *v, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(v->end - v->p) < n || memcmp(v->p, lit, n) != 0)
		return 0;
	v->p += n;
	return 1;
}

static int v_value(struct vstate *v, int depth)
{
	v_ws(v);
	if (v->p >= v->end)
		return 0;
	switch (*v->p) {
	case '"':
		return v_string(v);
	case 't':
		return v_literal(v, "true");
	case 'f':
		return v_literal(v, "false");
	case 'n':
		return v_literal(v, "null");
	case '[':
	case '{': {
		unsigned close = *v->p == '[' ? ']' : '}';
		int obj = close == '}';
		if (depth >= JSON_MAX_DEPTH)
			return 0;
		v->p++;
		v_ws(v);
		if (v->p < v->end && *v->p == close) {
			v->p++;
			return 1;
		}
		for (;;) {
			if (obj) {
				v_ws(v);
				if (v->p >= v->end || *v->p != '"' ||
				    !v_string(v))
					return 0;
				v_ws(v);
				if (v->p >= v->end || *v->p != ':')
					return 0;
				v->p++;
			}
			if (!v_value(v, depth + 1))
				return 0;
			v_ws(v);
			if (v->p >= v->end)
				return 0;
			if (*v->p == close) {
				v->p++;
				return 1;
			}
			if (*v->p != ',')
				return 0;
			v->p++;
		}
	}
	default:
		return v_number(v);
	}
}

int audit_json_valid(const char *s, size_t n)
{
	struct vstate v = {(const unsigned char *)s,
			   (const unsigned char *)s + n};
	if (!v_value(&v, 0))
		return 0;
	v_ws(&v);
	return v.p == v.end;
}

/* ---- tolerant reader ---- */

static void r_ws(struct audit_json_iter *it)
{
	while (it->p < it->end && (*it->p == ' ' || *it->p == '\t' ||
				   *it->p == '\n' || *it->p == '\r'))
		it->p++;
}

/* it->p at an opening quote: move past the closing one. 0 ok, -1 none. */
static int r_skip_string(struct audit_json_iter *it)
{
	it->p++;
	while (it->p < it->end) {
		if (*it->p == '\\') {
			it->p += 2;
			continue;
		}
		if (*it->p++ == '"')
			return 0;
	}
	return -1;
}

int audit_json_iter_init(struct audit_json_iter *it, const char *s, size_t n)
{
	it->p = s;
	it->end = s + n;
	it->first = 1;
	it->done = 0;
	r_ws(it);
	if (it->p >= it->end || *it->p != '{')
		return -1;
	it->p++;
	return 0;
}

int audit_json_next(struct audit_json_iter *it, struct audit_json_member *m)
{
	if (it->done)
		return 0;
	r_ws(it);
	if (it->p >= it->end)
		return -1;
	if (*it->p == '}') {
		it->done = 1;
		return 0;
	}
	if (!it->first) {
		if (*it->p != ',')
			return -1;
		it->p++;
		r_ws(it);
	}
	it->first = 0;
	if (it->p >= it->end || *it->p != '"')
		return -1;
	const char *k = it->p + 1;
	if (r_skip_string(it) < 0)
		return -1;
	m->key = k;
	m->keylen = (size_t)(it->p - 1 - k);
	r_ws(it);
	if (it->p >= it->end || *it->p != ':')
		return -1;
	it->p++;
	r_ws(it);
	if (it->p >= it->end)
		return -1;

	const char *v = it->p;
	char c = *v;
	if (c == '"') {
		if (r_skip_string(it) < 0)
			return -1;
		m->type = AUDIT_JSON_STRING;
		m->val = v + 1;
		m->vallen = (size_t)(it->p - 1 - (v + 1));
		return 1;
	}
	if (c == '[' || c == '{') {
		int depth = 0;
		while (it->p < it->end) {
			char d = *it->p;
			if (d == '"') {
				if (r_skip_string(it) < 0)
					return -1;
				continue;
			}
			it->p++;
			if (d == '[' || d == '{')
				depth++;
			else if ((d == ']' || d == '}') && --depth == 0)
				break;
		}
		if (depth != 0)
			return -1;
		m->type = AUDIT_JSON_OTHER;
	} else if (c == 'n' || c == 't' || c == 'f') {
		const char *lit = c == 'n' ? "null" : c == 't' ? "true" : "false";
		size_t l = strlen(lit);
		if ((size_t)(it->end - it->p) < l || memcmp(it->p, lit, l) != 0)
			return -1;
		it->p += l;
		m->type = c == 'n' ? AUDIT_JSON_NULL : AUDIT_JSON_BOOL;
	} else if (c == '-' || is_digit((unsigned char)c)) {
		while (it->p < it->end &&
		       (is_digit((unsigned char)*it->p) || *it->p == '-' ||
			*it->p == '+' || *it->p == '.' || *it->p == 'e' ||
			*it->p == 'E'))
			it->p++;
		m->type = AUDIT_JSON_NUMBER;
	} else {
		return -1;
	}
	m->val = v;
	m->vallen = (size_t)(it->p - v);
	return 1;
}

int audit_json_get(const char *s, size_t n, const char *key,
		   struct audit_json_member *m)
{
	struct audit_json_iter it;
	size_t kl = strlen(key);
	int r;
	if (audit_json_iter_init(&it, s, n) < 0)
		return -1;
	while ((r = audit_json_next(&it, m)) == 1)
		if (m->keylen == kl && memcmp(m->key, key, kl) == 0)
			return 1;
	return r;
}

static int hexval(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

static int read_u16(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

static void put_utf8(struct audit_buf *out, unsigned cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xC0 | cp >> 6);
		t[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xE0 | cp >> 12);
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		t[0] = (char)(0xF0 | cp >> 18);
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	audit_buf_put(out, t, n);
}

int audit_json_unescape(const char *raw, size_t n, struct audit_buf *out)
{
	const char *p = raw, *end = raw + n;
	while (p < end) {
		const char *q = memchr(p, '\\', (size_t)(end - p));
		if (!q) {
			audit_buf_put(out, p, (size_t)(end - p));
			break;
		}
		audit_buf_put(out, p, (size_t)(q - p));
		if (end - q < 2)
			return -1;
		char c = q[1];
		p = q + 2;
		switch (c) {
		case '"': audit_buf_putc(out, '"'); break;
		case '\\': audit_buf_putc(out, '\\'); break;
		case '/': audit_buf_putc(out, '/'); break;
		case 'b': audit_buf_putc(out, '\b'); break;
		case 'f': audit_buf_putc(out, '\f'); break;
		case 'n': audit_buf_putc(out, '\n'); break;
		case 'r': audit_buf_putc(out, '\r'); break;
		case 't': audit_buf_putc(out, '\t'); break;
		case 'u': {
			unsigned cp, lo;
			if (read_u16(p, end, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 &&
			    p[0] == '\\' && p[1] == 'u' &&
			    read_u16(p + 2, end, &lo) == 0 && lo >= 0xDC00 &&
			    lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
				p += 6;
			} else if (cp >= 0xDC80 && cp <= 0xDCFF) {
				/* an escaped byte that was not valid UTF-8 */
				audit_buf_putc(out, (char)(cp & 0xFF));
				break;
			} else if (cp >= 0xD800 && cp <= 0xDFFF) {
				cp = 0xFFFD;
			}
			put_utf8(out, cp);
			break;
		}
		default:
			return -1;
		}
	}
	return out->oom ? -1 : 0;
}

int audit_json_i64(const struct audit_json_member *m, int64_t *out)
{
	if (m->type != AUDIT_JSON_NUMBER || m->vallen == 0)
		return -1;
	const char *p = m->val, *end = m->val + m->vallen;
	int neg = 0;
	uint64_t v = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (!is_digit((unsigned char)*p))
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)v;
	}
	return 0;
}

int audit_record_tail(const char *line, size_t len, uint64_t *seq,
		      char hash[AUDIT_HASH_HEX + 1])
{
	static const char seqkey[] = ",\"seq\":";
	const size_t seqkl = sizeof seqkey - 1;
	if (len < AUDIT_HASH_SUFFIX_LEN + seqkl + 1)
		return -1;
	const char *suf = line + len - AUDIT_HASH_SUFFIX_LEN;
	if (memcmp(suf, ",\"hash\":\"", 9) != 0 || suf[9 + AUDIT_HASH_HEX] != '"' ||
	    suf[10 + AUDIT_HASH_HEX] != '}')
		return -1;
	for (int i = 0; i < AUDIT_HASH_HEX; i++) {
		char c = suf[9 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	const char *d = suf;
	while (d > line && is_digit((unsigned char)d[-1]) && suf - d < 20)
		d--;
	if (d == suf || (size_t)(d - line) < seqkl ||
	    memcmp(d - seqkl, seqkey, seqkl) != 0)
		return -1;
	uint64_t v = 0;
	for (const char *p = d; p < suf; p++) {
		unsigned dig = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - dig) / 10)
			return -1;
		v = v * 10 + dig;
	}
	*seq = v;
	memcpy(hash, suf + 9, AUDIT_HASH_HEX);
	hash[AUDIT_HASH_HEX] = '\0';
	return 0;
}
