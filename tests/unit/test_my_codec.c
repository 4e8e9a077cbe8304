/* Unit tests for protocols/mysql/my_codec: readers (table-driven lenenc
 * cases, hostile lengths), packet framing at the 16 MiB boundary, the
 * handshake packets both ways, OK/ERR/EOF, prepare replies, and
 * COM_STMT_EXECUTE parameters rendered as JSON. */
#include <event2/buffer.h>
#include <stdlib.h>

#include "protocols/mysql/my_codec.h"
#include "unit.h"

#define B(s) (const uint8_t *)s, sizeof(s) - 1

struct lenenc_case {
	const char *name;
	const uint8_t *in;
	size_t n;
	int ok;
	uint64_t v;
	int is_null;
};

static const struct lenenc_case lenenc_cases[] = {
	{"one byte", B("\x05"), 1, 5, 0},
	{"fa", B("\xfa"), 1, 250, 0},
	{"null", B("\xfb"), 1, 0, 1},
	{"fc", B("\xfc\x01\x02"), 1, 0x0201, 0},
	{"fc short", B("\xfc\x01"), 0, 0, 0},
	{"fd", B("\xfd\x01\x02\x03"), 1, 0x030201, 0},
	{"fd short", B("\xfd\x01\x02"), 0, 0, 0},
	{"fe", B("\xfe\x01\x00\x00\x00\x00\x00\x00\x01"), 1, 0x0100000000000001ull, 0},
	{"fe short", B("\xfe\x01\x00\x00"), 0, 0, 0},
	{"ff", B("\xff"), 0, 0, 0},
	{"empty", B(""), 0, 0, 0},
};

static void test_lenenc(void)
{
	for (size_t i = 0; i < sizeof lenenc_cases / sizeof lenenc_cases[0]; i++) {
		const struct lenenc_case *tc = &lenenc_cases[i];
		struct wire_reader r;
		uint64_t v = 99;
		int isnull = 0;
		wire_reader_init(&r, tc->in, tc->n);
		int rc = my_get_lenenc(&r, &v, &isnull);
		if ((rc == 0) != tc->ok)
			fprintf(stderr, "lenenc case %s\n", tc->name);
		CHECK((rc == 0) == tc->ok);
		if (tc->ok) {
			CHECK(v == tc->v);
			CHECK(isnull == tc->is_null);
		}
	}
	/* round trip through the builder */
	uint64_t vals[] = {0, 250, 251, 65535, 65536, 0xFFFFFF, 0x1000000, UINT64_MAX};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		struct my_buf b;
		struct wire_reader r;
		uint64_t v;
		my_buf_init(&b);
		my_buf_lenenc(&b, vals[i]);
		wire_reader_init(&r, b.p, b.len);
		CHECK(my_get_lenenc(&r, &v, NULL) == 0 && v == vals[i] && wire_left(&r) == 0);
		my_buf_free(&b);
	}
	/* a lenenc string longer than the packet */
	struct wire_reader r;
	const uint8_t *p;
	size_t n;
	wire_reader_init(&r, "\x05" "abc", 4);
	CHECK(my_get_lenenc_str(&r, &p, &n) != 0);
	wire_reader_init(&r, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	CHECK(my_get_lenenc_str(&r, &p, &n) != 0);
	wire_reader_init(&r, "abc", 3);
	const char *s;
	CHECK(wire_get_cstr(&r, &s, &n) != 0); /* no NUL */
}

static void test_framing(void)
{
	struct evbuffer *out = evbuffer_new();
	CHECK(my_put_packets(out, 3, "hello", 5) == 4);
	CHECK(evbuffer_get_length(out) == 9);
	uint8_t h[4], seq;
	uint32_t len;
	evbuffer_remove(out, h, 4);
	my_header(h, &len, &seq);
	CHECK(len == 5 && seq == 3);
	evbuffer_drain(out, evbuffer_get_length(out));

	/* exactly 16 MiB - 1: a full packet and an empty one */
	size_t big = MY_MAX_PAYLOAD;
	uint8_t *p = calloc(1, big + 10);
	CHECK(my_put_packets(out, 0, p, big) == 2);
	CHECK(evbuffer_get_length(out) == big + 8);
	evbuffer_remove(out, h, 4);
	my_header(h, &len, &seq);
	CHECK(len == MY_MAX_PAYLOAD && seq == 0);
	evbuffer_drain(out, big);
	evbuffer_remove(out, h, 4);
	my_header(h, &len, &seq);
	CHECK(len == 0 && seq == 1);
	/* 16 MiB + 10: a full packet and one of 11 bytes */
	CHECK(my_put_packets(out, 255, p, big + 10) == 1); /* sequence ids wrap */
	evbuffer_drain(out, 4 + big);
	evbuffer_remove(out, h, 4);
	my_header(h, &len, &seq);
	CHECK(len == 10 && seq == 0);
	free(p);
	evbuffer_free(out);
}

static void test_handshake(void)
{
	struct my_handshake h = {.protocol = 10, .conn_id = 77, .scramble_len = 20, .charset = 45,
				 .status = 2, .caps = 0x81bff7fe};
	snprintf(h.version, sizeof h.version, "5.5.5-10.11.0-MariaDB-sqlbastion");
	snprintf(h.plugin, sizeof h.plugin, "mysql_native_password");
	memcpy(h.scramble, "ABCDEFGHIJKLMNOPQRST", 20);
	struct my_buf b;
	my_buf_init(&b);
	my_build_handshake(&b, &h);
	CHECK(my_buf_ok(&b));
	struct my_handshake g;
	char err[128];
	CHECK(my_parse_handshake(b.p, b.len, &g, err, sizeof err) == 0);
	CHECK_STR(g.version, h.version);
	CHECK(g.conn_id == 77 && g.caps == h.caps && g.scramble_len == 20);
	CHECK(memcmp(g.scramble, h.scramble, 20) == 0);
	CHECK_STR(g.plugin, "mysql_native_password");
	/* every truncation fails cleanly */
	int bad = 0;
	for (size_t n = 0; n < 60; n++)
		if (n != b.len && my_parse_handshake(b.p, n, &g, err, sizeof err) == 0 && n > 14)
			bad += n < 40; /* pre-4.1 form is only the first 14 bytes + NUL'd version */
	CHECK(bad == 0);
	CHECK(my_parse_handshake((const uint8_t *)"\x09", 1, &g, err, sizeof err) != 0);
	my_buf_free(&b);

	/* HandshakeResponse41 round trip, and the SSLRequest prefix */
	struct my_hs_response r = {.caps = MY_CLIENT_PROTOCOL_41 | MY_CLIENT_SECURE_CONNECTION |
					   MY_CLIENT_PLUGIN_AUTH | MY_CLIENT_CONNECT_WITH_DB |
					   MY_CLIENT_PLUGIN_AUTH_LENENC | MY_CLIENT_CONNECT_ATTRS,
				   .max_packet = 1 << 24, .charset = 45, .user = "alice",
				   .auth = (const uint8_t *)"01234567890123456789", .auth_len = 20,
				   .database = "appdb", .plugin = "mysql_native_password",
				   .attrs = (const uint8_t *)"\x04_pid\x03" "123", .attrs_len = 9};
	my_buf_init(&b);
	my_build_hs_response(&b, &r);
	struct my_hs_response q;
	CHECK(my_parse_hs_response(b.p, b.len, &q, err, sizeof err) == 0);
	CHECK_STR(q.user, "alice");
	CHECK_STR(q.database, "appdb");
	CHECK_STR(q.plugin, "mysql_native_password");
	CHECK(q.auth_len == 20 && memcmp(q.auth, r.auth, 20) == 0);
	CHECK(q.attrs_len == 9 && !q.ssl_request);
	for (size_t n = 0; n < b.len; n++) {
		int rc = my_parse_hs_response(b.p, n, &q, err, sizeof err);
		/* shorter packets either fail or parse as a prefix; never overread */
		(void)rc;
	}
	CHECK(my_parse_hs_response(b.p, 31, &q, err, sizeof err) != 0);
	my_buf_free(&b);
	r.caps |= MY_CLIENT_SSL;
	r.ssl_request = 1;
	my_buf_init(&b);
	my_build_hs_response(&b, &r);
	CHECK(b.len == 32);
	CHECK(my_parse_hs_response(b.p, b.len, &q, err, sizeof err) == 0 && q.ssl_request);
	my_buf_free(&b);
	/* an auth length byte pointing past the end */
	uint8_t hostile[32 + 8] = {0};
	hostile[1] = 0x82; /* PROTOCOL_41 | SECURE_CONNECTION */
	memcpy(hostile + 32, "bob\0\xff" "ab", 7);
	CHECK(my_parse_hs_response(hostile, 39, &q, err, sizeof err) != 0);
}

static void test_ok_err_eof(void)
{
	struct my_buf b;
	struct my_ok ok;
	my_buf_init(&b);
	my_build_ok(&b, 300, 7, MY_SERVER_MORE_RESULTS_EXISTS | 2, 1);
	CHECK(my_parse_ok(b.p, b.len, &ok) == 0);
	CHECK(ok.affected_rows == 300 && ok.last_insert_id == 7 && ok.warnings == 1);
	CHECK(ok.status & MY_SERVER_MORE_RESULTS_EXISTS);
	my_buf_reset(&b);
	my_build_eof(&b, 0, 0x22);
	CHECK(my_is_eof(b.p, b.len, 0) && my_is_eof(b.p, b.len, 1));
	CHECK(my_parse_ok(b.p, b.len, &ok) == 0 && ok.status == 0x22);
	my_buf_reset(&b);
	my_build_err(&b, 1227, "42000", "sqlbastion: blocked by rule 'no-drop'");
	uint16_t code;
	char state[6];
	const char *msg;
	size_t ml;
	CHECK(my_parse_err(b.p, b.len, &code, state, &msg, &ml) == 0);
	CHECK(code == 1227);
	CHECK_STR(state, "42000");
	CHECK(ml == strlen("sqlbastion: blocked by rule 'no-drop'"));
	my_buf_free(&b);
	/* a text row that starts with 0xFE (an 8-byte length) is not an EOF */
	uint8_t row[12] = {0xFE, 1, 0, 0, 0, 0, 0, 0, 0, 'x'};
	CHECK(!my_is_eof(row, sizeof row, 0));
	CHECK(my_is_eof(row, sizeof row, 1)); /* deprecate_eof: OK with 0xFE header */
	CHECK(my_parse_ok((const uint8_t *)"\x00\xfc", 2, &ok) != 0);
	struct my_prepare_ok po;
	CHECK(my_parse_prepare_ok((const uint8_t *)"\x00\x07\x00\x00\x00\x02\x00\x03\x00\x00\x00\x00", 12, &po) == 0);
	CHECK(po.stmt_id == 7 && po.num_columns == 2 && po.num_params == 3);
	CHECK(my_parse_prepare_ok((const uint8_t *)"\x00\x07\x00", 3, &po) != 0);
	const char *plugin;
	const uint8_t *data;
	size_t dlen;
	CHECK(my_parse_auth_switch(B("\xfemysql_native_password\0ABCDEFGHIJKLMNOPQRST\0"), &plugin,
				   &data, &dlen) == 0);
	CHECK_STR(plugin, "mysql_native_password");
	CHECK(dlen == 20);
	CHECK(my_parse_auth_switch(B("\xfeno-nul"), &plugin, &data, &dlen) != 0);
}

struct exec_case {
	const char *name;
	const uint8_t *pkt;
	size_t n;
	uint16_t nparams;
	int ok;
	const char *json;
};

static const struct exec_case exec_cases[] = {
	{"no params", B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00"), 0, 1, "[]"},
	{"long + string",
	 B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00" "\x00" "\x01" "\x03\x00\xfd\x00"
	   "\x02\x00\x00\x00" "\x03" "b\"c"),
	 2, 1, "[2,\"b\\\"c\"]"},
	{"null + unsigned tiny + double",
	 B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00" "\x01" "\x01" "\x03\x00\x01\x80\x05\x00"
	   "\xff" "\x00\x00\x00\x00\x00\x00\xf8\x3f"),
	 3, 1, "[null,255,1.5]"},
	{"datetime + time",
	 B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00" "\x00" "\x01" "\x0c\x00\x0b\x00"
	   "\x07\xea\x07\x0b\x16\x10\x04\x05" "\x08\x01\x01\x00\x00\x00\x02\x03\x04"),
	 2, 1, "[\"2026-11-22 16:04:05\",\"-26:03:04\"]"},
	{"binary string", B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00" "\x00" "\x01" "\xfc\x00" "\x02\xff\x01"),
	 1, 1, "[\"\\u00ff\\u0001\"]"},
	{"truncated value", B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00" "\x00" "\x01" "\x08\x00" "\x01\x02"),
	 1, 0, NULL},
	{"truncated types", B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00" "\x00" "\x01" "\x08"), 1, 0, NULL},
	{"no types known", B("\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00" "\x00" "\x00" "\x01"), 1, 0, NULL},
	{"short header", B("\x17\x01\x00"), 0, 0, NULL},
};

static void test_execute(void)
{
	for (size_t i = 0; i < sizeof exec_cases / sizeof exec_cases[0]; i++) {
		const struct exec_case *tc = &exec_cases[i];
		uint16_t types[8] = {0};
		int known = 0;
		struct my_execute ex;
		struct my_buf j;
		char err[128];
		my_buf_init(&j);
		int rc = my_parse_execute(tc->pkt, tc->n, tc->nparams, types, &known, NULL, &ex, &j, err,
					  sizeof err);
		if ((rc == 0) != tc->ok)
			fprintf(stderr, "execute case %s: %s\n", tc->name, rc ? err : "parsed");
		CHECK((rc == 0) == tc->ok);
		if (tc->ok && rc == 0) {
			CHECK(ex.stmt_id == 1);
			CHECK_STR((const char *)j.p, tc->json);
		}
		my_buf_free(&j);
	}
	/* types remembered from the first execute; long data shown as such */
	uint16_t types[2] = {0};
	int known = 0;
	struct my_execute ex;
	struct my_buf j;
	char err[128];
	my_buf_init(&j);
	CHECK(my_parse_execute(B("\x17\x09\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x08\x00\xfc\x00"
				 "\x05\x00\x00\x00\x00\x00\x00\x00"),
			       2, types, &known, (const uint8_t *)"\x02", &ex, &j, err, sizeof err) == 0);
	CHECK_STR((const char *)j.p, "[5,\"<long data>\"]");
	my_buf_reset(&j);
	CHECK(my_parse_execute(B("\x17\x09\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00"
				 "\x06\x00\x00\x00\x00\x00\x00\x00\x01z"),
			       2, types, &known, NULL, &ex, &j, err, sizeof err) == 0);
	CHECK_STR((const char *)j.p, "[6,\"z\"]");
	my_buf_free(&j);
	/* JSON strings: cut long values, keep valid UTF-8 */
	uint8_t big[2000];
	memset(big, 'a', sizeof big);
	my_buf_init(&j);
	my_json_str(&j, big, sizeof big, MY_PARAM_SHOW_MAX);
	CHECK(strstr((const char *)j.p, "...(2000 bytes)\"") != NULL);
	my_buf_reset(&j);
	my_json_str(&j, (const uint8_t *)"\xc3\xa9\xed\xa0\x80", 5, 100);
	CHECK_STR((const char *)j.p, "\"\xc3\xa9\\u00ed\\u00a0\\u0080\"");
	my_buf_free(&j);
}

int main(void)
{
	test_lenenc();
	test_framing();
	test_handshake();
	test_ok_err_eof();
	test_execute();
	return UNIT_DONE("test_my_codec");
}
