/* bev_io: the two places the proxy reaches under a bufferevent's public
 * face, kept in one file so a libevent upgrade has one place to check.
 *
 * Reading: a plain socket bufferevent's read event is given our reader,
 * which does one recv() per wakeup instead of libevent's ioctl(FIONREAD)
 * and recv() pair. Writing: output queued from inside a read callback is
 * written at once instead of on the next loop turn's EPOLLOUT. Both are
 * shortcuts: what they do not finish, libevent's own paths do. Nothing
 * here knows what a session is.
 */
#ifndef SB_BEV_IO_H
#define SB_BEV_IO_H

#include <stddef.h>

struct bufferevent;

/* The largest single read (the reader's one shared buffer). */
#define BEV_IO_READ_MAX (64u * 1024u)

/* Take over reading bev, a plain socket bufferevent (not a filter, not
 * without a socket: then nothing is done and 0 is returned). Each wakeup
 * reads once into the input buffer and calls the bufferevent's read
 * callback, or on EOF or an error disables reading and calls its event
 * callback with BEV_EVENT_READING | BEV_EVENT_EOF or BEV_EVENT_ERROR. It
 * reads nothing while EV_READ is disabled. On out of memory it calls the
 * event callback with BEV_EVENT_READING | BEV_EVENT_ERROR. Enabling and
 * disabling EV_READ keeps working through the bufferevent. Returns 1 when
 * taken over, 0 when left to libevent. */
int bev_io_own_reads(struct bufferevent *bev);

/* Write what bev (or, for a filter with nothing left to encode, the socket
 * under it) holds, now. Returns 1 when that output is empty afterwards and
 * the write event was removed (libevent will not call the write callback
 * for these bytes: the caller does its job), 0 when something is left (the
 * write event stays armed and libevent sends it) or nothing was done. */
int bev_io_write_now(struct bufferevent *bev);

/* Bytes still to send on bev, including what a filter already encoded into
 * the buffer of the bufferevent under it. */
size_t bev_io_pending(struct bufferevent *bev);

#endif
