/* Unit tests for proxy/bev_io.c over a real socket pair and event loop:
 * the own reader (one read per wakeup, read and event callbacks as
 * libevent would call them, nothing read while disabled, EOF), the
 * write-now shortcut (bytes reach the peer before the loop runs, and the
 * write callback is not run for them), and filters left to libevent. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/bev_io.h"
#include "unit.h"

struct seen {
	int reads, writes, events;
	short what;
};

static void read_cb(struct bufferevent *bev, void *ctx)
{
	((struct seen *)ctx)->reads++;
}

static void write_cb(struct bufferevent *bev, void *ctx)
{
	((struct seen *)ctx)->writes++;
}

static void event_cb(struct bufferevent *bev, short what, void *ctx)
{
	struct seen *s = ctx;
	s->events++;
	s->what = what;
}

static size_t peer_read(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
	return n > 0 ? (size_t)n : 0;
}

static void test_reader_and_write_now(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	evutil_make_socket_nonblocking(sv[0]);
	struct event_base *base = event_base_new();
	struct bufferevent *bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	struct seen seen = {0};
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, &seen);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	CHECK(bev_io_own_reads(bev) == 1);
	CHECK(bufferevent_get_enabled(bev) & EV_READ); /* still reading */

	/* one read per wakeup, then the read callback */
	CHECK(write(sv[1], "hello", 5) == 5);
	event_base_loop(base, EVLOOP_ONCE);
	CHECK(seen.reads == 1);
	CHECK(evbuffer_get_length(bufferevent_get_input(bev)) == 5);
	char buf[64];
	CHECK(evbuffer_remove(bufferevent_get_input(bev), buf, sizeof buf) == 5);
	CHECK(memcmp(buf, "hello", 5) == 0);

	/* disabled: nothing is read; enabled again: it is */
	bufferevent_disable(bev, EV_READ);
	CHECK(write(sv[1], "more", 4) == 4);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(seen.reads == 1 && evbuffer_get_length(bufferevent_get_input(bev)) == 0);
	bufferevent_enable(bev, EV_READ);
	event_base_loop(base, EVLOOP_ONCE);
	CHECK(seen.reads == 2 && evbuffer_get_length(bufferevent_get_input(bev)) == 4);

	/* write now: the peer has the bytes before the loop runs, and libevent
	 * does not call the write callback for bytes it did not write */
	int writes = seen.writes; /* libevent's own first write event, on enable */
	CHECK(bev_io_write_now(bev) == 0); /* nothing queued */
	bufferevent_write(bev, "abc", 3);
	CHECK(bev_io_pending(bev) == 3);
	CHECK(bev_io_write_now(bev) == 1);
	CHECK(bev_io_pending(bev) == 0);
	CHECK(peer_read(sv[1], buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(seen.writes == writes);

	/* a full socket: what is left stays queued and libevent sends it */
	int big = 1 << 20;
	char *blob = calloc(1, (size_t)big);
	bufferevent_write(bev, blob, (size_t)big);
	CHECK(bev_io_write_now(bev) == 0);
	CHECK(bev_io_pending(bev) > 0);
	size_t got = 0;
	for (int i = 0; i < 10000 && got < (size_t)big; i++) {
		got += peer_read(sv[1], blob, (size_t)big);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	CHECK(got == (size_t)big);
	free(blob);

	/* EOF: reading stops and the event callback hears it */
	close(sv[1]);
	event_base_loop(base, EVLOOP_ONCE);
	CHECK(seen.events == 1);
	CHECK(seen.what == (BEV_EVENT_READING | BEV_EVENT_EOF));
	CHECK(!(bufferevent_get_enabled(bev) & EV_READ));
	bufferevent_free(bev);
	event_base_free(base);
}

/* A filter (as TLS is) keeps libevent's reader; write now goes to the
 * socket under it once the filter has passed everything down. */
static void test_filter(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	evutil_make_socket_nonblocking(sv[0]);
	struct event_base *base = event_base_new();
	struct bufferevent *sock = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	struct bufferevent *f = bufferevent_filter_new(sock, NULL, NULL, BEV_OPT_CLOSE_ON_FREE,
							NULL, NULL);
	struct seen seen = {0};
	bufferevent_setcb(f, read_cb, write_cb, event_cb, &seen);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	CHECK(bev_io_own_reads(f) == 0);
	bufferevent_write(f, "xyz", 3);
	CHECK(bev_io_pending(f) == 3); /* in the filter or under it */
	CHECK(bev_io_write_now(f) == 1);
	char buf[8];
	CHECK(peer_read(sv[1], buf, sizeof buf) == 3 && memcmp(buf, "xyz", 3) == 0);
	/* reads through the filter still work (libevent's reader) */
	CHECK(write(sv[1], "in", 2) == 2);
	for (int i = 0; i < 10 && !seen.reads; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	CHECK(seen.reads >= 1 && evbuffer_get_length(bufferevent_get_input(f)) == 2);
	bufferevent_free(f);
	close(sv[1]);
	event_base_free(base);
}

static void test_no_socket(void)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	CHECK(bev_io_own_reads(bev) == 0);
	CHECK(bev_io_own_reads(NULL) == 0);
	CHECK(bev_io_write_now(NULL) == 0);
	bufferevent_write(bev, "q", 1);
	CHECK(bev_io_write_now(bev) == 0); /* no socket: left queued */
	CHECK(bev_io_pending(bev) == 1);
	bufferevent_free(bev);
	event_base_free(base);
}

int main(void)
{
	test_reader_and_write_now();
	test_filter();
	test_no_socket();
	return UNIT_DONE("test_bev_io");
}
