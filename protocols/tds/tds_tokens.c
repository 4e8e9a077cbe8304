/* tds_tokens: the incremental token-stream walker (see tds_tokens.h). */
#include "protocols/tds/tds_tokens.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tds/tds_codec.h"

enum {
	W_TOKEN,    /* at a token */
	W_COLMETA,  /* COLMETADATA: column entries */
	W_ROW,      /* ROW / NBCROW: column values */
	W_PLP,      /* a PLP value: chunk length next */
	W_TEXTLEN,  /* TEXT/NTEXT/IMAGE in a row: the data length after the text pointer */
	W_FEATACK,  /* FEATUREEXTACK entries */
	W_RETVAL,   /* RETURNVALUE header */
	W_RVVALUE,  /* RETURNVALUE's value (of type rv) */
};

#define UNIT_MAX (128u * 1024u) /* the largest unit read whole (metadata, 2-byte-length tokens) */

#define TOK_COLMETADATA 0x81
#define TOK_ROW 0xD1
#define TOK_NBCROW 0xD2
#define TOK_RETURNSTATUS 0x79
#define TOK_RETURNVALUE 0xAC
#define TOK_FEATUREEXTACK 0xAE
#define TOK_FEDAUTHINFO 0xEE
#define TOK_SESSIONSTATE 0xE4
#define TOK_ORDER 0xA9
#define TOK_TABNAME 0xA4
#define TOK_COLINFO 0xA5
#define TOK_SSPI 0xED

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

int tds_walker_init(struct tds_walker *w, const struct tds_walk_ops *ops, void *ctx)
{
	memset(w, 0, sizeof *w);
	w->ops = ops;
	w->ctx = ctx;
	w->in = evbuffer_new();
	return w->in ? 0 : -1;
}

void tds_walker_free(struct tds_walker *w)
{
	if (w->in)
		evbuffer_free(w->in);
	free(w->cols);
	free(w->nullmap);
	memset(w, 0, sizeof *w);
}

void tds_walker_end(struct tds_walker *w)
{
	evbuffer_drain(w->in, evbuffer_get_length(w->in));
	w->broken = 0;
	w->st = W_TOKEN;
	w->skip = 0;
	w->rows_seen = 0;
	w->attn = 0;
}

/* n contiguous bytes, or NULL when fewer are buffered. */
static const uint8_t *need(struct tds_walker *w, size_t n)
{
	if (evbuffer_get_length(w->in) < n)
		return NULL;
	return evbuffer_pullup(w->in, (ssize_t)n);
}

static int give_up(struct tds_walker *w)
{
	w->broken = 1;
	evbuffer_drain(w->in, evbuffer_get_length(w->in));
	return -1;
}

/* Start reading a value of type t (its length prefix). Returns 1 when the
 * value is under way (skip or a state set), 0 when more bytes are needed. */
static int start_value(struct tds_walker *w, const struct tds_type *t, int ret)
{
	const uint8_t *p;
	w->st = ret;
	switch (t->kind) {
	case TDS_LEN_FIXED:
		w->skip = t->size;
		return 1;
	case TDS_LEN_BYTE:
		if (!(p = need(w, 1)))
			return 0;
		w->skip = p[0];
		evbuffer_drain(w->in, 1);
		return 1;
	case TDS_LEN_USHORT:
		if (!(p = need(w, 2)))
			return 0;
		w->skip = rd16(p) == 0xFFFF ? 0 : rd16(p);
		evbuffer_drain(w->in, 2);
		return 1;
	case TDS_LEN_VARIANT:
		if (!(p = need(w, 4)))
			return 0;
		w->skip = rd32(p);
		evbuffer_drain(w->in, 4);
		return 1;
	case TDS_LEN_PLP:
		if (!(p = need(w, 8)))
			return 0;
		if (rd64(p) != TDS_PLP_NULL) {
			w->ret = ret;
			w->st = W_PLP;
		}
		evbuffer_drain(w->in, 8);
		return 1;
	case TDS_LEN_LONG: {
		if (!(p = need(w, 1)))
			return 0;
		size_t tp = p[0];
		if (tp == 0) {
			evbuffer_drain(w->in, 1);
			return 1;
		}
		if (!need(w, 1 + tp + 8))
			return 0;
		evbuffer_drain(w->in, 1 + tp + 8);
		w->ret = ret;
		w->st = W_TEXTLEN;
		return 1;
	}
	}
	return 1;
}

/* One COLMETADATA column entry at p (n bytes): bytes used, 0 need more, -1 bad. */
static long column_entry(const uint8_t *p, size_t n, struct tds_type *t, int tds71)
{
	size_t hl = tds71 ? 4 : 6; /* user type (2 or 4 bytes), flags */
	if (n < hl)
		return 0;
	long tl = tds_type_parse(p + hl, n - hl, t, 0);
	if (tl <= 0)
		return tl;
	size_t at = hl + (size_t)tl;
	if (t->kind == TDS_LEN_LONG) { /* TableName: parts of US_VARCHAR */
		if (at >= n)
			return 0;
		size_t parts = p[at++];
		for (size_t i = 0; i < parts; i++) {
			if (n - at < 2)
				return 0;
			size_t c = rd16(p + at);
			if (n - at - 2 < c * 2)
				return 0;
			at += 2 + c * 2;
		}
	}
	if (at >= n)
		return 0;
	size_t c = p[at];
	if (n - at - 1 < c * 2)
		return 0;
	return (long)(at + 1 + c * 2);
}

/* A unit read whole from what is buffered: p and its length, up to UNIT_MAX. */
static const uint8_t *unit(struct tds_walker *w, size_t *n)
{
	*n = evbuffer_get_length(w->in);
	if (*n > UNIT_MAX)
		*n = UNIT_MAX;
	return *n ? evbuffer_pullup(w->in, (ssize_t)*n) : NULL;
}

static int at_token(struct tds_walker *w)
{
	const uint8_t *p = need(w, 1);
	if (!p)
		return 0;
	uint8_t tok = p[0];
	switch (tok) {
	case TOK_COLMETADATA: {
		if (!(p = need(w, 3)))
			return 0;
		uint16_t count = rd16(p + 1);
		evbuffer_drain(w->in, 3);
		if (count == 0xFFFF)
			return 1; /* no metadata: the previous stays */
		free(w->cols);
		free(w->nullmap);
		w->cols = calloc(count ? count : 1, sizeof *w->cols);
		w->nullmap = malloc((size_t)count / 8 + 1);
		w->ncols = count;
		w->col = 0;
		if (!w->cols || !w->nullmap) {
			w->ncols = 0;
			return give_up(w);
		}
		w->st = W_COLMETA;
		return 1;
	}
	case TOK_ROW:
		if (!w->cols)
			return give_up(w);
		evbuffer_drain(w->in, 1);
		w->col = 0;
		w->nbc = 0;
		w->rows_seen++;
		w->st = W_ROW;
		return 1;
	case TOK_NBCROW: {
		if (!w->cols)
			return give_up(w);
		size_t bm = ((size_t)w->ncols + 7) / 8;
		if (!(p = need(w, 1 + bm)))
			return 0;
		memcpy(w->nullmap, p + 1, bm);
		evbuffer_drain(w->in, 1 + bm);
		w->col = 0;
		w->nbc = 1;
		w->rows_seen++;
		w->st = W_ROW;
		return 1;
	}
	case TDS_TOK_DONE: case TDS_TOK_DONEPROC: case TDS_TOK_DONEINPROC: {
		size_t dl = w->tds71 ? 9 : 13;
		if (!(p = need(w, dl)))
			return 0;
		uint16_t status = rd16(p + 1);
		uint64_t rows = w->tds71 ? rd32(p + 5) : rd64(p + 5);
		evbuffer_drain(w->in, dl);
		if (status & TDS_DONE_ATTN)
			w->attn = 1;
		if (w->ops->done)
			w->ops->done(w->ctx, tok, status, rows);
		return 1;
	}
	case TOK_RETURNSTATUS:
		if (!need(w, 5))
			return 0;
		evbuffer_drain(w->in, 5);
		return 1;
	case TDS_TOK_ERROR: case TDS_TOK_INFO: case TDS_TOK_LOGINACK: case TDS_TOK_ENVCHANGE:
	case TOK_ORDER: case TOK_TABNAME: case TOK_COLINFO: case TOK_SSPI: {
		if (!(p = need(w, 3)))
			return 0;
		size_t len = rd16(p + 1);
		if (!(p = need(w, 3 + len)))
			return 0;
		if (tok == TDS_TOK_ERROR && w->ops->error && len >= 8) {
			size_t chars = rd16(p + 3 + 6);
			char *msg = NULL;
			if (8 + chars * 2 <= len)
				msg = tds_utf16_to_utf8(p + 3 + 8, chars * 2, NULL);
			w->ops->error(w->ctx, rd32(p + 3), p[3 + 5], msg ? msg : "");
			free(msg);
		}
		if (w->ops->token)
			w->ops->token(w->ctx, tok, p + 3, len);
		evbuffer_drain(w->in, 3 + len);
		return 1;
	}
	case TOK_FEDAUTHINFO: case TOK_SESSIONSTATE:
		if (!(p = need(w, 5)))
			return 0;
		w->skip = rd32(p + 1);
		evbuffer_drain(w->in, 5);
		return 1;
	case TOK_FEATUREEXTACK:
		evbuffer_drain(w->in, 1);
		w->st = W_FEATACK;
		return 1;
	case TOK_RETURNVALUE:
		w->st = W_RETVAL;
		return 1;
	default:
		return give_up(w); /* ALTMETADATA/ALTROW (COMPUTE BY), or garbage */
	}
}

/* RETURNVALUE: ordinal, name, status, user type, flags, TYPE_INFO, value. */
static int at_retval(struct tds_walker *w)
{
	size_t n;
	const uint8_t *p = unit(w, &n);
	if (!p || n < 5)
		return 0;
	uint16_t ordinal = rd16(p + 1);
	size_t at = 4 + (size_t)p[3] * 2; /* token, ordinal, name */
	size_t ut = w->tds71 ? 2 : 4;
	if (n < at + 1 + ut + 2 + 1)
		return n >= UNIT_MAX ? give_up(w) : 0;
	at += 1 + ut + 2;
	struct tds_type t;
	long tl = tds_type_parse(p + at, n - at, &t, 0);
	if (tl < 0)
		return give_up(w);
	if (tl == 0)
		return n >= UNIT_MAX ? give_up(w) : 0;
	at += (size_t)tl;
	if (t.kind == TDS_LEN_FIXED || t.kind == TDS_LEN_BYTE) {
		size_t hl = t.kind == TDS_LEN_BYTE ? 1 : 0;
		if (n < at + hl)
			return 0;
		size_t vl = hl ? p[at] : t.size;
		if (n < at + hl + vl)
			return 0;
		if (w->ops->retval)
			w->ops->retval(w->ctx, ordinal, &t, p + at + hl, vl, hl && vl == 0);
		evbuffer_drain(w->in, at + hl + vl);
		w->st = W_TOKEN;
		return 1;
	}
	if (w->ops->retval)
		w->ops->retval(w->ctx, ordinal, &t, NULL, 0, 0);
	evbuffer_drain(w->in, at);
	w->rv = t; /* the value is walked as a row column is */
	w->st = W_RVVALUE;
	return 1;
}

/* Walk what is buffered. 0 = wait for more, -1 = gave up. */
static int walk(struct tds_walker *w)
{
	for (;;) {
		if (w->broken)
			return -1;
		if (w->skip) {
			size_t have = evbuffer_get_length(w->in);
			size_t k = have < w->skip ? have : (size_t)w->skip;
			evbuffer_drain(w->in, k);
			w->skip -= k;
			if (w->skip)
				return 0;
		}
		const uint8_t *p;
		int r;
		switch (w->st) {
		case W_TOKEN:
			r = at_token(w);
			break;
		case W_COLMETA: {
			if (w->col == w->ncols) {
				w->st = W_TOKEN;
				continue;
			}
			size_t n;
			p = unit(w, &n);
			if (!p)
				return 0;
			long used = column_entry(p, n, &w->cols[w->col], w->tds71);
			if (used < 0)
				return give_up(w);
			if (used == 0) {
				if (n >= UNIT_MAX)
					return give_up(w);
				return 0;
			}
			evbuffer_drain(w->in, (size_t)used);
			w->col++;
			r = 1;
			break;
		}
		case W_ROW: {
			if (w->col == w->ncols) {
				w->st = W_TOKEN;
				continue;
			}
			uint16_t c = w->col;
			if (w->nbc && (w->nullmap[c / 8] >> (c % 8) & 1)) {
				w->col++;
				continue;
			}
			r = start_value(w, &w->cols[c], W_ROW);
			if (r)
				w->col++;
			else
				w->st = W_ROW;
			break;
		}
		case W_PLP:
			if (!(p = need(w, 4)))
				return 0;
			w->skip = rd32(p);
			evbuffer_drain(w->in, 4);
			if (w->skip == 0)
				w->st = w->ret;
			r = 1;
			break;
		case W_TEXTLEN:
			if (!(p = need(w, 4)))
				return 0;
			w->skip = rd32(p);
			evbuffer_drain(w->in, 4);
			w->st = w->ret;
			r = 1;
			break;
		case W_FEATACK:
			if (!(p = need(w, 1)))
				return 0;
			if (p[0] == 0xFF) {
				evbuffer_drain(w->in, 1);
				w->st = W_TOKEN;
				r = 1;
				break;
			}
			if (!(p = need(w, 5)))
				return 0;
			w->skip = rd32(p + 1);
			evbuffer_drain(w->in, 5);
			r = 1;
			break;
		case W_RETVAL:
			r = at_retval(w);
			break;
		case W_RVVALUE:
			r = start_value(w, &w->rv, W_TOKEN);
			if (!r)
				w->st = W_RVVALUE;
			break;
		default:
			return give_up(w);
		}
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
	}
}

int tds_walker_feed(struct tds_walker *w, const uint8_t *p, size_t n)
{
	if (w->broken)
		return -1;
	/* a value being skipped needs no copy */
	if (w->skip && evbuffer_get_length(w->in) == 0) {
		size_t k = n < w->skip ? n : (size_t)w->skip;
		p += k;
		n -= k;
		w->skip -= k;
	}
	if (n && evbuffer_add(w->in, p, n) != 0)
		return give_up(w);
	return walk(w);
}
