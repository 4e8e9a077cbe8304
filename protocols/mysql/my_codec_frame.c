/* my_codec_frame: where one MySQL packet, and one logical message of
 * several packets, ends, from the bytes buffered so far (see "framing" in
 * my_codec.h).
 *
 * Only headers are read. The message scan takes its headers from a small
 * reader so the same loop serves contiguous memory (tests, fuzzing) and an
 * evbuffer whose bytes are scattered over chains (the relay), where only
 * the 4-byte headers are copied out.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/mysql/my_codec.h"

static void frame_reset(struct my_frame *f)
{
	memset(f, 0, sizeof *f);
	f->need = MY_HEADER_LEN;
}

/* The header at head (have >= MY_HEADER_LEN) into *f: AGAIN to go on, or
 * INVALID when its length is over max_len. */
static enum my_peek take_header(const uint8_t *head, size_t max_len, struct my_frame *f)
{
	my_header(head, &f->len, &f->seq);
	f->packets = 1;
	f->payload = f->len;
	f->raw = (size_t)f->len + MY_HEADER_LEN;
	if (f->len > max_len) {
		f->why = MY_FRAME_TOO_LONG;
		return MY_PEEK_INVALID;
	}
	return MY_PEEK_AGAIN;
}

enum my_peek my_peek_packet(const uint8_t *head, size_t have, size_t max_len, struct my_frame *f)
{
	frame_reset(f);
	if (have < MY_HEADER_LEN)
		return MY_PEEK_AGAIN;
	if (take_header(head, max_len, f) == MY_PEEK_INVALID)
		return MY_PEEK_INVALID;
	if (have < f->raw) {
		f->need = f->raw;
		return MY_PEEK_AGAIN;
	}
	f->need = 0;
	return MY_PEEK_OK;
}

/* Where the scan gets the header at a given offset (have > off + 3). */
struct hdr_src {
	const uint8_t *buf;  /* contiguous, or NULL */
	struct evbuffer *in; /* else this */
};

static int header_at(const struct hdr_src *src, size_t off, uint8_t h[MY_HEADER_LEN])
{
	if (src->buf) {
		memcpy(h, src->buf + off, MY_HEADER_LEN);
		return 0;
	}
	struct evbuffer_ptr pos;
	if (evbuffer_ptr_set(src->in, &pos, off, EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_copyout_from(src->in, &pos, h, MY_HEADER_LEN) != MY_HEADER_LEN)
		return -1;
	return 0;
}

static enum my_peek scan(const struct hdr_src *src, size_t have, size_t max_payload,
			 struct my_frame *f)
{
	frame_reset(f);
	for (;;) {
		uint8_t h[MY_HEADER_LEN];
		uint32_t pl;
		uint8_t ps;
		f->need = f->raw + MY_HEADER_LEN;
		if (have < f->need || header_at(src, f->raw, h) != 0)
			return MY_PEEK_AGAIN;
		my_header(h, &pl, &ps);
		if (f->packets == 0) {
			f->len = pl;
			f->seq = ps;
		} else if (ps != (uint8_t)(f->seq + f->packets)) {
			f->packets++;
			f->bad_seq = ps;
			f->why = MY_FRAME_SEQUENCE;
			return MY_PEEK_INVALID;
		}
		f->packets++;
		f->payload += pl;
		f->raw += (size_t)pl + MY_HEADER_LEN;
		if (f->payload > max_payload) {
			f->why = MY_FRAME_TOO_LONG;
			return MY_PEEK_INVALID;
		}
		if (have < f->raw) {
			f->need = f->raw;
			return MY_PEEK_AGAIN;
		}
		if (pl < MY_MAX_PAYLOAD)
			break;
	}
	f->need = 0;
	return MY_PEEK_OK;
}

enum my_peek my_peek_message(const uint8_t *buf, size_t have, size_t max_payload,
			     struct my_frame *f)
{
	struct hdr_src src = {.buf = buf};
	return scan(&src, have, max_payload, f);
}

enum my_peek my_peek_message_in(struct evbuffer *in, size_t max_payload, struct my_frame *f)
{
	struct hdr_src src = {.in = in};
	return scan(&src, evbuffer_get_length(in), max_payload, f);
}

const uint8_t *my_message_payload(struct evbuffer *in, const struct my_frame *f, uint8_t **copy)
{
	*copy = NULL;
	if (f->packets == 1) {
		uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)f->raw);
		return m ? m + MY_HEADER_LEN : NULL;
	}
	uint8_t *dst = malloc(f->payload ? f->payload : 1);
	if (!dst)
		return NULL;
	size_t off = 0, at = 0;
	while (off < f->payload) {
		uint8_t h[MY_HEADER_LEN], ps;
		uint32_t pl;
		struct evbuffer_ptr pos;
		if (evbuffer_ptr_set(in, &pos, at, EVBUFFER_PTR_SET) != 0 ||
		    evbuffer_copyout_from(in, &pos, h, MY_HEADER_LEN) != MY_HEADER_LEN)
			goto fail;
		my_header(h, &pl, &ps);
		if (pl > f->payload - off ||
		    evbuffer_ptr_set(in, &pos, at + MY_HEADER_LEN, EVBUFFER_PTR_SET) != 0 ||
		    evbuffer_copyout_from(in, &pos, dst + off, pl) != (ev_ssize_t)pl)
			goto fail;
		off += pl;
		at += (size_t)pl + MY_HEADER_LEN;
	}
	*copy = dst;
	return dst;
fail:
	free(dst);
	return NULL;
}

size_t my_head(struct evbuffer *in, uint8_t head[MY_HEADER_LEN])
{
	size_t have = evbuffer_get_length(in);
	if (have)
		(void)evbuffer_copyout(in, head, have < MY_HEADER_LEN ? have : MY_HEADER_LEN);
	return have;
}

enum my_peek my_peek_head_in(struct evbuffer *in, size_t max_len, struct my_frame *f,
			     uint8_t *first)
{
	uint8_t h[MY_HEADER_LEN + 1];
	size_t have = evbuffer_get_length(in);
	frame_reset(f);
	if (first)
		*first = 0;
	if (have < MY_HEADER_LEN)
		return MY_PEEK_AGAIN;
	(void)evbuffer_copyout(in, h, have < sizeof h ? have : sizeof h);
	if (take_header(h, max_len, f) == MY_PEEK_INVALID)
		return MY_PEEK_INVALID;
	if (first && f->len > 0) {
		if (have < sizeof h) {
			f->need = sizeof h;
			return MY_PEEK_AGAIN;
		}
		*first = h[MY_HEADER_LEN];
	}
	f->need = 0;
	return MY_PEEK_OK;
}

enum my_peek my_peek_packet_in(struct evbuffer *in, size_t max_len, struct my_frame *f,
			       const uint8_t **payload)
{
	uint8_t h[MY_HEADER_LEN];
	*payload = NULL;
	enum my_peek r = my_peek_packet(h, my_head(in, h), max_len, f);
	if (r == MY_PEEK_OK) {
		uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)f->raw);
		*payload = m ? m + MY_HEADER_LEN : NULL;
	}
	return r;
}
