/* tns_conn: one Oracle Net client connection, shared by the TNS frontend's
 * files: tns_frontend.c (descriptor and login: CONNECT, the token, the
 * backend's ACCEPT / RESEND / REDIRECT / REFUSE) and tns_relay.c (the
 * packet relay that reads TTC calls). Not a public interface. */
#ifndef SB_TNS_CONN_H
#define SB_TNS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "protocols/tns/tns_codec.h"
#include "protocols/tns/tns_ttc.h"
#include "proxy/login.h"
#include "proxy/stmt.h"

struct session;
struct evbuffer;

enum tns_state {
	TNS_ST_CONNECT,        /* waiting for the client's CONNECT */
	TNS_ST_CONNECT_DATA,   /* its descriptor follows in a DATA packet */
	TNS_ST_BACKEND,        /* connecting the backend (or after a REDIRECT) */
	TNS_ST_ACCEPT,         /* our CONNECT is out: ACCEPT, RESEND, REDIRECT or REFUSE */
	TNS_ST_REDIRECT_DATA,  /* a REDIRECT's data follows in a DATA packet */
	TNS_ST_READY,          /* relay */
	TNS_ST_CLOSED,
};

#define TNS_REDIRECTS_MAX 4     /* REDIRECTs followed for one login */
#define TNS_CALL_MAX (16u * 1024u * 1024u) /* one TTC call gathered whole, at most */
#define TNS_CURSORS_MAX 4096    /* cursor ids whose text is remembered */
/* The last reply bytes kept to read its end-of-call message: that message
 * is under 100 bytes plus an error text Oracle cuts at 512. */
#define TNS_TAIL_MAX 2048

/* What the proxy knows a cursor id stands for. */
struct tns_cursor {
	uint32_t id;
	char *sql; /* owned */
	size_t len;
	struct tns_bind_meta *meta; /* owned: the bind types its execute declared */
	uint32_t nmeta;
};

/* A call awaiting the server's answer (stmt.h entry). */
struct tns_pending {
	struct stmt_pending head;
	uint8_t func;
	uint32_t cursor;
	char *sql;  /* owned: the text an execute parsed, entered in the cursor map
		       under the id the server's reply gives; NULL after */
	size_t len;
	struct tns_bind_meta *meta; /* owned: its bind types, moved to the map with sql */
	uint32_t nmeta;
	uint32_t ran_on; /* the cursor the server says the call ran on (0 = not known yet) */
};

struct tns_conn {
	struct session *s;       /* borrowed */
	enum tns_state st;
	struct login login;
	char client_info[1024];  /* CID as JSON (login.client_info points here) */
	int by_sid;              /* the client named the token as SID */
	/* the client's CONNECT (owned) and the connect data the backend gets */
	uint8_t *connect;
	size_t connect_len;
	struct tns_connect cp;
	char *backend_cd;        /* owned */
	size_t backend_cd_len;
	uint16_t redirect_len;   /* REDIRECT data still to come in a DATA packet */
	int redirects;
	char backend_host[256];  /* the host a REDIRECT named ("": the asset's), for TLS checks */
	int client_tls_pending;  /* TCPS: the client's TLS handshake is under way */
	int large;               /* 32-bit packet lengths (ACCEPT version >= 315) */
	int unreadable;          /* native encryption negotiated: TTC not read */
	int ano_seen;            /* the server's network-options answer was read */
	int ano_demanded;        /* ... and it demands native encryption the client lacks */
	int user_checked;        /* the O5LOGON user was the account's */
	int token_mode;          /* TTC layout: -1 unknown, 0/1 without/with the token number */
	/* relay */
	struct evbuffer *held;   /* owned: the client's packets of the call being gathered */
	uint8_t *call;           /* owned: their payloads */
	size_t call_len, call_cap;
	struct stmt_queue pend;
	struct policy_result pres;
	struct tns_cursor *cursors; /* owned */
	size_t ncursors;
	char current[256];
	uint8_t tail[TNS_TAIL_MAX]; /* the last payload bytes of the server's current reply */
	size_t tail_len;
};

/* tns_frontend.c */
void tns_login_read(struct session *s, void *state, enum sess_side side);
void tns_send_connect(struct tns_conn *c);

/* tns_tls.c: TCPS on both sides */
int tns_client_tls_first(struct tns_conn *c);
int tns_client_tls_ready(struct session *s, void *state);
void tns_backend_ready(struct session *s, void *state, int tls);
void tns_login_refused(struct session *s, void *state, enum login_refusal kind,
		       const char *reason);

/* tns_relay.c */
void tns_relay_init(struct tns_conn *c);
void tns_relay_free(struct tns_conn *c);
void tns_relay_read(struct session *s, void *state, enum sess_side side);
/* Whole packet at the head of side's input: its header (large or not) or
 * NULL (wait; on a bad header the session is closed). */
uint8_t *tns_whole_packet(struct tns_conn *c, enum sess_side side, int large,
			  struct tns_hdr *h);

#endif
