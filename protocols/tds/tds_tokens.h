/* tds_tokens: walking a server's token stream as it passes, without holding it.
 *
 * The relay forwards the backend's reply packets as they arrive and feeds
 * their payload bytes here. The walker keeps only the bytes of the unit it
 * is reading (a token header, one column's metadata, a length prefix):
 * values (of any size, PLP chunks included) are skipped as they arrive. It
 * reports what the proxy needs: DONE-family tokens (row counts, error and
 * attention flags), ERROR messages, RETURNVALUE values (prepared handles),
 * and the small length-prefixed tokens (LOGINACK, ENVCHANGE). A stream it
 * cannot read (an unknown token, malformed metadata) makes it give up for
 * the rest of the message: the client reads the stream anyway, the proxy
 * only loses its counts. Reference: [MS-TDS] 2.2.7.
 */
#ifndef SB_TDS_TOKENS_H
#define SB_TDS_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/tds/tds_types.h"

struct evbuffer;

struct tds_walk_ops {
	/* DONE, DONEPROC or DONEINPROC */
	void (*done)(void *ctx, uint8_t token, uint16_t status, uint64_t rows);
	/* ERROR (0xAA): number, class and the message as UTF-8 */
	void (*error)(void *ctx, uint32_t number, uint8_t cls, const char *msg);
	/* RETURNVALUE with a value of at most 255 bytes (others: value NULL, n 0) */
	void (*retval)(void *ctx, uint16_t ordinal, const struct tds_type *t, const uint8_t *v,
		       size_t n, int is_null);
	/* A 2-byte-length token (LOGINACK, ENVCHANGE, INFO, ...): its body. May be NULL. */
	void (*token)(void *ctx, uint8_t token, const uint8_t *body, size_t n);
};

struct tds_walker {
	const struct tds_walk_ops *ops;
	void *ctx;
	struct evbuffer *in;  /* owned: bytes of the unit being read */
	int broken;           /* gave up until the message ends */
	int st;               /* where in the stream (tds_tokens.c) */
	int ret;              /* state after the current value */
	uint64_t skip;        /* bytes to pass unread */
	struct tds_type *cols; /* owned: the current COLMETADATA */
	uint16_t ncols, col;
	uint8_t *nullmap;     /* owned: NBCROW null bitmap */
	int nbc;
	struct tds_type rv;   /* RETURNVALUE's type while its value is read */
	uint64_t rows_seen;   /* ROW/NBCROW tokens in this message */
	uint8_t attn;         /* a DONE with the attention flag was seen in this message */
	int tds71;            /* the stream is TDS 7.1: 4-byte DONE counts, 2-byte user types */
};

/* 0, or -1 out of memory. */
int tds_walker_init(struct tds_walker *w, const struct tds_walk_ops *ops, void *ctx);
void tds_walker_free(struct tds_walker *w);

/* Walk n more payload bytes. Returns 0, or -1 when the walker gave up (it
 * ignores the rest of the message). */
int tds_walker_feed(struct tds_walker *w, const uint8_t *p, size_t n);

/* The message ended (EOM): forget a unit cut short; ready for the next
 * message (the column metadata is kept: a cursor fetch may reuse it). */
void tds_walker_end(struct tds_walker *w);

#endif
