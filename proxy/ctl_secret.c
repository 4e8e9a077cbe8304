/* ctl_secret: how a hosted account's secret is given to sqlbastionctl and
 * stored, for "account add" and "account set" (see ctl.h).
 *
 * Three sources, exactly one per call: --password-stdin (read from
 * standard input with echo off on a terminal, sealed with the master key at
 * once, wiped), --secret-file FILE (stored as an absolute path; the daemon
 * reads it at each connect) and --secret-cmd CMD (run at each connect); or
 * --not-hosted: no secret at all, the engineer's own database password goes
 * to the database end to end (SSH entry, TNS). A
 * password never reaches argv, a message or the audit record; the file path
 * and the command are hidden in the record too (ctl_secret_redact).
 */
#include "proxy/ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "proxy/secret.h"
#include "proxy/state.h"

const char *const ctl_secret_redact[] = {"--secret-file", "--secret-cmd", NULL};

int ctl_secret_parse(struct ctl *c, struct ctl_secret *sec)
{
	if (sec->from_stdin + !!sec->file + !!sec->cmd + sec->not_hosted != 1)
		return ctl_usage(c, "give exactly one of --password-stdin, --secret-file, --secret-cmd,"
				    " --not-hosted");
	sec->kind = sec->from_stdin   ? STATE_SECRET_STORED
		    : sec->file	      ? STATE_SECRET_FILE
		    : sec->not_hosted ? STATE_SECRET_NONE
				      : STATE_SECRET_CMD;
	sec->ref[0] = '\0';
	if (sec->cmd) {
		if (!ctl_valid_text(sec->cmd, sizeof sec->ref))
			return ctl_usage(c, "--secret-cmd needs a one-line command");
		snprintf(sec->ref, sizeof sec->ref, "%s", sec->cmd);
	}
	if (sec->file) {
		/* The daemon reads it later from its own directory: store it
		 * absolute, and insist it exists now to catch typos. */
		char abs[PATH_MAX];
		struct stat sb;
		if (!realpath(sec->file, abs))
			return ctl_fail(c, "secret file %s: %s", sec->file, strerror(errno));
		if (strlen(abs) >= sizeof sec->ref)
			return ctl_fail(c, "secret file path too long");
		snprintf(sec->ref, sizeof sec->ref, "%s", abs);
		if (stat(abs, &sb) == 0 && (sb.st_mode & 077))
			fprintf(stderr,
				"sqlbastionctl: %s: warning: %s is readable by group or others (mode %04o)\n",
				c->verb, abs, (unsigned)(sb.st_mode & 07777));
	}
	return CTL_OK;
}

/* One line from stdin (echo off on a terminal) into out. 0 or CTL_FAIL. */
static int read_password(struct ctl *c, const char *target, char *out, size_t cap)
{
	char buf[SB_SECRET_MAX + 3];
	size_t n = 0;
	struct termios old, quiet;
	int tty = isatty(0) && tcgetattr(0, &old) == 0;
	if (tty) {
		fprintf(stderr, "password for %s: ", target);
		fflush(stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	while (n < sizeof buf && !memchr(buf, '\n', n)) {
		ssize_t r = read(0, buf + n, sizeof buf - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	char *nl = memchr(buf, '\n', n);
	size_t len = nl ? (size_t)(nl - buf) : n;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	int rc = CTL_OK;
	if (len == 0)
		rc = ctl_fail(c, "no password on standard input");
	else if (len > SB_SECRET_MAX || len >= cap)
		rc = ctl_fail(c, "the password is longer than %d bytes", SB_SECRET_MAX);
	else if (memchr(buf, '\0', len))
		rc = ctl_fail(c, "the password contains a NUL byte");
	else {
		memcpy(out, buf, len);
		out[len] = '\0';
	}
	sb_wipe(buf, sizeof buf);
	return rc;
}

/* For a stored password: load the master key and read the password.
 * CTL_OK or CTL_FAIL (printed). */
static int secret_read(struct ctl *c, struct ctl_secret *sec, const char *target)
{
	memset(sec->key, 0, sizeof sec->key);
	if (sec->kind != STATE_SECRET_STORED)
		return CTL_OK;
	if (ctl_master_key(c, sec->key) != CTL_OK)
		return CTL_FAIL;
	return read_password(c, target, sec->pw, sizeof sec->pw);
}

struct audit_log *ctl_secret_begin(struct ctl *c, struct state *st, struct ctl_secret *sec,
				   const char *target)
{
	struct audit_log *log;
	if (secret_read(c, sec, target) != CTL_OK || !(log = ctl_audit_open(c)))
		return NULL;
	return ctl_begin(c, st, log) == CTL_OK ? log : NULL;
}

/* Seal the password of account id and store it (inside the caller's
 * transaction). CTL_OK or CTL_FAIL. */
static int store_sealed(struct ctl *c, struct state *st, int64_t id, const uint8_t *key,
			const char *pw)
{
	char aad[64];
	uint8_t blob[STATE_BLOB_MAX];
	int alen = snprintf(aad, sizeof aad, "sqlbastion-account:%lld", (long long)id);
	int n = sb_seal(key, aad, (size_t)alen, pw, strlen(pw), blob, sizeof blob);
	if (n < 0)
		return ctl_fail(c, "cannot seal the password");
	int rc = state_account_set_blob(st, id, blob, (size_t)n);
	sb_wipe(blob, sizeof blob);
	if (rc != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	return CTL_OK;
}

/* Seal and store a stored password, or fetch a secret file once. */
static int secret_store(struct ctl *c, struct state *st, int64_t id, struct ctl_secret *sec)
{
	if (sec->kind == STATE_SECRET_STORED)
		return store_sealed(c, st, id, sec->key, sec->pw);
	if (sec->kind == STATE_SECRET_FILE) {
		char probe[SB_SECRET_MAX + 1], err[512];
		int n = secret_fetch(st, sec->key, id, probe, sizeof probe, err, sizeof err);
		sb_wipe(probe, sizeof probe);
		if (n < 0)
			return ctl_fail(c, "%s", err);
	}
	return CTL_OK;
}

int ctl_secret_commit(struct ctl *c, struct state *st, struct audit_log *log, int64_t id,
		      struct ctl_secret *sec)
{
	if (secret_store(c, st, id, sec) != CTL_OK) {
		state_rollback(st);
		audit_close(log);
		return CTL_FAIL;
	}
	if (state_commit(st) != STATE_OK)
		return ctl_db_fail(c, st, log);
	return CTL_OK;
}

void ctl_secret_wipe(struct ctl_secret *sec)
{
	sb_wipe(sec->pw, sizeof sec->pw);
	sb_wipe(sec->key, sizeof sec->key);
}
