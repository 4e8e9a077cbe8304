/* session: one client connection and, once logged in, its backend.
 *
 * The session owns both bufferevents (the client side may be a TLS filter
 * over a socket, or later an SSH channel: nothing here assumes a socket),
 * the login/connect timer and the audit context. It turns libevent
 * callbacks into protocol dispatch() calls, applies backpressure between the
 * two sides, and frees itself only from the reaper, one loop iteration after
 * sess_close(), so no callback ever runs on freed memory.
 */
#ifndef SB_SESSION_H
#define SB_SESSION_H

#include <event2/bufferevent.h> /* bufferevent_filter_cb */
#include <stdint.h>
#include <time.h>

#include "audit/audit.h"
#include "proxy/auth.h"
#include "proxy/decide.h"
#include "proxy/identity.h"
#include "lib/log.h"
#include "protocols/protocol.h"

struct bufferevent;
struct evbuffer;
struct event;
struct sb_proxy;
struct stmt_queue;

/* Relay buffering: stop reading one side while the other side's output
 * holds more than this; resume when it drains below the low mark. 256 KiB
 * keeps a 1 GB result flat in memory while leaving room for TCP windows. */
#define SESS_HIGH_WATER (256u * 1024u)
#define SESS_LOW_WATER (64u * 1024u)
#define SESS_READ_MAX (64u * 1024u)  /* one recv() of a plain socket, at most */

struct session {
	uint64_t id;
	struct sb_proxy *px;              /* borrowed */
	const struct protocol *proto;     /* borrowed, static */
	void *pstate;                     /* owned via proto->free_state */
	struct bufferevent *client;       /* owned */
	struct bufferevent *backend;      /* owned; NULL until sess_backend_connect */
	struct event *timer;              /* owned */

	int client_tls;                   /* client side is TLS */
	int backend_tls;                  /* backend side is TLS */

	/* Who the session acts for (policy, audit and login take this, never
	 * the session): connection part filled at accept, login part at login. */
	struct identity ident;
	int login_audited;                /* the login record was written: session_end follows */
	char phase[16];                   /* for log lines: "login", "ready", ... */
	struct decide_lexing lex;         /* how the server reads statements now: the
					     frontend fills it, decide lexes with it */
	/* What called routines do (policy_request.routine), set by a frontend
	 * that can ask the server's catalog (protocols/pgsql/pg_routines.c);
	 * NULL = calls are classified by name only. */
	int (*routine)(void *ctx, const char *name, size_t len,
		       const struct policy_routine **defs);
	void *routine_ctx;
	/* The server's own id of the backend session, whatever the protocol
	 * (PostgreSQL BackendKeyData pid, MySQL thread id, ...; 0 = not yet):
	 * set by the frontend's backend login, read by the ownership check of
	 * statements that end a session (decide.c, sess_owns_server_id). */
	uint64_t backend_id;
	struct stmt_queue *pending; /* borrowed: the frontend's replies owed (proxy/stmt.h);
				       their query_end records go before session_end */

	uint64_t bytes_in, bytes_out;     /* client→proxy, proxy→client */
	time_t started;                   /* wall clock, for listings */
	int64_t started_us;               /* sess_now_us(): session_end duration */
	uint64_t next_query_id;

	int closing;
	int close_after_flush;
	char close_reason[160];
	time_t close_deadline;            /* close_after_flush gives up at this time */
	char backend_error[300];          /* why the backend connection failed (SESS_EV_ERROR) */
	int backend_paused;               /* backend reads paused by client backpressure */
	int client_paused;                /* client reads paused by backend backpressure */
	int client_held;                  /* client reads stopped by the frontend (sess_hold_client) */
	int relaying;                     /* sess_start_relay(): see write_now() in session.c */
	int relay_raw;                    /* sess_relay_raw(): bytes pass as they are */
	int unauth_counted;               /* holds a login_guard slot until ready or closed */
	int64_t last_activity;            /* monotonic s of the last read on either side (idle_timeout) */
	struct identity *preset;          /* owned: an identity another entry path
					     established (login_preset, login.h); NULL = direct */

	struct session *next, *prev;      /* in px->sessions or px->closing */
};

/* Accept a connected client bufferevent (takes ownership) for protocol p.
 * Returns the session or NULL (the bufferevent is freed). */
struct session *sess_new(struct sb_proxy *px, const struct protocol *p,
			 struct bufferevent *client, const char *ip, int port);

/* The same for a client stream whose login another entry path already
 * made (an SSH channel): who (logged in) is copied into s->preset before
 * the frontend starts, and the session's entry and client are who's. */
struct session *sess_new_preset(struct sb_proxy *px, const struct protocol *p,
				struct bufferevent *client, const struct identity *who);

/* End the session: audit session_end with reason, disable both sides,
 * schedule the free. Safe to call more than once (first reason wins). */
void sess_close(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like sess_close, but first let the client's pending output drain (an
 * error message the client should see), bounded by a short timer. */
void sess_close_after_flush(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The proxy ends a live session for cause (an admin change, a kill): the
 * frontend's goodbye() tells the client in its protocol's words when it can,
 * then sess_close_after_flush(reason). reason goes to session_end. */
void sess_end(struct session *s, const char *reason);

void sess_log(struct session *s, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The phase shown in log lines and listings ("login", "ready", ...). Only
 * a name: it switches nothing. */
void sess_set_phase(struct session *s, const char *phase);

/* Relay modes. sess_start_relay(): both sides are connected and logged in,
 * and the frontend relays messages with inspection (its query phase). The
 * core then gives back the login slot, starts the idle clock (a TIMEOUT
 * only after idle_timeout without traffic) and may write what a read
 * callback queued at once. sess_stop_relay() leaves that mode (a re-login
 * inside the session, a closing frontend). Both are idempotent. */
void sess_start_relay(struct session *s);
void sess_stop_relay(struct session *s);

struct evbuffer *sess_input(struct session *s, enum sess_side side);
struct evbuffer *sess_output(struct session *s, enum sess_side side);

/* Start the (re)armed one-shot session timer; 0 disarms. TIMEOUT is
 * dispatched when it fires. */
void sess_set_timer(struct session *s, int seconds);

/* Upgrade the client side to TLS (server role). TLS_READY on SESS_CLIENT
 * when the handshake is done; failure closes the session. Returns 0/-1. */
int sess_client_tls_start(struct session *s) __attribute__((warn_unused_result));

/* TLS carried inside the protocol's own packets (TDS: the handshake goes
 * in PRELOGIN packets). unwrap takes the protocol's packets from the
 * socket and yields the TLS bytes in them; wrap does the reverse. They are
 * libevent filter callbacks (event2/bufferevent.h: BEV_OK, BEV_NEED_MORE,
 * BEV_ERROR), called with ctx; they keep their own state (for TDS, when
 * the handshake is over the records go unwrapped). ctx is borrowed and
 * must outlive the session's client side. */
struct sess_tls_framing {
	bufferevent_filter_cb unwrap, wrap;
	void *ctx;
};

/* Upgrade the client side to TLS (server role) through the framing layer
 * fr: socket <- fr <- TLS <- the session. TLS_READY on SESS_CLIENT when the
 * handshake is done; failure closes the session. Bytes already buffered are
 * handed to the framing layer. Returns 0, or -1 (the caller closes). */
int sess_client_tls_start_framed(struct session *s, const struct sess_tls_framing *fr)
	__attribute__((warn_unused_result));

/* Leave TLS on the client side: what the client sends and gets from here
 * is plain again (TDS login-only encryption: LOGIN7 went inside TLS, the
 * rest does not). Call at a point where the client has nothing in flight
 * inside TLS. Returns 0, or -1 (the caller closes). */
int sess_client_tls_stop(struct session *s) __attribute__((warn_unused_result));

/* Open the backend TCP connection to host:port (async DNS). CONNECTED on
 * SESS_BACKEND when done; failure or connect_timeout closes the session
 * with a reason. Returns 0/-1. */
int sess_backend_connect(struct session *s, const char *host, int port)
	__attribute__((warn_unused_result));

/* Upgrade the backend side to TLS (client role); verify = 1 checks the
 * certificate chain and that it names `host`. TLS_READY on SESS_BACKEND. */
int sess_backend_tls_start(struct session *s, const char *host, int verify)
	__attribute__((warn_unused_result));

/* The same through the framing layer fr (TDS: the handshake in PRELOGIN
 * packets, the records raw after it): socket <- fr <- TLS <- the session. */
int sess_backend_tls_start_framed(struct session *s, const char *host, int verify,
				  const struct sess_tls_framing *fr)
	__attribute__((warn_unused_result));

/* Replace the backend connection (TNS REDIRECT: the listener names another
 * address): the current one is closed with whatever it still buffers in
 * either direction, backpressure from it is released, and host:port is
 * connected as by sess_backend_connect(), dispatching CONNECTED (and the
 * frontend starts TLS or logs in again). May be called from the backend's
 * own READ dispatch. Returns 0/-1 (-1: the caller closes). */
int sess_backend_replace(struct session *s, const char *host, int port)
	__attribute__((warn_unused_result));

/* The session becomes a plain byte relay (TNS after CONNECT/ACCEPT): from
 * now on what one side sends goes to the other as it is, with
 * backpressure, and dispatch() is no longer called for READ (TIMEOUT,
 * ERROR and FLUSHED still are). Bytes already buffered on either side are
 * relayed now. Starts the fast relay (sess_start_relay). There is no way
 * back. Returns 0, or -1 when there is no backend or the session closes. */
int sess_relay_raw(struct session *s) __attribute__((warn_unused_result));

/* Call after appending to `to`'s output: pauses reading from the other side
 * while `to` is above the high mark (resumed automatically). */
void sess_backpressure(struct session *s, enum sess_side to);

/* The frontend stops (on = 1) or resumes (on = 0) reading the client,
 * independently of backpressure: reads resume only when neither holds
 * them. Resuming does not dispatch: the caller processes what is buffered. */
void sess_hold_client(struct session *s, int on);

/* Fill the session's identity fields into ev and write it to the audit log.
 * Returns 0 when written (or when on_failure=open let it pass), -1 when the
 * statement must not run (audit failed and on_failure=close). */
int sess_audit(struct session *s, struct audit_event *ev) __attribute__((warn_unused_result));

/* The same for records that refuse nothing (login_failed, query_end,
 * session_end): a failure is logged by sess_audit and otherwise ignored. */
void sess_audit_record(struct session *s, struct audit_event *ev);

/* For query_end records: handed to the audit writer now, written with the
 * next durable record or by the daemon's flush timer within 100 ms (one
 * write(2) per statement instead of two). A failure is logged. */
void sess_audit_later(struct session *s, struct audit_event *ev);

/* Count of logged-in live sessions of a bastion user (auth's session limit). */
int sess_count_user(void *px, const char *user);

/* Find a live session by id (cancel requests). NULL if none. */
struct session *sess_find(struct sb_proxy *px, uint64_t id);

/* Free every session now (shutdown). */
void sess_free_all(struct sb_proxy *px);

/* Monotonic microseconds, for durations. */
int64_t sess_now_us(void);

#endif
