/* wire: a bounds-checked reader of a message body, shared by every codec.
 *
 * Each protocol reads its integers in its own byte order (pg_get_u32 is
 * big-endian, my_get_u32 little-endian, in the codecs); what does not
 * depend on the protocol is here: the cursor, single bytes, byte runs and
 * NUL-terminated strings. Every getter returns 0, or -1 without moving
 * when the body is too short.
 */
#ifndef SB_WIRE_H
#define SB_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire_reader {
	const uint8_t *p; /* borrowed: the body */
	size_t n, off;    /* its length; the cursor */
};

static inline void wire_reader_init(struct wire_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->n = n;
	r->off = 0;
}

/* Bytes left after the cursor. */
static inline size_t wire_left(const struct wire_reader *r)
{
	return r->n - r->off;
}

static inline __attribute__((warn_unused_result)) int wire_get_u8(struct wire_reader *r,
								  uint8_t *v)
{
	if (wire_left(r) < 1)
		return -1;
	*v = r->p[r->off++];
	return 0;
}

/* n bytes; *p points into the body. */
static inline __attribute__((warn_unused_result)) int
wire_get_bytes(struct wire_reader *r, size_t n, const uint8_t **p)
{
	if (wire_left(r) < n)
		return -1;
	*p = r->p + r->off;
	r->off += n;
	return 0;
}

/* A NUL-terminated string; *s points into the body, *len (may be NULL)
 * is its length without the NUL. */
static inline __attribute__((warn_unused_result)) int
wire_get_cstr(struct wire_reader *r, const char **s, size_t *len)
{
	const uint8_t *start = r->p + r->off;
	const uint8_t *nul = memchr(start, 0, wire_left(r));
	if (!nul)
		return -1;
	*s = (const char *)start;
	if (len)
		*len = (size_t)(nul - start);
	r->off += (size_t)(nul - start) + 1;
	return 0;
}

#endif
