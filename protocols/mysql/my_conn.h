/* my_conn: the MySQL frontend's per-session state, shared by my_login.c
 * (handshake, client auth with the token, backend login with the hosted
 * account) and my_relay.c (the command phase). Internal to protocols/mysql/.
 */
#ifndef SB_MY_CONN_H
#define SB_MY_CONN_H

#include <openssl/evp.h>
#include <stdint.h>

#include "policy/policy.h"
#include "protocols/mysql/my_codec.h"
#include "protocols/protocol.h"
#include "proxy/backend_auth.h"
#include "proxy/login.h"
#include "lib/ring.h"
#include "proxy/stmt.h"

struct session;
struct my_pt;

enum my_state {
	MY_ST_HANDSHAKE,         /* greeting sent, waiting for HandshakeResponse41 or SSLRequest */
	MY_ST_CLIENT_TLS,        /* TLS handshake with the client */
	MY_ST_CLIENT_AUTH,       /* sent auth switch / more data, waiting for the client */
	MY_ST_BACKEND_CONNECT,   /* TCP connect to the asset */
	MY_ST_BACKEND_HANDSHAKE, /* waiting for the server's HandshakeV10 */
	MY_ST_BACKEND_TLS,       /* TLS handshake with the backend */
	MY_ST_BACKEND_AUTH,      /* sent HandshakeResponse41, answering auth requests */
	MY_ST_BACKEND_SETUP,     /* read grant: sent MY_READ_ONLY_SQL, waiting for its OK */
	MY_ST_READY,             /* command phase */
	MY_ST_CLOSED,
};

/* What the proxy runs on the backend itself, for a `read` grant, right
 * after the backend login (and again after COM_RESET_CONNECTION, which
 * resets it): every later transaction of the session, autocommit ones
 * included, is read-only on the server (MariaDB/MySQL error 1792 on a
 * write), whatever the classifier let through. Defense in depth, like
 * default_transaction_read_only=on on the PostgreSQL side. */
#define MY_READ_ONLY_SQL "SET SESSION TRANSACTION READ ONLY"

/* Why the proxy is waiting for a client auth packet. */
enum my_client_auth {
	MY_CA_NONE,
	MY_CA_SWITCH_NATIVE,     /* sent auth switch to mysql_native_password */
	MY_CA_SWITCH_SHA2,       /* sent auth switch to caching_sha2_password (our nonce) */
	MY_CA_SHA2_FULL,         /* caching_sha2: sent "perform full auth"; TLS: the token
				    follows, plain: a public key request or the RSA ciphertext */
	MY_CA_SHA2_RSA,          /* caching_sha2: sent our RSA public key, the ciphertext follows */
};

/* A prepared statement the backend created (COM_STMT_PREPARE answered OK). */
struct my_stmt {
	uint32_t id;
	struct stmt_decision dec;  /* text and decision at prepare (approval: review rule) */
	uint16_t num_params;
	uint16_t *types;           /* owned, num_params entries */
	int types_known;
	uint8_t *long_data;        /* owned bitmap: params sent with SEND_LONG_DATA */
	int may_change_mode;       /* executing it may change sql_mode / character set */
	struct my_stmt *next;
};

/* What the proxy expects back from the backend (or must answer itself),
 * in command order. */
enum my_pend_kind {
	MY_PEND_RESULT,   /* COM_QUERY / COM_STMT_EXECUTE: OK, ERR, LOCAL INFILE or result sets */
	MY_PEND_PREPARE,  /* COM_STMT_PREPARE */
	MY_PEND_SIMPLE,   /* one packet: OK / ERR / EOF / a string (PING, INIT_DB, ...) */
	MY_PEND_FIELDS,   /* COM_FIELD_LIST: column definitions up to EOF, or ERR */
	MY_PEND_FETCH,    /* COM_STMT_FETCH: rows up to EOF, or ERR */
	MY_PEND_LOCAL,    /* answered by the proxy: `reply` is sent when it reaches the head */
	MY_PEND_INTERNAL, /* the proxy's own MY_READ_ONLY_SQL or COM_RESET_CONNECTION
			     (change user): OK swallowed, ERR ends the session */
	MY_PEND_PROBE,    /* the proxy's MY_MODE_PROBE_SQL: result consumed, sets the lexing state */
	MY_PEND_SYNTAX,   /* the proxy's parse check of an unreadable statement (my_syntax.h):
			     replies consumed, then the client's answer */
	MY_PEND_ROUTINES, /* the proxy's routine look-up (my_routines.c): result consumed */
};

struct my_syntax_check; /* my_syntax.c */

/* Where a result stream is. */
enum my_res_phase {
	MY_RES_FIRST,     /* waiting for the first packet of a result */
	MY_RES_COLUMNS,   /* column definitions, `left` to go */
	MY_RES_COLS_EOF,  /* the EOF after the column definitions (no DEPRECATE_EOF) */
	MY_RES_ROWS,      /* rows up to the terminator */
	MY_RES_INFILE,    /* LOCAL INFILE: client sends file data, then an empty packet */
	MY_RES_COUNTED,   /* COM_STMT_PREPARE: `left` more packets (definitions, EOFs), then done */
};

struct my_pending {
	struct stmt_pending hd;   /* query id, start, rows, first error (proxy/stmt.h) */
	enum my_pend_kind kind;
	enum my_res_phase phase;
	uint64_t left;            /* column/param definitions still to come */
	struct my_stmt *stmt;     /* owned: COM_STMT_PREPARE's statement until the server answers */
	int infile_ok;            /* LOAD DATA LOCAL may read a client file */
	int infile_refused;       /* we refused the backend's file request: swallow its answer */
	uint8_t *reply;           /* owned: MY_PEND_LOCAL packet payload */
	uint8_t reply_seq;        /* its sequence id: the command's packet count (1 unless split) */
	size_t reply_len;
	int kill_after;           /* a kill rule fired: close once the reply is out */
	int reset_stmts;          /* COM_RESET_CONNECTION: forget statements on OK */
	char *init_db;            /* owned: COM_INIT_DB name, set as database on OK */
	int refused_prepare;      /* MY_PEND_LOCAL answering a COM_STMT_PREPARE: the
				     server's "last prepared" (id -1) is gone for the client */
	int db_change;            /* 1 COM_INIT_DB, 2 a batch with USE: the database is
				     unknown until this reply ends (see my_db_settle) */
	struct my_syntax_check *chk; /* owned: MY_PEND_SYNTAX's check */
};

/* One packet of a text result set the proxy asked for itself (the
 * session-state probe, a routine look-up), after the caller has handled an
 * ERR: MY_WALK_META (column count, definitions, their EOF), MY_WALK_ROW (b
 * is a row), MY_WALK_END (the terminator), or -1 when it is not what such a
 * result may hold (a column count other than `cols`). */
enum { MY_WALK_META = 0, MY_WALK_ROW = 1, MY_WALK_END = 2 };
int my_own_result_packet(struct my_pending *p, const uint8_t *b, size_t n, int deprecate_eof,
			 uint64_t cols);

/* Bounds of what a session queues for its client (issue 10 class 5): the
 * relay stops reading the client while over a cap (proxy/stmt.h:
 * STMT_MY_PENDING_MAX replies owed, STMT_LOCAL_BYTES_MAX bytes of
 * proxy-made replies, STMT_PRE_READY_MAX client bytes before ready), so a
 * flood of commands answered locally, or queued behind a slow one, cannot
 * grow memory. */
#define MY_HELD_QUEUE 1               /* my_conn.held: over a cap */
#define MY_HELD_REPLIES 2             /* my_conn.held: until no reply is owed */

struct my_conn {
	struct session *s;            /* borrowed: the session owns us */
	enum my_state st;

	/* login */
	uint8_t scramble[MY_SCRAMBLE_LEN]; /* ours, sent to the client */
	uint8_t seq;                  /* next sequence id towards the client during login */
	struct login login;           /* user as sent, hosted secret, backend auth (proxy/login.h) */
	uint32_t client_caps;         /* what the client chose from our offer */
	uint32_t caps;                /* client_caps & backend caps: what both sides use */
	uint32_t client_max_packet;
	uint8_t client_charset;
	char *attrs;                  /* owned: client's connect attributes block */
	size_t attrs_len;
	enum my_client_auth cauth;
	struct my_handshake bhs;      /* the backend's handshake */
	uint8_t bseq;                 /* next sequence id towards the backend during login */
	char bplugin[64];             /* plugin the backend is using now */
	int sha2_asked_key;           /* caching_sha2: asked the server for its RSA key */
	uint32_t backend_thread;      /* the backend's connection id (for KILL) */
	struct my_pt *pt;             /* owned: an end-to-end login's state
					 (my_passthrough_auth.c); NULL otherwise */

	/* command phase */
	struct stmt_queue pend;       /* of struct my_pending: replies still to come */
	int cont[2];                  /* the last packet was 16 MiB - 1: the next continues it */
	int finish_after_pass;        /* the streamed backend packet ends the reply at the head */
	uint8_t *cmd;                 /* owned: a reassembled multi-packet client command */
	uint8_t cmd_packets;          /* packets of the command being handled (reply sequence id) */
	struct my_stmt *stmts;
	uint32_t last_stmt_id;        /* for stmt_id -1 (MariaDB: the last prepared); 0 = none */
	unsigned prepares_in_flight;  /* COM_STMT_PREPAREs not answered yet (ids not known) */
	int held;                     /* MY_HELD_*: client commands wait (sess_hold_client)
					 until my_relay_resume() finds the reason gone */
	int db_pending;               /* replies with a db_change still to come */
	int db_lost;                  /* a USE may have run unseen (its batch failed) */
	struct my_routines *routines; /* owned: called routines' facts (my_routines.c) */

	/* COM_CHANGE_USER (my_login.c my_login_change_user): the token check
	 * runs as at login; these say what it must match */
	int change_user;              /* a change-user exchange is under way */
	int64_t cu_asset_id, cu_account_id; /* the session's asset and account */
};

/* my_frontend.c: the RSA key of caching_sha2 full authentication without
 * TLS (made at daemon start when a mysql listener is configured; NULL
 * otherwise). */
EVP_PKEY *my_client_rsa(void);

/* my_login.c */
/* The struct protocol hooks of the login (state is the my_conn). */
void my_login_read(struct session *s, void *state, enum sess_side side);
int my_client_tls_ready(struct session *s, void *state);
void my_backend_ready(struct session *s, void *state, int tls);
int my_send_greeting(struct my_conn *c);
/* COM_CHANGE_USER (whole payload b, n) in the command phase with no reply
 * owed: checks the token as a login does, then resets the backend session
 * (my_relay_change_user). A refusal ends the session (ERR first). Returns
 * 1 (consumed). */
int my_login_change_user(struct my_conn *c, const uint8_t *b, size_t n);

/* For my_passthrough_auth.c: the login's own steps. */
void my_login_set_state(struct my_conn *c, enum my_state st);
/* One whole login packet from side (see my_login.c login_packet). */
uint8_t *my_login_packet(struct my_conn *c, enum sess_side side, size_t *n, int *closed);
/* Send a payload to side with that side's login sequence id. 0 or -1. */
int my_login_send(struct my_conn *c, enum sess_side side, struct my_buf *b);
/* Keep what a client's HandshakeResponse41 asks for beyond its proof: the
 * database (into the identity) and the connection attributes (copied for
 * the backend's login). NULL, or why the login must be refused. */
const char *my_take_db_and_attrs(struct my_conn *c, const struct my_hs_response *r);
/* The backend's handshake (payload b, n): capabilities, TLS per the asset,
 * then the HandshakeResponse41. */
void my_login_backend_handshake(struct my_conn *c, const uint8_t *b, size_t n);
/* The capabilities the proxy offers a client. */
uint32_t my_offer_caps(void);

/* my_relay.c */
/* Set up the reply queue (at accept: the session then flushes its
 * query_end records before session_end). */
void my_relay_init(struct my_conn *c);
void my_relay_client(struct my_conn *c);
void my_relay_backend(struct my_conn *c);
void my_relay_free(struct my_conn *c);
/* After a COM_CHANGE_USER's token was accepted: back to the command phase,
 * reset the server session (COM_RESET_CONNECTION; read-only again for a
 * read grant; the relay forgets statements and lexing state as the server
 * does), then answer OK with sequence id c->seq. Returns 0 or -1. */
int my_relay_change_user(struct my_conn *c);
/* Process client commands a hold kept waiting, once its reason is gone
 * (called after backend replies and when the client's output drained). */
void my_relay_resume(struct my_conn *c);

/* struct protocol login_refused: ERR 1045 or the audit's HY000, then close. */
void my_login_refused(struct session *s, void *state, enum login_refusal kind,
		      const char *reason);

/* Send ERR to the client with sequence id seq, then close once it is out. */
void my_fatal(struct my_conn *c, uint8_t seq, uint16_t code, const char *sqlstate,
	      const char *msg, const char *reason);

#endif
