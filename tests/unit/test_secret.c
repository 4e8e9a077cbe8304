/* Unit tests for proxy/secret: master key file checks; stored secrets
 * (round trip, wrong key, blob moved to another account); secret files
 * (rotation, CRLF, empty, missing, too long); secret commands (first line,
 * large output, failing, killed, silent, timing out, stderr not leaked).
 * No error text may contain the secret. */
#include "proxy/secret.h"
#include "proxy/state.h"
#include "unit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void secret_set_cmd_timeout_ms(int ms); /* test hook in secret.c */

static char dir[64];
static struct state *st;
static int64_t asset_id;
static uint8_t key[SB_MASTER_KEY_LEN];

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, data, n) == (ssize_t)n);
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static void test_master_key(void)
{
	char path[256], err[512];
	uint8_t k[SB_MASTER_KEY_LEN], raw[40];
	for (int i = 0; i < 40; i++)
		raw[i] = (uint8_t)i;
	snprintf(path, sizeof path, "%s/master.key", dir);
	write_file(path, raw, 32, 0600);
	CHECK(secret_load_master_key(path, k, err, sizeof err) == 0);
	CHECK(memcmp(k, raw, 32) == 0);
	write_file(path, raw, 32, 0400);
	CHECK(secret_load_master_key(path, k, err, sizeof err) == 0);
	write_file(path, raw, 32, 0640);
	CHECK(secret_load_master_key(path, k, err, sizeof err) == -1);
	CHECK(strstr(err, "chmod 600") != NULL && strstr(err, path) != NULL);
	write_file(path, raw, 32, 0602);
	CHECK(secret_load_master_key(path, k, err, sizeof err) == -1);
	write_file(path, raw, 31, 0600);
	CHECK(secret_load_master_key(path, k, err, sizeof err) == -1);
	CHECK(strstr(err, "exactly 32 bytes") != NULL);
	write_file(path, raw, 33, 0600);
	CHECK(secret_load_master_key(path, k, err, sizeof err) == -1);
	CHECK(secret_load_master_key("/nonexistent/master.key", k, err, sizeof err) == -1);
	CHECK(strstr(err, "/nonexistent/master.key") != NULL);
	CHECK(secret_load_master_key(dir, k, err, sizeof err) == -1);
}

static int64_t add_account(const char *name, enum state_secret_kind kind, const char *ref)
{
	int64_t id = 0;
	CHECK(state_account_add(st, asset_id, name, "dbuser", kind, ref, 1, &id) == STATE_OK);
	return id;
}

static int64_t add_stored(const char *name, const char *secret)
{
	int64_t id = add_account(name, STATE_SECRET_STORED, "");
	char aad[64];
	uint8_t blob[STATE_BLOB_MAX];
	int alen = snprintf(aad, sizeof aad, "sqlbastion-account:%lld", (long long)id);
	int n = sb_seal(key, aad, (size_t)alen, secret, strlen(secret), blob, sizeof blob);
	CHECK(n > 0);
	CHECK(state_account_set_blob(st, id, blob, (size_t)n) == STATE_OK);
	return id;
}

static char out[SB_SECRET_MAX + 1], err[512];

static int fetch(int64_t id)
{
	return secret_fetch(st, key, id, out, sizeof out, err, sizeof err);
}

static void test_stored(void)
{
	int64_t a = add_stored("stored1", "p@ss w0rd");
	int64_t b = add_stored("stored2", "other");
	CHECK(fetch(a) == 9);
	CHECK_STR(out, "p@ss w0rd");
	CHECK(fetch(b) == 5);
	CHECK_STR(out, "other");

	uint8_t wrong[SB_MASTER_KEY_LEN];
	memcpy(wrong, key, sizeof wrong);
	wrong[0] ^= 1;
	CHECK(secret_fetch(st, wrong, a, out, sizeof out, err, sizeof err) == -1);
	CHECK(strstr(err, "wrong master key") != NULL && strstr(err, "p@ss") == NULL);
	CHECK(out[0] == '\0');

	/* A blob copied onto another account does not open there. */
	struct state_account_secret sec;
	CHECK(state_account_secret(st, a, &sec) == STATE_OK);
	CHECK(state_account_set_blob(st, b, sec.blob, sec.blob_len) == STATE_OK);
	CHECK(fetch(b) == -1);

	/* Too small a buffer is an error, not a truncated password. */
	char small[4];
	CHECK(secret_fetch(st, key, a, small, sizeof small, err, sizeof err) == -1);
	CHECK(strstr(err, "p@ss") == NULL);

	int64_t none = add_account("nosecret", STATE_SECRET_STORED, "");
	CHECK(fetch(none) == -1);
	CHECK(fetch(987654) == -1);
}

static void test_file(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/pw.txt", dir);
	int64_t id = add_account("file1", STATE_SECRET_FILE, path);
	CHECK(fetch(id) == -1); /* missing */
	CHECK(strstr(err, path) != NULL);

	write_file(path, "first\nsecond\n", 13, 0600);
	CHECK(fetch(id) == 5);
	CHECK_STR(out, "first");
	/* Rotation: the next fetch sees the new content. */
	write_file(path, "rotated\r\n", 9, 0600);
	CHECK(fetch(id) == 7);
	CHECK_STR(out, "rotated");
	write_file(path, "no-newline", 10, 0600);
	CHECK(fetch(id) == 10);
	CHECK_STR(out, "no-newline");

	write_file(path, "", 0, 0600);
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, path) != NULL && strstr(err, "empty") != NULL);
	write_file(path, "\nsecret-on-line-2\n", 18, 0600);
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "secret-on-line-2") == NULL);

	static char big[SB_SECRET_MAX + 10];
	memset(big, 'x', sizeof big);
	write_file(path, big, sizeof big, 0600);
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "too long") != NULL);
	write_file(path, big, SB_SECRET_MAX, 0600);
	CHECK(fetch(id) == SB_SECRET_MAX);
}

static double elapsed_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_cmd(void)
{
	int64_t id;
	id = add_account("cmd1", STATE_SECRET_CMD, "printf 'from-cmd\\nline2\\n'");
	CHECK(fetch(id) == 8);
	CHECK_STR(out, "from-cmd");

	/* Output far beyond a pipe buffer: drained, first line kept. */
	id = add_account("cmd-big", STATE_SECRET_CMD, "echo big1; yes | head -c 300000");
	CHECK(fetch(id) == 4);
	CHECK_STR(out, "big1");

	/* Non-zero exit: the status is named, what it printed is not. */
	id = add_account("cmd-fail", STATE_SECRET_CMD, "echo leaked-pw; exit 3");
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "exited with status 3") != NULL);
	CHECK(strstr(err, "leaked-pw") == NULL && strstr(err, "echo") == NULL);

	id = add_account("cmd-kill", STATE_SECRET_CMD, "kill -9 $$");
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "signal 9") != NULL);

	id = add_account("cmd-silent", STATE_SECRET_CMD, "true");
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "empty") != NULL);

	/* stdin is /dev/null: a command reading it gets EOF, not our input. */
	id = add_account("cmd-stdin", STATE_SECRET_CMD, "read x; echo \"[$x]\"");
	CHECK(fetch(id) == 2);
	CHECK_STR(out, "[]");

	/* stderr goes to /dev/null, not to our stderr (the daemon's log). */
	char path[256];
	snprintf(path, sizeof path, "%s/stderr.txt", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int saved = dup(2);
	CHECK(fd >= 0 && saved >= 0 && dup2(fd, 2) == 2);
	id = add_account("cmd-stderr", STATE_SECRET_CMD, "echo stderr-secret >&2; echo ok");
	int r = fetch(id);
	dup2(saved, 2);
	close(saved);
	close(fd);
	CHECK(r == 2);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && sb.st_size == 0);

	/* Timeout: killed, quickly, including what it started. */
	secret_set_cmd_timeout_ms(200);
	struct timespec t0;
	id = add_account("cmd-slow", STATE_SECRET_CMD, "sleep 10");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "timed out after 200 ms") != NULL);
	CHECK(elapsed_since(&t0) < 2.0);
	/* Printed its line, then hangs: still a timeout (it never finished). */
	id = add_account("cmd-hang", STATE_SECRET_CMD, "echo early; sleep 10");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "timed out") != NULL && elapsed_since(&t0) < 2.0);
	/* Closes stdout and lingers in the background. */
	id = add_account("cmd-bg", STATE_SECRET_CMD, "echo bg; exec >&-; sleep 10");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(fetch(id) == -1);
	CHECK(strstr(err, "timed out") != NULL && elapsed_since(&t0) < 2.0);
	secret_set_cmd_timeout_ms(0);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sbtest-secret-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_master_key();

	char path[256], e[256];
	snprintf(path, sizeof path, "%s/state.db", dir);
	st = state_open(path, e, sizeof e);
	CHECK(st != NULL);
	CHECK(sb_random(key, sizeof key) == 0);
	if (st) {
		struct state_asset a = {.port = 5432, .created = 1};
		snprintf(a.name, sizeof a.name, "pg");
		snprintf(a.protocol, sizeof a.protocol, "postgres");
		snprintf(a.host, sizeof a.host, "localhost");
		CHECK(state_asset_add(st, &a) == STATE_OK);
		asset_id = a.id;
		test_stored();
		test_file();
		test_cmd();
		state_close(st);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return UNIT_DONE("secret");
}
