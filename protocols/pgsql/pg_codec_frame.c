/* pg_codec_frame: where one PostgreSQL message ends, from the bytes
 * buffered so far (see "framing" in pg_codec.h).
 *
 * Every message after startup is a type byte and an int32 length that
 * counts itself but not the type byte; startup-phase packets have no type
 * byte ("Message Formats", StartupMessage). These functions only read the
 * header and compare lengths: they never consume, copy or allocate, so the
 * relay can stream a long body and the login can hold a short one.
 */
#include <event2/buffer.h>

#include "protocols/pgsql/pg_codec.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The shared part: header at head (hdr_len bytes, the length last), a
 * length in [min_len, max_len]; whole = the message must be buffered. */
static enum pg_peek peek(const uint8_t *head, size_t have, size_t hdr_len, uint32_t min_len,
			 size_t max_len, int whole, struct pg_frame *f)
{
	f->type = hdr_len == PG_HEADER_LEN && have ? (char)head[0] : '\0';
	f->hdr_len = hdr_len;
	f->len = 0;
	f->total = 0;
	f->need = hdr_len;
	if (have < hdr_len)
		return PG_PEEK_AGAIN;
	f->len = be32(head + hdr_len - 4);
	if (f->len < min_len || f->len > max_len)
		return PG_PEEK_INVALID;
	f->total = (size_t)f->len + (hdr_len - 4);
	if (whole && have < f->total) {
		f->need = f->total;
		return PG_PEEK_AGAIN;
	}
	f->need = 0;
	return PG_PEEK_OK;
}

enum pg_peek pg_peek_header(const uint8_t *head, size_t have, size_t max_len, struct pg_frame *f)
{
	return peek(head, have, PG_HEADER_LEN, 4, max_len, 0, f);
}

enum pg_peek pg_peek_message(const uint8_t *head, size_t have, size_t max_len, struct pg_frame *f)
{
	return peek(head, have, PG_HEADER_LEN, 4, max_len, 1, f);
}

enum pg_peek pg_peek_startup(const uint8_t *head, size_t have, struct pg_frame *f)
{
	return peek(head, have, PG_STARTUP_HEADER_LEN, 8, PG_STARTUP_MAX, 1, f);
}

size_t pg_head(struct evbuffer *in, uint8_t head[PG_HEADER_LEN])
{
	size_t have = evbuffer_get_length(in);
	if (have)
		(void)evbuffer_copyout(in, head, have < PG_HEADER_LEN ? have : PG_HEADER_LEN);
	return have;
}
