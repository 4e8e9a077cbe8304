/* libFuzzer target: MySQL/MariaDB codec parsers on arbitrary bytes, the
 * packets a hostile client or server could send. The first byte picks the
 * parser; the rest is the packet payload.
 * Every input is also read as a stream of logical messages (multi-packet
 * runs included) and of single packets by the framing peeks: all at once,
 * one byte at a time, and in random chunks of an evbuffer must find the
 * same boundaries and stop at the same place for the same reason, and a
 * message's gathered payload must be its packets' payloads in order. */
#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/mysql/my_codec.h"

/* ---- framing ---- */

#define MAX_MSGS 4096

struct walk {
	size_t ends[MAX_MSGS];
	size_t n;
	size_t stop;
	enum my_peek last;
	enum my_frame_error why;
};

static enum my_peek peek_kind(int kind, const uint8_t *s, size_t have, size_t max,
			      struct my_frame *f)
{
	return kind ? my_peek_packet(s, have, max, f) : my_peek_message(s, have, max, f);
}

static void record(struct walk *w, size_t end)
{
	if (w->n < MAX_MSGS)
		w->ends[w->n] = end;
	w->n++;
}

/* The payload of the message at s (f peeked OK), gathered the slow way. */
static void check_payload(const uint8_t *s, const struct my_frame *f, const uint8_t *pl)
{
	size_t at = 0, off = 0;
	for (unsigned i = 0; i < f->packets; i++) {
		uint32_t len;
		uint8_t seq;
		my_header(s + at, &len, &seq);
		if (seq != (uint8_t)(f->seq + i) || (len && memcmp(pl + off, s + at + 4, len) != 0))
			abort();
		off += len;
		at += (size_t)len + 4;
	}
	if (off != f->payload || at != f->raw)
		abort();
}

static void walk_whole(int kind, const uint8_t *s, size_t n, size_t max, struct walk *w)
{
	struct my_frame f;
	size_t at = 0;
	for (;;) {
		enum my_peek r = peek_kind(kind, s + at, n - at, max, &f);
		if (r != MY_PEEK_OK) {
			w->stop = at;
			w->last = r;
			w->why = f.why;
			if (r == MY_PEEK_AGAIN && at + f.need <= n)
				abort();
			return;
		}
		if (f.raw > n - at || f.payload > max || f.raw != f.payload + 4 * (size_t)f.packets)
			abort();
		at += f.raw;
		record(w, at);
	}
}

static void walk_bytes(int kind, const uint8_t *s, size_t n, size_t max, struct walk *w)
{
	struct my_frame f;
	size_t at = 0;
	for (size_t have = 0; have <= n; have++) {
		for (;;) {
			enum my_peek r = peek_kind(kind, s + at, have - at, max, &f);
			if (r == MY_PEEK_INVALID) {
				w->stop = at;
				w->last = r;
				w->why = f.why;
				return;
			}
			if (r == MY_PEEK_AGAIN) {
				if (at + f.need <= have)
					abort();
				break;
			}
			at += f.raw;
			record(w, at);
		}
	}
	w->stop = at;
	w->last = MY_PEEK_AGAIN;
	w->why = MY_FRAME_NONE;
}

/* Random chunks, each its own chain: the message peek reads headers across
 * chains, the packet peek goes through my_head(). */
static void walk_chunks(int kind, const uint8_t *s, size_t n, size_t max, uint32_t seed,
			struct walk *w)
{
	struct evbuffer *in = evbuffer_new();
	if (!in)
		abort();
	struct my_frame f;
	size_t fed = 0, at = 0;
	w->last = MY_PEEK_AGAIN;
	w->why = MY_FRAME_NONE;
	for (;;) {
		seed = seed * 1103515245u + 12345u;
		size_t chunk = (seed >> 16) % 9;
		if (chunk > n - fed)
			chunk = n - fed;
		if (chunk)
			evbuffer_add_reference(in, s + fed, chunk, NULL, NULL);
		fed += chunk;
		for (;;) {
			const uint8_t *pl1 = NULL;
			enum my_peek r = kind ? my_peek_packet_in(in, max, &f, &pl1)
					      : my_peek_message_in(in, max, &f);
			if (kind) {
				/* the header peek agrees with the packet peek */
				struct my_frame g;
				uint8_t first;
				enum my_peek rh = my_peek_head_in(in, max, &g, &first);
				if ((r == MY_PEEK_INVALID) != (rh == MY_PEEK_INVALID))
					abort();
				if (r == MY_PEEK_OK &&
				    (rh != MY_PEEK_OK || g.len != f.len || g.seq != f.seq ||
				     g.raw != f.raw || first != (f.len ? s[at + MY_HEADER_LEN] : 0) ||
				     !pl1 || memcmp(pl1, s + at + MY_HEADER_LEN, f.len) != 0))
					abort();
			}
			if (r == MY_PEEK_INVALID) {
				w->last = r;
				w->why = f.why;
				break;
			}
			if (r == MY_PEEK_AGAIN)
				break;
			if (!kind) {
				uint8_t *copy;
				const uint8_t *pl = my_message_payload(in, &f, &copy);
				if (!pl)
					abort();
				check_payload(s + at, &f, pl);
				free(copy);
			}
			evbuffer_drain(in, f.raw);
			at += f.raw;
			record(w, at);
		}
		if (w->last == MY_PEEK_INVALID || fed == n)
			break;
	}
	w->stop = at;
	evbuffer_free(in);
}

static void same(const struct walk *a, const struct walk *b)
{
	if (a->n != b->n || a->stop != b->stop || a->last != b->last || a->why != b->why)
		abort();
	for (size_t i = 0; i < a->n && i < MAX_MSGS; i++)
		if (a->ends[i] != b->ends[i])
			abort();
}

static void framing(const uint8_t *data, size_t size)
{
	static struct walk w1, w2, w3;
	size_t max = (size_t)data[0] * 29; /* 0 .. 7395: small enough to reach */
	uint32_t seed = size > 1 ? data[1] : 7;
	for (int kind = 0; kind < 2; kind++) {
		w1.n = w2.n = w3.n = 0;
		walk_whole(kind, data, size, max, &w1);
		walk_bytes(kind, data, size, max, &w2);
		walk_chunks(kind, data, size, max, seed, &w3);
		same(&w1, &w2);
		same(&w1, &w3);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 1)
		framing(data, size);
	if (size < 2)
		return 0;
	const uint8_t *b = data + 2;
	size_t n = size - 2;
	char err[160], state[MY_SQLSTATE_LEN + 1];
	const char *s;
	const uint8_t *p;
	size_t l;
	uint16_t code;
	uint64_t count;
	switch (data[0] % 9) {
	case 0: {
		struct my_handshake h;
		(void)my_parse_handshake(b, n, &h, err, sizeof err);
		break;
	}
	case 1: {
		struct my_hs_response r;
		(void)my_parse_hs_response(b, n, &r, err, sizeof err);
		break;
	}
	case 2: {
		struct my_ok ok;
		(void)my_parse_ok(b, n, &ok);
		(void)my_is_eof(b, n, data[1] & 1);
		break;
	}
	case 3: (void)my_parse_err(b, n, &code, state, &s, &l); break;
	case 4: (void)my_parse_auth_switch(b, n, &s, &p, &l); break;
	case 5: (void)my_parse_column_count(b, n, &count); break;
	case 6: {
		struct my_prepare_ok po;
		(void)my_parse_prepare_ok(b, n, &po);
		break;
	}
	default: {
		/* COM_STMT_EXECUTE with up to 16 parameters whose types may or may
		 * not be known yet (as on the first execute). */
		uint16_t nparams = data[1] & 15, types[16];
		int known = data[1] >> 7;
		uint8_t long_data[2] = {0, 0};
		memset(types, 0, sizeof types);
		struct my_execute ex;
		struct my_buf json;
		my_buf_init(&json);
		(void)my_parse_execute(b, n, nparams, types, &known, long_data, &ex, &json, err,
				       sizeof err);
		my_buf_free(&json);
		break;
	}
	}
	return 0;
}
