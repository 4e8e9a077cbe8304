/* Unit tests for protocols/pgsql/pg_codec_frame.c: the resumable peeks at
 * every boundary (0..n header bytes, minimum, exact limit, limit + 1, zero
 * and negative lengths) and a stream split at every byte, which must give
 * the same message boundaries as the whole stream at once. */
#include <event2/buffer.h>
#include <stdlib.h>

#include "protocols/pgsql/pg_codec.h"
#include "unit.h"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void test_header_bytes(void)
{
	uint8_t m[PG_HEADER_LEN] = {'Q'};
	put_be32(m + 1, 4);
	struct pg_frame f;
	for (size_t have = 0; have < PG_HEADER_LEN; have++) {
		CHECK(pg_peek_header(m, have, 100, &f) == PG_PEEK_AGAIN);
		CHECK(f.need == PG_HEADER_LEN);
		CHECK(pg_peek_message(m, have, 100, &f) == PG_PEEK_AGAIN);
		CHECK(f.need == PG_HEADER_LEN);
	}
	CHECK(pg_peek_message(m, PG_HEADER_LEN, 100, &f) == PG_PEEK_OK);
	CHECK(f.type == 'Q' && f.len == 4 && f.total == 5 && f.hdr_len == 5 && f.need == 0);
}

static void test_lengths(void)
{
	uint8_t m[PG_HEADER_LEN] = {'P'};
	struct pg_frame f;
	/* below the minimum: 0..3, and "negative" int32 values */
	const uint32_t bad[] = {0, 1, 3, 0x80000000u, 0xFFFFFFFFu};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put_be32(m + 1, bad[i]);
		CHECK(pg_peek_header(m, 5, 1000, &f) == PG_PEEK_INVALID);
		CHECK(f.len == bad[i]);
		CHECK(pg_peek_message(m, 5, 1000, &f) == PG_PEEK_INVALID);
		CHECK(f.len == bad[i]);
	}
	/* the limit: exact passes, one more is refused before any body */
	put_be32(m + 1, 1000);
	CHECK(pg_peek_header(m, 5, 1000, &f) == PG_PEEK_OK);
	CHECK(f.total == 1001);
	CHECK(pg_peek_message(m, 5, 1000, &f) == PG_PEEK_AGAIN);
	CHECK(f.need == 1001);
	CHECK(pg_peek_message(m, 1000, 1000, &f) == PG_PEEK_AGAIN);
	CHECK(pg_peek_message(m, 1001, 1000, &f) == PG_PEEK_OK);
	CHECK(pg_peek_message(m, 5000, 1000, &f) == PG_PEEK_OK && f.total == 1001);
	put_be32(m + 1, 1001);
	CHECK(pg_peek_header(m, 5, 1000, &f) == PG_PEEK_INVALID);
	CHECK(pg_peek_message(m, 5000, 1000, &f) == PG_PEEK_INVALID && f.len == 1001);
	/* the named limits */
	put_be32(m + 1, PG_AUTH_MESSAGE_MAX);
	CHECK(pg_peek_header(m, 5, PG_AUTH_MESSAGE_MAX, &f) == PG_PEEK_OK);
	put_be32(m + 1, PG_AUTH_MESSAGE_MAX + 1);
	CHECK(pg_peek_header(m, 5, PG_AUTH_MESSAGE_MAX, &f) == PG_PEEK_INVALID);
	put_be32(m + 1, PG_CONTROL_MESSAGE_MAX + 1);
	CHECK(pg_peek_header(m, 5, PG_CONTROL_MESSAGE_MAX, &f) == PG_PEEK_INVALID);
	/* the largest length field, with no limit but the type's */
	put_be32(m + 1, 0xFFFFFFFFu);
	CHECK(pg_peek_header(m, 5, 0xFFFFFFFFu, &f) == PG_PEEK_OK);
	CHECK(f.total == (size_t)0xFFFFFFFFu + 1);
}

static void test_startup(void)
{
	static uint8_t p[PG_STARTUP_MAX + 8];
	struct pg_frame f;
	put_be32(p, 8);
	put_be32(p + 4, PG_SSL_REQUEST);
	for (size_t have = 0; have < 4; have++) {
		CHECK(pg_peek_startup(p, have, &f) == PG_PEEK_AGAIN);
		CHECK(f.need == 4);
	}
	for (size_t have = 4; have < 8; have++) {
		CHECK(pg_peek_startup(p, have, &f) == PG_PEEK_AGAIN);
		CHECK(f.need == 8);
	}
	CHECK(pg_peek_startup(p, 8, &f) == PG_PEEK_OK);
	CHECK(f.type == 0 && f.len == 8 && f.total == 8 && f.hdr_len == 4);
	const uint32_t bad[] = {0, 4, 7, 0x80000000u, 0xFFFFFFFFu, PG_STARTUP_MAX + 1};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put_be32(p, bad[i]);
		CHECK(pg_peek_startup(p, sizeof p, &f) == PG_PEEK_INVALID);
		CHECK(f.len == bad[i]);
		CHECK(pg_peek_startup(p, 4, &f) == PG_PEEK_INVALID); /* known from the header */
	}
	put_be32(p, PG_STARTUP_MAX);
	CHECK(pg_peek_startup(p, PG_STARTUP_MAX - 1, &f) == PG_PEEK_AGAIN);
	CHECK(f.need == PG_STARTUP_MAX);
	CHECK(pg_peek_startup(p, PG_STARTUP_MAX, &f) == PG_PEEK_OK);
}

/* A stream of messages, each boundary found by peeking growing prefixes
 * one byte at a time must be where the whole stream puts it. */
static void test_split_every_byte(void)
{
	uint8_t s[64];
	size_t n = 0;
	const size_t bodies[] = {0, 1, 7, 0, 20};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		s[n] = (uint8_t)('A' + i);
		put_be32(s + n + 1, (uint32_t)(4 + bodies[i]));
		memset(s + n + 5, 'x', bodies[i]);
		n += 5 + bodies[i];
	}
	size_t whole[8], nw = 0, at = 0;
	struct pg_frame f;
	while (pg_peek_message(s + at, n - at, 64, &f) == PG_PEEK_OK) {
		whole[nw++] = at + f.total;
		at += f.total;
	}
	CHECK(nw == 5 && at == n);
	size_t got = 0;
	at = 0;
	for (size_t have = 0; have <= n; have++) {
		enum pg_peek r;
		while ((r = pg_peek_message(s + at, have - at, 64, &f)) == PG_PEEK_OK) {
			CHECK(got < nw && whole[got] == at + f.total);
			got++;
			at += f.total;
		}
		CHECK(r == PG_PEEK_AGAIN);
		CHECK(at + f.need > have); /* AGAIN always asks for more than there is */
	}
	CHECK(got == nw);
}

/* pg_head copies the header across evbuffer chains and reports the total. */
static void test_head_evbuffer(void)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t h[PG_HEADER_LEN];
	memset(h, 0xAA, sizeof h);
	CHECK(pg_head(b, h) == 0);
	CHECK(h[0] == 0xAA);
	static const uint8_t part1[] = {'Q', 0, 0}, part2[] = {0, 10, 'a', 'b', 'c', 'd', 0};
	evbuffer_add_reference(b, part1, sizeof part1, NULL, NULL);
	struct pg_frame f;
	CHECK(pg_peek_message(h, pg_head(b, h), 100, &f) == PG_PEEK_AGAIN);
	evbuffer_add_reference(b, part2, sizeof part2, NULL, NULL);
	CHECK(pg_peek_message(h, pg_head(b, h), 100, &f) == PG_PEEK_AGAIN && f.need == 11);
	evbuffer_add(b, "", 1);
	CHECK(pg_peek_message(h, pg_head(b, h), 100, &f) == PG_PEEK_OK);
	CHECK(f.type == 'Q' && f.total == 11);
	evbuffer_free(b);
}

int main(void)
{
	test_header_bytes();
	test_lengths();
	test_startup();
	test_split_every_byte();
	test_head_evbuffer();
	return UNIT_DONE("test_pg_frame");
}
