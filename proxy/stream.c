/* stream: relaying a message without holding it in memory (stream.h). */
#include <event2/buffer.h>

#include "proxy/session.h"
#include "proxy/stream.h"

size_t stream_pass(struct session *s, enum sess_side from, size_t *left, int discard)
{
	enum sess_side to = from == SESS_CLIENT ? SESS_BACKEND : SESS_CLIENT;
	struct evbuffer *in = sess_input(s, from);
	size_t have = evbuffer_get_length(in);
	size_t n = have < *left ? have : *left;
	if (discard) {
		evbuffer_drain(in, n); /* (nothing relayed: no backpressure to apply) */
	} else {
		if (n)
			evbuffer_remove_buffer(in, sess_output(s, to), n);
		sess_backpressure(s, to);
	}
	*left -= n;
	return n;
}

uint8_t *stream_whole(struct session *s, enum sess_side from, size_t total)
{
	struct evbuffer *in = sess_input(s, from);
	if (evbuffer_get_length(in) < total)
		return NULL;
	uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)total);
	if (!m)
		sess_close(s, "out of memory");
	return m;
}
