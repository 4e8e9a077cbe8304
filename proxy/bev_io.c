/* bev_io: reads and writes under a bufferevent's public face (see
 * bev_io.h). The one file that includes event2/bufferevent_struct.h: it
 * needs the read event (ev_read) to give it another callback and the
 * write event (ev_write) to remove it after a write of our own.
 */
#include "proxy/bev_io.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h> /* ev_read, ev_write */
#include <event2/event.h>
#include <sys/socket.h>

/* One read buffer for the whole loop: a read lands here and is copied
 * into the input, so an idle connection holds no read buffer. */
static unsigned char read_buf[BEV_IO_READ_MAX];

/* Reads a plain socket in place of libevent's bufferevent_readcb. What
 * follows a read is what libevent does: the input grows, then the read
 * callback, or the event callback on EOF or an error. */
static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bufferevent *bev = arg;
	bufferevent_data_cb readcb;
	bufferevent_event_cb eventcb;
	void *ctx;
	(void)what;
	bufferevent_getcb(bev, &readcb, NULL, &eventcb, &ctx);
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		return; /* disabled in this loop turn after the wakeup */
	ssize_t n = recv(fd, read_buf, sizeof read_buf, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		bufferevent_disable(bev, EV_READ); /* level-triggered: never spin */
		if (eventcb)
			eventcb(bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), ctx);
		return;
	}
	/* A socket bufferevent freezes its input's end so that only it adds
	 * to it; this is its reader now. */
	struct evbuffer *in = bufferevent_get_input(bev);
	evbuffer_unfreeze(in, 0);
	int added = evbuffer_add(in, read_buf, (size_t)n);
	evbuffer_freeze(in, 0);
	if (added != 0) {
		bufferevent_disable(bev, EV_READ);
		if (eventcb)
			eventcb(bev, BEV_EVENT_READING | BEV_EVENT_ERROR, ctx);
		return;
	}
	if (readcb)
		readcb(bev, ctx);
}

/* The read event's argument stays the bufferevent, because libevent passes
 * that argument to the finalizer when the bufferevent is freed. */
int bev_io_own_reads(struct bufferevent *bev)
{
	if (!bev || bufferevent_get_underlying(bev))
		return 0;
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd < 0)
		return 0;
	int reading = bufferevent_get_enabled(bev) & EV_READ;
	bufferevent_disable(bev, EV_READ);
	event_assign(&bev->ev_read, bufferevent_get_base(bev), fd,
		     EV_READ | EV_PERSIST | EV_FINALIZE, read_cb, bev);
	if (reading)
		bufferevent_enable(bev, EV_READ);
	return 1;
}

/* A bufferevent arms its write event as soon as output is added; when this
 * write drains the buffer the event is removed again in the same loop
 * turn, and the loop's changelist (EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST,
 * main.c) cancels the pair without an epoll_ctl. Behind a filter the write
 * goes to the socket underneath, but only when the filter has nothing left
 * to encode: a filter held back by the socket's high watermark resumes from
 * the socket's write callback, which a full drain here would never run. */
int bev_io_write_now(struct bufferevent *bev)
{
	if (!bev)
		return 0;
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
			return 0;
		bev = under;
	}
	struct evbuffer *out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) == 0)
		return 0;
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd < 0)
		return 0;
	/* A socket bufferevent freezes its output's start so that only it
	 * drains it; thaw it for this one write. */
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) != 0)
		return 0;
	event_del(&bev->ev_write);
	return 1;
}

size_t bev_io_pending(struct bufferevent *bev)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(bev));
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}
