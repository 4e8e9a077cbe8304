/* tds_conn: the TDS frontend's per-session state, shared by tds_login.c
 * (PRELOGIN, client TLS, LOGIN7 with the token, the backend login with the
 * hosted account) and tds_relay.c (requests and replies). Internal to
 * protocols/tds/.
 */
#ifndef SB_TDS_CONN_H
#define SB_TDS_CONN_H

#include <stdint.h>

#include "policy/policy.h"
#include "protocols/protocol.h"
#include "protocols/tds/tds_codec.h"
#include "protocols/tds/tds_tls.h"
#include "protocols/tds/tds_tokens.h"
#include "proxy/login.h"
#include "proxy/stmt.h"

struct session;
struct evbuffer;

enum tds_state {
	TDS_ST_PRELOGIN,         /* waiting for the client's PRELOGIN */
	TDS_ST_CLIENT_TLS,       /* TLS handshake with the client */
	TDS_ST_LOGIN7,           /* waiting for LOGIN7 */
	TDS_ST_BACKEND_CONNECT,  /* TCP connect to the asset */
	TDS_ST_BACKEND_PRELOGIN, /* sent our PRELOGIN, waiting for the server's */
	TDS_ST_BACKEND_TLS,      /* TLS handshake with the backend */
	TDS_ST_BACKEND_LOGIN,    /* sent LOGIN7 with the hosted account, waiting for LOGINACK */
	TDS_ST_READY,            /* requests and replies */
	TDS_ST_CLOSED,
};

/* How the client's connection is encrypted (PRELOGIN's answer). */
enum tds_client_enc {
	TDS_CENC_NONE,       /* no TLS (the client cannot do it) */
	TDS_CENC_LOGIN_ONLY, /* LOGIN7 inside TLS, then plain */
	TDS_CENC_FULL,       /* everything inside TLS */
	TDS_CENC_STRICT,     /* TDS 8.0: TLS before PRELOGIN */
};

#define TDS_REQUEST_MAX (64u * 1024u * 1024u) /* a request gathered whole, at most */
#define TDS_PRELOGIN_MAX 4096u
#define TDS_LOGIN_REPLY_MAX (1024u * 1024u)

enum tds_pend_kind {
	TDS_PEND_REQUEST, /* a batch, one RPC call, a transaction-manager or bulk request */
	TDS_PEND_ATTN,    /* an attention: its DONE(ATTN) acknowledgement is owed */
};

/* What a prepare call's handle names once the server confirms it. */
enum tds_prep { TDS_PREP_NONE, TDS_PREP_EXEC, TDS_PREP_CURSOR };

struct tds_pending {
	struct stmt_pending hd;
	enum tds_pend_kind kind;
	uint64_t req;              /* request number: the calls of one RPC request share it */
	enum tds_prep prep;
	struct stmt_decision *dec; /* owned: a prepare's decision until its handle is mapped */
	int32_t handle;
	int handle_set;
};

/* A prepared handle the server confirmed, and the decision it runs under. */
struct tds_handle {
	enum tds_prep kind;
	int32_t handle;
	struct stmt_decision dec;
	struct tds_handle *next;
};

struct tds_conn {
	struct session *s;      /* borrowed */
	enum tds_state st;
	enum tds_client_enc cenc;
	struct tds_tls_frame cframe, bframe; /* the client's and the backend's TLS framing */
	struct login login;
	struct tds_login7 l7;   /* the client's LOGIN7 until the backend login is sent */
	uint8_t benc;           /* the encryption we asked the backend for */
	uint32_t tds_version;

	/* requests */
	struct stmt_queue pend;    /* of struct tds_pending */
	struct evbuffer *req_raw;  /* owned: the packets of the request being gathered */
	struct tds_buf req;        /* its payload */
	uint8_t req_type;
	uint64_t req_no;
	size_t pass_left[2];       /* bytes of a packet streamed through, per side */
	int pass_eom;              /* the client packet streamed through ends a bulk request */
	int held;                  /* client reads stopped (a queue cap) */
	struct policy_result pres;
	int64_t approval;
	char current[160];
	struct tds_handle *handles;
	/* a denial met while deciding the calls of a request */
	int denied;
	int deny_kill;
	char deny_msg[256];

	/* replies */
	struct tds_walker walk;
	int bpkt_eom;              /* the backend packet being relayed ends its message */
};

/* tds_login.c */
void tds_login_read(struct session *s, void *state, enum sess_side side);
int tds_client_tls_ready(struct session *s, void *state);
void tds_backend_ready(struct session *s, void *state, int tls);
void tds_login_refused(struct session *s, void *state, enum login_refusal kind,
		       const char *reason);
void tds_set_state(struct tds_conn *c, enum tds_state st);

/* tds_relay.c */
int tds_relay_init(struct tds_conn *c);
void tds_relay_free(struct tds_conn *c);
void tds_relay_client(struct tds_conn *c);
void tds_relay_backend(struct tds_conn *c);
void tds_relay_resume(struct tds_conn *c);

/* One whole message of `side` (packets up to EOM, at most max bytes of
 * payload): returns 1 with its payload in *out (and its packets' bytes
 * removed from the input, copied to raw when raw is not NULL), 0 when it
 * has not all arrived, -1 when malformed or too long. */
int tds_read_message(struct session *s, enum sess_side side, size_t max, uint8_t *type,
		     struct tds_buf *out, struct evbuffer *raw);

#endif
