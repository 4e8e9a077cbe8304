/* Unit tests for audit/: the JSON escaper and reader, the writer's record
 * format and hash chain, verification against tampered copies, two writers
 * on one file, write failures and their recovery, the SQLite index and
 * search, and the per-record cost of audit_write (printed).
 *
 * Everything happens in a mkdtemp directory under /tmp, removed at the end.
 * Every line written is also checked with Python's json module. */
#include "audit/audit.h"
#include "audit/audit_json.h"
#include "lib/crypto.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static char errbuf[512];

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0, r;
	*len = 0;
	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			p = realloc(p, cap);
			if (!p)
				abort();
		}
		r = fread(p + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	p[n] = '\0';
	*len = n;
	return p;
}

static void spit(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (n && fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

/* Lines of a file (pointers into buf, newlines kept). */
struct lines {
	char *buf;
	size_t n;
	const char *at[4096];
	size_t len[4096];
};

static void split(const char *path, struct lines *L)
{
	size_t total;
	L->buf = slurp(path, &total);
	L->n = 0;
	for (size_t i = 0; L->buf && i < total && L->n < 4096;) {
		const char *nl = memchr(L->buf + i, '\n', total - i);
		size_t end = nl ? (size_t)(nl - L->buf) + 1 : total;
		L->at[L->n] = L->buf + i;
		L->len[L->n++] = end - i;
		i = end;
	}
}

/* Write lines in the given order (-1 ends) to path. */
static void join(const char *path, const struct lines *L, const int *order)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	for (; *order >= 0; order++)
		fwrite(L->at[*order], 1, L->len[*order], f);
	fclose(f);
}

static uint64_t count_lines(const char *path)
{
	size_t n;
	char *p = slurp(path, &n);
	uint64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	free(p);
	return c;
}

static int python_json_ok(const char *path)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c 'import json,sys; "
		 "[json.loads(l) for l in open(sys.argv[1], encoding=\"utf-8\")]' "
		 "'%s'",
		 path);
	return system(cmd) == 0;
}

static int verify_fails_with(const char *path, const char *want)
{
	uint64_t n = 0;
	errbuf[0] = '\0';
	int r = audit_verify_file(path, &n, errbuf, sizeof errbuf);
	if (r == 0 || !strstr(errbuf, want)) {
		fprintf(stderr, "verify %s: r=%d err=\"%s\", want \"%s\"\n",
			path, r, errbuf, want);
		return 0;
	}
	return 1;
}

/* Intact up to an incomplete last line, reported as want says. */
static int verify_torn(const char *path, const char *want)
{
	uint64_t n = 0;
	errbuf[0] = '\0';
	int r = audit_verify_file(path, &n, errbuf, sizeof errbuf);
	if (r != AUDIT_VERIFY_TORN || !strstr(errbuf, want)) {
		fprintf(stderr, "verify %s: r=%d err=\"%s\", want torn \"%s\"\n",
			path, r, errbuf, want);
		return 0;
	}
	return 1;
}

static int write_ok(struct audit_log *log, const struct audit_event *ev)
{
	if (audit_write(log, ev, errbuf, sizeof errbuf) == 0)
		return 1;
	fprintf(stderr, "audit_write: %s\n", errbuf);
	return 0;
}

static struct audit_event query(const char *user, const char *sql,
				const char *decision)
{
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_QUERY);
	ev.session = 42;
	ev.user = user;
	ev.client = "10.0.0.7:51544";
	ev.protocol = "postgres";
	ev.asset = "pg-prod";
	ev.account = "app_ro";
	ev.database = "shop";
	ev.statement = sql;
	ev.verb = "SELECT";
	ev.decision = decision;
	ev.rule = "default";
	ev.query_id = 1;
	return ev;
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The record text after the first `"ts":"...",` (ts varies). */
static const char *after_ts(const char *line)
{
	const char *p = strstr(line, "\"event\"");
	return p ? p : "";
}

/* ---- escaper and reader ---- */

static void test_json(void)
{
	struct audit_buf b;
	audit_buf_init(&b);
	const char raw[] = "a\"b\\c\n\t\x01\x1b\x7f\xff\xc3\xa9\xe4\xb8\xad"
			   "\xf0\x9f\x98\x80\xc0\xaf\xed\xa0\x80\xe2\x82";
	audit_json_put_str(&b, raw, sizeof raw - 1);
	CHECK_STR(audit_buf_cstr(&b),
		  "\"a\\\"b\\\\c\\n\\t\\u0001\\u001b\\u007f\\udcff\xc3\xa9"
		  "\xe4\xb8\xad\xf0\x9f\x98\x80\\udcc0\\udcaf\\udced\\udca0"
		  "\\udc80\\udce2\\udc82\"");
	/* ... and every byte of it comes back, invalid ones included */
	{
		struct audit_buf r;
		audit_buf_init(&r);
		CHECK(audit_json_unescape(b.p + 1, b.len - 2, &r) == 0);
		CHECK(r.len == sizeof raw - 1 && memcmp(r.p, raw, r.len) == 0);
		audit_buf_free(&r);
	}
	CHECK(audit_json_valid(b.p, b.len));

	/* valid UTF-8 round-trips through escape + unescape */
	const char text[] = "caf\xc3\xa9 \"x\"\\\n\r\t\b\f\x02 \xf0\x9f\x98\x80";
	b.len = 0;
	audit_json_put_str(&b, text, sizeof text - 1);
	struct audit_buf d;
	audit_buf_init(&d);
	CHECK(audit_json_unescape(b.p + 1, b.len - 2, &d) == 0);
	CHECK(d.len == sizeof text - 1 && memcmp(d.p, text, d.len) == 0);
	d.len = 0;
	const char *esc = "\\ud83d\\ude00\\u00e9\\ud800x";
	CHECK(audit_json_unescape(esc, strlen(esc), &d) == 0);
	CHECK(d.len == 4 + 2 + 3 + 1 &&
	      memcmp(d.p, "\xf0\x9f\x98\x80\xc3\xa9\xef\xbf\xbdx", 10) == 0);
	CHECK(audit_json_unescape("\\q", 2, &d) < 0);
	audit_buf_free(&d);

	/* a 1 MiB string of every byte value stays valid */
	b.len = 0;
	char *big = malloc(1 << 20);
	for (size_t i = 0; i < (1 << 20); i++)
		big[i] = (char)(i * 7 + (i >> 8));
	audit_json_put_str(&b, big, 1 << 20);
	CHECK(!b.oom && audit_json_valid(b.p, b.len));
	free(big);
	audit_buf_free(&b);

	static const char *const good[] = {
		"{}", "[]", "0", "-1.5e+3", "\"\\u00e9\"", " [1, [2, {\"a\": null}], true] ",
		"{\"a\":\"\xc3\xa9\"}",
	};
	static const char *const bad[] = {
		"", "{", "[1,]", "{\"a\"}", "01", "1.", "\"\x01\"", "\"\xff\"",
		"\"\\x\"", "[1] 2", "{\"a\":1,}", "nul", "\"abc",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(audit_json_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!audit_json_valid(bad[i], strlen(bad[i])));
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	CHECK(!audit_json_valid(deep, 200));

	const char *obj = "{\"a\":\"x\\\"y\",\"n\":-12,\"z\":null,"
			  "\"o\":{\"k\":[1,\"]\"]},\"t\":true,\"m\":9223372036854775807}";
	struct audit_json_member m;
	int64_t v;
	CHECK(audit_json_get(obj, strlen(obj), "a", &m) == 1 &&
	      m.type == AUDIT_JSON_STRING && m.vallen == 4);
	CHECK(audit_json_get(obj, strlen(obj), "n", &m) == 1 &&
	      audit_json_i64(&m, &v) == 0 && v == -12);
	CHECK(audit_json_get(obj, strlen(obj), "z", &m) == 1 &&
	      m.type == AUDIT_JSON_NULL);
	CHECK(audit_json_get(obj, strlen(obj), "o", &m) == 1 &&
	      m.type == AUDIT_JSON_OTHER && m.vallen == 13);
	CHECK(audit_json_get(obj, strlen(obj), "t", &m) == 1 &&
	      m.type == AUDIT_JSON_BOOL);
	CHECK(audit_json_get(obj, strlen(obj), "m", &m) == 1 &&
	      audit_json_i64(&m, &v) == 0 && v == INT64_MAX);
	CHECK(audit_json_get(obj, strlen(obj), "nope", &m) == 0);
	CHECK(audit_json_get("{\"a\":1,", 7, "b", &m) == -1);
	struct audit_json_member big_m = {.type = AUDIT_JSON_NUMBER,
					  .val = "9223372036854775808",
					  .vallen = 19};
	CHECK(audit_json_i64(&big_m, &v) < 0);

	uint64_t seq;
	char hash[65];
	const char *rec = "{\"x\":1,\"seq\":17,\"hash\":\"0123456789abcdef0123456789"
			  "abcdef0123456789abcdef0123456789abcdef\"}";
	CHECK(audit_record_tail(rec, strlen(rec), &seq, hash) == 0 && seq == 17 &&
	      hash[0] == '0' && hash[63] == 'f');
	CHECK(audit_record_tail(rec, strlen(rec) - 1, &seq, hash) < 0);
	CHECK(audit_record_tail("{}", 2, &seq, hash) < 0);
}

/* ---- writer: every event type, odd statements, format ---- */

static void test_format(const char *path)
{
	struct audit_log *log = audit_open(path, NULL, errbuf, sizeof errbuf);
	CHECK(log != NULL);
	if (!log)
		return;

	/* directory 0700, file 0600 */
	struct stat st;
	char parent[256];
	snprintf(parent, sizeof parent, "%s", path);
	*strrchr(parent, '/') = '\0';
	CHECK(stat(parent, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

	struct audit_event ev;
	audit_event_init(&ev, AUDIT_LOGIN);
	ev.session = 7;
	ev.user = "alice";
	ev.client = "192.0.2.1:40000";
	ev.protocol = "postgres";
	ev.asset = "pg-prod";
	ev.account = "app_ro";
	ev.database = "shop";
	CHECK(write_ok(log, &ev)); /* 1 */

	audit_event_init(&ev, AUDIT_LOGIN_FAILED);
	ev.client = "192.0.2.9:1";
	ev.protocol = "mysql";
	ev.user = "mallory";
	ev.error = "bad token";
	CHECK(write_ok(log, &ev)); /* 2 */

	static const char *const stmts[] = {
		"SELECT 'it''s' AS \"quoted\", '\\\\' AS bs",
		"SELECT 1;\nSELECT 2;\r\n\t-- tab",
		"SELECT '\x01\x02\x1b[31m\x7f'",
		"SELECT '\xff\xfe\xc3(\xe2\x82'",
		"SELECT 'caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80'",
		"",
	};
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
		ev = query("alice", stmts[i], "allow");
		ev.fingerprint = "SELECT ?";
		ev.objects = "public.orders";
		ev.params = i == 0 ? "[1, \"x\", null]"
			    : i == 1 ? "[1,"        /* not JSON: quoted */
			    : i == 2 ? "[1,\n2]"    /* line break: quoted */
				     : NULL;
		CHECK(write_ok(log, &ev)); /* 3..8 */
	}
	/* explicit length with an embedded NUL, not NUL-terminated */
	char nul[8] = {'S', 'E', 'L', '\0', 'E', 'C', 'T', '!'};
	ev = query("alice", nul, "allow");
	ev.statement_len = 7;
	CHECK(write_ok(log, &ev)); /* 9 */
	/* 10 KB statement */
	char *big = malloc(10241);
	for (int i = 0; i < 10240; i++)
		big[i] = "SELECT x FROM t WHERE y = 'abc\"\\'\n"[i % 34];
	big[10240] = '\0';
	ev = query("alice", big, "allow");
	CHECK(write_ok(log, &ev)); /* 10 */
	free(big);

	audit_event_init(&ev, AUDIT_QUERY_END);
	ev.session = 42;
	ev.user = "alice";
	ev.protocol = "postgres";
	ev.query_id = 1;
	ev.rows = 0;
	ev.duration_us = 1234;
	CHECK(write_ok(log, &ev)); /* 11 */
	ev.rows = -1;
	ev.error = "ERROR: relation \"nope\" does not exist";
	CHECK(write_ok(log, &ev)); /* 12 */

	audit_event_init(&ev, AUDIT_SESSION_END);
	ev.session = 42;
	ev.user = "alice";
	ev.bytes_in = 100;
	ev.bytes_out = 2000;
	ev.duration_us = 5000000;
	CHECK(write_ok(log, &ev)); /* 13 */

	audit_event_init(&ev, AUDIT_ADMIN);
	ev.user = "root";
	ev.statement = "token issue --user alice --asset pg-prod";
	CHECK(write_ok(log, &ev)); /* 14 */

	ev = query("bob", "DELETE FROM orders", "review");
	ev.rule = "hold-deletes";
	ev.approval = 12;
	CHECK(write_ok(log, &ev)); /* 15 */
	audit_close(log);

	struct lines L;
	split(path, &L);
	CHECK(L.n == 15);
	for (size_t i = 0; i < L.n; i++) {
		CHECK(L.len[i] > 0 && L.at[i][L.len[i] - 1] == '\n');
		CHECK(audit_json_valid(L.at[i], L.len[i] - 1));
	}
	CHECK(python_json_ok(path));

	/* exact text after ts, and fields in order */
	CHECK(strncmp(L.at[0], "{\"ts\":\"20", 9) == 0 && L.at[0][33] == 'Z' &&
	      L.at[0][26] == '.');
	CHECK(starts(after_ts(L.at[0]),
		     "\"event\":\"login\",\"session\":7,\"user\":\"alice\","
		     "\"client\":\"192.0.2.1:40000\",\"protocol\":\"postgres\","
		     "\"asset\":\"pg-prod\",\"account\":\"app_ro\","
		     "\"database\":\"shop\",\"seq\":1,\"hash\":\""));
	CHECK(starts(after_ts(L.at[1]),
		     "\"event\":\"login_failed\",\"session\":null,"
		     "\"user\":\"mallory\",\"client\":\"192.0.2.9:1\","
		     "\"protocol\":\"mysql\",\"error\":\"bad token\",\"seq\":2,"));
	CHECK(strstr(L.at[2], "\"statement\":\"SELECT 'it''s' AS \\\"quoted\\\", "
			      "'\\\\\\\\' AS bs\",\"fingerprint\":\"SELECT ?\","
			      "\"verb\":\"SELECT\",\"objects\":\"public.orders\","
			      "\"decision\":\"allow\",\"rule\":\"default\","
			      "\"query_id\":1,\"params\":[1, \"x\", null],\"seq\":3,") != NULL);
	CHECK(strstr(L.at[3], "SELECT 1;\\nSELECT 2;\\r\\n\\t-- tab") != NULL);
	CHECK(strstr(L.at[3], "\"params\":\"[1,\"") != NULL);
	CHECK(strstr(L.at[4], "\\u0001\\u0002\\u001b[31m\\u007f") != NULL);
	CHECK(strstr(L.at[4], "\"params\":\"[1,\\n2]\"") != NULL);
	CHECK(strstr(L.at[5], "'\\udcff\\udcfe\\udcc3(\\udce2\\udc82'") != NULL);
	CHECK(strstr(L.at[6], "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80") != NULL);
	CHECK(strstr(L.at[7], "\"statement\":\"\",") != NULL);
	CHECK(strstr(L.at[8], "\"statement\":\"SEL\\u0000ECT\",") != NULL);
	CHECK(L.len[9] > 10240);
	CHECK(strstr(L.at[10], "\"event\":\"query_end\"") &&
	      strstr(L.at[10], "\"rows\":0,\"duration_us\":1234,\"query_id\":1,\"seq\":11,"));
	CHECK(!strstr(L.at[11], "\"rows\"") &&
	      strstr(L.at[11], "\"error\":\"ERROR: relation \\\"nope\\\" does not exist\""));
	CHECK(strstr(L.at[12], "\"duration_us\":5000000,\"bytes_in\":100,"
			       "\"bytes_out\":2000,\"seq\":13,") != NULL);
	CHECK(strstr(L.at[13], "\"session\":null,\"user\":\"root\",\"client\":null,"
			       "\"protocol\":null,\"statement\":") != NULL);
	CHECK(strstr(L.at[14], "\"decision\":\"review\",\"rule\":\"hold-deletes\","
			       "\"approval\":12,\"query_id\":1,\"seq\":15,") != NULL);
	CHECK(!memmem(L.at[2], L.len[2], "approval", 8)); /* absent when 0 */

	/* the hash of line 2 recomputed by hand from line 1's hash */
	uint64_t seq1, seq2;
	char h1[65], h2[65], want[65];
	CHECK(audit_record_tail(L.at[0], L.len[0] - 1, &seq1, h1) == 0 && seq1 == 1);
	CHECK(audit_record_tail(L.at[1], L.len[1] - 1, &seq2, h2) == 0 && seq2 == 2);
	size_t body = L.len[1] - 1 - AUDIT_HASH_SUFFIX_LEN;
	char *cat = malloc(64 + body);
	memcpy(cat, h1, 64);
	memcpy(cat + 64, L.at[1], body);
	uint8_t md[32];
	sb_sha256(cat, 64 + body, md);
	sb_hex(md, 32, want);
	CHECK_STR(want, h2);
	free(cat);
	free(L.buf);

	uint64_t n = 0;
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 15);

	/* reopening continues the chain of the same file */
	log = audit_open(path, NULL, errbuf, sizeof errbuf);
	CHECK(log && audit_reopen(log, errbuf, sizeof errbuf) == 0);
	ev = query("carol", "SELECT now()", "allow");
	CHECK(log && write_ok(log, &ev)); /* 16 */
	audit_close(log);
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 16);
}

/* ---- tampering ---- */

static void test_tamper(const char *path, const char *idx)
{
	struct lines L;
	char t[256];
	size_t n;
	split(path, &L);
	CHECK(L.n == 16);

	/* a byte edited inside a statement */
	path_in(t, sizeof t, "t_edit.jsonl");
	char *copy = slurp(path, &n);
	char *hit = strstr(copy, "DELETE FROM orders");
	CHECK(hit != NULL);
	if (hit)
		hit[0] = 'd';
	spit(t, copy, n);
	CHECK(verify_fails_with(t, "line 15: hash mismatch"));
	/* a byte edited in the hash itself, and in a number */
	free(copy);
	copy = slurp(path, &n);
	hit = strstr(copy, "\"duration_us\":1234");
	CHECK(hit != NULL);
	if (hit)
		hit[15] = '9';
	spit(t, copy, n);
	CHECK(verify_fails_with(t, "line 11: hash mismatch"));
	free(copy);
	copy = slurp(path, &n);
	copy[L.at[4] - L.buf + L.len[4] - 5] ^= 1; /* inside line 5's hash */
	spit(t, copy, n);
	CHECK(verify_fails_with(t, "line 5:"));
	/* an edit that breaks the JSON */
	free(copy);
	copy = slurp(path, &n);
	copy[L.at[6] - L.buf + 1] = 'x'; /* first quote of line 7 */
	spit(t, copy, n);
	CHECK(verify_fails_with(t, "line 7: not JSON"));
	free(copy);

	/* a middle line deleted */
	path_in(t, sizeof t, "t_del.jsonl");
	int del[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -1};
	join(t, &L, del);
	CHECK(verify_fails_with(t, "line 5: seq 6 follows 4"));
	/* the first line deleted */
	join(t, &L, del + 1);
	CHECK(verify_fails_with(t, "line 1: seq 2"));
	/* two lines swapped */
	int swp[] = {0, 1, 2, 4, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -1};
	path_in(t, sizeof t, "t_swap.jsonl");
	join(t, &L, swp);
	CHECK(verify_fails_with(t, "line 4: seq 5 follows 3"));
	/* a line duplicated */
	int dup[] = {0, 1, 2, 3, 3, 4, -1};
	join(t, &L, dup);
	CHECK(verify_fails_with(t, "line 5: seq 4 follows 4"));
	/* truncated mid-line */
	path_in(t, sizeof t, "t_trunc.jsonl");
	spit(t, L.buf, (size_t)(L.at[9] - L.buf) + 100);
	CHECK(verify_torn(t, "line 10: incomplete last line (100 bytes"));
	/* only the final newline missing */
	spit(t, L.buf, (size_t)(L.at[9] - L.buf) + L.len[9] - 1);
	CHECK(verify_torn(t, "line 10: incomplete last line"));
	/* a cut line anywhere but at the end of the newest file is damage */
	{
		char t2[256];
		path_in(t2, sizeof t2, "t_trunc_then.jsonl");
		spit(t2, L.buf, (size_t)(L.at[12] - L.buf));
		const char *two[] = {t, t2};
		uint64_t nr = 0, last = 0;
		errbuf[0] = '\0';
		CHECK(audit_verify_files(two, 2, NULL, 0, &nr, &last, errbuf,
					 sizeof errbuf) < 0 &&
		      strstr(errbuf, "line 10: truncated"));
	}
	/* a blank line */
	copy = malloc(L.len[0] + 1 + L.len[1]);
	memcpy(copy, L.at[0], L.len[0]);
	copy[L.len[0]] = '\n';
	memcpy(copy + L.len[0] + 1, L.at[1], L.len[1]);
	spit(t, copy, L.len[0] + 1 + L.len[1]);
	CHECK(verify_fails_with(t, "line 2: not JSON"));
	free(copy);

	/* the last whole line deleted: a valid shorter chain on its own... */
	path_in(t, sizeof t, "t_last.jsonl");
	int last[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, -1};
	join(t, &L, last);
	uint64_t recs = 0;
	CHECK(audit_verify_file(t, &recs, errbuf, sizeof errbuf) == 0 &&
	      recs == 15);
	/* ...but not for an index that has seen seq 16 */
	CHECK(audit_index_sync(path, idx, errbuf, sizeof errbuf) == 0);
	CHECK(audit_verify_with_index(path, idx, NULL, 0, &recs, NULL, errbuf, sizeof errbuf) == 0 &&
	      recs == 16);
	errbuf[0] = '\0';
	CHECK(audit_verify_with_index(t, idx, NULL, 0, &recs, NULL, errbuf, sizeof errbuf) < 0 &&
	      strstr(errbuf, "file ends at seq 15 but the index has seen seq 16"));
	/* an empty file against that index */
	spit(t, "", 0);
	CHECK(audit_verify_with_index(t, idx, NULL, 0, &recs, NULL, errbuf, sizeof errbuf) < 0);
	/* a missing index is no error */
	char noidx[256];
	path_in(noidx, sizeof noidx, "none.db");
	CHECK(audit_verify_with_index(path, noidx, NULL, 0, &recs, NULL, errbuf, sizeof errbuf) == 0);
	/* a different chain written from scratch is not what the index saw */
	path_in(t, sizeof t, "t_rotated.jsonl");
	struct timespec ms = {0, 2000000};
	nanosleep(&ms, NULL);
	struct audit_log *log = audit_open(t, NULL, errbuf, sizeof errbuf);
	for (int i = 0; log && i < 20; i++) {
		struct audit_event ev = query("dave", "SELECT 1", "allow");
		CHECK(write_ok(log, &ev));
	}
	audit_close(log);
	CHECK(audit_verify_with_index(t, idx, NULL, 0, &recs, NULL, errbuf, sizeof errbuf) < 0 &&
	      strstr(errbuf, "differs from the indexed copy"));
	/* a missing file */
	path_in(t, sizeof t, "nope.jsonl");
	CHECK(audit_verify_file(t, &recs, errbuf, sizeof errbuf) < 0);
	free(L.buf);
}

/* ---- two writers ---- */

static void test_two_writers(void)
{
	char path[256];
	path_in(path, sizeof path, "two/audit.jsonl");
	struct audit_log *a = audit_open(path, NULL, errbuf, sizeof errbuf);
	struct audit_log *b = audit_open(path, NULL, errbuf, sizeof errbuf);
	CHECK(a && b);
	if (!a || !b)
		return;
	for (int i = 0; i < 300; i++) {
		struct audit_event ev = query(i % 2 ? "b" : "a", "SELECT 1", "allow");
		/* a, b, then runs of a few each */
		struct audit_log *w = (i < 100 ? i % 2 : (i / 7) % 2) ? b : a;
		CHECK(write_ok(w, &ev));
	}
	audit_close(a);
	audit_close(b);
	uint64_t n = 0;
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 300);

	/* processes writing at the same time, each with its own handle */
	enum { PROCS = 4, EACH = 500 };
	pid_t kids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		kids[p] = fork();
		if (kids[p] == 0) {
			char eb[256];
			struct audit_log *l = audit_open(path, NULL, eb, sizeof eb);
			if (!l)
				_exit(2);
			for (int i = 0; i < EACH; i++) {
				struct audit_event ev = query("kid", "SELECT 2", "allow");
				ev.session = (uint64_t)p + 1;
				if (audit_write(l, &ev, eb, sizeof eb) < 0)
					_exit(3);
			}
			audit_close(l);
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status = -1;
		waitpid(kids[p], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 &&
	      n == 300 + PROCS * EACH);
	CHECK(count_lines(path) == 300 + PROCS * EACH);
}

/* ---- failures and recovery ---- */

static int last_seq(const char *path)
{
	struct lines L;
	uint64_t seq = 0;
	char h[65];
	split(path, &L);
	if (L.n && audit_record_tail(L.at[L.n - 1], L.len[L.n - 1] - 1, &seq, h) < 0)
		seq = 0;
	free(L.buf);
	return (int)seq;
}

static void test_failures(void)
{
	char sub[256], path[256];
	struct audit_event ev = query("alice", "SELECT 1", "allow");
	uint64_t n;

	/* cannot open at all */
	CHECK(audit_open("/proc/nonexistent/audit.jsonl", NULL, errbuf,
			 sizeof errbuf) == NULL &&
	      errbuf[0] != '\0');

	/* the directory removed and replaced by a file after open */
	path_in(sub, sizeof sub, "gone");
	path_in(path, sizeof path, "gone/audit.jsonl");
	struct audit_log *log = audit_open(path, NULL, errbuf, sizeof errbuf);
	CHECK(log != NULL);
	if (!log)
		return;
	CHECK(write_ok(log, &ev));
	CHECK(write_ok(log, &ev));
	CHECK(unlink(path) == 0 && rmdir(sub) == 0);
	spit(sub, "not a directory", 15);
	errbuf[0] = '\0';
	CHECK(audit_write(log, &ev, errbuf, sizeof errbuf) == -1 &&
	      errbuf[0] != '\0');
	CHECK(audit_write(log, &ev, errbuf, sizeof errbuf) == -1);
	/* fixed: the next write recreates directory and file, a new chain */
	CHECK(unlink(sub) == 0);
	CHECK(write_ok(log, &ev));
	CHECK(write_ok(log, &ev));
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 2);

	/* the file alone deleted (nlink 0): reopened at the next write */
	CHECK(unlink(path) == 0);
	CHECK(write_ok(log, &ev));
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 1);

	/* rotation: rename + audit_reopen; the new file continues the
	 * chain (seq 2, "prev" = the last hash of the rotated file) */
	char rotated[256];
	path_in(rotated, sizeof rotated, "gone/audit.jsonl.1");
	CHECK(rename(path, rotated) == 0);
	CHECK(audit_reopen(log, errbuf, sizeof errbuf) == 0);
	CHECK(write_ok(log, &ev));
	CHECK(audit_verify_file(rotated, &n, errbuf, sizeof errbuf) == 0 && n == 1);
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 1);
	CHECK(last_seq(path) == 2);
	{
		const char *seq2[] = {rotated, path};
		uint64_t last = 0;
		CHECK(audit_verify_files(seq2, 2, NULL, 0, &n, &last, errbuf, sizeof errbuf) == 0 &&
		      n == 2 && last == 2);
	}
	/* rotation without a reopen is followed within a second */
	CHECK(rename(path, rotated) == 0);
	struct timespec t = {1, 100000000};
	nanosleep(&t, NULL);
	CHECK(write_ok(log, &ev));
	CHECK(count_lines(rotated) == 1 && count_lines(path) == 1);

	/* a half line left by a writer that died (kill -9 mid-write): verify
	 * says so without failing; the next writer cuts it and keeps its
	 * bytes in an admin record chained after the last whole record */
	CHECK(write_ok(log, &ev));
	CHECK(write_ok(log, &ev)); /* seq 3 */
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "{\"ts\":\"2026-", 12) == 12);
	close(fd);
	CHECK(verify_torn(path, "line 4: incomplete last line (12 bytes"));
	CHECK(write_ok(log, &ev));
	CHECK(last_seq(path) == 7 && count_lines(path) == 5);
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 5);
	{
		size_t alen = 0;
		char *all = slurp(path, &alen);
		char *rec = all ? strstr(all, "\"verb\":\"AUDIT RECOVER\"") : NULL;
		CHECK(rec && strstr(all, "\"statement\":\"{\\\"ts\\\":\\\"2026-\"") &&
		      strstr(all, "incomplete record of 12 bytes"));
		free(all);
	}
	/* a last line that is not a record: refuse to guess a chain */
	fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8);
	close(fd);
	CHECK(audit_write(log, &ev, errbuf, sizeof errbuf) == -1 &&
	      strstr(errbuf, "not a chained audit record"));
	audit_close(log);

	/* short writes: RLIMIT_FSIZE makes the kernel take part of a line
	 * (then EFBIG); the record is completed by the next write */
	path_in(path, sizeof path, "short.jsonl");
	pid_t kid = fork();
	if (kid == 0) {
		char eb[256];
		int bad = 0;
		signal(SIGXFSZ, SIG_IGN);
		struct audit_log *l = audit_open(path, NULL, eb, sizeof eb);
		struct audit_event e = query("alice", "SELECT 'short write'", "allow");
		struct stat st;
		if (!l || audit_write(l, &e, eb, sizeof eb) < 0 || stat(path, &st) < 0)
			_exit(2);
		struct rlimit rl, lim;
		getrlimit(RLIMIT_FSIZE, &rl);
		lim = rl;
		/* the kernel takes 50 bytes of record 2, then EFBIG */
		lim.rlim_cur = (rlim_t)st.st_size + 50;
		setrlimit(RLIMIT_FSIZE, &lim);
		bad |= audit_write(l, &e, eb, sizeof eb) != -1;
		bad |= !strstr(eb, "next write completes") << 1;
		/* still full: the rest of record 2 cannot go either */
		bad |= audit_write(l, &e, eb, sizeof eb) != -1 ? 4 : 0;
		/* room again: record 2 is completed, then record 3 */
		setrlimit(RLIMIT_FSIZE, &rl);
		bad |= audit_write(l, &e, eb, sizeof eb) != 0 ? 8 : 0;
		/* full at a line boundary: nothing written, state unchanged */
		struct stat st2;
		stat(path, &st2);
		lim.rlim_cur = (rlim_t)st2.st_size;
		setrlimit(RLIMIT_FSIZE, &lim);
		bad |= audit_write(l, &e, eb, sizeof eb) != -1 ? 16 : 0;
		setrlimit(RLIMIT_FSIZE, &rl);
		bad |= audit_write(l, &e, eb, sizeof eb) != 0 ? 32 : 0; /* 4 */
		audit_close(l);
		if (bad)
			fprintf(stderr, "short-write child: bad=%d (%s)\n", bad, eb);
		_exit(bad ? 1 : 0);
	}
	int status = -1;
	waitpid(kid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 4);
	CHECK(count_lines(path) == 4);
	CHECK(python_json_ok(path));
}

/* ---- index and search ---- */

static int search_count(const char *path, const char *idx,
			const struct audit_filter *f)
{
	FILE *devnull = fopen("/dev/null", "w");
	int r = audit_search(path, idx, f, 0, devnull, errbuf, sizeof errbuf);
	fclose(devnull);
	if (r < 0)
		fprintf(stderr, "audit_search: %s\n", errbuf);
	return r;
}

static void test_search(void)
{
	char path[256], idx[256];
	path_in(path, sizeof path, "s/audit.jsonl");
	path_in(idx, sizeof idx, "s.db");
	struct audit_log *log = audit_open(path, idx, errbuf, sizeof errbuf);
	CHECK(log != NULL);
	if (!log)
		return;
	struct audit_event ev;
	for (int i = 0; i < 3; i++) {
		ev = query("alice", "SELECT * FROM Orders WHERE id = 1", "allow");
		CHECK(write_ok(log, &ev));
	}
	ev = query("alice", "select name from CUSTOMERS", "allow");
	CHECK(write_ok(log, &ev));
	for (int i = 0; i < 2; i++) {
		ev = query("bob", "DELETE FROM orders", "deny");
		ev.asset = "mysql-prod";
		ev.verb = "DELETE";
		ev.rule = "no-delete";
		CHECK(write_ok(log, &ev));
	}
	ev = query("bob", "SELECT '50%_off' \xff\n\x1b[2J", "allow");
	CHECK(write_ok(log, &ev));
	audit_event_init(&ev, AUDIT_LOGIN);
	ev.session = 9;
	ev.user = "carol";
	CHECK(write_ok(log, &ev));

	struct audit_filter f;
	memset(&f, 0, sizeof f);
	CHECK(search_count(path, idx, &f) == 8);
	f.user = "alice";
	CHECK(search_count(path, idx, &f) == 4);
	f.grep = "orders";
	CHECK(search_count(path, idx, &f) == 3);
	f.user = NULL;
	CHECK(search_count(path, idx, &f) == 5);
	f.grep = "ORDERS WHERE";
	CHECK(search_count(path, idx, &f) == 3);
	f.grep = "50%_";
	CHECK(search_count(path, idx, &f) == 1);
	f.grep = "%";
	CHECK(search_count(path, idx, &f) == 1);
	memset(&f, 0, sizeof f);
	f.decision = "deny";
	CHECK(search_count(path, idx, &f) == 2);
	f.decision = NULL;
	f.asset = "mysql-prod";
	f.verb = "DELETE";
	CHECK(search_count(path, idx, &f) == 2);
	memset(&f, 0, sizeof f);
	f.event = "login";
	CHECK(search_count(path, idx, &f) == 1);
	f.event = NULL;
	f.session = 9;
	CHECK(search_count(path, idx, &f) == 1);
	f.session = 42;
	f.limit = 3;
	CHECK(search_count(path, idx, &f) == 3);
	memset(&f, 0, sizeof f);
	f.account = "app_ro";
	CHECK(search_count(path, idx, &f) == 7);

	/* time filters */
	memset(&f, 0, sizeof f);
	f.since = "2000-01-01";
	CHECK(search_count(path, idx, &f) == 8);
	f.since = "2999-01-01 00:00";
	CHECK(search_count(path, idx, &f) == 0);
	f.since = NULL;
	f.until = "2000-01-01T00:00:00Z";
	CHECK(search_count(path, idx, &f) == 0);
	char today[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(today, sizeof today, "%Y-%m-%d", &tm);
	f.until = today; /* the whole of today */
	CHECK(search_count(path, idx, &f) == 8);
	f.until = "2999-12-31T23:59:59.5+02:00";
	CHECK(search_count(path, idx, &f) == 8);
	f.until = "yesterday";
	CHECK(audit_search(path, idx, &f, 0, NULL, errbuf, sizeof errbuf) == -1 &&
	      strstr(errbuf, "until"));
	f.until = "2026-13-01";
	CHECK(audit_search(path, idx, &f, 0, NULL, errbuf, sizeof errbuf) == -1);

	/* output: raw lines and readable lines */
	char *buf = NULL;
	size_t blen = 0;
	FILE *mem = open_memstream(&buf, &blen);
	memset(&f, 0, sizeof f);
	f.user = "bob";
	CHECK(audit_search(path, idx, &f, 1, mem, errbuf, sizeof errbuf) == 3);
	fclose(mem);
	CHECK(buf && strncmp(buf, "{\"ts\":", 6) == 0 &&
	      strstr(buf, "\"seq\":5,") && strstr(buf, "\"seq\":7,"));
	free(buf);
	mem = open_memstream(&buf, &blen);
	CHECK(audit_search(path, idx, &f, 0, mem, errbuf, sizeof errbuf) == 3);
	fclose(mem);
	CHECK(buf && strstr(buf, " query session=42 user=bob asset=mysql-prod "
				 "decision=deny rule=no-delete DELETE FROM orders\n"));
	/* \xff was written as \udcff: shown as the bad byte; controls escaped */
	CHECK(buf && strstr(buf, "SELECT '50%_off' \\xff\\n\\x1b[2J\n"));
	CHECK(buf && !strchr(buf, '\x1b'));
	free(buf);
	mem = open_memstream(&buf, &blen);
	memset(&f, 0, sizeof f);
	f.user = "carol";
	CHECK(audit_search(path, idx, &f, 0, mem, errbuf, sizeof errbuf) == 1);
	fclose(mem);
	CHECK(buf && strstr(buf, " login session=9 user=carol asset=- decision=- rule=-\n"));
	free(buf);

	/* long statements are cut at 200 characters in readable output */
	char *lng = malloc(1001);
	memset(lng, 'x', 1000);
	lng[1000] = '\0';
	memcpy(lng, "SELECT ", 7);
	ev = query("erin", lng, "allow");
	CHECK(write_ok(log, &ev));
	free(lng);
	mem = open_memstream(&buf, &blen);
	memset(&f, 0, sizeof f);
	f.user = "erin";
	CHECK(audit_search(path, idx, &f, 0, mem, errbuf, sizeof errbuf) == 1);
	fclose(mem);
	CHECK(buf && strlen(strstr(buf, "SELECT ")) == 200 + 3 + 1);
	free(buf);

	/* incremental sync picks up new lines; a half line waits */
	ev = query("alice", "SELECT 42", "allow");
	CHECK(write_ok(log, &ev));
	memset(&f, 0, sizeof f);
	f.user = "alice";
	CHECK(search_count(path, idx, &f) == 5);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "{\"ts\":", 6) == 6);
	close(fd);
	CHECK(search_count(path, idx, &f) == 5);
	audit_close(log);

	/* rotation: seq continues, rows of the rotated file stay, and a
	 * record written to it after the last sync is picked up */
	memset(&f, 0, sizeof f);
	int before = search_count(path, idx, &f);
	log = audit_open(path, idx, errbuf, sizeof errbuf);
	ev = query("alice", "SELECT 'late in the old file'", "allow");
	CHECK(log && write_ok(log, &ev));
	audit_close(log);
	char rotated[256];
	path_in(rotated, sizeof rotated, "s/audit.jsonl.20260101T000000Z");
	CHECK(rename(path, rotated) == 0);
	log = audit_open(path, idx, errbuf, sizeof errbuf);
	ev = query("alice", "SELECT 'new file'", "allow");
	CHECK(log && write_ok(log, &ev));
	audit_close(log);
	/* + the record sealing the half line left above */
	CHECK(search_count(path, idx, &f) == before + 3);
	f.grep = "late in the old";
	CHECK(search_count(path, idx, &f) == 1);
	memset(&f, 0, sizeof f);

	/* copytruncate: same inode, emptied, then written past the old
	 * offset; the index notices and starts over */
	log = audit_open(path, idx, errbuf, sizeof errbuf);
	CHECK(log && truncate(path, 0) == 0);
	for (int i = 0; log && i < 5; i++) {
		ev = query("frank", "SELECT 'after copytruncate'", "allow");
		CHECK(write_ok(log, &ev));
	}
	audit_close(log);
	memset(&f, 0, sizeof f);
	CHECK(search_count(path, idx, &f) == before + 2 + 5);
	f.user = "frank";
	CHECK(search_count(path, idx, &f) == 5);
	/* reindex from every file of the chain */
	{
		char **files = NULL;
		size_t nf = 0;
		uint64_t rows = 0;
		CHECK(audit_list_files(path, 1, &files, &nf, errbuf, sizeof errbuf) == 0 &&
		      nf == 2);
		CHECK(audit_index_rebuild((const char *const *)files, nf, idx, &rows, errbuf,
					  sizeof errbuf) == 0);
		audit_free_list(files, nf);
		memset(&f, 0, sizeof f);
		CHECK(search_count(path, idx, &f) == before + 2 + 5);
	}

	/* the index files are private */
	struct stat st;
	CHECK(stat(idx, &st) == 0 && (st.st_mode & 0777) == 0600);
}

/* ---- cost per record ---- */

/* N records of a 100-byte statement through one handle; returns
 * microseconds per record. */
static double speed_run(const struct audit_options *opt, const char *name, int n,
			char *path, size_t pathlen)
{
	path_in(path, pathlen, name);
	struct audit_log *log = audit_open_opts(path, opt, errbuf, sizeof errbuf);
	CHECK(log != NULL);
	if (!log)
		return 0;
	const char *sql = "SELECT o.id, o.total, c.name FROM orders o JOIN "
			  "customers c ON c.id = o.customer_id WHERE o.id = 421";
	CHECK(strlen(sql) == 100);
	struct audit_event ev = query("alice", sql, "allow");
	ev.fingerprint = "SELECT o.id, o.total, c.name FROM orders o JOIN "
			 "customers c ON c.id = o.customer_id WHERE o.id = ?";
	ev.objects = "orders,customers";
	for (int i = 0; i < 1000; i++) /* warm up */
		CHECK(audit_write(log, &ev, errbuf, sizeof errbuf) == 0);
	struct timespec a, b;
	int fails = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		fails += audit_write(log, &ev, errbuf, sizeof errbuf) != 0;
	clock_gettime(CLOCK_MONOTONIC, &b);
	audit_close(log);
	CHECK(fails == 0);
	return ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / n;
}

static void test_speed(void)
{
	enum { N = 200000 };
	char path[256];
	struct audit_options shared = {0}, excl = {.exclusive = 1};
	/* before: shared handles take flock + fstat (+ stat) per record */
	double us_shared = speed_run(&shared, "speed_shared.jsonl", N, path, sizeof path);
	/* after: the daemon's exclusive handle, one write(2) per record */
	double us_excl = speed_run(&excl, "speed.jsonl", N, path, sizeof path);
	struct stat st;
	stat(path, &st);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 100000; i++)
		(void)getppid();
	clock_gettime(CLOCK_MONOTONIC, &b);
	double sys = ((double)(b.tv_sec - a.tv_sec) * 1e6 +
		      (double)(b.tv_nsec - a.tv_nsec) / 1e3) /
		     100000;
	printf("audit_write: %.2f us/record exclusive (daemon, single writer; %.0f records/s), "
	       "%.2f us/record shared (flock per record) (%d records of %lld bytes, "
	       "100-byte statement; a bare syscall costs %.2f us here)\n",
	       us_excl, us_excl > 0 ? 1e6 / us_excl : 0, us_shared, N,
	       (long long)st.st_size / (N + 1000), sys);
	uint64_t n = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 &&
	      n == N + 1000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("audit_verify_file: %.2f us/record\n",
	       ((double)(b.tv_sec - a.tv_sec) * 1e6 +
		(double)(b.tv_nsec - a.tv_nsec) / 1e3) /
		       (N + 1000));
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sb-audit-test.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[256], idx[256];
	path_in(path, sizeof path, "a/b/audit.jsonl");
	path_in(idx, sizeof idx, "audit.db");

	test_json();
	test_format(path);
	test_tamper(path, idx);
	test_two_writers();
	test_failures();
	test_search();
	test_speed();

	if (!unit_failed) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	} else {
		fprintf(stderr, "left %s for inspection\n", dir);
	}
	return UNIT_DONE("audit");
}
