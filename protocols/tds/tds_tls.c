/* tds_tls: TLS records in and out of PRELOGIN packets (see tds_tls.h). */
#include "protocols/tds/tds_tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdint.h>

#include "protocols/tds/tds_codec.h"

#define REC_CCS 0x14
#define REC_ALERT 0x15
#define REC_HANDSHAKE 0x16
#define REC_APPDATA 0x17
#define REC_HEADER 5

static enum bufferevent_filter_result unwrap(struct evbuffer *src, struct evbuffer *dst,
					     ev_ssize_t limit, enum bufferevent_flush_mode mode,
					     void *ctx)
{
	struct tds_tls_frame *f = ctx;
	while (evbuffer_get_length(src)) {
		if (f->in_raw) {
			evbuffer_add_buffer(dst, src);
			break;
		}
		if (f->in_left) {
			size_t have = evbuffer_get_length(src);
			size_t k = have < f->in_left ? have : f->in_left;
			evbuffer_remove_buffer(src, dst, k);
			f->in_left -= k;
			continue;
		}
		uint8_t h[TDS_HEADER_LEN];
		evbuffer_copyout(src, h, 1);
		if (h[0] >= REC_CCS && h[0] <= REC_APPDATA) {
			f->in_raw = 1; /* the handshake is over: records come raw */
			continue;
		}
		if (evbuffer_get_length(src) < TDS_HEADER_LEN)
			break;
		evbuffer_copyout(src, h, TDS_HEADER_LEN);
		struct tds_header hd;
		if ((h[0] != TDS_PKT_PRELOGIN && h[0] != TDS_PKT_REPLY) || tds_header_parse(h, &hd) != 0)
			return BEV_ERROR;
		evbuffer_drain(src, TDS_HEADER_LEN);
		f->in_left = hd.len - TDS_HEADER_LEN;
	}
	return BEV_OK;
}

static enum bufferevent_filter_result wrap(struct evbuffer *src, struct evbuffer *dst,
					   ev_ssize_t limit, enum bufferevent_flush_mode mode,
					   void *ctx)
{
	struct tds_tls_frame *f = ctx;
	if (f->out_raw) {
		evbuffer_add_buffer(dst, src);
		return BEV_OK;
	}
	/* the handshake records (whole ones: the TLS layer writes records) */
	size_t take = 0, have = evbuffer_get_length(src);
	uint8_t h[REC_HEADER];
	while (have - take >= REC_HEADER) {
		struct evbuffer_ptr pos;
		evbuffer_ptr_set(src, &pos, take, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(src, &pos, h, REC_HEADER);
		if (h[0] == REC_APPDATA) {
			f->out_raw = 1;
			break;
		}
		size_t rl = REC_HEADER + ((size_t)h[3] << 8 | h[4]);
		if (have - take < rl)
			break;
		take += rl;
	}
	if (take) {
		uint8_t *p = evbuffer_pullup(src, (ev_ssize_t)take);
		if (!p || tds_put_packets(dst, TDS_PKT_PRELOGIN, p, take, TDS_PACKET_DEFAULT) != 0)
			return BEV_ERROR;
		evbuffer_drain(src, take);
	}
	if (f->out_raw)
		evbuffer_add_buffer(dst, src);
	return BEV_OK;
}

void tds_tls_frame_init(struct tds_tls_frame *f)
{
	f->fr.unwrap = unwrap;
	f->fr.wrap = wrap;
	f->fr.ctx = f;
}
