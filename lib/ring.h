/* ring: a growable FIFO of fixed-size elements.
 *
 * The frontends queue what they wait to hear back from a backend (one
 * entry per forwarded command, in order) and pop entries as replies end.
 * Elements are plain structs copied by value; the ring owns only its
 * storage, never what an element points to.
 */
#ifndef SB_RING_H
#define SB_RING_H

#include <stddef.h>

struct sb_ring {
	unsigned char *buf; /* owned */
	size_t elem;        /* element size, fixed by the first push */
	size_t cap, head, len;
};

/* Append a zeroed element of `elem` bytes; NULL when out of memory. */
void *sb_ring_push(struct sb_ring *r, size_t elem);
/* The oldest element, or NULL when empty. */
void *sb_ring_head(const struct sb_ring *r);
/* Element i (0 = oldest), or NULL when i >= len. */
void *sb_ring_at(const struct sb_ring *r, size_t i);
/* Drop the oldest element (the caller freed what it points to). */
void sb_ring_pop(struct sb_ring *r);
/* Drop the newest element (undo the last push). */
void sb_ring_drop_tail(struct sb_ring *r);
/* Free the storage; the ring is empty and reusable afterwards. */
void sb_ring_free(struct sb_ring *r);

#endif
