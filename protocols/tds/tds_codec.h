/* tds_codec: SQL Server TDS 7.x, bytes in and structs out.
 *
 * Packet headers, PRELOGIN, LOGIN7 (read from the client, rebuilt for the
 * backend with the hosted account), UTF-16LE text, and the two messages
 * the proxy writes itself (an ERROR token followed by DONE). Pure: parsers
 * read contiguous memory with bounds checks; builders append to a struct
 * tds_buf with a sticky out-of-memory flag. No session state and no
 * logging. Reference: [MS-TDS] "Tabular Data Stream Protocol", sections
 * 2.2.3 (packet header), 2.2.6.4 (LOGIN7), 2.2.6.5 (PRELOGIN), 2.2.7 (tokens).
 */
#ifndef SB_TDS_CODEC_H
#define SB_TDS_CODEC_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* ---- packets ---- */

#define TDS_HEADER_LEN 8
#define TDS_PACKET_DEFAULT 4096u /* before the login negotiated a size */

enum tds_packet_type {
	TDS_PKT_SQLBATCH = 0x01,
	TDS_PKT_RPC = 0x03,
	TDS_PKT_REPLY = 0x04,
	TDS_PKT_ATTENTION = 0x06,
	TDS_PKT_BULK = 0x07,
	TDS_PKT_FEDAUTH = 0x08,
	TDS_PKT_TRANSMGR = 0x0E,
	TDS_PKT_LOGIN7 = 0x10,
	TDS_PKT_SSPI = 0x11,
	TDS_PKT_PRELOGIN = 0x12,
};

#define TDS_STATUS_EOM 0x01
#define TDS_STATUS_IGNORE 0x02 /* with EOM: the client abandons the request */

struct tds_header {
	uint8_t type, status;
	uint16_t len; /* the whole packet, header included (>= 8) */
};

/* Read the header at p (8 bytes). 0, or -1 when its length is below 8. */
int tds_header_parse(const uint8_t *p, struct tds_header *h);

/* Frame payload into packets of at most pktsize bytes (header included),
 * the last marked end of message. 0, or -1 out of memory. */
int tds_put_packets(struct evbuffer *out, uint8_t type, const uint8_t *payload, size_t n,
		    size_t pktsize);

/* ---- a growable byte buffer ---- */

struct tds_buf {
	uint8_t *p;
	size_t len, cap;
	int oom; /* sticky: an append failed */
};

void tds_buf_init(struct tds_buf *b);
void tds_buf_free(struct tds_buf *b); /* wipes what it held */
void tds_buf_add(struct tds_buf *b, const void *p, size_t n);
void tds_buf_u8(struct tds_buf *b, uint8_t v);
void tds_buf_u16le(struct tds_buf *b, uint16_t v);
void tds_buf_u16be(struct tds_buf *b, uint16_t v);
void tds_buf_u32le(struct tds_buf *b, uint32_t v);
void tds_buf_u64le(struct tds_buf *b, uint64_t v);
/* Append utf8 as UTF-16LE; returns the UTF-16 code units written. */
size_t tds_buf_utf16(struct tds_buf *b, const char *utf8, size_t n);

/* ---- text ---- */

/* UTF-16LE (nbytes, an odd last byte is ignored) as UTF-8, NUL-terminated,
 * malloc'd; *outlen its length. A lone surrogate becomes U+FFFD. NULL when
 * out of memory. */
char *tds_utf16_to_utf8(const uint8_t *p, size_t nbytes, size_t *outlen);

/* ---- PRELOGIN ---- */

enum tds_encrypt {
	TDS_ENCRYPT_OFF = 0,     /* encrypt the login only */
	TDS_ENCRYPT_ON = 1,      /* encrypt everything */
	TDS_ENCRYPT_NOT_SUP = 2, /* no encryption */
	TDS_ENCRYPT_REQ = 3,     /* encryption required */
};

struct tds_prelogin {
	int has_encrypt;
	uint8_t encrypt;       /* enum tds_encrypt (the client-certificate bit masked off) */
	int mars;              /* the client asked for MARS */
	int fedauth_required;  /* FEDAUTHREQUIRED present and set */
	uint8_t version[6];    /* the peer's VERSION, zero when absent */
};

/* Parse a PRELOGIN payload. 0, or -1 malformed. */
int tds_prelogin_parse(const uint8_t *p, size_t n, struct tds_prelogin *pl);

/* A PRELOGIN payload: VERSION (ours), ENCRYPTION enc, INSTOPT "", THREADID
 * (client: 0), MARS off. */
void tds_prelogin_build(struct tds_buf *b, uint8_t enc, int client);

/* ---- LOGIN7 ---- */

#define TDS_LOGIN7_FIXED 94u         /* fixed part of a 7.2+ LOGIN7 (as the proxy builds it) */
#define TDS_LOGIN7_FIXED_71 86u      /* a 7.1 LOGIN7 ends before ibChangePassword */
#define TDS_LOGIN7_MAX (128u * 1024u) /* a LOGIN7 longer than this is refused */

/* TDS versions (LOGIN7 and LOGINACK) */
#define TDS_VERSION_71 0x71000001u
#define TDS_VERSION_72 0x72090002u
/* Is v (a LOGIN7 or LOGINACK version) before 7.2 (no ALL_HEADERS, 4-byte
 * DONE counts, 2-byte user types, RPC calls separated by 0x80)? */
#define TDS_PRE72(v) ((v) < TDS_VERSION_72 && ((v) >> 24) != 0x72)
#define TDS_VERSION_74 0x74000004u

/* Feature extensions the proxy drops (cannot honour end to end). */
#define TDS_FEAT_SESSIONRECOVERY 0x01
#define TDS_FEAT_FEDAUTH 0x02
#define TDS_FEAT_COLUMNENCRYPTION 0x04
#define TDS_FEAT_DATACLASSIFICATION 0x09
#define TDS_FEAT_TERMINATOR 0xFF

/* One string field as it came: UTF-16LE bytes (owned). */
struct tds_str {
	uint8_t *p;
	size_t n; /* bytes */
};

enum tds_login_field {
	TDS_L_HOST, TDS_L_USER, TDS_L_PASSWORD, TDS_L_APP, TDS_L_SERVER, TDS_L_LIBRARY,
	TDS_L_LANGUAGE, TDS_L_DATABASE, TDS_L_ATTACH, TDS_L_NFIELDS
};

struct tds_login7 {
	uint32_t tds_version, packet_size, prog_version, client_pid, connection_id;
	uint8_t opt1, opt2, type_flags, opt3;
	uint32_t timezone, lcid;
	uint8_t client_id[6];
	struct tds_str f[TDS_L_NFIELDS]; /* the password decoded (still UTF-16), wiped on free */
	uint8_t *features;  /* owned: the kept feature-extension blocks, without terminator */
	size_t features_len;
	char dropped[80];   /* names of the dropped features, comma-separated ("" = none) */
	int sspi;           /* integrated security asked for (no password) */
	int change_password; /* a new password was sent */
};

/* Parse a LOGIN7 payload (TDS 7.2 or later). 0, or -1 with err filled. */
int tds_login7_parse(const uint8_t *p, size_t n, struct tds_login7 *l, char *err, size_t errlen);

/* Field f as UTF-8 (malloc'd, NUL-terminated), NULL out of memory. */
char *tds_login7_field(const struct tds_login7 *l, enum tds_login_field f);

/* The backend's LOGIN7: the client's values with user and password (UTF-8)
 * replaced, no SSPI, no password change, the kept features. */
void tds_login7_build(struct tds_buf *b, const struct tds_login7 *l, const char *user,
		      const char *password);

/* Wipe the password and free what l owns. */
void tds_login7_free(struct tds_login7 *l);

/* ---- tokens the proxy writes ---- */

#define TDS_TOK_ERROR 0xAA
#define TDS_TOK_INFO 0xAB
#define TDS_TOK_LOGINACK 0xAD
#define TDS_TOK_ENVCHANGE 0xE3
#define TDS_TOK_DONE 0xFD
#define TDS_TOK_DONEPROC 0xFE
#define TDS_TOK_DONEINPROC 0xFF

#define TDS_DONE_MORE 0x0001
#define TDS_DONE_ERROR 0x0002
#define TDS_DONE_INXACT 0x0004
#define TDS_DONE_COUNT 0x0010
#define TDS_DONE_ATTN 0x0020
#define TDS_DONE_SRVERROR 0x0100

/* Error numbers the proxy answers with. */
#define TDS_ERR_LOGIN_FAILED 18456 /* class 14 */
#define TDS_ERR_PERMISSION 229     /* class 14: a denied statement */

/* An ERROR token (number, class cls, msg) and a DONE with status into b. */
void tds_build_error(struct tds_buf *b, uint32_t number, uint8_t cls, const char *msg);
void tds_build_done(struct tds_buf *b, uint8_t token, uint16_t status, uint64_t rows,
		    uint32_t version);

/* A whole reply message for a client speaking `version`: ERROR then
 * DONE(ERROR), framed into out. 0/-1. */
int tds_put_error_reply(struct evbuffer *out, uint32_t number, uint8_t cls, const char *msg,
			uint32_t version);

#endif
