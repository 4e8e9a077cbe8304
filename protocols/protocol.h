/* protocol: the one interface every wire-protocol frontend implements.
 *
 * The core (proxy/session.c) owns sockets, TLS, timers and the session's
 * life; it turns libevent callbacks into a small event enum and calls the
 * frontend's dispatch(). A frontend only knows its wire format: it reads the
 * session's input buffers, writes to its output buffers, asks the core to
 * connect a backend or to start TLS on either side, asks policy for a
 * decision and audit for a record, and may end the session with sess_close().
 *
 * The frontend's set_state() checks each transition against its table and
 * calls sess_start_relay() when it enters its query phase (session.h).
 *
 * How each protocol fits (the session.h calls each one uses):
 *   PostgreSQL  SSLRequest → sess_client_tls_start(); login; backend connect;
 *               message relay with statement inspection.
 *   MySQL       the proxy speaks first: on_accept() writes the handshake.
 *   TDS (none yet)  TLS inside PRELOGIN packets: the frontend supplies the
 *               packet wrapper to sess_client_tls_start_framed().
 *   TNS (none yet)  after CONNECT is rewritten, sess_relay_raw() hands both
 *               directions to the core's plain relay and dispatch() is no
 *               longer called for READ; REDIRECT → sess_backend_replace().
 */
#ifndef SB_PROTOCOL_H
#define SB_PROTOCOL_H

#include <stddef.h>

struct session;

enum sess_side { SESS_CLIENT = 0, SESS_BACKEND = 1 };

enum sess_event {
	SESS_EV_READ,      /* input arrived on `side` */
	SESS_EV_CONNECTED, /* backend TCP connect finished */
	SESS_EV_TLS_READY, /* TLS handshake finished on `side` */
	SESS_EV_FLUSHED,   /* the client's output drained below its low watermark
			      (dispatched for SESS_CLIENT only) */
	SESS_EV_TIMEOUT,   /* the session timer set with sess_set_timer() fired */
	SESS_EV_ERROR,     /* the backend connection failed or closed; s->backend_error
			      says why. The core closes the session after dispatch
			      unless the frontend already did. */
};

struct protocol {
	const char *name;     /* listener key in the config: "postgres", ... */
	/* Allocate protocol state for a new client connection. May write to the
	 * client (MySQL greets first). Returns the state, or NULL to refuse
	 * (the core closes with the reason already set by the frontend). */
	void *(*on_accept)(struct session *s);
	/* Handle one event. The frontend may call sess_close(); the session is
	 * then freed after the callback stack unwinds, never inside it. */
	void (*dispatch)(struct session *s, void *state, enum sess_side side,
			 enum sess_event ev);
	/* Free protocol state; called once from the reaper. */
	void (*free_state)(void *state);
	/* One line describing the current statement for `sessions` (may be NULL). */
	const char *(*current_statement)(void *state);
	/* The proxy is ending this session (sess_end: an admin change, a kill):
	 * write the protocol's own termination error carrying reason to the
	 * client, if the client stream is at a message boundary where one may
	 * go; otherwise write nothing. Never closes. May be NULL. */
	void (*goodbye)(struct session *s, void *state, const char *reason);
};

/* Look up a frontend by listener protocol name; NULL if not built. */
const struct protocol *protocol_find(const char *name);

extern const struct protocol pg_protocol;
extern const struct protocol mysql_protocol;

#endif
