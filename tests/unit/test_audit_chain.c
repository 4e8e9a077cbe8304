/* Unit tests of the audit chain across files: the exclusive single writer,
 * rotation by size and by reopen, verification of a sequence of files
 * (links, a missing or reordered file), the HMAC chain, and the syslog
 * copy (RFC 5424 over UDP to a socket of this test). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "tests/unit/unit.h"

static char dir[64];
static char errbuf[1024];

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static struct audit_event query(const char *sql)
{
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_QUERY);
	ev.session = 3;
	ev.user = "alice";
	ev.client = "127.0.0.1:5000";
	ev.protocol = "postgres";
	ev.statement = sql;
	ev.decision = "allow";
	return ev;
}

static int write_n(struct audit_log *log, int n)
{
	for (int i = 0; i < n; i++) {
		struct audit_event ev = query("SELECT 1 FROM generate_series(1, 10)");
		if (audit_write(log, &ev, errbuf, sizeof errbuf) != 0)
			return -1;
	}
	return 0;
}

static void test_exclusive(void)
{
	char path[256];
	path_in(path, sizeof path, "x/audit.jsonl");
	struct audit_options ex = {.exclusive = 1};
	struct audit_log *a = audit_open_opts(path, &ex, errbuf, sizeof errbuf);
	CHECK(a != NULL);
	/* a second daemon on the same file is refused at once */
	struct audit_log *b = audit_open_opts(path, &ex, errbuf, sizeof errbuf);
	CHECK(b == NULL && strstr(errbuf, "locked by another process"));
	/* a shared writer (sqlbastionctl without the socket) gives up */
	struct audit_log *c = audit_open(path, NULL, errbuf, sizeof errbuf);
	CHECK(c != NULL);
	struct audit_event ev = query("SELECT 2");
	CHECK(write_n(a, 3) == 0);
	CHECK(audit_write(c, &ev, errbuf, sizeof errbuf) < 0 && strstr(errbuf, "stayed locked"));
	audit_close(c);
	audit_close(a);
	/* once the daemon is gone, the shared writer continues the chain */
	c = audit_open(path, NULL, errbuf, sizeof errbuf);
	CHECK(c && audit_write(c, &ev, errbuf, sizeof errbuf) == 0);
	audit_close(c);
	/* and a new daemon continues after it */
	a = audit_open_opts(path, &ex, errbuf, sizeof errbuf);
	CHECK(a && write_n(a, 1) == 0);
	struct audit_stats st;
	if (a)
		audit_get_stats(a, &st);
	CHECK(a && st.seq == 5);
	audit_close(a);
	uint64_t n = 0;
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0 && n == 5);
}

static void test_rotation(void)
{
	char path[256];
	path_in(path, sizeof path, "r/audit.jsonl");
	struct audit_options ex = {.exclusive = 1, .rotate_size = 4096};
	struct audit_log *a = audit_open_opts(path, &ex, errbuf, sizeof errbuf);
	CHECK(a != NULL);
	if (!a)
		return;
	CHECK(write_n(a, 100) == 0); /* ~250 bytes each: several files */
	struct audit_stats st;
	audit_get_stats(a, &st);
	CHECK(st.rotations >= 5 && st.seq == 100);
	/* a reopen after logrotate moved the file: the new file continues */
	char moved[256];
	path_in(moved, sizeof moved, "r/audit.jsonl.1");
	CHECK(rename(path, moved) == 0);
	CHECK(audit_reopen(a, errbuf, sizeof errbuf) == 0);
	CHECK(write_n(a, 5) == 0);
	audit_close(a);

	char **files = NULL;
	size_t nf = 0;
	uint64_t n = 0, last = 0;
	CHECK(audit_list_files(path, 1, &files, &nf, errbuf, sizeof errbuf) == 0);
	CHECK(nf >= 7);
	struct stat sb;
	for (size_t i = 0; i + 1 < nf; i++)
		CHECK(stat(files[i], &sb) == 0 && (uint64_t)sb.st_size <= 4096);
	CHECK(audit_verify_files((const char *const *)files, nf, NULL, 0, &n, &last, errbuf,
				 sizeof errbuf) == 0 &&
	      n == 105 && last == 105);
	CHECK(audit_verify_with_index(path, NULL, NULL, 0, &n, &nf, errbuf, sizeof errbuf) == 0 &&
	      n == 105);
	/* a file missing in the middle */
	const char *gap[] = {files[0], files[2]};
	CHECK(audit_verify_files(gap, 2, NULL, 0, &n, &last, errbuf, sizeof errbuf) < 0 &&
	      strstr(errbuf, "line 1: prev does not match"));
	/* two files swapped */
	const char *swap[] = {files[1], files[0]};
	CHECK(audit_verify_files(swap, 2, NULL, 0, &n, &last, errbuf, sizeof errbuf) < 0);
	/* the oldest file gone (retention): the next one is the anchor */
	CHECK(audit_verify_files((const char *const *)files + 1, nf - 1, NULL, 0, &n, &last,
				 errbuf, sizeof errbuf) == 0);
	/* leading records of a continued file deleted */
	char cut[256];
	path_in(cut, sizeof cut, "cut.jsonl");
	FILE *in = fopen(files[1], "r"), *out = fopen(cut, "w");
	char line[8192];
	int k = 0;
	while (in && out && fgets(line, sizeof line, in))
		if (k++ > 0)
			fputs(line, out);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	const char *one[] = {cut};
	CHECK(audit_verify_files(one, 1, NULL, 0, &n, &last, errbuf, sizeof errbuf) < 0 &&
	      strstr(errbuf, "leading records deleted"));
	audit_free_list(files, nf);
}

static void test_hmac(void)
{
	char path[256], keyf[256];
	uint8_t key[AUDIT_KEY_MAX];
	size_t keylen = 0;
	path_in(path, sizeof path, "h/audit.jsonl");
	path_in(keyf, sizeof keyf, "hmac.key");
	int fd = open(keyf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "0123456789abcdef0123456789abcdef", 32) == 32);
	close(fd);
	CHECK(audit_load_key(keyf, key, sizeof key, &keylen, errbuf, sizeof errbuf) < 0 &&
	      strstr(errbuf, "chmod 600"));
	CHECK(chmod(keyf, 0600) == 0);
	CHECK(audit_load_key(keyf, key, sizeof key, &keylen, errbuf, sizeof errbuf) == 0 &&
	      keylen == 32);
	struct audit_options ex = {.exclusive = 1, .hmac_key = key, .hmac_key_len = keylen};
	struct audit_log *a = audit_open_opts(path, &ex, errbuf, sizeof errbuf);
	CHECK(a && write_n(a, 10) == 0);
	audit_close(a);
	const char *one[] = {path};
	uint64_t n = 0, last = 0;
	CHECK(audit_verify_files(one, 1, key, keylen, &n, &last, errbuf, sizeof errbuf) == 0 &&
	      n == 10);
	/* without the key (or with another) the chain does not verify */
	CHECK(audit_verify_files(one, 1, NULL, 0, &n, &last, errbuf, sizeof errbuf) < 0 &&
	      strstr(errbuf, "line 1: hash mismatch"));
	key[0] ^= 1;
	CHECK(audit_verify_files(one, 1, key, keylen, &n, &last, errbuf, sizeof errbuf) < 0);
}

static void test_syslog(void)
{
	int rx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(rx >= 0 && bind(rx, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	      getsockname(rx, (struct sockaddr *)&sin, &sl) == 0);
	char spec[64], path[256];
	snprintf(spec, sizeof spec, "udp:127.0.0.1:%d", ntohs(sin.sin_port));
	path_in(path, sizeof path, "s/audit.jsonl");
	struct audit_options o = {.exclusive = 1, .syslog = spec};
	struct audit_log *a = audit_open_opts(path, &o, errbuf, sizeof errbuf);
	CHECK(a != NULL);
	struct audit_event ev = query("SELECT 'to the SIEM'");
	CHECK(a && audit_write(a, &ev, errbuf, sizeof errbuf) == 0);
	char msg[4096];
	struct timeval tv = {2, 0};
	setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ssize_t n = recv(rx, msg, sizeof msg - 1, 0);
	CHECK(n > 0);
	if (n > 0) {
		msg[n] = '\0';
		CHECK(strncmp(msg, "<86>1 ", 6) == 0);
		CHECK(strstr(msg, " sqlbastion ") && strstr(msg, " query - \xEF\xBB\xBF{\"ts\":"));
		CHECK(strstr(msg, "SELECT 'to the SIEM'") && strstr(msg, "\"seq\":1,\"hash\":"));
	}
	struct audit_stats st;
	if (a)
		audit_get_stats(a, &st);
	CHECK(a && st.syslog_sent == 1);
	audit_close(a);
	close(rx);
	CHECK(audit_open_opts(path, &(struct audit_options){.syslog = "tcp:x"}, errbuf,
			      sizeof errbuf) == NULL);
}

/* Deferred records (query_end) are sealed in order with the next durable
 * record and written with it; the chain verifies; a failed durable write
 * drops only that record, and audit_close flushes what is left. */
static void test_deferred(void)
{
	char path[128];
	path_in(path, sizeof path, "defer.jsonl");
	struct audit_options opt = {.exclusive = 1};
	struct audit_log *log = audit_open_opts(path, &opt, errbuf, sizeof errbuf);
	CHECK(log != NULL);
	if (!log)
		return;
	struct audit_event q = query("SELECT 1");
	struct audit_event end;
	audit_event_init(&end, AUDIT_QUERY_END);
	end.session = 7;
	end.rows = 1;
	end.query_id = 1;
	CHECK(audit_write(log, &q, errbuf, sizeof errbuf) == 0);
	CHECK(audit_defer(log, &end, errbuf, sizeof errbuf) == 0);
	CHECK(audit_pending(log) == 1);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	off_t size_before = st.st_size;
	/* the deferred record reaches the file with the next durable one */
	CHECK(audit_write(log, &q, errbuf, sizeof errbuf) == 0);
	CHECK(audit_pending(log) == 0);
	CHECK(stat(path, &st) == 0 && st.st_size > size_before);
	for (int i = 0; i < 5; i++)
		CHECK(audit_defer(log, &end, errbuf, sizeof errbuf) == 0);
	CHECK(audit_flush(log, errbuf, sizeof errbuf) == 0);
	CHECK(audit_pending(log) == 0);
	CHECK(audit_defer(log, &end, errbuf, sizeof errbuf) == 0);
	audit_close(log); /* flushes the last one */
	uint64_t n = 0;
	CHECK(audit_verify_file(path, &n, errbuf, sizeof errbuf) == 0);
	CHECK(n == 9);
	/* order in the file is the order of the calls */
	FILE *f = fopen(path, "r");
	char line[2048];
	int i = 0, ok = 1;
	const char *want[] = {"query", "query_end", "query", "query_end", "query_end",
			      "query_end", "query_end", "query_end", "query_end"};
	while (f && fgets(line, sizeof line, f) && i < 9) {
		char key[64];
		snprintf(key, sizeof key, "\"event\":\"%s\"", want[i++]);
		if (!strstr(line, key))
			ok = 0;
	}
	if (f)
		fclose(f);
	CHECK(ok && i == 9);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sb-audit-chain.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_exclusive();
	test_rotation();
	test_hmac();
	test_syslog();
	test_deferred();
	if (!unit_failed) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	} else {
		fprintf(stderr, "left %s for inspection\n", dir);
	}
	return UNIT_DONE("audit_chain");
}
