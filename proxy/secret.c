/* secret: hosted database passwords at connect time (see secret.h).
 *
 * stored: the blob in accounts.secret_blob is opened with AES-256-GCM under
 *         the master key, with "sqlbastion-account:<id>" as authenticated
 *         data, so a blob copied onto another account does not open.
 * file:   the first line of the file, read with plain read(2) at every call
 *         (no stdio buffer keeps a copy), "\n" / "\r\n" trimmed.
 * cmd:    /bin/sh -c CMD in its own process group, stdin and stderr on
 *         /dev/null (a tool that prints the secret to stderr must not leak it
 *         into our logs), no other descriptor inherited, stdout read until
 *         EOF; the first line is the secret. The whole run is bounded by
 *         SB_SECRET_CMD_TIMEOUT_MS, after which the group is killed.
 *
 * Every scratch buffer that held a secret is wiped before return. Error
 * texts name the account and, for files, the path; never the secret and
 * never the command line (it may carry a credential of its own).
 *
 * The cmd source forks and waits in the calling thread (up to the timeout);
 * it needs SIGCHLD not to be ignored, or waitpid() cannot report the status.
 */
#include "proxy/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy/state.h"

/* Scratch for a first line: the secret, its "\r\n", and one byte more to
 * tell "exactly SB_SECRET_MAX" from "too long". */
#define LINE_BUF (SB_SECRET_MAX + 3)

static int cmd_timeout_ms = SB_SECRET_CMD_TIMEOUT_MS;

/* For tests only (declared in tests/unit/test_secret.c): shorten the cmd
 * timeout so a hanging command is tested in milliseconds. ms <= 0 restores
 * the default. */
void secret_set_cmd_timeout_ms(int ms);
void secret_set_cmd_timeout_ms(int ms)
{
	cmd_timeout_ms = ms > 0 ? ms : SB_SECRET_CMD_TIMEOUT_MS;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int secret_load_master_key(const char *path, uint8_t key[SB_MASTER_KEY_LEN],
			   char *errbuf, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errbuf, errlen, "master key %s: %s", path, strerror(errno));
	struct stat sb;
	int rc = -1;
	if (fstat(fd, &sb) != 0) {
		fail(errbuf, errlen, "master key %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		fail(errbuf, errlen, "master key %s is not a regular file", path);
		goto out;
	}
	if (sb.st_mode & 077) {
		fail(errbuf, errlen,
		     "master key %s is open to group or others (mode %04o); run: chmod 600 %s",
		     path, (unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	if (sb.st_size != SB_MASTER_KEY_LEN) {
		fail(errbuf, errlen, "master key %s must be exactly %d bytes, not %lld", path,
		     SB_MASTER_KEY_LEN, (long long)sb.st_size);
		goto out;
	}
	size_t got = 0;
	while (got < SB_MASTER_KEY_LEN) {
		ssize_t n = read(fd, key + got, SB_MASTER_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail(errbuf, errlen, "master key %s: short read", path);
			sb_wipe(key, SB_MASTER_KEY_LEN);
			goto out;
		}
		got += (size_t)n;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* The first line of buf[0..n) into out: "\n" or "\r\n" trimmed. Returns its
 * length, -1 empty, -2 too long (for SB_SECRET_MAX or outcap), -3 NUL byte. */
static int take_line(const char *buf, size_t n, char *out, size_t outcap)
{
	const char *nl = memchr(buf, '\n', n);
	size_t len = nl ? (size_t)(nl - buf) : n;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0)
		return -1;
	if (len > SB_SECRET_MAX || len >= outcap)
		return -2;
	if (memchr(buf, '\0', len))
		return -3;
	memcpy(out, buf, len);
	out[len] = '\0';
	return (int)len;
}

static const char *line_problem(int r)
{
	return r == -1 ? "is empty" : r == -2 ? "is too long" : "contains a NUL byte";
}

static int fetch_stored(const struct state_account_secret *sec, const uint8_t *key,
			int64_t account_id, char *out, size_t outcap, char *err,
			size_t errlen)
{
	char aad[64];
	uint8_t plain[STATE_BLOB_MAX];
	int alen = snprintf(aad, sizeof aad, "sqlbastion-account:%lld", (long long)account_id);
	if (sec->blob_len == 0)
		return fail(err, errlen, "account %lld has no stored secret",
			    (long long)account_id);
	int n = sb_open(key, aad, (size_t)alen, sec->blob, sec->blob_len, plain, sizeof plain);
	if (n < 0)
		return fail(err, errlen,
			    "cannot open the stored secret of account %lld (wrong master key, or the blob was altered)",
			    (long long)account_id);
	int rc = take_line((const char *)plain, (size_t)n, out, outcap);
	sb_wipe(plain, sizeof plain);
	if (rc < 0)
		return fail(err, errlen, "the stored secret of account %lld %s",
			    (long long)account_id, line_problem(rc));
	return rc;
}

static int fetch_file(const char *path, char *out, size_t outcap, char *err, size_t errlen)
{
	char buf[LINE_BUF];
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "secret file %s: %s", path, strerror(errno));
	while (n < sizeof buf && !memchr(buf, '\n', n)) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			sb_wipe(buf, sizeof buf);
			return fail(err, errlen, "secret file %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	int rc = take_line(buf, n, out, outcap);
	sb_wipe(buf, sizeof buf);
	if (rc < 0)
		return fail(err, errlen, "secret file %s %s", path, line_problem(rc));
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(const char *cmd, int wfd, int maxfd)
{
	int dn = open("/dev/null", O_RDWR);
	if (dn < 0)
		_exit(126);
	/* Move both above 2 first, in case either landed on 0..2. */
	int w = fcntl(wfd, F_DUPFD, 3), d = fcntl(dn, F_DUPFD, 3);
	if (w < 0 || d < 0 || dup2(d, 0) < 0 || dup2(w, 1) < 0 || dup2(d, 2) < 0)
		_exit(126);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
		for (int fd = 3; fd < maxfd; fd++)
			close(fd);
	setpgid(0, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

static int fetch_cmd(const char *cmd, int64_t account_id, char *out, size_t outcap,
		     char *err, size_t errlen)
{
	int pfd[2];
	char buf[LINE_BUF], sink[512];
	size_t n = 0;
	int rc = -1, status = 0, timed_out = 0, have_nl = 0;
	long maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return fail(err, errlen, "secret command of account %lld: pipe: %s",
			    (long long)account_id, strerror(errno));
	int64_t deadline = now_ms() + cmd_timeout_ms;
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return fail(err, errlen, "secret command of account %lld: fork: %s",
			    (long long)account_id, strerror(errno));
	}
	if (pid == 0)
		child_exec(cmd, pfd[1], (int)maxfd);
	setpgid(pid, pid); /* also in the parent: no race with kill(-pid) */
	close(pfd[1]);

	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			break;
		if (pr == 0) {
			timed_out = 1;
			break;
		}
		/* Keep the first line; drain the rest so the child never
		 * blocks on a full pipe. */
		ssize_t r;
		if (have_nl || n == sizeof buf) {
			r = read(pfd[0], sink, sizeof sink);
			sb_wipe(sink, sizeof sink);
		} else {
			r = read(pfd[0], buf + n, sizeof buf - n);
			if (r > 0) {
				have_nl = memchr(buf + n, '\n', (size_t)r) != NULL;
				n += (size_t)r;
			}
		}
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break; /* EOF (or a read error: treated as the end) */
	}
	close(pfd[0]);

	/* Reap: the child may linger after closing stdout. */
	while (!timed_out) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			fail(err, errlen, "secret command of account %lld: waitpid: %s",
			     (long long)account_id, strerror(errno));
			goto out;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct timespec ts = {0, (left < 10 ? left : 10) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		fail(err, errlen, "secret command of account %lld timed out after %d ms (killed)",
		     (long long)account_id, cmd_timeout_ms);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		fail(err, errlen, "secret command of account %lld was killed by signal %d",
		     (long long)account_id, WTERMSIG(status));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fail(err, errlen, "secret command of account %lld exited with status %d",
		     (long long)account_id, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto out;
	}
	rc = take_line(buf, n, out, outcap);
	if (rc < 0) {
		rc = fail(err, errlen, "the output of the secret command of account %lld %s",
			  (long long)account_id, line_problem(rc));
	}
out:
	sb_wipe(buf, sizeof buf);
	return rc;
}

int secret_fetch(struct state *st, const uint8_t master_key[SB_MASTER_KEY_LEN],
		 int64_t account_id, char *out, size_t outcap, char *errbuf, size_t errlen)
{
	struct state_account_secret sec;
	int rc;
	if (outcap == 0)
		return fail(errbuf, errlen, "no room for the secret");
	out[0] = '\0';
	int src = state_account_secret(st, account_id, &sec);
	if (src == STATE_NOT_FOUND)
		return fail(errbuf, errlen, "no account %lld", (long long)account_id);
	if (src != STATE_OK)
		return fail(errbuf, errlen, "state db: %s", state_errmsg(st));
	switch (sec.kind) {
	case STATE_SECRET_STORED:
		rc = fetch_stored(&sec, master_key, account_id, out, outcap, errbuf, errlen);
		break;
	case STATE_SECRET_FILE:
		rc = fetch_file(sec.ref, out, outcap, errbuf, errlen);
		break;
	case STATE_SECRET_CMD:
		rc = fetch_cmd(sec.ref, account_id, out, outcap, errbuf, errlen);
		break;
	case STATE_SECRET_NONE:
		rc = fail(errbuf, errlen, "account %lld is not hosted: there is no password",
			  (long long)account_id);
		break;
	default:
		rc = fail(errbuf, errlen, "account %lld: unknown secret kind",
			  (long long)account_id);
	}
	sb_wipe(&sec, sizeof sec);
	if (rc < 0)
		sb_wipe(out, outcap);
	return rc;
}
