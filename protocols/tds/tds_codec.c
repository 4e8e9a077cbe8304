/* tds_codec: TDS packets, PRELOGIN, LOGIN7, UTF-16 and the proxy's own
 * ERROR/DONE replies (see tds_codec.h). */
#include "protocols/tds/tds_codec.h"

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint16_t rd16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint16_t rd16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tds_header_parse(const uint8_t *p, struct tds_header *h)
{
	h->type = p[0];
	h->status = p[1];
	h->len = rd16be(p + 2);
	return h->len < TDS_HEADER_LEN ? -1 : 0;
}

int tds_put_packets(struct evbuffer *out, uint8_t type, const uint8_t *payload, size_t n,
		    size_t pktsize)
{
	size_t room = pktsize > TDS_HEADER_LEN + 1 ? pktsize - TDS_HEADER_LEN : 512;
	if (room > 0xFFFFu - TDS_HEADER_LEN)
		room = 0xFFFFu - TDS_HEADER_LEN;
	size_t off = 0;
	uint8_t id = 1;
	do {
		size_t k = n - off < room ? n - off : room;
		uint8_t h[TDS_HEADER_LEN] = {type, off + k == n ? TDS_STATUS_EOM : 0,
					     (uint8_t)((k + TDS_HEADER_LEN) >> 8),
					     (uint8_t)(k + TDS_HEADER_LEN), 0, 0, id++, 0};
		if (evbuffer_add(out, h, sizeof h) != 0 || (k && evbuffer_add(out, payload + off, k) != 0))
			return -1;
		off += k;
	} while (off < n);
	return 0;
}

/* ---- buffer ---- */

void tds_buf_init(struct tds_buf *b)
{
	memset(b, 0, sizeof *b);
}

void tds_buf_free(struct tds_buf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof *b);
}

void tds_buf_add(struct tds_buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		/* not realloc: what a buffer held (a password) is wiped */
		uint8_t *q = malloc(cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		if (b->len)
			memcpy(q, b->p, b->len);
		if (b->p)
			OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void tds_buf_u8(struct tds_buf *b, uint8_t v)
{
	tds_buf_add(b, &v, 1);
}
void tds_buf_u16le(struct tds_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	tds_buf_add(b, x, 2);
}
void tds_buf_u16be(struct tds_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	tds_buf_add(b, x, 2);
}
void tds_buf_u32le(struct tds_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	tds_buf_add(b, x, 4);
}
void tds_buf_u64le(struct tds_buf *b, uint64_t v)
{
	tds_buf_u32le(b, (uint32_t)v);
	tds_buf_u32le(b, (uint32_t)(v >> 32));
}

/* Next code point of UTF-8 at *i (invalid bytes become U+FFFD, one each). */
static uint32_t utf8_next(const uint8_t *s, size_t n, size_t *i)
{
	uint8_t c = s[*i];
	size_t need = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
	if (need == 0) {
		(*i)++;
		return c;
	}
	if (need == 9 || n - *i <= need) {
		(*i)++;
		return 0xFFFD;
	}
	uint32_t cp = c & (0x3F >> need);
	for (size_t k = 1; k <= need; k++) {
		if ((s[*i + k] & 0xC0) != 0x80) {
			(*i)++;
			return 0xFFFD;
		}
		cp = cp << 6 | (s[*i + k] & 0x3F);
	}
	*i += need + 1;
	return cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000) ? 0xFFFD : cp;
}

size_t tds_buf_utf16(struct tds_buf *b, const char *utf8, size_t n)
{
	const uint8_t *s = (const uint8_t *)utf8;
	size_t i = 0, units = 0;
	while (i < n) {
		uint32_t cp = utf8_next(s, n, &i);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			tds_buf_u16le(b, (uint16_t)(0xD800 | (cp >> 10)));
			tds_buf_u16le(b, (uint16_t)(0xDC00 | (cp & 0x3FF)));
			units += 2;
		} else {
			tds_buf_u16le(b, (uint16_t)cp);
			units++;
		}
	}
	return units;
}

char *tds_utf16_to_utf8(const uint8_t *p, size_t nbytes, size_t *outlen)
{
	size_t units = nbytes / 2;
	char *out = malloc(units * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t cp = rd16le(p + 2 * i);
		if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < units) {
			uint32_t lo = rd16le(p + 2 * i + 2);
			if (lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i++;
			} else {
				cp = 0xFFFD;
			}
		} else if (cp >= 0xD800 && cp < 0xE000) {
			cp = 0xFFFD;
		}
		/* a surrogate pair (4 bytes of UTF-8) came from 2 units (6 bytes of room) */
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xC0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			out[o++] = (char)(0xE0 | cp >> 12);
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (cp & 0x3F));
		} else {
			out[o++] = (char)(0xF0 | cp >> 18);
			out[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
}

/* ---- PRELOGIN ---- */

enum { PL_VERSION = 0, PL_ENCRYPTION = 1, PL_INSTOPT = 2, PL_THREADID = 3, PL_MARS = 4,
       PL_FEDAUTHREQUIRED = 6, PL_TERMINATOR = 0xFF };

int tds_prelogin_parse(const uint8_t *p, size_t n, struct tds_prelogin *pl)
{
	memset(pl, 0, sizeof *pl);
	size_t i = 0;
	for (;;) {
		if (i >= n)
			return -1;
		uint8_t tok = p[i];
		if (tok == PL_TERMINATOR)
			return 0;
		if (i + 5 > n)
			return -1;
		size_t off = rd16be(p + i + 1), len = rd16be(p + i + 3);
		if (off > n || len > n - off)
			return -1;
		const uint8_t *v = p + off;
		switch (tok) {
		case PL_VERSION:
			if (len >= 6)
				memcpy(pl->version, v, 6);
			break;
		case PL_ENCRYPTION:
			if (len < 1)
				return -1;
			pl->has_encrypt = 1;
			pl->encrypt = v[0] & 0x0F; /* 0x80 ENCRYPT_CLIENT_CERT is not ours to honour */
			if (pl->encrypt > TDS_ENCRYPT_REQ)
				return -1;
			break;
		case PL_MARS:
			pl->mars = len >= 1 && v[0] != 0;
			break;
		case PL_FEDAUTHREQUIRED:
			pl->fedauth_required = len >= 1 && v[0] != 0;
			break;
		default:
			break;
		}
		i += 5;
	}
}

void tds_prelogin_build(struct tds_buf *b, uint8_t enc, int client)
{
	/* SQL Server 2022 (16.0.1000) as a server; a client version otherwise */
	static const uint8_t srv_version[6] = {16, 0, 0x03, 0xE8, 0, 0};
	static const uint8_t cli_version[6] = {1, 0, 0, 0, 0, 0};
	struct opt {
		uint8_t tok;
		uint8_t len;
		uint8_t v[6];
	} o[5];
	size_t k = 0;
	o[k++] = (struct opt){PL_VERSION, 6, {0}};
	memcpy(o[0].v, client ? cli_version : srv_version, 6);
	o[k++] = (struct opt){PL_ENCRYPTION, 1, {enc}};
	o[k++] = (struct opt){PL_INSTOPT, 1, {0}};
	if (client)
		o[k++] = (struct opt){PL_THREADID, 4, {0}};
	o[k++] = (struct opt){PL_MARS, 1, {0}};
	size_t off = k * 5 + 1;
	for (size_t i = 0; i < k; i++) {
		tds_buf_u8(b, o[i].tok);
		tds_buf_u16be(b, (uint16_t)off);
		tds_buf_u16be(b, o[i].len);
		off += o[i].len;
	}
	tds_buf_u8(b, PL_TERMINATOR);
	for (size_t i = 0; i < k; i++)
		tds_buf_add(b, o[i].v, o[i].len);
}

/* ---- LOGIN7 ---- */

/* Offsets of the (offset, length) pairs of each field in the fixed part. */
static const size_t field_at[TDS_L_NFIELDS] = {
	[TDS_L_HOST] = 36, [TDS_L_USER] = 40, [TDS_L_PASSWORD] = 44, [TDS_L_APP] = 48,
	[TDS_L_SERVER] = 52, [TDS_L_LIBRARY] = 60, [TDS_L_LANGUAGE] = 64,
	[TDS_L_DATABASE] = 68, [TDS_L_ATTACH] = 82,
};
#define L7_EXTENSION 56
#define L7_CLIENT_ID 72
#define L7_SSPI 78
#define L7_CHANGE_PASSWORD 86

#define L7_OPT2_INT_SECURITY 0x80
#define L7_OPT3_CHANGE_PASSWORD 0x01
#define L7_OPT3_EXTENSION 0x10

static uint8_t pw_byte(uint8_t b)
{
	b ^= 0xA5;
	return (uint8_t)(b << 4 | b >> 4);
}

static uint8_t pw_encode(uint8_t b)
{
	return (uint8_t)((b << 4 | b >> 4) ^ 0xA5);
}

static const char *feature_name(uint8_t id)
{
	switch (id) {
	case TDS_FEAT_SESSIONRECOVERY: return "session recovery";
	case TDS_FEAT_FEDAUTH: return "federated authentication";
	case TDS_FEAT_COLUMNENCRYPTION: return "column encryption";
	case TDS_FEAT_DATACLASSIFICATION: return "data classification";
	default: return NULL;
	}
}

static int parse_features(const uint8_t *p, size_t n, size_t at, struct tds_login7 *l,
			  char *err, size_t errlen)
{
	struct tds_buf keep;
	tds_buf_init(&keep);
	for (;;) {
		if (at >= n) {
			snprintf(err, errlen, "LOGIN7 feature extension not terminated");
			tds_buf_free(&keep);
			return -1;
		}
		uint8_t id = p[at];
		if (id == TDS_FEAT_TERMINATOR)
			break;
		if (n - at < 5 || rd32le(p + at + 1) > n - at - 5) {
			snprintf(err, errlen, "LOGIN7 feature extension truncated");
			tds_buf_free(&keep);
			return -1;
		}
		size_t len = rd32le(p + at + 1);
		const char *name = feature_name(id);
		if (name) {
			size_t u = strlen(l->dropped);
			snprintf(l->dropped + u, sizeof l->dropped - u, "%s%s", u ? ", " : "", name);
		} else {
			tds_buf_add(&keep, p + at, 5 + len);
		}
		at += 5 + len;
	}
	if (keep.oom) {
		snprintf(err, errlen, "out of memory");
		tds_buf_free(&keep);
		return -1;
	}
	l->features = keep.p; /* may be NULL: no feature kept */
	l->features_len = keep.len;
	return 0;
}

int tds_login7_parse(const uint8_t *p, size_t n, struct tds_login7 *l, char *err, size_t errlen)
{
	memset(l, 0, sizeof *l);
	if (n < TDS_LOGIN7_FIXED_71 || n > TDS_LOGIN7_MAX) {
		snprintf(err, errlen, "LOGIN7 of %zu bytes", n);
		return -1;
	}
	l->tds_version = rd32le(p + 4);
	if (l->tds_version < TDS_VERSION_71) {
		snprintf(err, errlen, "TDS version %08x is older than 7.1", (unsigned)l->tds_version);
		return -1;
	}
	int v71 = TDS_PRE72(l->tds_version);
	if (!v71 && n < TDS_LOGIN7_FIXED) {
		snprintf(err, errlen, "LOGIN7 of %zu bytes", n);
		return -1;
	}
	l->packet_size = rd32le(p + 8);
	l->prog_version = rd32le(p + 12);
	l->client_pid = rd32le(p + 16);
	l->connection_id = rd32le(p + 20);
	l->opt1 = p[24];
	l->opt2 = p[25];
	l->type_flags = p[26];
	l->opt3 = p[27];
	l->timezone = rd32le(p + 28);
	l->lcid = rd32le(p + 32);
	memcpy(l->client_id, p + L7_CLIENT_ID, 6);
	l->sspi = (l->opt2 & L7_OPT2_INT_SECURITY) || rd16le(p + L7_SSPI + 2) != 0;
	l->change_password = !v71 && (l->opt3 & L7_OPT3_CHANGE_PASSWORD) &&
			     rd16le(p + L7_CHANGE_PASSWORD + 2);
	for (int i = 0; i < TDS_L_NFIELDS; i++) {
		size_t off = rd16le(p + field_at[i]), chars = rd16le(p + field_at[i] + 2);
		if (chars == 0)
			continue;
		if (off > n || chars * 2 > n - off) {
			snprintf(err, errlen, "LOGIN7 field %d out of bounds", i);
			tds_login7_free(l);
			return -1;
		}
		l->f[i].p = malloc(chars * 2);
		if (!l->f[i].p) {
			snprintf(err, errlen, "out of memory");
			tds_login7_free(l);
			return -1;
		}
		l->f[i].n = chars * 2;
		for (size_t k = 0; k < chars * 2; k++)
			l->f[i].p[k] = i == TDS_L_PASSWORD ? pw_byte(p[off + k]) : p[off + k];
	}
	if (!v71 && (l->opt3 & L7_OPT3_EXTENSION)) {
		size_t ext = rd16le(p + L7_EXTENSION), cb = rd16le(p + L7_EXTENSION + 2);
		if (cb < 4 || ext > n || n - ext < 4 || rd32le(p + ext) >= n) {
			snprintf(err, errlen, "LOGIN7 feature extension out of bounds");
			tds_login7_free(l);
			return -1;
		}
		if (parse_features(p, n, rd32le(p + ext), l, err, errlen) != 0) {
			tds_login7_free(l);
			return -1;
		}
	}
	return 0;
}

char *tds_login7_field(const struct tds_login7 *l, enum tds_login_field f)
{
	return tds_utf16_to_utf8(l->f[f].p ? l->f[f].p : (const uint8_t *)"", l->f[f].n, NULL);
}

void tds_login7_build(struct tds_buf *b, const struct tds_login7 *l, const char *user,
		      const char *password)
{
	/* the variable part first, to know the offsets */
	struct tds_buf var;
	tds_buf_init(&var);
	size_t off[TDS_L_NFIELDS] = {0}, chars[TDS_L_NFIELDS] = {0};
	static const enum tds_login_field order[] = {TDS_L_HOST,     TDS_L_USER,     TDS_L_PASSWORD,
						     TDS_L_APP,      TDS_L_SERVER,   TDS_L_LIBRARY,
						     TDS_L_LANGUAGE, TDS_L_DATABASE, TDS_L_ATTACH};
	size_t ext_at = 0;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		enum tds_login_field f = order[i];
		off[f] = TDS_LOGIN7_FIXED + var.len;
		if (f == TDS_L_USER) {
			chars[f] = tds_buf_utf16(&var, user, strlen(user));
		} else if (f == TDS_L_PASSWORD) {
			size_t at = var.len;
			chars[f] = tds_buf_utf16(&var, password, strlen(password));
			if (!var.oom)
				for (size_t k = at; k < var.len; k++)
					var.p[k] = pw_encode(var.p[k]);
		} else {
			tds_buf_add(&var, l->f[f].p, l->f[f].n);
			chars[f] = l->f[f].n / 2;
		}
		if (f == TDS_L_SERVER && l->features_len) {
			ext_at = TDS_LOGIN7_FIXED + var.len;
			tds_buf_u32le(&var, 0); /* patched below */
		}
	}
	if (l->features_len) {
		uint32_t feat = (uint32_t)(TDS_LOGIN7_FIXED + var.len);
		if (!var.oom) {
			size_t at = ext_at - TDS_LOGIN7_FIXED;
			var.p[at] = (uint8_t)feat;
			var.p[at + 1] = (uint8_t)(feat >> 8);
			var.p[at + 2] = (uint8_t)(feat >> 16);
			var.p[at + 3] = (uint8_t)(feat >> 24);
		}
		tds_buf_add(&var, l->features, l->features_len);
		tds_buf_u8(&var, TDS_FEAT_TERMINATOR);
	}
	if (var.oom) {
		b->oom = 1;
		tds_buf_free(&var);
		return;
	}
	tds_buf_u32le(b, (uint32_t)(TDS_LOGIN7_FIXED + var.len));
	tds_buf_u32le(b, l->tds_version);
	tds_buf_u32le(b, l->packet_size);
	tds_buf_u32le(b, l->prog_version);
	tds_buf_u32le(b, l->client_pid);
	tds_buf_u32le(b, l->connection_id);
	tds_buf_u8(b, l->opt1);
	tds_buf_u8(b, (uint8_t)(l->opt2 & ~L7_OPT2_INT_SECURITY));
	tds_buf_u8(b, l->type_flags);
	uint8_t opt3 = (uint8_t)(l->opt3 & ~(L7_OPT3_CHANGE_PASSWORD | L7_OPT3_EXTENSION));
	if (l->features_len)
		opt3 |= L7_OPT3_EXTENSION;
	tds_buf_u8(b, opt3);
	tds_buf_u32le(b, l->timezone);
	tds_buf_u32le(b, l->lcid);
	for (int f = TDS_L_HOST; f <= TDS_L_SERVER; f++) {
		tds_buf_u16le(b, (uint16_t)off[f]);
		tds_buf_u16le(b, (uint16_t)chars[f]);
	}
	tds_buf_u16le(b, (uint16_t)(l->features_len ? ext_at : 0)); /* ibExtension */
	tds_buf_u16le(b, (uint16_t)(l->features_len ? 4 : 0));
	for (int f = TDS_L_LIBRARY; f <= TDS_L_DATABASE; f++) {
		tds_buf_u16le(b, (uint16_t)off[f]);
		tds_buf_u16le(b, (uint16_t)chars[f]);
	}
	tds_buf_add(b, l->client_id, 6);
	tds_buf_u16le(b, (uint16_t)(TDS_LOGIN7_FIXED + var.len)); /* ibSSPI: none */
	tds_buf_u16le(b, 0);
	tds_buf_u16le(b, (uint16_t)off[TDS_L_ATTACH]);
	tds_buf_u16le(b, (uint16_t)chars[TDS_L_ATTACH]);
	tds_buf_u16le(b, (uint16_t)(TDS_LOGIN7_FIXED + var.len)); /* ibChangePassword: none */
	tds_buf_u16le(b, 0);
	tds_buf_u32le(b, 0); /* cbSSPILong */
	tds_buf_add(b, var.p, var.len);
	tds_buf_free(&var);
}

void tds_login7_free(struct tds_login7 *l)
{
	for (int i = 0; i < TDS_L_NFIELDS; i++) {
		if (l->f[i].p)
			OPENSSL_cleanse(l->f[i].p, l->f[i].n);
		free(l->f[i].p);
		l->f[i].p = NULL;
		l->f[i].n = 0;
	}
	free(l->features);
	l->features = NULL;
	l->features_len = 0;
}

/* ---- the proxy's own tokens ---- */

void tds_build_error(struct tds_buf *b, uint32_t number, uint8_t cls, const char *msg)
{
	static const char server[] = "sqlbastion";
	struct tds_buf text;
	tds_buf_init(&text);
	size_t units = tds_buf_utf16(&text, msg, strlen(msg));
	if (units > 4000)
		units = 4000, text.len = 8000;
	size_t len = 4 + 1 + 1 + 2 + units * 2 + 1 + (sizeof server - 1) * 2 + 1 + 4;
	tds_buf_u8(b, TDS_TOK_ERROR);
	tds_buf_u16le(b, (uint16_t)len);
	tds_buf_u32le(b, number);
	tds_buf_u8(b, 1); /* state */
	tds_buf_u8(b, cls);
	tds_buf_u16le(b, (uint16_t)units);
	tds_buf_add(b, text.p, text.len);
	tds_buf_u8(b, (uint8_t)(sizeof server - 1));
	tds_buf_utf16(b, server, sizeof server - 1);
	tds_buf_u8(b, 0); /* no procedure */
	tds_buf_u32le(b, 1);
	if (text.oom)
		b->oom = 1;
	tds_buf_free(&text);
}

void tds_build_done(struct tds_buf *b, uint8_t token, uint16_t status, uint64_t rows,
		    uint32_t version)
{
	tds_buf_u8(b, token);
	tds_buf_u16le(b, status);
	tds_buf_u16le(b, 0); /* CurCmd */
	if (version && TDS_PRE72(version))
		tds_buf_u32le(b, (uint32_t)rows);
	else
		tds_buf_u64le(b, rows);
}

int tds_put_error_reply(struct evbuffer *out, uint32_t number, uint8_t cls, const char *msg,
			uint32_t version)
{
	struct tds_buf b;
	tds_buf_init(&b);
	tds_build_error(&b, number, cls, msg);
	tds_build_done(&b, TDS_TOK_DONE, TDS_DONE_ERROR, 0, version);
	int rc = b.oom ? -1 : tds_put_packets(out, TDS_PKT_REPLY, b.p, b.len, TDS_PACKET_DEFAULT);
	tds_buf_free(&b);
	return rc;
}
