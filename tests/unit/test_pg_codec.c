/* Unit tests for protocols/pgsql/pg_codec: startup packets (table-driven,
 * well-formed and hostile), message bodies, and builder round trips. */
#include <event2/buffer.h>
#include <stdlib.h>

#include "protocols/pgsql/pg_codec.h"
#include "protocols/pgsql/pg_params.h"
#include "unit.h"

/* Build a startup packet from a code and a NUL-separated body. */
static size_t mk_startup(uint8_t *out, uint32_t code, const char *body, size_t bodylen)
{
	size_t len = 8 + bodylen;
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	out[4] = (uint8_t)(code >> 24);
	out[5] = (uint8_t)(code >> 16);
	out[6] = (uint8_t)(code >> 8);
	out[7] = (uint8_t)code;
	memcpy(out + 8, body, bodylen);
	return len;
}

struct startup_case {
	const char *name;
	uint32_t code;
	const char *body;
	size_t bodylen;
	int ok;
	const char *user, *database;
	int n_params;
};

#define B(s) s, sizeof(s) - 1

static const struct startup_case startup_cases[] = {
	{"plain", PG_PROTO_V3, B("user\0alice\0database\0app\0\0"), 1, "alice", "app", 0},
	{"params", PG_PROTO_V3, B("user\0alice\0application_name\0psql\0client_encoding\0UTF8\0\0"), 1,
	 "alice", NULL, 2},
	{"no user", PG_PROTO_V3, B("database\0app\0\0"), 0, NULL, NULL, 0},
	{"empty user", PG_PROTO_V3, B("user\0\0\0"), 0, NULL, NULL, 0},
	{"no terminator", PG_PROTO_V3, B("user\0alice\0"), 0, NULL, NULL, 0},
	{"missing value", PG_PROTO_V3, B("user\0alice\0database"), 0, NULL, NULL, 0},
	{"trailing junk", PG_PROTO_V3, B("user\0alice\0\0junk"), 0, NULL, NULL, 0},
	{"protocol 2", 131072, B("user\0alice\0\0"), 0, NULL, NULL, 0},
	{"protocol 4", 262144, B("user\0alice\0\0"), 0, NULL, NULL, 0},
	{"ssl request", PG_SSL_REQUEST, B(""), 1, NULL, NULL, 0},
	{"ssl request with body", PG_SSL_REQUEST, B("xxxx"), 0, NULL, NULL, 0},
	{"gss request", PG_GSSENC_REQUEST, B(""), 1, NULL, NULL, 0},
	{"cancel", PG_CANCEL_REQUEST, B("\0\0\0\7\0\0\0\11"), 1, NULL, NULL, 0},
	{"short cancel", PG_CANCEL_REQUEST, B("\0\0\0\7"), 0, NULL, NULL, 0},
};

static void test_startup_table(void)
{
	uint8_t pkt[512];
	for (size_t i = 0; i < sizeof startup_cases / sizeof startup_cases[0]; i++) {
		const struct startup_case *tc = &startup_cases[i];
		size_t len = mk_startup(pkt, tc->code, tc->body, tc->bodylen);
		struct pg_startup su;
		char err[160] = "";
		int rc = pg_parse_startup(pkt, len, &su, err, sizeof err);
		if ((rc == 0) != tc->ok)
			fprintf(stderr, "case '%s': rc=%d err=%s\n", tc->name, rc, err);
		CHECK((rc == 0) == tc->ok);
		if (rc != 0) {
			CHECK(err[0] != '\0');
			continue;
		}
		if (tc->user)
			CHECK_STR(su.user, tc->user);
		if (tc->database)
			CHECK_STR(su.database, tc->database);
		CHECK(su.n_params == tc->n_params);
	}
	/* length field that disagrees with the buffer */
	size_t len = mk_startup(pkt, PG_PROTO_V3, B("user\0a\0\0"));
	struct pg_startup su;
	char err[160];
	CHECK(pg_parse_startup(pkt, len - 1, &su, err, sizeof err) != 0);
	/* too many parameters */
	char big[4096];
	size_t o = 0;
	o += (size_t)sprintf(big + o, "user") + 1;
	o += (size_t)sprintf(big + o, "alice") + 1;
	for (int i = 0; i < PG_STARTUP_PARAMS_MAX + 1; i++) {
		o += (size_t)sprintf(big + o, "p%d", i) + 1;
		o += (size_t)sprintf(big + o, "v") + 1;
	}
	big[o++] = '\0';
	uint8_t *bp = malloc(o + 8);
	len = mk_startup(bp, PG_PROTO_V3, big, o);
	CHECK(pg_parse_startup(bp, len, &su, err, sizeof err) != 0);
	free(bp);
}

static void test_bodies(void)
{
	const char *sql, *name, *portal;
	size_t len;
	CHECK(pg_parse_query((const uint8_t *)"SELECT 1", 9, &sql, &len) == 0 && len == 8);
	CHECK(pg_parse_query((const uint8_t *)"SELECT 1", 8, &sql, &len) != 0); /* no NUL */
	CHECK(pg_parse_query((const uint8_t *)"A\0B", 4, &sql, &len) != 0);     /* data after NUL */

	static const uint8_t parse_ok[] = "s1\0SELECT $1\0\0\1\0\0\0\x17";
	CHECK(pg_parse_parse(parse_ok, sizeof parse_ok - 1, &name, &sql, &len) == 0);
	CHECK_STR(name, "s1");
	CHECK(len == 9);
	CHECK(pg_parse_parse(parse_ok, sizeof parse_ok - 2, &name, &sql, &len) != 0);
	static const uint8_t parse_lie[] = "s1\0SELECT 1\0\xff\xff";
	CHECK(pg_parse_parse(parse_lie, sizeof parse_lie - 1, &name, &sql, &len) != 0);

	static const uint8_t bind[] = "p\0s1\0\0\0\0\0\0\0";
	struct pg_bind bd;
	CHECK(pg_parse_bind(bind, sizeof bind - 1, &bd) == 0);
	CHECK_STR(bd.portal, "p");
	CHECK_STR(bd.stmt, "s1");
	CHECK(bd.params.n == 0);

	static const uint8_t exec[] = "\0\0\0\0\0";
	CHECK(pg_parse_execute(exec, 5, &portal) == 0 && portal[0] == '\0');
	CHECK(pg_parse_execute(exec, 4, &portal) != 0);

	char kind;
	CHECK(pg_parse_target((const uint8_t *)"Ss1", 4, &kind, &name) == 0 && kind == 'S');
	CHECK(pg_parse_target((const uint8_t *)"Xs1", 4, &kind, &name) != 0);

	struct {
		const char *tag;
		int64_t rows;
	} tags[] = {{"SELECT 5", 5},      {"INSERT 0 12", 12}, {"UPDATE 3", 3},
		    {"DELETE 0", 0},      {"COPY 1000000", 1000000}, {"CREATE TABLE", -1},
		    {"BEGIN", -1},        {"FETCH 7", 7},       {"SELECT", -1},
		    {"DROP TABLE 5", -1}};
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		int64_t r = pg_command_rows((const uint8_t *)tags[i].tag, strlen(tags[i].tag) + 1);
		if (r != tags[i].rows)
			fprintf(stderr, "tag '%s': %lld\n", tags[i].tag, (long long)r);
		CHECK(r == tags[i].rows);
	}

	static const uint8_t err[] = "SERROR\0C42501\0Mno\0\0";
	const char *v;
	CHECK(pg_error_field(err, sizeof err - 1, 'C', &v, &len) == 0);
	CHECK_STR(v, "42501");
	CHECK(pg_error_field(err, sizeof err - 1, 'D', &v, &len) != 0);
	CHECK(pg_error_field(err, 5, 'M', &v, &len) != 0); /* truncated */

	const char *mech;
	const uint8_t *data;
	static const uint8_t sasl[] = "SCRAM-SHA-256\0\0\0\0\3abc";
	CHECK(pg_parse_sasl_initial(sasl, sizeof sasl - 1, &mech, &data, &len) == 0 && len == 3);
	static const uint8_t sasl_lie[] = "SCRAM-SHA-256\0\0\0\1\0abc";
	CHECK(pg_parse_sasl_initial(sasl_lie, sizeof sasl_lie - 1, &mech, &data, &len) != 0);
}

static void test_builders(void)
{
	struct evbuffer *b = evbuffer_new();
	CHECK(pg_put_error(b, "ERROR", "42501", "sqlbastion: blocked by rule 'no-drop'") == 0);
	size_t n = evbuffer_get_length(b);
	uint8_t *m = evbuffer_pullup(b, -1);
	CHECK(m[0] == 'E');
	uint32_t len = (uint32_t)m[1] << 24 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 8 | m[4];
	CHECK(len + 1 == n);
	const char *v;
	size_t vl;
	CHECK(pg_error_field(m + 5, n - 5, 'M', &v, &vl) == 0);
	CHECK_STR(v, "sqlbastion: blocked by rule 'no-drop'");
	evbuffer_drain(b, n);

	struct pg_param p[] = {{"application_name", "psql"}};
	CHECK(pg_put_startup(b, "app", "appdb", p, 1) == 0);
	n = evbuffer_get_length(b);
	m = evbuffer_pullup(b, -1);
	struct pg_startup su;
	char err[160];
	CHECK(pg_parse_startup(m, n, &su, err, sizeof err) == 0);
	CHECK_STR(su.user, "app");
	CHECK_STR(su.database, "appdb");
	CHECK(su.n_params == 1);
	evbuffer_drain(b, n);

	CHECK(pg_put_bind_to(b, "marker") == 0);
	n = evbuffer_get_length(b);
	m = evbuffer_pullup(b, -1);
	struct pg_bind bd;
	CHECK(m[0] == 'B' && pg_parse_bind(m + 5, n - 5, &bd) == 0);
	CHECK_STR(bd.stmt, "marker");
	evbuffer_free(b);
}

/* A Bind body: portal "", statement "s", the given format codes, the
 * values (NULL = SQL NULL), no result formats. */
static size_t make_bind(uint8_t *out, int nfmt, const int *fmts, int nval,
			const char *const *vals, const int *lens)
{
	size_t o = 0;
	out[o++] = 0;
	out[o++] = 's';
	out[o++] = 0;
	out[o++] = (uint8_t)(nfmt >> 8);
	out[o++] = (uint8_t)nfmt;
	for (int i = 0; i < nfmt; i++) {
		out[o++] = 0;
		out[o++] = (uint8_t)fmts[i];
	}
	out[o++] = (uint8_t)(nval >> 8);
	out[o++] = (uint8_t)nval;
	for (int i = 0; i < nval; i++) {
		uint32_t l = vals[i] ? (uint32_t)lens[i] : 0xFFFFFFFFu;
		out[o++] = (uint8_t)(l >> 24);
		out[o++] = (uint8_t)(l >> 16);
		out[o++] = (uint8_t)(l >> 8);
		out[o++] = (uint8_t)l;
		if (vals[i]) {
			memcpy(out + o, vals[i], (size_t)lens[i]);
			o += (size_t)lens[i];
		}
	}
	out[o++] = 0;
	out[o++] = 0;
	return o;
}

static void check_params(int nfmt, const int *fmts, int nval, const char *const *vals,
			 const int *lens, const char *want)
{
	static uint8_t msg[8192];
	size_t n = make_bind(msg, nfmt, fmts, nval, vals, lens);
	struct pg_bind bd;
	CHECK(pg_parse_bind(msg, n, &bd) == 0);
	char *json = pg_values_json(&bd.params);
	CHECK(json != NULL);
	if (json && want)
		CHECK_STR(json, want);
	/* 1021..1024 bytes shown (each stray byte as \u0080): never emptied */
	if (json && !want)
		CHECK(strlen(json) >= 2 + 1021 * 6);
	free(json);
	/* every shorter message is refused, never read past */
	for (size_t k = 0; k < n; k++)
		CHECK(pg_parse_bind(msg, k, &bd) != 0);
}

static void test_bind_params(void)
{
	const char *v1[] = {"42", NULL, "it's \"q\"\n"};
	int l1[] = {2, 0, 9};
	check_params(0, NULL, 3, v1, l1, "[\"42\",null,\"it's \\\"q\\\"\\n\"]");
	/* one format code for all: binary int4 12345 */
	const char *v2[] = {"\0\0\x30\x39"};
	int l2[] = {4}, f2[] = {1};
	check_params(1, f2, 1, v2, l2, "[\"\\\\x00003039\"]");
	/* one code each */
	const char *v3[] = {"7", "\xff"};
	int l3[] = {1, 1}, f3[] = {0, 1};
	check_params(2, f3, 2, v3, l3, "[\"7\",\"\\\\xff\"]");
	/* a long text value is cut at a character boundary and marked */
	static char big[3000];
	memset(big, 'a', sizeof big);
	memcpy(big + PG_PARAM_SHOW_MAX - 1, "\xc3\xa9", 2); /* é across the cut */
	const char *v4[] = {big};
	int l4[] = {(int)sizeof big};
	char want[PG_PARAM_SHOW_MAX + 64];
	snprintf(want, sizeof want, "[\"%.*s...(3000 bytes)\"]", PG_PARAM_SHOW_MAX - 1, big);
	check_params(0, NULL, 1, v4, l4, want);
	/* stray continuation bytes: the cut stays near the limit */
	static char cont[2000];
	memset(cont, 0x80, sizeof cont);
	const char *v6[] = {cont};
	int l6[] = {(int)sizeof cont};
	check_params(0, NULL, 1, v6, l6, NULL);
	/* invalid: format count neither 0, 1 nor the value count */
	int f5[] = {0, 0};
	uint8_t msg[64];
	size_t n = make_bind(msg, 2, f5, 3, v1, l1);
	struct pg_bind bd;
	CHECK(pg_parse_bind(msg, n, &bd) != 0);
	/* invalid: a length past the message, a negative length other than -1 */
	static const uint8_t lie[] = "\0s\0\0\0\0\1\0\0\0\x09" "ab\0\0";
	CHECK(pg_parse_bind(lie, sizeof lie - 1, &bd) != 0);
	static const uint8_t neg[] = "\0s\0\0\0\0\1\xff\xff\xff\xfe\0\0";
	CHECK(pg_parse_bind(neg, sizeof neg - 1, &bd) != 0);

	/* FunctionCall: oid 964 (lo_unlink), one text argument, text result */
	static const uint8_t fc[] = "\0\0\x03\xc4\0\0\0\1\0\0\0\x05" "16385\0\0";
	uint32_t oid;
	struct pg_values args;
	CHECK(pg_parse_function_call(fc, sizeof fc - 1, &oid, &args) == 0 && oid == 964);
	char *json = pg_values_json(&args);
	CHECK(json && strcmp(json, "[\"16385\"]") == 0);
	free(json);
	CHECK(pg_parse_function_call(fc, sizeof fc - 2, &oid, &args) != 0);
}

int main(void)
{
	test_startup_table();
	test_bodies();
	test_builders();
	test_bind_params();
	return UNIT_DONE("pg_codec");
}
