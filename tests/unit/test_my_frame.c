/* Unit tests for protocols/mysql/my_codec_frame.c: the packet and
 * multi-packet message peeks at every boundary (0..3 header bytes, empty
 * payloads, exact limit, limit + 1, 16 MiB - 1 continuations, sequence id
 * wrap and breaks), split at every byte, and over scattered evbuffers. */
#include <event2/buffer.h>
#include <stdlib.h>

#include "protocols/mysql/my_codec.h"
#include "unit.h"

static size_t put_packet(uint8_t *p, uint32_t len, uint8_t seq, uint8_t fill)
{
	p[0] = (uint8_t)len;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)(len >> 16);
	p[3] = seq;
	memset(p + 4, fill, len);
	return (size_t)len + 4;
}

static void test_packet(void)
{
	uint8_t p[64];
	struct my_frame f;
	put_packet(p, 0, 3, 0);
	for (size_t have = 0; have < MY_HEADER_LEN; have++) {
		CHECK(my_peek_packet(p, have, 10, &f) == MY_PEEK_AGAIN);
		CHECK(f.need == MY_HEADER_LEN);
	}
	/* an empty payload is a whole packet */
	CHECK(my_peek_packet(p, 4, 10, &f) == MY_PEEK_OK);
	CHECK(f.len == 0 && f.seq == 3 && f.raw == 4 && f.payload == 0 && f.packets == 1);
	/* exact limit, limit + 1 (refused from the header alone) */
	put_packet(p, 10, 7, 'a');
	CHECK(my_peek_packet(p, 4, 10, &f) == MY_PEEK_AGAIN);
	CHECK(f.need == 14 && f.len == 10 && f.seq == 7); /* header known on AGAIN */
	CHECK(my_peek_packet(p, 13, 10, &f) == MY_PEEK_AGAIN);
	CHECK(my_peek_packet(p, 14, 10, &f) == MY_PEEK_OK && f.raw == 14);
	CHECK(my_peek_packet(p, 64, 10, &f) == MY_PEEK_OK && f.raw == 14);
	put_packet(p, 11, 7, 'a');
	CHECK(my_peek_packet(p, 4, 10, &f) == MY_PEEK_INVALID && f.why == MY_FRAME_TOO_LONG);
	CHECK(f.len == 11);
	/* the largest 3-byte length (there are no negative ones) */
	p[0] = p[1] = p[2] = 0xFF;
	CHECK(my_peek_packet(p, 4, MY_MAX_PAYLOAD, &f) == MY_PEEK_AGAIN);
	CHECK(f.need == (size_t)MY_MAX_PAYLOAD + 4);
	CHECK(my_peek_packet(p, 4, MY_MAX_PAYLOAD - 1, &f) == MY_PEEK_INVALID);
}

static void test_message_small(void)
{
	uint8_t p[64];
	struct my_frame f;
	size_t n = put_packet(p, 5, 0, 'q');
	for (size_t have = 0; have < 4; have++)
		CHECK(my_peek_message(p, have, 100, &f) == MY_PEEK_AGAIN && f.need == 4);
	for (size_t have = 4; have < n; have++)
		CHECK(my_peek_message(p, have, 100, &f) == MY_PEEK_AGAIN && f.need == n);
	CHECK(my_peek_message(p, n, 100, &f) == MY_PEEK_OK);
	CHECK(f.packets == 1 && f.payload == 5 && f.raw == 9 && f.seq == 0);
	CHECK(my_peek_message(p, n, 5, &f) == MY_PEEK_OK);
	CHECK(my_peek_message(p, n, 4, &f) == MY_PEEK_INVALID && f.why == MY_FRAME_TOO_LONG);
	CHECK(my_peek_message(p, 4, 4, &f) == MY_PEEK_INVALID); /* before the body */
	put_packet(p, 0, 9, 0);
	CHECK(my_peek_message(p, 4, 0, &f) == MY_PEEK_OK && f.payload == 0 && f.seq == 9);
}

/* 16 MiB - 1 payloads continue; the run ends at the first shorter packet
 * (here empty, the case a payload of exactly 16 MiB - 1 needs). */
static void test_message_multi(void)
{
	const size_t full = MY_MAX_PAYLOAD;
	size_t cap = 2 * (full + 4) + 4 + 8;
	uint8_t *p = malloc(cap);
	CHECK(p != NULL);
	if (!p)
		return;
	size_t n = put_packet(p, MY_MAX_PAYLOAD, 255, 'a');
	n += put_packet(p + n, MY_MAX_PAYLOAD, 0, 'b'); /* 255 + 1 wraps to 0 */
	n += put_packet(p + n, 3, 1, 'c');
	struct my_frame f;
	CHECK(my_peek_message(p, n, 2 * full + 3, &f) == MY_PEEK_OK);
	CHECK(f.packets == 3 && f.payload == 2 * full + 3 && f.raw == n && f.seq == 255);
	CHECK(f.len == MY_MAX_PAYLOAD);
	/* the limit is on the sum, and known from the second header */
	CHECK(my_peek_message(p, n, 2 * full + 2, &f) == MY_PEEK_INVALID);
	CHECK(f.why == MY_FRAME_TOO_LONG && f.packets == 3);
	CHECK(my_peek_message(p, full + 8, full + 1, &f) == MY_PEEK_INVALID);
	CHECK(f.why == MY_FRAME_TOO_LONG && f.packets == 2);
	/* every prefix of the run is AGAIN, asking for more than is there */
	size_t probes[] = {0, 3, 4, full, full + 3, full + 4, full + 7, full + 8, 2 * full + 8,
			   2 * full + 11, 2 * full + 12, n - 1};
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		CHECK(my_peek_message(p, probes[i], 3 * full, &f) == MY_PEEK_AGAIN);
		CHECK(f.need > probes[i] && f.need <= n);
	}
	/* a broken sequence */
	p[full + 4 + 3] = 5;
	CHECK(my_peek_message(p, n, 3 * full, &f) == MY_PEEK_INVALID);
	CHECK(f.why == MY_FRAME_SEQUENCE && f.bad_seq == 5 && f.packets == 2);
	p[full + 4 + 3] = 0;

	/* the same over an evbuffer in scattered chains, and the gathered payload */
	struct evbuffer *b = evbuffer_new();
	const size_t cuts[] = {1, 2, 4096, full + 5, full + 6, 2 * full + 9};
	size_t at = 0;
	for (size_t i = 0; i <= sizeof cuts / sizeof cuts[0]; i++) {
		size_t end = i < sizeof cuts / sizeof cuts[0] ? cuts[i] : n;
		evbuffer_add_reference(b, p + at, end - at, NULL, NULL);
		at = end;
		enum my_peek r = my_peek_message_in(b, 3 * full, &f);
		CHECK(r == (at == n ? MY_PEEK_OK : MY_PEEK_AGAIN));
	}
	CHECK(f.packets == 3 && f.raw == n);
	uint8_t *copy;
	const uint8_t *pl = my_message_payload(b, &f, &copy);
	CHECK(pl != NULL && copy == pl);
	if (pl) {
		CHECK(pl[0] == 'a' && pl[full - 1] == 'a' && pl[full] == 'b');
		CHECK(pl[2 * full - 1] == 'b' && pl[2 * full] == 'c' && pl[2 * full + 2] == 'c');
	}
	free(copy);
	CHECK(evbuffer_get_length(b) == n); /* drains nothing */
	evbuffer_free(b);
	free(p);
}

/* Several messages back to back, fed one byte at a time: the boundaries
 * are the ones the whole stream gives, on contiguous memory and on an
 * evbuffer that grows by one-byte chains. */
static void test_split_every_byte(void)
{
	uint8_t s[128];
	size_t n = 0;
	const uint32_t lens[] = {0, 1, 17, 0, 40};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		n += put_packet(s + n, lens[i], (uint8_t)i, (uint8_t)('a' + i));
	size_t whole[8], nw = 0, at = 0;
	struct my_frame f;
	while (at < n && my_peek_message(s + at, n - at, 100, &f) == MY_PEEK_OK) {
		whole[nw++] = at + f.raw;
		at += f.raw;
	}
	CHECK(nw == 5 && at == n);
	struct evbuffer *b = evbuffer_new();
	size_t got = 0, got_in = 0, at_in = 0;
	at = 0;
	for (size_t have = 0; have <= n; have++) {
		if (have)
			evbuffer_add_reference(b, s + have - 1, 1, NULL, NULL);
		enum my_peek r;
		while ((r = my_peek_message(s + at, have - at, 100, &f)) == MY_PEEK_OK) {
			CHECK(got < nw && whole[got] == at + f.raw);
			got++;
			at += f.raw;
		}
		CHECK(r == MY_PEEK_AGAIN && at + f.need > have);
		while ((r = my_peek_message_in(b, 100, &f)) == MY_PEEK_OK) {
			CHECK(got_in < nw && whole[got_in] == at_in + f.raw);
			got_in++;
			at_in += f.raw;
			uint8_t *copy;
			const uint8_t *pl = my_message_payload(b, &f, &copy);
			CHECK(pl != NULL && copy == NULL);
			CHECK(f.payload == 0 || (pl && pl[0] == 'a' + got_in - 1));
			evbuffer_drain(b, f.raw);
		}
		CHECK(r == MY_PEEK_AGAIN);
	}
	CHECK(got == nw && got_in == nw);
	evbuffer_free(b);
}

static void test_head_evbuffer(void)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t h[MY_HEADER_LEN];
	struct my_frame f;
	CHECK(my_head(b, h) == 0);
	evbuffer_add(b, "\x02\x00", 2);
	CHECK(my_peek_packet(h, my_head(b, h), 10, &f) == MY_PEEK_AGAIN && f.need == 4);
	evbuffer_add(b, "\x00\x01x", 3);
	CHECK(my_peek_packet(h, my_head(b, h), 10, &f) == MY_PEEK_AGAIN && f.need == 6);
	evbuffer_add(b, "y", 1);
	CHECK(my_peek_packet(h, my_head(b, h), 10, &f) == MY_PEEK_OK);
	CHECK(f.len == 2 && f.seq == 1 && f.raw == 6);
	evbuffer_free(b);
}

int main(void)
{
	test_packet();
	test_message_small();
	test_message_multi();
	test_split_every_byte();
	test_head_evbuffer();
	return UNIT_DONE("test_my_frame");
}
