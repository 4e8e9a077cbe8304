/* pg_codec: PostgreSQL v3 wire format, bytes in and structs out.
 *
 * Parsers read message bodies from contiguous memory with bounds-checked
 * readers (every getter returns 0/-1; nothing reads past the given length).
 * Builders append whole messages to an evbuffer (memory only, no I/O).
 * No logging, no session state: the frontend (pg_frontend.c) owns that.
 * Reference: PostgreSQL documentation, "Frontend/Backend Protocol",
 * sections "Message Flow" and "Message Formats".
 */
#ifndef SB_PG_CODEC_H
#define SB_PG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "lib/wire.h"

struct evbuffer;

#define PG_PROTO_V3 196608u           /* 3.0 */
#define PG_CANCEL_REQUEST 80877102u
#define PG_SSL_REQUEST 80877103u
#define PG_GSSENC_REQUEST 80877104u
/* PostgreSQL's MAX_STARTUP_PACKET_LENGTH (src/include/libpq/pqcomm.h). */
#define PG_STARTUP_MAX 10000u
#define PG_STARTUP_PARAMS_MAX 64       /* far above what any driver sends */

/* Authentication request codes (message 'R'). */
#define PG_AUTH_OK 0u
#define PG_AUTH_CLEARTEXT 3u
#define PG_AUTH_MD5 5u
#define PG_AUTH_SASL 10u
#define PG_AUTH_SASL_CONTINUE 11u
#define PG_AUTH_SASL_FINAL 12u

/* Message bodies are read with lib/wire.h (wire_get_u8, wire_get_cstr,
 * wire_get_bytes); PostgreSQL's integers are big-endian: */
int pg_get_u16(struct wire_reader *r, uint16_t *v) __attribute__((warn_unused_result));
int pg_get_u32(struct wire_reader *r, uint32_t *v) __attribute__((warn_unused_result));

struct pg_param {
	const char *name, *value; /* borrowed from the packet */
};

/* A startup-phase packet (no type byte). */
struct pg_startup {
	uint32_t code;               /* PG_PROTO_V3, PG_SSL_REQUEST, ... */
	uint32_t cancel_pid, cancel_key;
	const char *user, *database; /* NULL when absent */
	struct pg_param params[PG_STARTUP_PARAMS_MAX]; /* all but user/database */
	int n_params;
};

/* Parse a whole startup packet (including its 4-byte length). Returns 0 or
 * -1 with err filled ("startup packet too long", "missing user", ...). */
int pg_parse_startup(const uint8_t *pkt, size_t len, struct pg_startup *out, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* ---- message bodies (after the type byte and length) ---- */
int pg_parse_query(const uint8_t *b, size_t n, const char **sql, size_t *len)
	__attribute__((warn_unused_result));
int pg_parse_parse(const uint8_t *b, size_t n, const char **name, const char **sql,
		   size_t *sqllen) __attribute__((warn_unused_result));
/* The values of a Bind or a FunctionCall: format codes (none: all text;
 * one: for every value; else one per value) and the values themselves,
 * each an int32 length (-1 = NULL) and its bytes. Parsing checks all of it,
 * so pg_values_next() cannot run past the message. */
struct pg_values {
	uint16_t n_formats;
	const uint8_t *formats; /* n_formats big-endian int16 */
	uint16_t n;
	const uint8_t *data; /* the n values */
	size_t data_len;
};
/* Value i (0, 1, ... in order; *off starts at 0): *len -1 for NULL,
 * *binary when its format code is 1. */
void pg_values_next(const struct pg_values *v, size_t *off, uint16_t i, const uint8_t **val,
		    int32_t *len, int *binary);

struct pg_bind {
	const char *portal, *stmt;
	struct pg_values params;
};
int pg_parse_bind(const uint8_t *b, size_t n, struct pg_bind *out)
	__attribute__((warn_unused_result));
/* FunctionCall: the function's OID and its arguments. */
int pg_parse_function_call(const uint8_t *b, size_t n, uint32_t *oid, struct pg_values *args)
	__attribute__((warn_unused_result));
int pg_parse_execute(const uint8_t *b, size_t n, const char **portal)
	__attribute__((warn_unused_result));
/* Close and Describe: kind 'S' (statement) or 'P' (portal), and the name. */
int pg_parse_target(const uint8_t *b, size_t n, char *kind, const char **name)
	__attribute__((warn_unused_result));
int pg_parse_auth(const uint8_t *b, size_t n, uint32_t *code, const uint8_t **data,
		  size_t *dlen) __attribute__((warn_unused_result));
/* SASLInitialResponse: mechanism and client-first data (-1 length = none). */
int pg_parse_sasl_initial(const uint8_t *b, size_t n, const char **mech, const uint8_t **data,
			  size_t *dlen) __attribute__((warn_unused_result));
/* PasswordMessage: a NUL-terminated password. */
int pg_parse_password(const uint8_t *b, size_t n, const char **pw, size_t *len)
	__attribute__((warn_unused_result));
/* CommandComplete tag → affected/returned rows, or -1 when the tag has none. */
int64_t pg_command_rows(const uint8_t *b, size_t n);
/* ErrorResponse/NoticeResponse: find field `code` ('C' SQLSTATE, 'M' message). */
int pg_error_field(const uint8_t *b, size_t n, char code, const char **val, size_t *len);
int pg_parse_backend_key(const uint8_t *b, size_t n, uint32_t *pid, uint32_t *key)
	__attribute__((warn_unused_result));

/* ---- builders (append one whole message; 0 ok, -1 out of memory) ---- */
int pg_put_error(struct evbuffer *out, const char *severity, const char *sqlstate,
		 const char *msg);
int pg_put_auth(struct evbuffer *out, uint32_t code, const void *data, size_t n);
int pg_put_auth_sasl(struct evbuffer *out, const char *mechanism);
int pg_put_ready(struct evbuffer *out, char status);
int pg_put_backend_key(struct evbuffer *out, uint32_t pid, uint32_t key);
int pg_put_startup(struct evbuffer *out, const char *user, const char *database,
		   const struct pg_param *params, int n);
int pg_put_request_code(struct evbuffer *out, uint32_t code); /* SSLRequest */
int pg_put_cancel(struct evbuffer *out, uint32_t pid, uint32_t key);
int pg_put_password(struct evbuffer *out, const char *pw);
int pg_put_sasl_initial(struct evbuffer *out, const char *mech, const void *data, size_t n);
int pg_put_sasl_response(struct evbuffer *out, const void *data, size_t n);
/* Bind of the unnamed portal to statement `stmt` with no parameters. */
int pg_put_bind_to(struct evbuffer *out, const char *stmt);
int pg_put_sync(struct evbuffer *out);
/* Parse of `sql` as statement `name`, no parameter types. */
int pg_put_parse(struct evbuffer *out, const char *name, const char *sql);
/* Bind of `portal` to `stmt` with n text parameters, text results. */
int pg_put_bind_text(struct evbuffer *out, const char *portal, const char *stmt,
		     const char *const *values, int n);
/* Execute of `portal`, all rows. */
int pg_put_execute(struct evbuffer *out, const char *portal);
/* Close of statement (kind 'S') or portal ('P') `name`. */
int pg_put_close(struct evbuffer *out, char kind, const char *name);
int pg_put_terminate(struct evbuffer *out);

/* ---- framing: resumable peeks (pg_codec_frame.c) ----
 *
 * A peek looks at what is buffered so far and consumes nothing: call it
 * again with more bytes after AGAIN. It reads at most the first
 * PG_HEADER_LEN bytes of `head` (min(have, PG_HEADER_LEN) of them must be
 * readable); `have` is how many bytes are buffered in all, so a caller with
 * a scattered buffer copies out only the header (pg_head()). Each peek has
 * one size limit, on the length field (which counts itself, not the type
 * byte): a fixed one for startup packets, the caller's max_len for typed
 * messages, for which each caller names its documented constant below. */
enum pg_peek {
	PG_PEEK_OK,      /* a valid header (and, for the whole-message peeks, the whole message) */
	PG_PEEK_AGAIN,   /* need more bytes: at least frame.need buffered in all */
	PG_PEEK_INVALID, /* length below the minimum or above the limit: close the connection */
};

#define PG_HEADER_LEN 5         /* type byte + int32 length */
#define PG_STARTUP_HEADER_LEN 4 /* int32 length, no type byte */
/* Typed messages during client authentication (password, SASL): libpq's
 * PG_MAX_AUTH_TOKEN_LENGTH (src/backend/libpq/auth.c) is 65535. */
#define PG_AUTH_MESSAGE_MAX 65535u
/* Backend messages the proxy must hold whole to read (login replies,
 * ReadyForQuery, errors, ...): PostgreSQL's PQ_LARGE_MESSAGE_LIMIT-sized
 * messages are never control messages; 1 MiB leaves room for long errors. */
#define PG_CONTROL_MESSAGE_MAX (1u << 20)

struct pg_frame {
	char type;      /* the type byte; '\0' for a startup packet */
	uint32_t len;   /* the length field (on INVALID: the offending value) */
	size_t hdr_len; /* PG_HEADER_LEN, or PG_STARTUP_HEADER_LEN */
	size_t total;   /* bytes of the whole message: type byte (if any) + len */
	size_t need;    /* AGAIN: total bytes that must be buffered before calling again */
};

/* A typed message's header (5 bytes): OK once it is buffered and
 * 4 <= len <= max_len, whether or not the body is (a caller streams long
 * bodies without holding them). INVALID when len < 4 or len > max_len. */
enum pg_peek pg_peek_header(const uint8_t *head, size_t have, size_t max_len,
			    struct pg_frame *f) __attribute__((warn_unused_result));
/* The same, OK only when the whole message (f->total bytes) is buffered. */
enum pg_peek pg_peek_message(const uint8_t *head, size_t have, size_t max_len,
			     struct pg_frame *f) __attribute__((warn_unused_result));
/* An untyped startup-phase packet (StartupMessage, SSLRequest,
 * GSSENCRequest, CancelRequest): OK when the whole packet is buffered.
 * INVALID when len < 8 (length + code) or len > PG_STARTUP_MAX. */
enum pg_peek pg_peek_startup(const uint8_t *head, size_t have, struct pg_frame *f)
	__attribute__((warn_unused_result));
/* Copy the first PG_HEADER_LEN bytes of `in` (fewer when it holds fewer)
 * into head; returns evbuffer_get_length(in): the two arguments a peek
 * takes, without pulling anything up. */
size_t pg_head(struct evbuffer *in, uint8_t head[PG_HEADER_LEN]);

#endif
