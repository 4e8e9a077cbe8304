/* libFuzzer target: PostgreSQL codec parsers on arbitrary bytes.
 * The first byte picks the parser; the rest is the packet or message body.
 * Every input is also read as a stream of messages (and of startup
 * packets) by the framing peeks, all at once, one byte at a time and in
 * random chunks of an evbuffer: all three must find the same boundaries
 * and stop at the same place for the same reason. */
#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_json.h"
#include "protocols/pgsql/pg_codec.h"
#include "protocols/pgsql/pg_params.h"

/* Bind and FunctionCall values: whatever parses renders as valid JSON. */
static void bind_and_function_call(const uint8_t *b, size_t n)
{
	struct pg_bind bd;
	struct pg_values args;
	uint32_t oid;
	const struct pg_values *v = NULL;
	if (pg_parse_bind(b, n, &bd) == 0)
		v = &bd.params;
	else if (pg_parse_function_call(b, n, &oid, &args) == 0)
		v = &args;
	if (!v)
		return;
	char *json = pg_values_json(v);
	if (json && !audit_json_valid(json, strlen(json)))
		abort();
	free(json);
}

/* ---- framing ---- */

#define MAX_MSGS 4096

struct walk {
	size_t ends[MAX_MSGS]; /* end offset of each whole message */
	size_t n;
	size_t stop;           /* where the walk stopped */
	enum pg_peek last;     /* AGAIN (ran out) or INVALID */
};

/* kind 0: typed messages up to max; kind 1: startup packets. */
static enum pg_peek peek_kind(int kind, const uint8_t *head, size_t have, size_t max,
			      struct pg_frame *f)
{
	return kind ? pg_peek_startup(head, have, f) : pg_peek_message(head, have, max, f);
}

static void record(struct walk *w, size_t end)
{
	if (w->n < MAX_MSGS)
		w->ends[w->n] = end;
	w->n++;
}

static void walk_whole(int kind, const uint8_t *s, size_t n, size_t max, struct walk *w)
{
	struct pg_frame f;
	size_t at = 0;
	for (;;) {
		enum pg_peek r = peek_kind(kind, s + at, n - at, max, &f);
		if (r != PG_PEEK_OK) {
			w->stop = at;
			w->last = r;
			if (r == PG_PEEK_AGAIN && at + f.need <= n)
				abort(); /* AGAIN must ask for more than is there */
			return;
		}
		if (f.total < f.hdr_len || f.total > n - at)
			abort();
		at += f.total;
		record(w, at);
	}
}

static void walk_bytes(int kind, const uint8_t *s, size_t n, size_t max, struct walk *w)
{
	struct pg_frame f;
	size_t at = 0;
	for (size_t have = 0; have <= n; have++) {
		for (;;) {
			enum pg_peek r = peek_kind(kind, s + at, have - at, max, &f);
			if (r == PG_PEEK_INVALID) {
				w->stop = at;
				w->last = r;
				return;
			}
			if (r == PG_PEEK_AGAIN) {
				if (at + f.need <= have)
					abort();
				break;
			}
			at += f.total;
			record(w, at);
		}
	}
	w->stop = at;
	w->last = PG_PEEK_AGAIN;
}

/* Random chunks, each its own evbuffer chain, peeked through pg_head(). */
static void walk_chunks(int kind, const uint8_t *s, size_t n, size_t max, uint32_t seed,
			struct walk *w)
{
	struct evbuffer *in = evbuffer_new();
	if (!in)
		abort();
	struct pg_frame f;
	size_t fed = 0, at = 0;
	w->last = PG_PEEK_AGAIN;
	while (w->last == PG_PEEK_AGAIN) {
		seed = seed * 1103515245u + 12345u;
		size_t chunk = (seed >> 16) % 9;
		if (chunk > n - fed)
			chunk = n - fed;
		if (chunk)
			evbuffer_add_reference(in, s + fed, chunk, NULL, NULL);
		fed += chunk;
		for (;;) {
			uint8_t h[PG_HEADER_LEN];
			enum pg_peek r = peek_kind(kind, h, pg_head(in, h), max, &f);
			if (r == PG_PEEK_INVALID) {
				w->last = r;
				break;
			}
			if (r == PG_PEEK_AGAIN)
				break;
			evbuffer_drain(in, f.total);
			at += f.total;
			record(w, at);
		}
		if (fed == n)
			break;
	}
	w->stop = at;
	evbuffer_free(in);
}

static void same(const struct walk *a, const struct walk *b)
{
	if (a->n != b->n || a->stop != b->stop || a->last != b->last)
		abort();
	for (size_t i = 0; i < a->n && i < MAX_MSGS; i++)
		if (a->ends[i] != b->ends[i])
			abort();
}

static void framing(const uint8_t *data, size_t size)
{
	static struct walk w1, w2, w3;
	size_t max = 4 + (size_t)data[0] * 37; /* 4 .. 9439: small enough to reach */
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
	if (size < 1)
		return 0;
	framing(data, size);
	const uint8_t *b = data + 1;
	size_t n = size - 1;
	const char *s1, *s2;
	size_t l;
	uint32_t u1, u2;
	const uint8_t *p;
	char kind, err[160];
	switch (data[0] % 10) {
	case 0: {
		struct pg_startup su;
		(void)pg_parse_startup(b, n, &su, err, sizeof err);
		break;
	}
	case 1: (void)pg_parse_query(b, n, &s1, &l); break;
	case 2: (void)pg_parse_parse(b, n, &s1, &s2, &l); break;
	case 3: bind_and_function_call(b, n); break;
	case 4: (void)pg_parse_execute(b, n, &s1); break;
	case 5: (void)pg_parse_target(b, n, &kind, &s1); break;
	case 6: (void)pg_parse_auth(b, n, &u1, &p, &l); break;
	case 7: (void)pg_parse_sasl_initial(b, n, &s1, &p, &l); break;
	case 8: (void)pg_command_rows(b, n); break;
	case 9:
		(void)pg_error_field(b, n, 'M', &s1, &l);
		(void)pg_parse_backend_key(b, n, &u1, &u2);
		break;
	}
	return 0;
}
