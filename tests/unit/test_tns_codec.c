/* Unit tests: TNS descriptor syntax (protocols/tns/tns_desc.c), packet
 * framing (tns_codec.c) and the Oracle NUMBER rendering of tns_ttc.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tns/tns_codec.h"
#include "protocols/tns/tns_desc.h"
#include "protocols/tns/tns_ttc.h"
#include "unit.h"

static struct tns_desc d;

static int parse(const char *s)
{
	char err[160];
	return tns_desc_parse(&d, s, strlen(s), err, sizeof err);
}

static void descriptors(void)
{
	const char *v;
	int sid;
	/* case, blanks, nesting */
	CHECK(parse(" ( description = (address=(protocol=tcp)(host=h)(port=1))"
		    " (Connect_Data = ( Service_Name = sbt_abc ) (CID=(PROGRAM=p q)(HOST=x)(USER=u))))") == 0);
	CHECK(tns_desc_service(&d, &v, &sid) == 1);
	CHECK_STR(v, "sbt_abc");
	CHECK(sid == 0);
	CHECK_STR(tns_desc_cid(&d, "program"), "p q");
	CHECK_STR(tns_desc_cid(&d, "USER"), "u");
	/* SID, quotes, a backslash, '=' in a value */
	CHECK(parse("(DESCRIPTION=(CONNECT_DATA=(SID=\"sbt_q\")(CONNECTION_ID=ab+c==)"
		    "(CID=(PROGRAM='a (b)')(HOST=x\\)y))))") == 0);
	CHECK(tns_desc_service(&d, &v, &sid) == 1 && sid == 1);
	CHECK_STR(v, "sbt_q");
	CHECK_STR(tns_desc_cid(&d, "PROGRAM"), "a (b)");
	CHECK_STR(tns_desc_cid(&d, "HOST"), "x)y");
	/* a DESCRIPTION_LIST repeating the same token is fine, two tokens are not */
	CHECK(parse("(DESCRIPTION_LIST=(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=a)))"
		    "(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=a))))") == 0);
	CHECK(tns_desc_service(&d, &v, &sid) == 1);
	CHECK(parse("(DESCRIPTION_LIST=(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=a)))"
		    "(DESCRIPTION=(CONNECT_DATA=(SID=b))))") == 0);
	CHECK(tns_desc_service(&d, &v, &sid) == -1);
	CHECK(parse("(DESCRIPTION=(ADDRESS=(HOST=h)))") == 0);
	CHECK(tns_desc_service(&d, &v, &sid) == 0);
	/* malformed */
	CHECK(parse("") != 0);
	CHECK(parse("(A=b") != 0);
	CHECK(parse("(A=\"b)") != 0);
	CHECK(parse("(=b)") != 0);
	CHECK(parse("(A=b)x") != 0);
	CHECK(parse("(A=b(c))") != 0);
	char deep[200] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "(A=");
	strcat(deep, "x");
	for (int i = 0; i < 20; i++)
		strcat(deep, ")");
	CHECK(parse(deep) != 0);

	/* rewrite: the asset's address and service, the client's items kept,
	 * routing keywords dropped at any depth */
	char out[1024];
	CHECK(parse("(DESCRIPTION=(SDU=8192)(ADDRESS=(PROTOCOL=tcp)(HOST=bastion)(PORT=1))"
		    "(CONNECT_DATA=(SERVICE_NAME=sbt_x)(SERVER=dedicated)"
		    "(CID=(PROGRAM=/bin/x)(SERVICE_NAME=evil))))") == 0);
	long n = tns_desc_rewrite(&d, "db1", 1521, "ORCL", out, sizeof out);
	CHECK(n > 0);
	CHECK_STR(out, "(DESCRIPTION=(SDU=8192)(ADDRESS=(PROTOCOL=tcp)(HOST=db1)(PORT=1521))"
		       "(CONNECT_DATA=(SERVER=dedicated)(CID=(PROGRAM=/bin/x))(SERVICE_NAME=ORCL)))");
	CHECK(tns_desc_rewrite(&d, "db1", 1521, "ORCL", out, 20) == -1);
}

static void packets(void)
{
	uint8_t pkt[300] = {0};
	struct tns_hdr h;
	/* 16-bit header CONNECT with 10 bytes of connect data at offset 74 */
	pkt[0] = 0;
	pkt[1] = 84;
	pkt[4] = TNS_CONNECT;
	pkt[8] = 0x01;
	pkt[9] = 0x3e; /* version 318 */
	pkt[24] = 0;
	pkt[25] = 10;
	pkt[26] = 0;
	pkt[27] = 74;
	memcpy(pkt + 74, "(A=b)(C=d)", 10);
	CHECK(tns_peek_header(pkt, 7, 0, &h) == TNS_AGAIN);
	CHECK(tns_peek_header(pkt, 84, 0, &h) == TNS_OK && h.len == 84 && h.type == TNS_CONNECT);
	struct tns_connect c;
	CHECK(tns_parse_connect(pkt, 84, &c) == 0 && c.cd_inline && c.version == 318);
	CHECK(tns_parse_connect(pkt, 80, &c) != 0); /* data cut */
	/* rebuilt with a long descriptor: CONNECT without data, then DATA */
	static uint8_t out[2000];
	char cd[400];
	memset(cd, 'x', sizeof cd);
	CHECK(tns_parse_connect(pkt, 84, &c) == 0);
	long n = tns_build_connect(out, sizeof out, pkt, 84, &c, cd, sizeof cd);
	CHECK(n == 74 + 8 + 2 + 400);
	struct tns_connect c2;
	CHECK(tns_parse_connect(out, 74, &c2) == 0 && !c2.cd_inline && c2.cd_len == 400);
	CHECK(tns_peek_header(out + 74, 10, 0, &h) == TNS_OK && h.type == TNS_DATA &&
	      h.len == 410);
	/* large header */
	uint8_t big[8] = {0, 1, 0, 0, TNS_DATA, 0, 0, 0};
	CHECK(tns_peek_header(big, 8, 1, &h) == TNS_OK && h.len == 65536);
	big[1] = 0x80; /* 8 MiB: over the cap */
	CHECK(tns_peek_header(big, 8, 1, &h) == TNS_INVALID);
	/* refuse */
	n = tns_build_refuse(pkt, sizeof pkt, 12514);
	CHECK(n > 12 && memmem(pkt, (size_t)n, "(ERR=12514)", 11) != NULL);
}

static void numbers(void)
{
	char s[64];
	static const uint8_t zero[] = {0x80}, one[] = {0xc1, 2}, hundred[] = {0xc2, 2},
			     neg5[] = {0x3e, 96, 102}, frac[] = {0xc0, 51}, big[] = {0xc3, 2, 1, 1};
	CHECK(tns_number_text(zero, 1, s, sizeof s) == 0);
	CHECK_STR(s, "0");
	CHECK(tns_number_text(one, 2, s, sizeof s) == 0);
	CHECK_STR(s, "1");
	CHECK(tns_number_text(hundred, 2, s, sizeof s) == 0);
	CHECK_STR(s, "100");
	CHECK(tns_number_text(neg5, 3, s, sizeof s) == 0);
	CHECK_STR(s, "-5");
	CHECK(tns_number_text(frac, 2, s, sizeof s) == 0);
	CHECK_STR(s, "0.5");
	CHECK(tns_number_text(big, 4, s, sizeof s) == 0);
	CHECK_STR(s, "10000");
}

int main(void)
{
	descriptors();
	packets();
	numbers();
	return UNIT_DONE("test_tns_codec");
}
