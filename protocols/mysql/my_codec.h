/* my_codec: MySQL / MariaDB client/server protocol, bytes in and structs out.
 *
 * Packet framing (3-byte little-endian length, 1-byte sequence id, payloads
 * of 16 MiB - 1 or more split across packets), length-encoded integers and
 * strings, the handshake packets (HandshakeV10, SSLRequest,
 * HandshakeResponse41), OK / ERR / EOF, auth switch, prepared-statement
 * replies and the binary parameters of COM_STMT_EXECUTE rendered as JSON.
 *
 * Pure: parsers read contiguous memory with bounds-checked readers (every
 * getter returns 0 or -1 and never reads past the given length); builders
 * append to a struct my_buf with a sticky failure flag, then
 * my_put_packets() frames it into an evbuffer (memory only, no I/O). No
 * logging and no session state: the frontend (my_login.c, my_relay.c) owns
 * that. Reference: MySQL Internals "Client/Server Protocol" and MariaDB
 * Knowledge Base "Clients & Utilities / Server protocol".
 */
#ifndef SB_MY_CODEC_H
#define SB_MY_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "lib/wire.h"

struct evbuffer;

#define MY_HEADER_LEN 4
#define MY_MAX_PAYLOAD 0xFFFFFFu /* a packet this long continues in the next one */
#define MY_SCRAMBLE_LEN 20
#define MY_SQLSTATE_LEN 5

/* Capability flags (protocol "Capability Flags"). */
#define MY_CLIENT_LONG_PASSWORD (1u << 0) /* MariaDB: CLIENT_MYSQL */
#define MY_CLIENT_FOUND_ROWS (1u << 1)
#define MY_CLIENT_LONG_FLAG (1u << 2)
#define MY_CLIENT_CONNECT_WITH_DB (1u << 3)
#define MY_CLIENT_NO_SCHEMA (1u << 4)
#define MY_CLIENT_COMPRESS (1u << 5)
#define MY_CLIENT_ODBC (1u << 6)
#define MY_CLIENT_LOCAL_FILES (1u << 7)
#define MY_CLIENT_IGNORE_SPACE (1u << 8)
#define MY_CLIENT_PROTOCOL_41 (1u << 9)
#define MY_CLIENT_INTERACTIVE (1u << 10)
#define MY_CLIENT_SSL (1u << 11)
#define MY_CLIENT_IGNORE_SIGPIPE (1u << 12)
#define MY_CLIENT_TRANSACTIONS (1u << 13)
#define MY_CLIENT_RESERVED (1u << 14)
#define MY_CLIENT_SECURE_CONNECTION (1u << 15)
#define MY_CLIENT_MULTI_STATEMENTS (1u << 16)
#define MY_CLIENT_MULTI_RESULTS (1u << 17)
#define MY_CLIENT_PS_MULTI_RESULTS (1u << 18)
#define MY_CLIENT_PLUGIN_AUTH (1u << 19)
#define MY_CLIENT_CONNECT_ATTRS (1u << 20)
#define MY_CLIENT_PLUGIN_AUTH_LENENC (1u << 21)
#define MY_CLIENT_CAN_HANDLE_EXPIRED (1u << 22)
#define MY_CLIENT_SESSION_TRACK (1u << 23)
#define MY_CLIENT_DEPRECATE_EOF (1u << 24)
#define MY_CLIENT_SSL_VERIFY_SERVER_CERT (1u << 30)
#define MY_CLIENT_REMEMBER_OPTIONS (1u << 31)

/* Server status flags. */
#define MY_SERVER_STATUS_IN_TRANS 0x0001u
#define MY_SERVER_STATUS_AUTOCOMMIT 0x0002u
#define MY_SERVER_MORE_RESULTS_EXISTS 0x0008u
#define MY_SERVER_STATUS_CURSOR_EXISTS 0x0040u
#define MY_SERVER_STATUS_LAST_ROW_SENT 0x0080u

/* Commands (first payload byte of a client command packet). */
enum my_command {
	MY_COM_SLEEP = 0x00,
	MY_COM_QUIT = 0x01,
	MY_COM_INIT_DB = 0x02,
	MY_COM_QUERY = 0x03,
	MY_COM_FIELD_LIST = 0x04,
	MY_COM_CREATE_DB = 0x05,
	MY_COM_DROP_DB = 0x06,
	MY_COM_REFRESH = 0x07,
	MY_COM_SHUTDOWN = 0x08,
	MY_COM_STATISTICS = 0x09,
	MY_COM_PROCESS_INFO = 0x0A,
	MY_COM_PROCESS_KILL = 0x0C,
	MY_COM_DEBUG = 0x0D,
	MY_COM_PING = 0x0E,
	MY_COM_CHANGE_USER = 0x11,
	MY_COM_STMT_PREPARE = 0x16,
	MY_COM_STMT_EXECUTE = 0x17,
	MY_COM_STMT_SEND_LONG_DATA = 0x18,
	MY_COM_STMT_CLOSE = 0x19,
	MY_COM_STMT_RESET = 0x1A,
	MY_COM_SET_OPTION = 0x1B,
	MY_COM_STMT_FETCH = 0x1C,
	MY_COM_RESET_CONNECTION = 0x1F,
};

/* Error numbers the proxy sends itself. */
#define MY_ER_ACCESS_DENIED 1045      /* 28000 */
#define MY_ER_SPECIFIC_ACCESS 1227    /* 42000: denied by policy */
#define MY_ER_UNKNOWN_COM 1047        /* 08S01 */
#define MY_ER_NO_SUCH_THREAD 1094     /* HY000 */
#define MY_ER_KILL_DENIED 1095        /* HY000 */
#define MY_ER_NOT_SUPPORTED 1235      /* 42000 */
#define MY_ER_UNKNOWN_ERROR 1105      /* HY000 */
#define MY_ER_NET_PACKET_TOO_LARGE 1153 /* 08S01 */
#define MY_ER_HANDSHAKE 1043          /* 08S01 bad handshake */

/* ---- reading a payload: lib/wire.h (wire_get_u8, wire_get_bytes,
 * wire_get_cstr) and MySQL's little-endian and length-encoded values ---- */

#define MY_WUR __attribute__((warn_unused_result))
int my_get_u16(struct wire_reader *r, uint16_t *v) MY_WUR;
int my_get_u24(struct wire_reader *r, uint32_t *v) MY_WUR;
int my_get_u32(struct wire_reader *r, uint32_t *v) MY_WUR;
int my_get_u64(struct wire_reader *r, uint64_t *v) MY_WUR;
/* Length-encoded integer; *is_null set when the byte was 0xFB (NULL in a
 * text row; is_null may be NULL, then 0xFB is an error). 0xFF is an error. */
int my_get_lenenc(struct wire_reader *r, uint64_t *v, int *is_null) MY_WUR;
/* Length-encoded string. */
int my_get_lenenc_str(struct wire_reader *r, const uint8_t **p, size_t *len) MY_WUR;

/* ---- packet builder ---- */

/* A growable payload with a sticky failure flag: after one failed append
 * every later one is a no-op and my_buf_ok() says 0. */
struct my_buf {
	uint8_t *p;
	size_t len, cap;
	int failed;
};

void my_buf_init(struct my_buf *b);
void my_buf_free(struct my_buf *b); /* wipes: payloads can hold secrets */
void my_buf_reset(struct my_buf *b);
static inline int my_buf_ok(const struct my_buf *b)
{
	return !b->failed;
}
void my_buf_add(struct my_buf *b, const void *p, size_t n);
void my_buf_u8(struct my_buf *b, uint8_t v);
void my_buf_u16(struct my_buf *b, uint16_t v);
void my_buf_u32(struct my_buf *b, uint32_t v);
void my_buf_lenenc(struct my_buf *b, uint64_t v);
void my_buf_lenenc_str(struct my_buf *b, const void *p, size_t n);
void my_buf_cstr(struct my_buf *b, const char *s); /* with its NUL */

/* Frame payload into packets starting at sequence id seq (a payload of
 * 16 MiB - 1 or more is split, and one of exactly a multiple of it gets an
 * empty packet after). Returns the sequence id after the last packet
 * written, or -1 when out of memory. */
int my_put_packets(struct evbuffer *out, uint8_t seq, const void *payload, size_t len);

/* Read a packet header at p: payload length and sequence id. */
static inline void my_header(const uint8_t p[MY_HEADER_LEN], uint32_t *len, uint8_t *seq)
{
	*len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
	*seq = p[3];
}

/* ---- handshake ---- */

struct my_handshake {
	uint8_t protocol;                 /* 10 */
	char version[64];                 /* server version string (cut to fit) */
	uint32_t conn_id;                 /* server thread id */
	uint8_t scramble[MY_SCRAMBLE_LEN + 12]; /* auth plugin data, without the trailing NUL */
	size_t scramble_len;
	uint32_t caps;
	uint32_t ext_caps;                /* MariaDB extended capabilities (0 for MySQL) */
	uint8_t charset;
	uint16_t status;
	char plugin[64];                  /* "" when not sent */
};

/* Parse a server's HandshakeV10 payload. Returns 0 or -1 with err filled. */
int my_parse_handshake(const uint8_t *b, size_t n, struct my_handshake *out, char *err,
		       size_t errlen) MY_WUR;
/* Build HandshakeV10 from h (scramble_len must be 20). */
void my_build_handshake(struct my_buf *b, const struct my_handshake *h);

/* A client's HandshakeResponse41 (or SSLRequest when ssl_request is set:
 * the 32-byte prefix with CLIENT_SSL). Strings point into the packet. */
struct my_hs_response {
	uint32_t caps;
	uint32_t max_packet;
	uint8_t charset;
	uint32_t ext_caps;
	int ssl_request;
	const char *user;
	const uint8_t *auth;
	size_t auth_len;
	const char *database;     /* NULL when absent */
	const char *plugin;       /* NULL when absent */
	const uint8_t *attrs;     /* connect attributes block (without its length), or NULL */
	size_t attrs_len;
};

/* Parse a HandshakeResponse41 payload (protocol 4.1 only). Returns 0 or -1
 * with err filled. */
int my_parse_hs_response(const uint8_t *b, size_t n, struct my_hs_response *out, char *err,
			 size_t errlen) MY_WUR;
/* Build a HandshakeResponse41 (ssl_request: only the 32-byte prefix). The
 * auth bytes are written lenenc when caps has PLUGIN_AUTH_LENENC, else with
 * a 1-byte length. */
void my_build_hs_response(struct my_buf *b, const struct my_hs_response *r);

/* ---- OK / ERR / EOF ---- */

struct my_ok {
	uint64_t affected_rows, last_insert_id;
	uint16_t status, warnings;
};

/* Is this payload an ERR / OK (0x00) / EOF-or-OK-with-0xFE terminator? */
static inline int my_is_err(const uint8_t *b, size_t n)
{
	return n >= 1 && b[0] == 0xFF;
}
/* An EOF packet (0xFE, payload < 9 bytes), or with deprecate_eof an OK
 * packet with a 0xFE header (payload < 16 MiB - 1): a row can start with
 * 0xFE only when it is at least that long. */
int my_is_eof(const uint8_t *b, size_t n, int deprecate_eof);
/* Parse an OK payload (header 0x00 or 0xFE) or an old EOF (0xFE, <9 bytes).
 * Returns 0 or -1. */
int my_parse_ok(const uint8_t *b, size_t n, struct my_ok *out) MY_WUR;
/* Parse ERR: code, SQLSTATE (NUL-terminated, "HY000" when absent) and the
 * message (points into b). Returns 0 or -1. */
int my_parse_err(const uint8_t *b, size_t n, uint16_t *code, char sqlstate[MY_SQLSTATE_LEN + 1],
		 const char **msg, size_t *msglen) MY_WUR;

void my_build_ok(struct my_buf *b, uint64_t affected, uint64_t last_id, uint16_t status,
		 uint16_t warnings);
void my_build_err(struct my_buf *b, uint16_t code, const char *sqlstate, const char *msg);
void my_build_eof(struct my_buf *b, uint16_t warnings, uint16_t status);

/* Convenience: append one whole ERR packet with sequence id seq. */
int my_put_err(struct evbuffer *out, uint8_t seq, uint16_t code, const char *sqlstate,
	       const char *msg);

/* ---- authentication exchange ---- */

/* Auth switch request 0xFE plugin\0 data (the server side sends it). */
void my_build_auth_switch(struct my_buf *b, const char *plugin, const void *data, size_t n);
/* Parse 0xFE plugin\0 data (from a server). data excludes a trailing NUL. */
int my_parse_auth_switch(const uint8_t *b, size_t n, const char **plugin, const uint8_t **data,
			 size_t *dlen) MY_WUR;

/* ---- results ---- */

/* First packet of a COM_QUERY/EXECUTE response that is neither OK nor ERR
 * nor a LOCAL INFILE request: the column count. Returns 0 or -1. */
int my_parse_column_count(const uint8_t *b, size_t n, uint64_t *count) MY_WUR;

struct my_prepare_ok {
	uint32_t stmt_id;
	uint16_t num_columns, num_params, warnings;
};
int my_parse_prepare_ok(const uint8_t *b, size_t n, struct my_prepare_ok *out) MY_WUR;

/* Column types (enum_field_types). */
enum my_type {
	MY_TYPE_DECIMAL = 0, MY_TYPE_TINY = 1, MY_TYPE_SHORT = 2, MY_TYPE_LONG = 3,
	MY_TYPE_FLOAT = 4, MY_TYPE_DOUBLE = 5, MY_TYPE_NULL = 6, MY_TYPE_TIMESTAMP = 7,
	MY_TYPE_LONGLONG = 8, MY_TYPE_INT24 = 9, MY_TYPE_DATE = 10, MY_TYPE_TIME = 11,
	MY_TYPE_DATETIME = 12, MY_TYPE_YEAR = 13, MY_TYPE_NEWDATE = 14, MY_TYPE_VARCHAR = 15,
	MY_TYPE_BIT = 16, MY_TYPE_JSON = 245, MY_TYPE_NEWDECIMAL = 246, MY_TYPE_ENUM = 247,
	MY_TYPE_SET = 248, MY_TYPE_TINY_BLOB = 249, MY_TYPE_MEDIUM_BLOB = 250,
	MY_TYPE_LONG_BLOB = 251, MY_TYPE_BLOB = 252, MY_TYPE_VAR_STRING = 253,
	MY_TYPE_STRING = 254, MY_TYPE_GEOMETRY = 255,
};

/* What COM_STMT_EXECUTE says, given the statement's parameter count and the
 * parameter types remembered from an earlier execute (types: num_params
 * 2-byte entries, type | unsigned flag << 8; updated in place when the
 * packet binds new types; *types_known set then). */
struct my_execute {
	uint32_t stmt_id;
	uint8_t flags;
	int new_params_bound;
};

/* Parse an execute payload (starting at the command byte) and append its
 * parameters as a JSON array to json (NUL-terminated; a string longer than
 * MY_PARAM_SHOW_MAX is cut and marked).
 * long_data: bitmap of parameters sent with COM_STMT_SEND_LONG_DATA (their
 * value is not in the packet; shown as "<long data>"), may be NULL.
 * Returns 0, or -1 with err filled on a malformed packet or when the types
 * are unknown. */
#define MY_PARAM_SHOW_MAX 1024
int my_parse_execute(const uint8_t *b, size_t n, uint16_t num_params, uint16_t *types,
		     int *types_known, const uint8_t *long_data, struct my_execute *out,
		     struct my_buf *json, char *err, size_t errlen) MY_WUR;

/* Append s as a JSON string (quotes included) to the buffer; bytes that are
 * not valid UTF-8 become \u00XX. At most max input bytes are shown; a longer
 * input is cut and "...(N bytes)" is appended inside the string. */
void my_json_str(struct my_buf *b, const uint8_t *s, size_t n, size_t max);

/* ---- framing: resumable peeks (my_codec_frame.c) ----
 *
 * A peek looks at what is buffered so far and consumes nothing: call it
 * again with more bytes after AGAIN. Payload lengths are 0..MY_MAX_PAYLOAD;
 * a packet of exactly MY_MAX_PAYLOAD bytes continues in the next one, whose
 * sequence id is one more (mod 256), and the first shorter packet (maybe
 * empty) ends the logical message ("MySQL Packets", "Sending More Than
 * 16Mb"). Each peek has one size limit, the caller's max, on payload bytes;
 * callers name their documented constant (MY_LOGIN_PACKET_MAX in
 * my_login.c, the max_message setting in my_relay.c). */
enum my_peek {
	MY_PEEK_OK,      /* the whole packet / message is buffered */
	MY_PEEK_AGAIN,   /* need more bytes: at least frame.need buffered in all */
	MY_PEEK_INVALID, /* frame.why says what: close the connection */
};

enum my_frame_error {
	MY_FRAME_NONE,
	MY_FRAME_TOO_LONG, /* payload above the limit (known from the headers alone) */
	MY_FRAME_SEQUENCE, /* a continuation packet's sequence id breaks the run */
};

struct my_frame {
	uint32_t len;          /* payload length of the first packet */
	uint8_t seq;           /* sequence id of the first packet */
	size_t payload;        /* payload bytes of the message (counted so far when not OK) */
	size_t raw;            /* its bytes on the wire, headers included (so far) */
	unsigned packets;      /* packets in it (so far, counting a bad one) */
	size_t need;           /* AGAIN: total bytes that must be buffered before calling again */
	enum my_frame_error why; /* INVALID: what was wrong */
	uint8_t bad_seq;       /* MY_FRAME_SEQUENCE: the id found (expected seq + packets - 1) */
};

/* One packet: OK when its header and payload are buffered; INVALID
 * (MY_FRAME_TOO_LONG) when its length exceeds max_len. Once the header is
 * buffered, len and seq are filled even on AGAIN (need > MY_HEADER_LEN).
 * Reads at most the first MY_HEADER_LEN bytes of head; have is how many
 * bytes are buffered in all (see my_head()). */
enum my_peek my_peek_packet(const uint8_t *head, size_t have, size_t max_len,
			    struct my_frame *f) MY_WUR;
/* A logical message of one or more packets at the start of buf (have
 * contiguous bytes): OK when all of it is buffered. INVALID when a
 * continuation's sequence id is not the previous one plus one
 * (MY_FRAME_SEQUENCE) or the payloads add up to more than max_payload
 * (MY_FRAME_TOO_LONG, reported as soon as the headers show it). The first
 * packet's sequence id is the caller's to check. Reads headers only. */
enum my_peek my_peek_message(const uint8_t *buf, size_t have, size_t max_payload,
			     struct my_frame *f) MY_WUR;
/* The same over an evbuffer, copying out only the 4-byte headers: nothing
 * is pulled up, so a 1 GB message costs 64 header reads. */
enum my_peek my_peek_message_in(struct evbuffer *in, size_t max_payload,
				struct my_frame *f) MY_WUR;
/* The payload of a message that peeked OK at the start of `in`, without
 * copying when it is one packet: pulls up f->raw bytes and returns the
 * payload inside them. Several packets are gathered into a malloc'd copy
 * returned in *copy (the caller frees it; NULL for one packet). Returns
 * NULL when out of memory. Drains nothing. */
const uint8_t *my_message_payload(struct evbuffer *in, const struct my_frame *f, uint8_t **copy);
/* The header of the packet at the start of `in` and the first byte of its
 * payload (a reply's kind: 0x00 OK, 0xFF ERR, 0xFE EOF, 0xFB LOCAL
 * INFILE), for a relay that reads some packets whole and passes others
 * unread whatever their length. OK when both are buffered (the header alone
 * for an empty payload): len, seq, raw and packets = 1 set, *first the
 * byte (0 when the payload is empty). AGAIN otherwise (need). INVALID
 * (MY_FRAME_TOO_LONG, len and seq set) when len > max_len. first may be
 * NULL: OK once the header is buffered. Copies out at most MY_HEADER_LEN
 * + 1 bytes. */
enum my_peek my_peek_head_in(struct evbuffer *in, size_t max_len, struct my_frame *f,
			     uint8_t *first) MY_WUR;
/* One whole packet at the start of `in` (my_peek_packet with max_len): on
 * OK it is pulled up and *payload points at its f->len payload bytes
 * inside `in` (NULL when out of memory: close); nothing is drained. */
enum my_peek my_peek_packet_in(struct evbuffer *in, size_t max_len, struct my_frame *f,
			       const uint8_t **payload) MY_WUR;
/* Copy the first MY_HEADER_LEN bytes of `in` (fewer when it holds fewer)
 * into head; returns evbuffer_get_length(in): my_peek_packet()'s head and have. */
size_t my_head(struct evbuffer *in, uint8_t head[MY_HEADER_LEN]);

#endif
