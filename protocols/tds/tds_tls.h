/* tds_tls: TLS carried inside TDS 7.x packets.
 *
 * Before TDS 8.0 the TLS handshake travels inside PRELOGIN packets (type
 * 0x12; SQL Server's own answers come the same way), and once it is over
 * the records go raw on the socket. These are the framing callbacks the
 * core's framed TLS start takes (proxy/session.h struct
 * sess_tls_framing), for the client side (the proxy is the TLS server)
 * and the backend side (the TLS client) alike: each direction wraps
 * handshake records until the first application-data record, and unwraps
 * packets until the peer's first raw record. TLS 1.2 (the core caps
 * framed TLS at it), so every handshake record is in the clear-typed
 * handshake, change-cipher-spec or alert content types.
 */
#ifndef SB_TDS_TLS_H
#define SB_TDS_TLS_H

#include <stddef.h>

#include "proxy/session.h"

struct tds_tls_frame {
	int in_raw;      /* the peer sends raw records now */
	size_t in_left;  /* payload bytes of the packet being unwrapped */
	int out_raw;     /* our records go raw now */
	struct sess_tls_framing fr; /* points at this frame */
};

/* Set up f (zeroed before) and its framing callbacks. */
void tds_tls_frame_init(struct tds_tls_frame *f);

#endif
