/* libFuzzer target: a server's token stream as the relay walks it on the
 * way to the client (tds_tokens.h). The same bytes fed all at once, one
 * byte at a time and in chunks picked by the input must give the same
 * reports (DONE counts and flags, errors, return values) and the same
 * give-up point: the walker's state never depends on how the stream was
 * cut into packets. The first byte picks TDS 7.1 or 7.2+ and the chunking. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tds/tds_tokens.h"

struct trace {
	uint64_t h; /* a running hash of the reports */
	unsigned n;
};

static void mix(struct trace *t, uint64_t v)
{
	t->h = (t->h ^ v) * 0x100000001b3ull;
	t->n++;
}

static void on_done(void *ctx, uint8_t token, uint16_t status, uint64_t rows)
{
	mix(ctx, token);
	mix(ctx, status);
	mix(ctx, rows);
}

static void on_error(void *ctx, uint32_t number, uint8_t cls, const char *msg)
{
	mix(ctx, number);
	mix(ctx, cls);
	mix(ctx, strlen(msg));
}

static void on_retval(void *ctx, uint16_t ordinal, const struct tds_type *t, const uint8_t *v,
		      size_t n, int is_null)
{
	mix(ctx, ordinal);
	mix(ctx, t->id);
	mix(ctx, n);
	mix(ctx, (uint64_t)is_null);
	for (size_t i = 0; v && i < n; i++)
		mix(ctx, v[i]);
}

static void on_token(void *ctx, uint8_t token, const uint8_t *b, size_t n)
{
	mix(ctx, token);
	mix(ctx, n);
}

static const struct tds_walk_ops ops = {on_done, on_error, on_retval, on_token};

static void run(const uint8_t *p, size_t n, int tds71, size_t chunk, const uint8_t *cuts,
		size_t ncuts, struct trace *t, int *broken, uint64_t *rows)
{
	struct tds_walker w;
	memset(t, 0, sizeof *t);
	if (tds_walker_init(&w, &ops, t) != 0)
		abort();
	w.tds71 = tds71;
	size_t at = 0, k = 0;
	while (at < n) {
		size_t step = chunk ? chunk : 1 + (ncuts ? cuts[k++ % ncuts] : 0);
		if (step > n - at)
			step = n - at;
		(void)tds_walker_feed(&w, p + at, step);
		at += step;
	}
	*broken = w.broken;
	*rows = w.rows_seen;
	tds_walker_end(&w);
	tds_walker_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int tds71 = data[0] & 1;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct trace a, b, c;
	int ba, bb, bc;
	uint64_t ra, rb, rc;
	run(p, n, tds71, n ? n : 1, NULL, 0, &a, &ba, &ra);
	run(p, n, tds71, 1, NULL, 0, &b, &bb, &rb);
	run(p, n, tds71, 0, p, n < 16 ? n : 16, &c, &bc, &rc);
	if (a.h != b.h || a.n != b.n || ba != bb || ra != rb)
		abort();
	if (a.h != c.h || a.n != c.n || ba != bc || ra != rc)
		abort();
	return 0;
}
