/* listener: accept TCP connections on the configured addresses and hand
 * each to a new session of the address's protocol. */
#ifndef SB_LISTENER_H
#define SB_LISTENER_H

#include <stddef.h>

struct sb_proxy;
struct listener_set;

/* Bind every [listeners] address. Returns the set, or NULL with err naming
 * the address and config line that failed. */
struct listener_set *listener_start(struct sb_proxy *px, char *err, size_t errlen);
void listener_stop(struct listener_set *ls);

#endif
