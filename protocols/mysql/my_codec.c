/* my_codec: MySQL / MariaDB packet parsing and building (see my_codec.h).
 * No I/O beyond appending to an evbuffer, no logging. */
#include "protocols/mysql/my_codec.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reader ---- */

int my_get_u16(struct wire_reader *r, uint16_t *v)
{
	if (wire_left(r) < 2)
		return -1;
	*v = (uint16_t)(r->p[r->off] | r->p[r->off + 1] << 8);
	r->off += 2;
	return 0;
}

int my_get_u24(struct wire_reader *r, uint32_t *v)
{
	if (wire_left(r) < 3)
		return -1;
	const uint8_t *p = r->p + r->off;
	*v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
	r->off += 3;
	return 0;
}

int my_get_u32(struct wire_reader *r, uint32_t *v)
{
	if (wire_left(r) < 4)
		return -1;
	const uint8_t *p = r->p + r->off;
	*v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	r->off += 4;
	return 0;
}

int my_get_u64(struct wire_reader *r, uint64_t *v)
{
	if (wire_left(r) < 8)
		return -1;
	uint64_t x = 0;
	for (int i = 7; i >= 0; i--)
		x = x << 8 | r->p[r->off + (size_t)i];
	r->off += 8;
	*v = x;
	return 0;
}

int my_get_lenenc(struct wire_reader *r, uint64_t *v, int *is_null)
{
	uint8_t b;
	if (is_null)
		*is_null = 0;
	if (wire_get_u8(r, &b) != 0)
		return -1;
	if (b < 0xFB) {
		*v = b;
		return 0;
	}
	if (b == 0xFB) {
		if (!is_null)
			return -1;
		*is_null = 1;
		*v = 0;
		return 0;
	}
	if (b == 0xFC) {
		uint16_t x;
		if (my_get_u16(r, &x) != 0)
			return -1;
		*v = x;
		return 0;
	}
	if (b == 0xFD) {
		uint32_t x;
		if (my_get_u24(r, &x) != 0)
			return -1;
		*v = x;
		return 0;
	}
	if (b == 0xFE)
		return my_get_u64(r, v);
	return -1; /* 0xFF is not a length */
}

int my_get_lenenc_str(struct wire_reader *r, const uint8_t **p, size_t *len)
{
	uint64_t n;
	if (my_get_lenenc(r, &n, NULL) != 0 || n > wire_left(r))
		return -1;
	*len = (size_t)n;
	return wire_get_bytes(r, (size_t)n, p);
}

/* ---- builder ---- */

void my_buf_init(struct my_buf *b)
{
	memset(b, 0, sizeof *b);
}

void my_buf_free(struct my_buf *b)
{
	if (b->p) {
		volatile uint8_t *v = b->p;
		for (size_t i = 0; i < b->cap; i++)
			v[i] = 0;
		free(b->p);
	}
	memset(b, 0, sizeof *b);
}

void my_buf_reset(struct my_buf *b)
{
	b->len = 0;
	b->failed = 0;
}

void my_buf_add(struct my_buf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 128;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		uint8_t *np = realloc(b->p, ncap);
		if (!np) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0; /* always NUL-terminated for text users */
}

void my_buf_u8(struct my_buf *b, uint8_t v)
{
	my_buf_add(b, &v, 1);
}

void my_buf_u16(struct my_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	my_buf_add(b, x, 2);
}

void my_buf_u32(struct my_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	my_buf_add(b, x, 4);
}

void my_buf_lenenc(struct my_buf *b, uint64_t v)
{
	uint8_t x[9];
	size_t n;
	if (v < 0xFB) {
		x[0] = (uint8_t)v;
		n = 1;
	} else if (v <= 0xFFFF) {
		x[0] = 0xFC;
		x[1] = (uint8_t)v;
		x[2] = (uint8_t)(v >> 8);
		n = 3;
	} else if (v <= 0xFFFFFF) {
		x[0] = 0xFD;
		x[1] = (uint8_t)v;
		x[2] = (uint8_t)(v >> 8);
		x[3] = (uint8_t)(v >> 16);
		n = 4;
	} else {
		x[0] = 0xFE;
		for (int i = 0; i < 8; i++)
			x[1 + i] = (uint8_t)(v >> (8 * i));
		n = 9;
	}
	my_buf_add(b, x, n);
}

void my_buf_lenenc_str(struct my_buf *b, const void *p, size_t n)
{
	my_buf_lenenc(b, n);
	my_buf_add(b, p, n);
}

void my_buf_cstr(struct my_buf *b, const char *s)
{
	my_buf_add(b, s, strlen(s) + 1);
}

int my_put_packets(struct evbuffer *out, uint8_t seq, const void *payload, size_t len)
{
	const uint8_t *p = payload;
	for (;;) {
		size_t chunk = len < MY_MAX_PAYLOAD ? len : MY_MAX_PAYLOAD;
		uint8_t h[4] = {(uint8_t)chunk, (uint8_t)(chunk >> 8), (uint8_t)(chunk >> 16), seq++};
		if (evbuffer_add(out, h, 4) != 0 || (chunk && evbuffer_add(out, p, chunk) != 0))
			return -1;
		p += chunk;
		len -= chunk;
		/* A full-size packet always continues, if need be with an empty one. */
		if (chunk < MY_MAX_PAYLOAD)
			return seq;
	}
}

/* ---- handshake ---- */

int my_parse_handshake(const uint8_t *b, size_t n, struct my_handshake *out, char *err,
		       size_t errlen)
{
	struct wire_reader r;
	const char *ver;
	size_t vlen;
	const uint8_t *part1, *reserved;
	uint16_t caplo, caphi;
	uint8_t filler, authlen;
	memset(out, 0, sizeof *out);
	wire_reader_init(&r, b, n);
	if (n >= 1 && b[0] == 0xFF) {
		snprintf(err, errlen, "server refused the connection");
		return -1;
	}
	if (wire_get_u8(&r, &out->protocol) != 0 || out->protocol != 10) {
		snprintf(err, errlen, "not a protocol 10 handshake");
		return -1;
	}
	if (wire_get_cstr(&r, &ver, &vlen) != 0 || my_get_u32(&r, &out->conn_id) != 0 ||
	    wire_get_bytes(&r, 8, &part1) != 0 || wire_get_u8(&r, &filler) != 0 ||
	    my_get_u16(&r, &caplo) != 0) {
		snprintf(err, errlen, "truncated handshake");
		return -1;
	}
	snprintf(out->version, sizeof out->version, "%.*s", (int)(vlen < 63 ? vlen : 63), ver);
	memcpy(out->scramble, part1, 8);
	out->scramble_len = 8;
	out->caps = caplo;
	if (wire_left(&r) == 0)
		return 0; /* pre-4.1 server: no more fields */
	if (wire_get_u8(&r, &out->charset) != 0 || my_get_u16(&r, &out->status) != 0 ||
	    my_get_u16(&r, &caphi) != 0 || wire_get_u8(&r, &authlen) != 0 ||
	    wire_get_bytes(&r, 10, &reserved) != 0) {
		snprintf(err, errlen, "truncated handshake");
		return -1;
	}
	out->caps |= (uint32_t)caphi << 16;
	if (!(out->caps & MY_CLIENT_LONG_PASSWORD))
		out->ext_caps = (uint32_t)reserved[6] | (uint32_t)reserved[7] << 8 |
				(uint32_t)reserved[8] << 16 | (uint32_t)reserved[9] << 24;
	if (out->caps & MY_CLIENT_SECURE_CONNECTION) {
		size_t part2 = authlen > 8 ? (size_t)authlen - 8 : 13;
		if (part2 < 13)
			part2 = 13;
		const uint8_t *p2;
		if (wire_get_bytes(&r, part2, &p2) != 0) {
			snprintf(err, errlen, "truncated handshake scramble");
			return -1;
		}
		/* The scramble's part 2 ends with a NUL that is not part of it. */
		size_t keep = part2 - 1;
		if (keep > sizeof out->scramble - 8)
			keep = sizeof out->scramble - 8;
		memcpy(out->scramble + 8, p2, keep);
		out->scramble_len = 8 + keep;
	}
	if (out->caps & MY_CLIENT_PLUGIN_AUTH && wire_left(&r) > 0) {
		const char *pl;
		size_t pllen;
		if (wire_get_cstr(&r, &pl, &pllen) != 0) {
			/* Some servers omit the final NUL. */
			pl = (const char *)r.p + r.off;
			pllen = wire_left(&r);
		}
		snprintf(out->plugin, sizeof out->plugin, "%.*s", (int)(pllen < 63 ? pllen : 63), pl);
	}
	return 0;
}

void my_build_handshake(struct my_buf *b, const struct my_handshake *h)
{
	uint8_t zero[10] = {0};
	my_buf_u8(b, 10);
	my_buf_cstr(b, h->version);
	my_buf_u32(b, h->conn_id);
	my_buf_add(b, h->scramble, 8);
	my_buf_u8(b, 0);
	my_buf_u16(b, (uint16_t)h->caps);
	my_buf_u8(b, h->charset);
	my_buf_u16(b, h->status);
	my_buf_u16(b, (uint16_t)(h->caps >> 16));
	my_buf_u8(b, (uint8_t)(h->scramble_len + 1));
	my_buf_add(b, zero, 6);
	my_buf_u32(b, (h->caps & MY_CLIENT_LONG_PASSWORD) ? 0 : h->ext_caps);
	my_buf_add(b, h->scramble + 8, h->scramble_len - 8);
	my_buf_u8(b, 0);
	my_buf_cstr(b, h->plugin);
}

int my_parse_hs_response(const uint8_t *b, size_t n, struct my_hs_response *out, char *err,
			 size_t errlen)
{
	struct wire_reader r;
	const uint8_t *filler;
	memset(out, 0, sizeof *out);
	wire_reader_init(&r, b, n);
	if (my_get_u32(&r, &out->caps) != 0 || my_get_u32(&r, &out->max_packet) != 0 ||
	    wire_get_u8(&r, &out->charset) != 0 || wire_get_bytes(&r, 23, &filler) != 0) {
		snprintf(err, errlen, "truncated handshake response");
		return -1;
	}
	if (!(out->caps & MY_CLIENT_PROTOCOL_41)) {
		snprintf(err, errlen, "client does not speak protocol 4.1");
		return -1;
	}
	if (!(out->caps & MY_CLIENT_LONG_PASSWORD))
		out->ext_caps = (uint32_t)filler[19] | (uint32_t)filler[20] << 8 |
				(uint32_t)filler[21] << 16 | (uint32_t)filler[22] << 24;
	if (wire_left(&r) == 0) {
		if (!(out->caps & MY_CLIENT_SSL)) {
			snprintf(err, errlen, "truncated handshake response");
			return -1;
		}
		out->ssl_request = 1;
		return 0;
	}
	if (wire_get_cstr(&r, &out->user, NULL) != 0) {
		snprintf(err, errlen, "handshake response: bad user name");
		return -1;
	}
	if (out->caps & MY_CLIENT_PLUGIN_AUTH_LENENC) {
		if (my_get_lenenc_str(&r, &out->auth, &out->auth_len) != 0) {
			snprintf(err, errlen, "handshake response: bad auth data");
			return -1;
		}
	} else if (out->caps & MY_CLIENT_SECURE_CONNECTION) {
		uint8_t l;
		if (wire_get_u8(&r, &l) != 0 || wire_get_bytes(&r, l, &out->auth) != 0) {
			snprintf(err, errlen, "handshake response: bad auth data");
			return -1;
		}
		out->auth_len = l;
	} else {
		const char *a;
		if (wire_get_cstr(&r, &a, &out->auth_len) != 0) {
			snprintf(err, errlen, "handshake response: bad auth data");
			return -1;
		}
		out->auth = (const uint8_t *)a;
	}
	if (out->caps & MY_CLIENT_CONNECT_WITH_DB && wire_left(&r) > 0 &&
	    wire_get_cstr(&r, &out->database, NULL) != 0) {
		snprintf(err, errlen, "handshake response: bad database name");
		return -1;
	}
	if (out->caps & MY_CLIENT_PLUGIN_AUTH && wire_left(&r) > 0 &&
	    wire_get_cstr(&r, &out->plugin, NULL) != 0) {
		snprintf(err, errlen, "handshake response: bad plugin name");
		return -1;
	}
	if (out->caps & MY_CLIENT_CONNECT_ATTRS && wire_left(&r) > 0 &&
	    my_get_lenenc_str(&r, &out->attrs, &out->attrs_len) != 0) {
		snprintf(err, errlen, "handshake response: bad connect attributes");
		return -1;
	}
	return 0;
}

void my_build_hs_response(struct my_buf *b, const struct my_hs_response *r)
{
	uint8_t zero[19] = {0};
	my_buf_u32(b, r->caps);
	my_buf_u32(b, r->max_packet);
	my_buf_u8(b, r->charset);
	my_buf_add(b, zero, 19);
	my_buf_u32(b, (r->caps & MY_CLIENT_LONG_PASSWORD) ? 0 : r->ext_caps);
	if (r->ssl_request)
		return;
	my_buf_cstr(b, r->user ? r->user : "");
	if (r->caps & MY_CLIENT_PLUGIN_AUTH_LENENC) {
		my_buf_lenenc_str(b, r->auth, r->auth_len);
	} else {
		my_buf_u8(b, (uint8_t)(r->auth_len > 255 ? 255 : r->auth_len));
		my_buf_add(b, r->auth, r->auth_len > 255 ? 255 : r->auth_len);
	}
	if (r->caps & MY_CLIENT_CONNECT_WITH_DB)
		my_buf_cstr(b, r->database ? r->database : "");
	if (r->caps & MY_CLIENT_PLUGIN_AUTH)
		my_buf_cstr(b, r->plugin ? r->plugin : "");
	if (r->caps & MY_CLIENT_CONNECT_ATTRS)
		my_buf_lenenc_str(b, r->attrs, r->attrs ? r->attrs_len : 0);
}

/* ---- OK / ERR / EOF ---- */

int my_is_eof(const uint8_t *b, size_t n, int deprecate_eof)
{
	if (n < 1 || b[0] != 0xFE)
		return 0;
	return deprecate_eof ? n < MY_MAX_PAYLOAD : n < 9;
}

int my_parse_ok(const uint8_t *b, size_t n, struct my_ok *out)
{
	struct wire_reader r;
	uint8_t h;
	memset(out, 0, sizeof *out);
	wire_reader_init(&r, b, n);
	if (wire_get_u8(&r, &h) != 0 || (h != 0x00 && h != 0xFE))
		return -1;
	if (h == 0xFE && n < 9) { /* old EOF: warnings, status */
		if (n == 1)
			return 0;
		if (my_get_u16(&r, &out->warnings) != 0 || my_get_u16(&r, &out->status) != 0)
			return -1;
		return 0;
	}
	if (my_get_lenenc(&r, &out->affected_rows, NULL) != 0 ||
	    my_get_lenenc(&r, &out->last_insert_id, NULL) != 0)
		return -1;
	if (wire_left(&r) >= 2 && my_get_u16(&r, &out->status) != 0)
		return -1;
	if (wire_left(&r) >= 2 && my_get_u16(&r, &out->warnings) != 0)
		return -1;
	return 0;
}

int my_parse_err(const uint8_t *b, size_t n, uint16_t *code, char sqlstate[MY_SQLSTATE_LEN + 1],
		 const char **msg, size_t *msglen)
{
	struct wire_reader r;
	uint8_t h;
	wire_reader_init(&r, b, n);
	if (wire_get_u8(&r, &h) != 0 || h != 0xFF || my_get_u16(&r, code) != 0)
		return -1;
	memcpy(sqlstate, "HY000", 6);
	if (wire_left(&r) >= 6 && r.p[r.off] == '#') {
		memcpy(sqlstate, r.p + r.off + 1, 5);
		sqlstate[5] = '\0';
		r.off += 6;
	}
	*msg = (const char *)r.p + r.off;
	*msglen = wire_left(&r);
	return 0;
}

void my_build_ok(struct my_buf *b, uint64_t affected, uint64_t last_id, uint16_t status,
		 uint16_t warnings)
{
	my_buf_u8(b, 0x00);
	my_buf_lenenc(b, affected);
	my_buf_lenenc(b, last_id);
	my_buf_u16(b, status);
	my_buf_u16(b, warnings);
}

void my_build_err(struct my_buf *b, uint16_t code, const char *sqlstate, const char *msg)
{
	my_buf_u8(b, 0xFF);
	my_buf_u16(b, code);
	my_buf_u8(b, '#');
	char st[5] = {'H', 'Y', '0', '0', '0'};
	if (sqlstate && strlen(sqlstate) == 5)
		memcpy(st, sqlstate, 5);
	my_buf_add(b, st, 5);
	my_buf_add(b, msg, strlen(msg));
}

void my_build_eof(struct my_buf *b, uint16_t warnings, uint16_t status)
{
	my_buf_u8(b, 0xFE);
	my_buf_u16(b, warnings);
	my_buf_u16(b, status);
}

int my_put_err(struct evbuffer *out, uint8_t seq, uint16_t code, const char *sqlstate,
	       const char *msg)
{
	struct my_buf b;
	my_buf_init(&b);
	my_build_err(&b, code, sqlstate, msg);
	int rc = my_buf_ok(&b) ? my_put_packets(out, seq, b.p, b.len) : -1;
	my_buf_free(&b);
	return rc < 0 ? -1 : 0;
}

/* ---- auth exchange ---- */

void my_build_auth_switch(struct my_buf *b, const char *plugin, const void *data, size_t n)
{
	my_buf_u8(b, 0xFE);
	my_buf_cstr(b, plugin);
	my_buf_add(b, data, n);
	my_buf_u8(b, 0);
}

int my_parse_auth_switch(const uint8_t *b, size_t n, const char **plugin, const uint8_t **data,
			 size_t *dlen)
{
	struct wire_reader r;
	uint8_t h;
	wire_reader_init(&r, b, n);
	if (wire_get_u8(&r, &h) != 0 || h != 0xFE || wire_get_cstr(&r, plugin, NULL) != 0)
		return -1;
	*data = r.p + r.off;
	*dlen = wire_left(&r);
	if (*dlen && (*data)[*dlen - 1] == 0)
		(*dlen)--;
	return 0;
}

/* ---- results ---- */

int my_parse_column_count(const uint8_t *b, size_t n, uint64_t *count)
{
	struct wire_reader r;
	wire_reader_init(&r, b, n);
	if (my_get_lenenc(&r, count, NULL) != 0 || *count == 0 || *count > 4096)
		return -1; /* MySQL's limit is 4096 columns per table */
	return 0;
}

int my_parse_prepare_ok(const uint8_t *b, size_t n, struct my_prepare_ok *out)
{
	struct wire_reader r;
	uint8_t h, filler;
	memset(out, 0, sizeof *out);
	wire_reader_init(&r, b, n);
	if (wire_get_u8(&r, &h) != 0 || h != 0x00 || my_get_u32(&r, &out->stmt_id) != 0 ||
	    my_get_u16(&r, &out->num_columns) != 0 || my_get_u16(&r, &out->num_params) != 0)
		return -1;
	if (wire_left(&r) >= 3 && (wire_get_u8(&r, &filler) != 0 || my_get_u16(&r, &out->warnings) != 0))
		return -1;
	return 0;
}

/* ---- JSON rendering of binary parameters ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		len = 2;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

void my_json_str(struct my_buf *b, const uint8_t *s, size_t n, size_t max)
{
	size_t show = n > max ? max : n;
	char esc[8];
	my_buf_u8(b, '"');
	for (size_t i = 0; i < show;) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			my_buf_add(b, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			my_buf_add(b, esc, 6);
			i++;
		} else if (c < 0x80) {
			my_buf_u8(b, c);
			i++;
		} else {
			size_t l = utf8_len(s + i, show - i);
			if (l) {
				my_buf_add(b, s + i, l);
				i += l;
			} else {
				snprintf(esc, sizeof esc, "\\u%04x", c);
				my_buf_add(b, esc, 6);
				i++;
			}
		}
	}
	if (show < n) {
		char more[48];
		int ml = snprintf(more, sizeof more, "...(%zu bytes)", n);
		my_buf_add(b, more, (size_t)ml);
	}
	my_buf_u8(b, '"');
}

static void json_printf(struct my_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_printf(struct my_buf *b, const char *fmt, ...)
{
	char tmp[96];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		my_buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static int param_value(struct wire_reader *r, uint16_t type, struct my_buf *j)
{
	int uns = (type >> 8) & 0x80;
	uint8_t t = (uint8_t)type;
	switch (t) {
	case MY_TYPE_TINY: {
		uint8_t v;
		if (wire_get_u8(r, &v) != 0)
			return -1;
		if (uns)
			json_printf(j, "%u", (unsigned)v);
		else
			json_printf(j, "%d", (int)(int8_t)v);
		return 0;
	}
	case MY_TYPE_SHORT:
	case MY_TYPE_YEAR: {
		uint16_t v;
		if (my_get_u16(r, &v) != 0)
			return -1;
		if (uns)
			json_printf(j, "%u", (unsigned)v);
		else
			json_printf(j, "%d", (int)(int16_t)v);
		return 0;
	}
	case MY_TYPE_LONG:
	case MY_TYPE_INT24: {
		uint32_t v;
		if (my_get_u32(r, &v) != 0)
			return -1;
		if (uns)
			json_printf(j, "%u", v);
		else
			json_printf(j, "%d", (int32_t)v);
		return 0;
	}
	case MY_TYPE_LONGLONG: {
		uint64_t v;
		if (my_get_u64(r, &v) != 0)
			return -1;
		if (uns)
			json_printf(j, "%llu", (unsigned long long)v);
		else
			json_printf(j, "%lld", (long long)(int64_t)v);
		return 0;
	}
	case MY_TYPE_FLOAT:
	case MY_TYPE_DOUBLE: {
		double d;
		if (t == MY_TYPE_FLOAT) {
			uint32_t v;
			float f;
			if (my_get_u32(r, &v) != 0)
				return -1;
			memcpy(&f, &v, 4);
			d = f;
		} else {
			uint64_t v;
			if (my_get_u64(r, &v) != 0)
				return -1;
			memcpy(&d, &v, 8);
		}
		if (isfinite(d))
			json_printf(j, "%.17g", d);
		else
			json_printf(j, "\"%s\"", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
		return 0;
	}
	case MY_TYPE_NULL:
		my_buf_add(j, "null", 4);
		return 0;
	case MY_TYPE_DATE:
	case MY_TYPE_DATETIME:
	case MY_TYPE_TIMESTAMP: {
		uint8_t len, mo = 0, d = 0, h = 0, mi = 0, s = 0;
		uint16_t y = 0;
		uint32_t us = 0;
		if (wire_get_u8(r, &len) != 0 || (len != 0 && len != 4 && len != 7 && len != 11))
			return -1;
		if (len >= 4 && (my_get_u16(r, &y) != 0 || wire_get_u8(r, &mo) != 0 ||
				 wire_get_u8(r, &d) != 0))
			return -1;
		if (len >= 7 && (wire_get_u8(r, &h) != 0 || wire_get_u8(r, &mi) != 0 ||
				 wire_get_u8(r, &s) != 0))
			return -1;
		if (len == 11 && my_get_u32(r, &us) != 0)
			return -1;
		if (t == MY_TYPE_DATE)
			json_printf(j, "\"%04u-%02u-%02u\"", y, mo, d);
		else if (us)
			json_printf(j, "\"%04u-%02u-%02u %02u:%02u:%02u.%06u\"", y, mo, d, h, mi, s,
				    us);
		else
			json_printf(j, "\"%04u-%02u-%02u %02u:%02u:%02u\"", y, mo, d, h, mi, s);
		return 0;
	}
	case MY_TYPE_TIME: {
		uint8_t len, neg = 0, h = 0, mi = 0, s = 0;
		uint32_t days = 0, us = 0;
		if (wire_get_u8(r, &len) != 0 || (len != 0 && len != 8 && len != 12))
			return -1;
		if (len >= 8 && (wire_get_u8(r, &neg) != 0 || my_get_u32(r, &days) != 0 ||
				 wire_get_u8(r, &h) != 0 || wire_get_u8(r, &mi) != 0 ||
				 wire_get_u8(r, &s) != 0))
			return -1;
		if (len == 12 && my_get_u32(r, &us) != 0)
			return -1;
		unsigned long long hours = (unsigned long long)days * 24 + h;
		if (us)
			json_printf(j, "\"%s%02llu:%02u:%02u.%06u\"", neg ? "-" : "", hours, mi, s, us);
		else
			json_printf(j, "\"%s%02llu:%02u:%02u\"", neg ? "-" : "", hours, mi, s);
		return 0;
	}
	default: {
		/* strings, decimals, blobs, JSON, enum, set, bit, geometry */
		const uint8_t *p;
		size_t len;
		if (my_get_lenenc_str(r, &p, &len) != 0)
			return -1;
		my_json_str(j, p, len, MY_PARAM_SHOW_MAX);
		return 0;
	}
	}
}

int my_parse_execute(const uint8_t *b, size_t n, uint16_t num_params, uint16_t *types,
		     int *types_known, const uint8_t *long_data, struct my_execute *out,
		     struct my_buf *json, char *err, size_t errlen)
{
	struct wire_reader r;
	uint8_t cmd;
	uint32_t iterations;
	memset(out, 0, sizeof *out);
	wire_reader_init(&r, b, n);
	if (wire_get_u8(&r, &cmd) != 0 || cmd != MY_COM_STMT_EXECUTE ||
	    my_get_u32(&r, &out->stmt_id) != 0 || wire_get_u8(&r, &out->flags) != 0 ||
	    my_get_u32(&r, &iterations) != 0) {
		snprintf(err, errlen, "truncated COM_STMT_EXECUTE");
		return -1;
	}
	my_buf_u8(json, '[');
	if (num_params == 0) {
		my_buf_u8(json, ']');
		return my_buf_ok(json) ? 0 : -1;
	}
	const uint8_t *nulls;
	uint8_t bound;
	size_t nb = ((size_t)num_params + 7) / 8;
	if (wire_get_bytes(&r, nb, &nulls) != 0 || wire_get_u8(&r, &bound) != 0) {
		snprintf(err, errlen, "truncated COM_STMT_EXECUTE parameters");
		return -1;
	}
	out->new_params_bound = bound == 1;
	if (bound == 1) {
		for (uint16_t i = 0; i < num_params; i++) {
			if (my_get_u16(&r, &types[i]) != 0) {
				snprintf(err, errlen, "truncated COM_STMT_EXECUTE parameter types");
				return -1;
			}
		}
		*types_known = 1;
	} else if (!*types_known) {
		snprintf(err, errlen, "COM_STMT_EXECUTE without parameter types");
		return -1;
	}
	for (uint16_t i = 0; i < num_params; i++) {
		if (i)
			my_buf_u8(json, ',');
		if (nulls[i / 8] & (1u << (i % 8))) {
			my_buf_add(json, "null", 4);
			continue;
		}
		if (long_data && long_data[i / 8] & (1u << (i % 8))) {
			my_buf_add(json, "\"<long data>\"", 13);
			continue;
		}
		if (param_value(&r, types[i], json) != 0) {
			snprintf(err, errlen, "malformed value of parameter %u (type %u)", i + 1,
				 (unsigned)(uint8_t)types[i]);
			return -1;
		}
	}
	my_buf_u8(json, ']');
	return my_buf_ok(json) ? 0 : -1;
}
