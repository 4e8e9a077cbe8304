/* stream: relaying a message without holding it in memory.
 *
 * A frontend that has read a message's header and decided the message
 * passes unread (a row, CopyData, a large column) sets `left` to its whole
 * length; stream_pass() then moves it from one side to the other as it
 * arrives, with the session's backpressure, whatever its size.
 */
#ifndef SB_STREAM_H
#define SB_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/protocol.h"

struct session;

/* A message relayed unread: per side (enum sess_side), its bytes still to
 * move (0 = between messages). The statement queue holds the session's
 * (stmt.h stmt_stream_start, stmt_stream, stmt_streaming). */
struct stream {
	size_t left[2];
};

/* Move up to *left bytes (what is buffered now) from `from` to the other
 * side, or drop them when discard is set; *left is reduced by what moved.
 * Returns the bytes moved: 0 = wait for more input. */
size_t stream_pass(struct session *s, enum sess_side from, size_t *left, int discard);

/* The first `total` bytes of from's input in one piece (a message the
 * frontend must read), once all of them have arrived. NULL: wait for more,
 * or out of memory (the session is then closed: check s->closing). */
uint8_t *stream_whole(struct session *s, enum sess_side from, size_t total);

#endif
