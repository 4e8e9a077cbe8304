/* tns_codec: Oracle Net (TNS) packet framing, no I/O.
 *
 * A TNS packet is an 8-byte header (length, checksum, type, flags, header
 * checksum) and a body. Before ACCEPT the length is 16 bits followed by a
 * 16-bit packet checksum; once an ACCEPT of version 315 (12.1) or later is
 * relayed, every packet in both directions carries a 32-bit length instead
 * (the "large SDU" header). This module peeks headers, reads the CONNECT,
 * ACCEPT and REDIRECT bodies the proxy must understand, and builds the
 * CONNECT (and its DATA continuation) and REFUSE packets it sends. Every
 * reader is bounds-checked against the length it is given; nothing here
 * logs or allocates. The connect descriptor's syntax is tns_desc's.
 */
#ifndef SB_TNS_CODEC_H
#define SB_TNS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define TNS_HDR_LEN 8
/* The largest packet the proxy buffers whole: Oracle's SDU ceiling is
 * 2 MiB (sqlnet.ora DEFAULT_SDU_SIZE max 2097152); twice that leaves room. */
#define TNS_PACKET_MAX (4u * 1024u * 1024u)
/* Connect data longer than this goes in a DATA packet after the CONNECT
 * (python-oracledb TNS_MAX_CONNECT_DATA, what Oracle Net clients do). */
#define TNS_CONNECT_INLINE_MAX 230
/* The descriptor the proxy accepts from a client, at most (Oracle Net's
 * own ceiling for connect data is 64 KiB - 1, a 16-bit field). */
#define TNS_CONNECT_DATA_MAX 65535u

enum tns_type {
	TNS_CONNECT = 1,
	TNS_ACCEPT = 2,
	TNS_ACK = 3,
	TNS_REFUSE = 4,
	TNS_REDIRECT = 5,
	TNS_DATA = 6,
	TNS_NULL = 7,
	TNS_ABORT = 9,
	TNS_RESEND = 11,
	TNS_MARKER = 12,
	TNS_ATTENTION = 13,
	TNS_CONTROL = 14,
};

#define TNS_VERSION_LARGE_SDU 315 /* 32-bit packet lengths from here on */
#define TNS_NSI_NA_REQUIRED 0x10  /* ACCEPT: native encryption/checksum required */
#define TNS_DATA_FLAGS_EOF 0x0040

enum tns_peek { TNS_OK = 0, TNS_AGAIN = 1, TNS_INVALID = -1 };

struct tns_hdr {
	uint32_t len; /* whole packet, header included */
	uint8_t type;
	uint8_t flags;
};

/* The header at b (avail bytes buffered): TNS_AGAIN until 8 bytes are
 * there; TNS_INVALID for a length below 8 or above TNS_PACKET_MAX or an
 * unknown type. large: the 32-bit length form. */
enum tns_peek tns_peek_header(const uint8_t *b, size_t avail, int large, struct tns_hdr *h);

/* CONNECT body fields the proxy uses. */
struct tns_connect {
	uint16_t version, version_min;
	uint16_t cd_len; /* connect data length */
	uint16_t cd_off; /* offset of the connect data from the packet start */
	int cd_inline;   /* 1: the data is inside this packet; 0: a DATA packet follows */
	uint8_t nsi0, nsi1; /* connect flags 0/1 (NSI: native services) */
};

/* Parse a whole CONNECT packet (pkt, len, 16-bit header). 0, or -1 when
 * malformed (fields cut, data pointing outside the packet). */
int tns_parse_connect(const uint8_t *pkt, size_t len, struct tns_connect *c);

/* ACCEPT body fields. */
struct tns_accept {
	uint16_t version, options;
	uint8_t nsi;   /* NSI flags of the server (TNS_NSI_NA_REQUIRED) */
	uint32_t sdu;  /* large SDU when version >= 315, else the 16-bit one */
	int large;     /* later packets carry 32-bit lengths */
};

/* Parse a whole ACCEPT packet (16-bit header). 0 or -1. */
int tns_parse_accept(const uint8_t *pkt, size_t len, struct tns_accept *a);

/* A REDIRECT packet: the redirect data's length (first two body bytes),
 * and the data when it is in this packet (*data NULL when it follows in a
 * DATA packet, as older servers and thin clients lay it out). 0 or -1. */
int tns_parse_redirect(const uint8_t *pkt, size_t len, uint16_t *data_len,
		       const uint8_t **data, size_t *have);

/* The payload of a DATA packet (after the 2 data-flag bytes). 0 or -1. */
int tns_data_payload(const uint8_t *pkt, size_t len, int large, const uint8_t **p,
		     size_t *n, uint16_t *flags);

/* Build the CONNECT that carries cd (cdlen bytes) in place of the
 * original's connect data: the original's fields up to its data offset are
 * kept (version, SDU, options, NSI flags, large SDU fields), the length
 * and offset fields rewritten; data longer than TNS_CONNECT_INLINE_MAX
 * goes in a DATA packet after it. Writes to out (cap bytes). Returns the
 * bytes written, or -1 when it does not fit. */
long tns_build_connect(uint8_t *out, size_t cap, const uint8_t *orig, size_t origlen,
		       const struct tns_connect *c, const char *cd, size_t cdlen);

/* A REFUSE packet whose data says (ERR=code), the way a listener refuses
 * (python-oracledb / node-oracledb report 12514 as ORA-12514). Returns
 * the bytes written or -1. */
long tns_build_refuse(uint8_t *out, size_t cap, int code);

/* A DATA packet with payload p (n bytes) and data flags; large: 32-bit
 * header. Returns the bytes written or -1. */
long tns_build_data(uint8_t *out, size_t cap, int large, uint16_t flags, const uint8_t *p,
		    size_t n);

/* The server's answer in the network-options (ANO) exchange, a DATA
 * payload starting 0xDEADBEEF: 1 when it selects an encryption or
 * checksum algorithm (service 2 or 3 answers a one-byte algorithm id other
 * than 0), 2 when one of those services answers an error (the server
 * demands what the client cannot do: ORA-12660 follows), 0 when it
 * selects none, -1 when the payload is not such an answer or is
 * malformed. */
int tns_ano_active(const uint8_t *p, size_t n);

/* A MARKER packet of the given marker type (1 break, 2 reset). */
long tns_build_marker(uint8_t *out, size_t cap, int large, uint8_t type);

#endif
