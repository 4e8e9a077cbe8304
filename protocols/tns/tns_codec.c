/* tns_codec: TNS packet framing (see tns_codec.h). Layouts follow what
 * Oracle Net listeners and the thin clients (python-oracledb,
 * node-oracledb) send; offsets are from the packet start. */
#include "protocols/tns/tns_codec.h"

#include <stdio.h>
#include <string.h>

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Write a header for a packet of len bytes. */
static void put_header(uint8_t *p, uint32_t len, int large, uint8_t type, uint8_t flags)
{
	if (large) {
		put32(p, len);
	} else {
		put16(p, (uint16_t)len);
		put16(p + 2, 0);
	}
	p[4] = type;
	p[5] = flags;
	put16(p + 6, 0);
}

enum tns_peek tns_peek_header(const uint8_t *b, size_t avail, int large, struct tns_hdr *h)
{
	if (avail < TNS_HDR_LEN)
		return TNS_AGAIN;
	h->len = large ? be32(b) : be16(b);
	h->type = b[4];
	h->flags = b[5];
	if (h->len < TNS_HDR_LEN || h->len > TNS_PACKET_MAX)
		return TNS_INVALID;
	if (h->type < TNS_CONNECT || h->type > TNS_CONTROL || h->type == 8 || h->type == 10)
		return TNS_INVALID;
	return TNS_OK;
}

/* CONNECT: 8 version, 10 lowest version, 12 service options, 14 SDU,
 * 16 TDU, 18 protocol characteristics, 20 line turnaround, 22 value of
 * one, 24 connect data length, 26 connect data offset, 28 max receivable
 * data (4), 32/33 NSI connect flags; later fields (large SDU/TDU at 58,
 * connect flags at 66) only when the data offset leaves room for them. */
int tns_parse_connect(const uint8_t *pkt, size_t len, struct tns_connect *c)
{
	memset(c, 0, sizeof *c);
	if (len < 34 || pkt[4] != TNS_CONNECT)
		return -1;
	c->version = be16(pkt + 8);
	c->version_min = be16(pkt + 10);
	c->cd_len = be16(pkt + 24);
	c->cd_off = be16(pkt + 26);
	c->nsi0 = pkt[32];
	c->nsi1 = pkt[33];
	if (c->cd_off < 34)
		return -1;
	if (c->cd_len == 0)
		return -1; /* a CONNECT without a descriptor names no service */
	if ((size_t)c->cd_off + c->cd_len <= len) {
		c->cd_inline = 1;
		return 0;
	}
	/* The data follows in a DATA packet: this packet ends at (or before)
	 * the data offset and holds none of it. */
	if (len > c->cd_off)
		return -1;
	c->cd_inline = 0;
	return 0;
}

/* ACCEPT: 8 version, 10 service options, 12 SDU, 14 TDU, 16 value of one,
 * 18 accept data length, 20 accept data offset, 22 NSI flags 0, 23 NSI
 * flags 1; from version 315: 32 the large SDU (4 bytes). */
int tns_parse_accept(const uint8_t *pkt, size_t len, struct tns_accept *a)
{
	memset(a, 0, sizeof *a);
	if (len < 24 || pkt[4] != TNS_ACCEPT)
		return -1;
	a->version = be16(pkt + 8);
	a->options = be16(pkt + 10);
	a->sdu = be16(pkt + 12);
	a->nsi = pkt[22] | pkt[23];
	a->large = a->version >= TNS_VERSION_LARGE_SDU;
	if (a->large && len >= 36)
		a->sdu = be32(pkt + 32);
	return 0;
}

int tns_parse_redirect(const uint8_t *pkt, size_t len, uint16_t *data_len,
		       const uint8_t **data, size_t *have)
{
	if (len < TNS_HDR_LEN + 2 || pkt[4] != TNS_REDIRECT)
		return -1;
	*data_len = be16(pkt + TNS_HDR_LEN);
	*have = len - TNS_HDR_LEN - 2;
	*data = *have ? pkt + TNS_HDR_LEN + 2 : NULL;
	if (*data && *have < *data_len)
		return -1; /* cut: the whole data is in the packet or none of it */
	return 0;
}

int tns_data_payload(const uint8_t *pkt, size_t len, int large, const uint8_t **p, size_t *n,
		     uint16_t *flags)
{
	(void)large;
	if (len < TNS_HDR_LEN + 2 || pkt[4] != TNS_DATA)
		return -1;
	*flags = be16(pkt + TNS_HDR_LEN);
	*p = pkt + TNS_HDR_LEN + 2;
	*n = len - TNS_HDR_LEN - 2;
	return 0;
}

long tns_build_connect(uint8_t *out, size_t cap, const uint8_t *orig, size_t origlen,
		       const struct tns_connect *c, const char *cd, size_t cdlen)
{
	size_t fixed = c->cd_off < origlen ? c->cd_off : origlen;
	if (fixed < 34 || cdlen == 0 || cdlen > 65535)
		return -1;
	int inl = cdlen <= TNS_CONNECT_INLINE_MAX;
	size_t first = fixed + (inl ? cdlen : 0);
	size_t total = first + (inl ? 0 : TNS_HDR_LEN + 2 + cdlen);
	if (first > 65535 || total > cap)
		return -1;
	memcpy(out, orig, fixed);
	if (fixed < c->cd_off) /* the original stopped short: pad to the offset */
		return -1;
	put_header(out, (uint32_t)first, 0, TNS_CONNECT, orig[5]);
	put16(out + 24, (uint16_t)cdlen);
	put16(out + 26, (uint16_t)fixed);
	if (inl) {
		memcpy(out + fixed, cd, cdlen);
		return (long)total;
	}
	uint8_t *d = out + first;
	put_header(d, (uint32_t)(TNS_HDR_LEN + 2 + cdlen), 0, TNS_DATA, 0);
	put16(d + TNS_HDR_LEN, 0);
	memcpy(d + TNS_HDR_LEN + 2, cd, cdlen);
	return (long)total;
}

/* REFUSE body: user reason, system reason, data length (2), data. */
long tns_build_refuse(uint8_t *out, size_t cap, int code)
{
	char msg[160];
	int n = snprintf(msg, sizeof msg,
			 "(DESCRIPTION=(TMP=)(VSNNUM=0)(ERR=%d)(ERROR_STACK=(ERROR=(CODE=%d)(EMFI=4))))",
			 code, code);
	if (n <= 0 || (size_t)n >= sizeof msg)
		return -1;
	size_t total = TNS_HDR_LEN + 4 + (size_t)n;
	if (total > cap)
		return -1;
	put_header(out, (uint32_t)total, 0, TNS_REFUSE, 0);
	out[8] = 1; /* user reason */
	out[9] = 0; /* system reason */
	put16(out + 10, (uint16_t)n);
	memcpy(out + 12, msg, (size_t)n);
	return (long)total;
}

long tns_build_data(uint8_t *out, size_t cap, int large, uint16_t flags, const uint8_t *p,
		    size_t n)
{
	size_t total = TNS_HDR_LEN + 2 + n;
	if (total > cap || (!large && total > 65535))
		return -1;
	put_header(out, (uint32_t)total, large, TNS_DATA, 0);
	put16(out + TNS_HDR_LEN, flags);
	if (n)
		memcpy(out + TNS_HDR_LEN + 2, p, n);
	return (long)total;
}

int tns_ano_active(const uint8_t *p, size_t n)
{
	if (n < 13 || be32(p) != 0xDEADBEEFu)
		return -1;
	size_t nserv = be16(p + 10), i = 13;
	int active = 0;
	for (size_t k = 0; k < nserv; k++) {
		if (n - i < 8)
			return -1;
		uint16_t svc = be16(p + i), nsub = be16(p + i + 2);
		if ((svc == 2 || svc == 3) && be32(p + i + 4) != 0)
			active = 2;
		i += 8;
		for (uint16_t j = 0; j < nsub; j++) {
			if (n - i < 4)
				return -1;
			uint16_t len = be16(p + i), type = be16(p + i + 2);
			i += 4;
			if (n - i < len)
				return -1;
			/* encryption (2) and data integrity (3) answer the chosen
			 * algorithm as a ub1 (type 2) after their version */
			if ((svc == 2 || svc == 3) && type == 2 && len == 1 && p[i] != 0 &&
			    !active)
				active = 1;
			i += len;
		}
	}
	return active;
}

long tns_build_marker(uint8_t *out, size_t cap, int large, uint8_t type)
{
	if (cap < TNS_HDR_LEN + 3)
		return -1;
	put_header(out, TNS_HDR_LEN + 3, large, TNS_MARKER, 0);
	out[8] = 1;
	out[9] = 0;
	out[10] = type;
	return TNS_HDR_LEN + 3;
}
