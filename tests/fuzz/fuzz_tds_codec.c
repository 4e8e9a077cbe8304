/* libFuzzer target: the TDS login parsers on arbitrary bytes, the packets
 * a hostile client or server could send before any login succeeded. The
 * first byte picks the parser; the rest is the payload.
 *   0: PRELOGIN (client's or server's), and a rebuilt PRELOGIN must parse
 *      to the encryption it was built with;
 *   1: LOGIN7: a LOGIN7 the proxy rebuilds from what it parsed (another
 *      user and password) must parse again with the same kept fields;
 *   2: UTF-16 to UTF-8 and back (what the proxy decides on).
 *   3: a packet header and the framing of a payload into packets. */
#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tds/tds_codec.h"

static void prelogin(const uint8_t *p, size_t n)
{
	struct tds_prelogin pl;
	(void)tds_prelogin_parse(p, n, &pl);
	for (uint8_t enc = 0; enc <= TDS_ENCRYPT_REQ; enc++) {
		struct tds_buf b;
		tds_buf_init(&b);
		tds_prelogin_build(&b, enc, n & 1);
		if (b.oom || tds_prelogin_parse(b.p, b.len, &pl) != 0 || !pl.has_encrypt ||
		    pl.encrypt != enc || pl.mars)
			abort();
		tds_buf_free(&b);
	}
}

static void login7(const uint8_t *p, size_t n)
{
	struct tds_login7 l;
	char err[160];
	if (tds_login7_parse(p, n, &l, err, sizeof err) != 0)
		return;
	struct tds_buf b;
	tds_buf_init(&b);
	tds_login7_build(&b, &l, "hosted_user", "s3cret-ünï");
	if (!b.oom) {
		struct tds_login7 again;
		if (tds_login7_parse(b.p, b.len, &again, err, sizeof err) != 0)
			abort();
		char *u = tds_login7_field(&again, TDS_L_USER);
		char *pw = tds_login7_field(&again, TDS_L_PASSWORD);
		if (!u || !pw || strcmp(u, "hosted_user") != 0 || strcmp(pw, "s3cret-ünï") != 0)
			abort();
		free(u);
		free(pw);
		for (int f = 0; f < TDS_L_NFIELDS; f++) {
			if (f == TDS_L_USER || f == TDS_L_PASSWORD)
				continue;
			if (again.f[f].n != l.f[f].n ||
			    (l.f[f].n && memcmp(again.f[f].p, l.f[f].p, l.f[f].n) != 0))
				abort();
		}
		if (again.features_len != l.features_len || again.sspi || again.change_password)
			abort();
		tds_login7_free(&again);
	}
	tds_buf_free(&b);
	tds_login7_free(&l);
}

static void text(const uint8_t *p, size_t n)
{
	size_t ol;
	char *u = tds_utf16_to_utf8(p, n, &ol);
	if (!u)
		return;
	if (strlen(u) > ol)
		abort();
	struct tds_buf b;
	tds_buf_init(&b);
	tds_buf_utf16(&b, u, ol);
	if (!b.oom) {
		size_t ol2;
		char *u2 = tds_utf16_to_utf8(b.p, b.len, &ol2);
		/* valid UTF-8 goes to UTF-16 and back unchanged */
		if (u2 && (ol2 != ol || memcmp(u, u2, ol) != 0))
			abort();
		free(u2);
	}
	tds_buf_free(&b);
	free(u);
}

static void framing(const uint8_t *p, size_t n)
{
	if (n >= TDS_HEADER_LEN) {
		struct tds_header h;
		if (tds_header_parse(p, &h) == 0 && h.len < TDS_HEADER_LEN)
			abort();
	}
	struct evbuffer *out = evbuffer_new();
	if (!out)
		return;
	size_t pkt = 9 + (n ? p[0] : 0) * 7;
	if (tds_put_packets(out, TDS_PKT_REPLY, p, n, pkt) == 0) {
		size_t got = 0, total = evbuffer_get_length(out);
		uint8_t *all = evbuffer_pullup(out, -1);
		size_t at = 0;
		int eom = 0;
		while (at < total) {
			struct tds_header h;
			if (eom || total - at < TDS_HEADER_LEN || tds_header_parse(all + at, &h) != 0 ||
			    h.len > total - at)
				abort();
			if (memcmp(all + at + TDS_HEADER_LEN, p + got, h.len - TDS_HEADER_LEN) != 0)
				abort();
			got += h.len - TDS_HEADER_LEN;
			eom = h.status & TDS_STATUS_EOM;
			at += h.len;
		}
		if (got != n || !eom)
			abort();
	}
	evbuffer_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] & 3) {
	case 0: prelogin(p, n); break;
	case 1: login7(p, n); break;
	case 2: text(p, n); break;
	default: framing(p, n); break;
	}
	return 0;
}
