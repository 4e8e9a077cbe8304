/* tns_ttc: reading the TTC calls a client sends inside TNS DATA packets.
 *
 * After ACCEPT (and the native-services, protocol and data-type
 * negotiation) a session is a sequence of TTC calls, each a message type
 * byte (3 = function call) and a function code: O5LOGON's two AUTH
 * phases (118, 115), OALL8 execute (94) with SQL text and binds,
 * re-execute by cursor id (4, 78), fetch (5), commit (14), rollback (15),
 * logoff (9); close-cursor piggybacks (17/105) may come before the call.
 * One call may span several DATA packets and carries no end marker, so
 * the relay gathers the payloads of a call and asks here whether it is
 * whole (TNS_AGAIN until it is).
 *
 * Field layouts differ by the TTC field version the two sides agreed on
 * and by client: python-oracledb 1.x writes the SQL text and the AUTH user
 * raw after the fixed fields, newer clients (python-oracledb 2+,
 * node-oracledb) write them length-prefixed; 23ai field versions add a
 * 64-bit token number after the sequence byte. The reader tries each
 * layout and takes the one that reads the whole call consistently (the
 * text's length equals the declared length, al8i4[0] says "parse", the
 * binds end where the call ends). No I/O, no logging; what it returns
 * points into the caller's bytes or is owned by struct tns_call.
 */
#ifndef SB_TNS_TTC_H
#define SB_TNS_TTC_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/tns/tns_codec.h"

#define TTC_MSG_FUNCTION 3
#define TTC_MSG_PIGGYBACK 17

#define TTC_FN_EXECUTE 94
#define TTC_FN_REEXECUTE 4
#define TTC_FN_REEXECUTE_FETCH 78
#define TTC_FN_FETCH 5
#define TTC_FN_COMMIT 14
#define TTC_FN_ROLLBACK 15
#define TTC_FN_LOGOFF 9
#define TTC_FN_AUTH1 118
#define TTC_FN_AUTH2 115
#define TTC_FN_CLOSE_CURSORS 105

#define TTC_EXEC_PARSE 0x01
#define TTC_EXEC_DEFINE 0x10

#define TTC_CLOSE_MAX 64      /* cursor ids one piggyback closes that are kept */
/* Bytes of rendered binds kept for one audit record; past it the record
 * says so in place of the values (a bulk insert of thousands of rows fits). */
#define TTC_PARAMS_MAX (1024u * 1024u)

/* A bind's type as the execute that parsed the statement declared it (a
 * re-execute sends values only: these say how to render them). */
struct tns_bind_meta {
	uint8_t type, csfrm;
};

/* What the caller knows while reading: the layout (token_mode: -1 = not
 * known yet, every layout is tried; 0/1 = only the layouts without/with
 * the 23ai token number, as the AUTH call proved: c->token), and the bind
 * types of a cursor for re-executes (NULL = render values as strings). */
struct tns_read_env {
	int token_mode;
	const struct tns_bind_meta *(*binds_of)(void *ctx, uint32_t cursor, uint32_t *n);
	void *ctx;
};

struct tns_call {
	uint8_t msg;          /* message type of the call */
	uint8_t func;         /* function code */
	uint32_t options;     /* execute options */
	uint32_t cursor;      /* cursor id (execute: 0 = a new cursor) */
	char *sql;            /* owned: the text of an OALL8 with a parse, or NULL */
	size_t sql_len;
	char *params;         /* owned: binds as a JSON array, or NULL */
	uint32_t nbinds;
	int binds_unread;     /* binds of a type this reader does not render */
	char user[129];       /* AUTH: the database user ("" when none) */
	uint32_t closed[TTC_CLOSE_MAX]; /* cursors a piggyback closes */
	int nclosed;
	struct tns_bind_meta *meta; /* owned: an execute's bind types (nbinds), or NULL */
	int token;            /* the layout read had the 23ai token number */
};

/* Read the call in p (n bytes: the payloads of its DATA packets, in
 * order). TNS_OK fills *c (free with tns_call_clear); TNS_AGAIN: the call
 * goes on in a packet not yet here; TNS_INVALID: not a call this reader
 * understands the layout of (a function it knows, malformed). A message
 * type or function the reader does not know is TNS_OK with only msg and
 * func set. */
enum tns_peek tns_ttc_read_call(const uint8_t *p, size_t n, const struct tns_read_env *env,
				struct tns_call *c);

void tns_call_clear(struct tns_call *c);

/* How the server ended its reply to a call: the end-of-call (ERROR, type
 * 4) message every reply finishes with. */
struct tns_call_end {
	uint32_t error;     /* ORA error number, 0 = success */
	uint32_t cursor;    /* the cursor the call ran on (the id the server gave a new one) */
	uint64_t rows;      /* row count */
	char message[300];  /* the error text ("" on success) */
};

/* Find the end-of-call message at the end of a reply: tail holds the
 * reply's last n payload bytes. Tries each position where one could start
 * and takes the first that reads to exactly the end (an END_OF_RESPONSE
 * byte may follow). 0 with *e filled, -1 when none reads. */
int tns_ttc_call_end(const uint8_t *tail, size_t n, struct tns_call_end *e);

/* Render an Oracle NUMBER (its bytes, without the length) as decimal
 * text into out. 0, or -1 when malformed or out is too small. */
int tns_number_text(const uint8_t *b, size_t n, char *out, size_t cap);

#endif
