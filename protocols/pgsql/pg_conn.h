/* pg_conn: the PostgreSQL frontend's per-session state, shared by
 * pg_login.c (startup, client auth, backend login, cancel) and pg_relay.c
 * (the query phase). Internal to protocols/pgsql/.
 */
#ifndef SB_PG_CONN_H
#define SB_PG_CONN_H

#include <stdint.h>

#include "policy/policy.h"
#include "protocols/pgsql/pg_codec.h"
#include "protocols/pgsql/pg_scram.h"
#include "proxy/backend_auth.h"
#include "proxy/login.h"
#include "protocols/protocol.h"
#include "proxy/stmt.h"

struct session;

enum pg_state {
	PG_ST_STARTUP,         /* waiting for a startup packet (maybe SSLRequest first) */
	PG_ST_CLIENT_TLS,      /* TLS handshake with the client */
	PG_ST_SASL_FIRST,      /* sent AuthenticationSASL, waiting for SASLInitialResponse */
	PG_ST_SASL_FINAL,      /* sent SASLContinue, waiting for SASLResponse */
	PG_ST_PASSWORD,        /* sent AuthenticationCleartextPassword */
	PG_ST_BACKEND_CONNECT, /* TCP connect to the asset */
	PG_ST_BACKEND_SSL,     /* sent SSLRequest to the backend, waiting for S/N */
	PG_ST_BACKEND_TLS,     /* TLS handshake with the backend */
	PG_ST_BACKEND_AUTH,    /* sent StartupMessage; answering auth requests */
	PG_ST_BACKEND_STARTUP, /* backend said AuthenticationOk; relaying until ReadyForQuery */
	PG_ST_READY,           /* query phase: relay with inspection */
	PG_ST_CANCEL,          /* this connection only forwards a CancelRequest */
	PG_ST_CLOSED,
};

/* A prepared statement the client created with Parse (name "" = unnamed). */
struct pg_stmt {
	char *name;            /* owned */
	struct stmt_decision dec; /* text and decision at Parse (approval: review rule) */
	int refs;              /* statement map + portals */
	int verified;          /* scratch of the pg_prepared_statements check */
	struct pg_stmt *next;
};

/* A portal the server confirmed (BindComplete); while its Bind is in
 * flight the same object sits in that Bind's pending entry. */
struct pg_portal {
	char *name;            /* owned */
	struct pg_stmt *stmt;  /* counted reference; NULL = text unknown to the proxy */
	int run_decided;       /* an Execute of it passed the approval check */
	int64_t approval;      /* the approval its run uses; 0 = none */
	char *params;          /* owned; bound values as JSON for the audit, or NULL */
	struct pg_portal *next;
};

/* What the proxy is waiting to hear back from the backend, in order. The
 * statement and portal maps change only when the entry of a Parse, Bind
 * or Close is answered (see pg_relay.c). */
enum pg_pending_kind {
	PG_PEND_SIMPLE,        /* forwarded Query: ends at ReadyForQuery */
	PG_PEND_EXEC,          /* forwarded Execute: ends at CommandComplete/Error/... */
	PG_PEND_SYNC,          /* forwarded Sync: ends at ReadyForQuery */
	PG_PEND_FUNC,          /* forwarded FunctionCall: ends at ReadyForQuery */
	PG_PEND_DENIED_SIMPLE, /* denied Query replaced by Bind(marker)+Sync */
	PG_PEND_DENIED_PARSE,  /* denied extended message replaced by Parse/Bind(marker) */
	PG_PEND_PARSE,         /* forwarded Parse: ParseComplete adds .stmt */
	PG_PEND_BIND,          /* forwarded Bind: BindComplete adds .portal */
	PG_PEND_CLOSE,         /* forwarded Close: CloseComplete removes .name */
	PG_PEND_DESCRIBE,      /* forwarded Describe: ends at RowDescription/NoData */
	PG_PEND_INTERNAL,      /* the proxy's own query (pg_internal.c): ends at ReadyForQuery */
};

struct pg_pending {
	struct stmt_pending hd; /* seq, query id, start, rows, error (proxy/stmt.h) */
	enum pg_pending_kind kind;
	char *deny_message;    /* owned: client-facing text for denied kinds */
	char deny_sqlstate[6];
	char target;           /* CLOSE: 'S' or 'P' */
	char *name;            /* owned: PARSE/CLOSE/DENIED_PARSE name (NULL for others) */
	struct pg_stmt *stmt;  /* PARSE: counted reference to the new statement */
	struct pg_portal *portal; /* BIND: owned until BindComplete links it */
	struct pg_syntax_check *chk; /* DENIED_*: owned; a server-side parse check (pg_syntax.c) */
};

/* FunctionCall OIDs resolved to "schema.name" ("" = no such function). */
#define PG_FN_CACHE 128
struct pg_fn_name {
	uint32_t oid;
	char name[136];
};

struct pg_conn {
	struct session *s;            /* borrowed: the session owns us */
	enum pg_state st;

	/* login (freed once the session is ready) */
	struct login login;           /* user as sent, hosted secret, backend auth (proxy/login.h) */
	struct pg_param *params;      /* owned array; strings in param_blob */
	int n_params;
	char *param_blob;             /* owned */
	struct pg_scram_server *scram;   /* owned during client auth */
	struct pg_scram_client *bscram;  /* owned during backend auth */
	int bauth_step;               /* PG_BA_*: how far the backend auth exchange went */
	uint32_t pt_asked;            /* end-to-end login (pg_passthrough_auth.c): the relayed
					 request the client must answer; 0 = none */
	int pt_md5;                   /* end-to-end login: an md5 request was relayed */

	/* cancel keys: ours to the client, the backend's to us */
	uint32_t our_key;
	uint32_t backend_pid, backend_key;
	/* for a cancel-forwarding connection */
	uint32_t cancel_pid, cancel_key;

	/* query phase */
	char tx_status;               /* from the last ReadyForQuery: I, T, E */
	int discard_until_sync;       /* after a denied Parse, as a server would */
	int kill_after_error;         /* a kill rule fired: close after the error reaches the client */
	char marker[48];              /* name of a statement that never exists (per session) */
	struct pg_stmt *stmts;
	struct pg_portal *portals;
	struct stmt_queue pend;       /* of struct pg_pending: replies still to come */
	uint64_t hold_seq;            /* client held until the entry with this seq is answered; 0 = none */
	int ext_open;                 /* extended messages forwarded since the last Sync */
	int srv_skipping;             /* the server is skipping messages until Sync (an error) */
	int n_stmts, n_portals;       /* sizes of the confirmed maps */
	int stmts_suspect;            /* SQL PREPARE/DEALLOCATE/DISCARD may have changed named statements */
	size_t stmt_bytes;            /* SQL bytes held by statements (maps and in flight) */
	struct policy_result pres_alt; /* scratch: decisions under other lexing readings */
	struct pg_internal *internal; /* owned: the proxy's own query in flight, or NULL */
	uint64_t internal_count;      /* names of internal statements */
	struct pg_fn_name fn_cache[PG_FN_CACHE];
	int fn_cache_len;
	uint32_t fn_failed_oid;       /* the lookup of this OID just failed: refuse once */
	int fn_failed;
	struct pg_routines *routines; /* owned: called routines' facts (pg_routines.c) */
};

/* pg_frontend.c: pg_auth = password (cleartext token over TLS) rather
 * than SCRAM-SHA-256; set at daemon start. */
int pg_cleartext_auth(void);

/* pg_login.c */
/* The struct protocol hooks of the login (state is the pg_conn). */
void pg_login_read(struct session *s, void *state, enum sess_side side);
int pg_client_tls_ready(struct session *s, void *state);
void pg_backend_ready(struct session *s, void *state, int tls);
void pg_backend_lost(struct session *s, void *state);
void pg_cancel_over(struct session *s, void *state);
/* struct protocol login_refused: 28P01, 08006 or 58030, then close. */
void pg_login_refused(struct session *s, void *state, enum login_refusal kind,
		      const char *reason);

/* pg_relay.c */
int pg_relay_init(struct pg_conn *c);
void pg_relay_client(struct pg_conn *c);
void pg_relay_backend(struct pg_conn *c);
void pg_relay_free(struct pg_conn *c);
/* A ParameterStatus from the server: note the settings that change how
 * statements are lexed (standard_conforming_strings, client_encoding). */
void pg_note_parameter(struct pg_conn *c, const uint8_t *b, size_t n);

/* Push a pending entry (seq assigned); NULL when out of memory. */
struct pg_pending *pg_pend_push(struct pg_conn *c, enum pg_pending_kind kind);
/* Nothing forwarded is still unanswered: the proxy's settings and maps are the server's. */
int pg_quiet(const struct pg_conn *c);
/* Stop reading the client until the newest pending entry is answered. */
void pg_hold_until_quiet(struct pg_conn *c);
/* Replace a refused message by Bind(marker)(+Sync when simple); see pg_relay.c. */
int pg_inject_denial(struct pg_conn *c, enum pg_pending_kind kind, const char *sqlstate,
		     const char *message);

/* pg_fastpath.c: FunctionCall decided by the function's name. Returns 1
 * consumed (refused or held: *held set), 0 forward, -1 closed. */
int pg_on_function_call(struct pg_conn *c, const uint8_t *b, size_t n, int *held);

/* Send an ErrorResponse to the client and close once it is out. */
void pg_fatal(struct pg_conn *c, const char *sqlstate, const char *msg, const char *reason);

#endif
