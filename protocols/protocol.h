/* protocol: the one interface every wire-protocol frontend implements.
 *
 * The core (proxy/session.c) owns sockets, TLS, timers and the session's
 * life; it turns libevent callbacks into a small event enum and calls the
 * frontend's dispatch() (the shared router protocol_dispatch, which calls
 * the frontend's login or relay handlers by its stage). A frontend only
 * knows its wire format: it reads the session's input buffers, writes to
 * its output buffers, asks the core to connect a backend or to start TLS on
 * either side, asks the login services (proxy/login.h) to check what the
 * client proved and to run the login tail, asks decide (proxy/decide.h)
 * for a decision and an audit record, and may end the session with
 * sess_close(). What all sessions of one protocol share is made by its
 * init hook, not kept in the core.
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
struct sb_config;

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

/* What a refused login tells the client (struct protocol login_refused):
 * always the protocol's generic words, never the reason. */
enum login_refusal {
	LOGIN_REFUSE_AUTH,    /* the client's proof or a login rule failed */
	LOGIN_REFUSE_BACKEND, /* the hosted account could not log in to the database */
	LOGIN_REFUSE_AUDIT,   /* the login record could not be written */
	LOGIN_REFUSE_NOT_HOSTED, /* the token was good, but its account is not hosted and this
				    path cannot let the client log in to the database itself
				    (the direct PostgreSQL/MySQL ports): say so plainly, the
				    client has proved who it is */
};

/* Where a frontend's state machine is, for the shared router and the
 * login tail's timers (proxy/login.h). */
enum protocol_stage {
	PROTOCOL_CLIENT_LOGIN,  /* startup, client TLS, client authentication */
	PROTOCOL_BACKEND_LOGIN, /* backend connect, TLS, the hosted account's login */
	PROTOCOL_SIDE_JOB,      /* an exchange of its own outside login and relay
				   (PostgreSQL: a CancelRequest being forwarded) */
	PROTOCOL_READY,         /* the relay: statements are inspected */
	PROTOCOL_CLOSED,        /* refused or ending: input is ignored */
};

struct protocol {
	const char *name;     /* listener key in the config: "postgres", ... */
	/* Daemon start (not --check), once, for a protocol some listener
	 * serves, before any session: make what all its sessions share from
	 * the config (the state is the frontend's own, not the core's).
	 * Returns 0, or -1 with err filled: the daemon does not start. May be
	 * NULL. */
	int (*init)(const struct sb_config *cfg, char *err, size_t errlen);
	/* Daemon exit: free and wipe what init made; safe when init did not
	 * run. May be NULL. */
	void (*fini)(void);
	/* Allocate protocol state for a new client connection. May write to the
	 * client (MySQL greets first). Returns the state, or NULL to refuse
	 * (the core closes with the reason already set by the frontend). */
	void *(*on_accept)(struct session *s);
	/* Handle one event. The frontend may call sess_close(); the session is
	 * then freed after the callback stack unwinds, never inside it. Both
	 * frontends use protocol_dispatch, which routes by the hooks below. */
	void (*dispatch)(struct session *s, void *state, enum sess_side side,
			 enum sess_event ev);
	/* protocol_dispatch's routes (every one required unless marked). */
	enum protocol_stage (*stage)(void *state);
	/* The login in state (proxy/login.h), for the core's login tail. */
	struct login *(*login)(void *state);
	/* Input on `side` before the session is ready, and in the relay. */
	void (*login_read)(struct session *s, void *state, enum sess_side side);
	void (*relay_read)(struct session *s, void *state, enum sess_side side);
	/* The relay's client output drained below its low mark. May be NULL. */
	void (*relay_flushed)(struct session *s, void *state);
	/* The client's TLS handshake finished: returns 1 when the frontend was
	 * waiting for it and is back at its startup (the core then reads what
	 * the client already sent), 0 when it was not. */
	int (*client_tls_ready)(struct session *s, void *state);
	/* The backend connection is up (tls = 0; also for a side job) or its
	 * TLS handshake finished during the backend login (tls = 1): go on
	 * with the backend exchange. */
	void (*backend_ready)(struct session *s, void *state, int tls);
	/* The backend failed or closed in the relay (s->backend_error says
	 * why): tell the client in the protocol's words if it can; the core
	 * closes the session afterwards unless the frontend did. */
	void (*backend_lost)(struct session *s, void *state);
	/* A side job's backend failed or closed, or its timer fired: end it.
	 * May be NULL for a protocol without side jobs. */
	void (*side_job_over)(struct session *s, void *state);
	/* Free protocol state; called once from the reaper. */
	void (*free_state)(void *state);
	/* One line describing the current statement for `sessions` (may be
	 * NULL: then the text of the session's statement queue, proxy/stmt.h). */
	const char *(*current_statement)(void *state);
	/* The proxy is ending this session (sess_end: an admin change, a kill):
	 * write the protocol's own termination error carrying reason to the
	 * client, if the client stream is at a message boundary where one may
	 * go; otherwise write nothing. Never closes. May be NULL. */
	void (*goodbye)(struct session *s, void *state, const char *reason);
	/* The core's login tail (proxy/login.h) refuses this login: write the
	 * protocol's error for kind to the client, move the frontend to its
	 * closed state and end the session once the error is out
	 * (sess_close_after_flush with reason). Required. */
	void (*login_refused)(struct session *s, void *state, enum login_refusal kind,
			      const char *reason);
};

/* The shared router (protocols/dispatch.c), by the frontend's stage: READ
 * to login_read or relay_read; FLUSHED to relay_flushed when ready; the
 * session timer: "idle timeout" when ready, "login timed out" during the
 * client login, a failed backend login (proxy/login.h) during the backend
 * login, side_job_over; CONNECTED and a backend TLS_READY re-arm the login
 * timer and go to backend_ready; a client TLS_READY to client_tls_ready;
 * ERROR fails the backend login, or goes to backend_lost when ready,
 * side_job_over during a side job. */
void protocol_dispatch(struct session *s, void *state, enum sess_side side, enum sess_event ev);

/* init of every frontend a listener of cfg serves (once each). Returns 0,
 * or -1 with err filled by the first that failed. */
int protocol_init_all(const struct sb_config *cfg, char *err, size_t errlen);

/* fini of every frontend (those not initialised have nothing to free). */
void protocol_fini_all(void);

/* Look up a frontend by listener protocol name; NULL if not built. */
const struct protocol *protocol_find(const char *name);

extern const struct protocol pg_protocol;
extern const struct protocol mysql_protocol;
extern const struct protocol tds_protocol;
extern const struct protocol tns_protocol;

#endif
