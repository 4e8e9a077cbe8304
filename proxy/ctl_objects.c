/* ctl_objects: the sqlbastionctl verbs for users, assets, hosted accounts
 * and grants ("add" and "list"). Each add validates everything before it
 * touches the state DB, opens the audit log before the change, and records
 * the change (command line with secrets removed) after it.
 *
 * A hosted password given with --password-stdin is read from standard
 * input (echo off on a terminal), sealed at once and wiped; it never
 * reaches argv, a message or the audit record.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "proxy/auth.h"
#include "proxy/ctl_asset_auth.h"
#include "proxy/ctl.h"
#include "proxy/secret.h"
#include "proxy/state.h"

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Printable ASCII, no spaces, 1..max-1 bytes: hosts, service names. */
static int valid_word(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

/* No control characters, 1..max-1 bytes: database user names. */
static int valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* ---- user ---- */

int ctl_user_add(struct ctl *c, int argc, char **argv)
{
	const char *source = NULL, *max = NULL, *pos[1];
	char stmt[1024];
	long max_sessions = 0;
	struct ctl_opt opts[] = {
		{"--source", 1, &source, NULL},
		{"--max-sessions", 1, &max, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (!ctl_valid_name(pos[0]))
		return ctl_usage(c, "bad user name '%s' (letters, digits, _ . -; at most 63)",
				 pos[0]);
	if (source && (strlen(source) >= STATE_SOURCES_MAX ||
		       auth_cidr_match(source, "127.0.0.1") < 0))
		return ctl_usage(c, "bad --source '%s' (expected CIDRs such as 10.0.0.0/8,::1/128)",
				 source);
	if (max && parse_int(max, 0, 100000, &max_sessions) != 0)
		return ctl_usage(c, "bad --max-sessions '%s' (0 = unlimited .. 100000)", max);

	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int64_t id = 0;
	int rc = state_user_add(st, pos[0], source ? source : "", (int)max_sessions, c->now, &id);
	if (rc != STATE_OK) {
		audit_close(log);
		if (rc == STATE_EXISTS)
			return ctl_fail(c, "user %s already exists", pos[0]);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("user %s added (id %lld)\n", pos[0], (long long)id);
	ctl_cmdline(c->verb, argc, argv, NULL, stmt, sizeof stmt);
	char obj[192];
	snprintf(obj, sizeof obj, "user:%s", pos[0]);
	return ctl_audit_admin(c, log, stmt, NULL, NULL, obj);
}

static int print_user(void *ctx, const struct state_user *u)
{
	char t[32];
	int disabled = 0;
	ctl_fmt_time(u->created, t, sizeof t);
	if (state_user_disabled(ctx, u->id, &disabled) != STATE_OK)
		disabled = 0;
	printf("%-20s %-12d %-19s %-8s %s\n", u->name, u->max_sessions, t,
	       disabled ? "disabled" : "enabled", u->sources[0] ? u->sources : "any");
	return 0;
}

int ctl_user_list(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	if (ctl_args(c, argc, argv, NULL, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	printf("%-20s %-12s %-19s %-8s %s\n", "USER", "MAX_SESSIONS", "CREATED", "STATE", "SOURCES");
	if (state_user_list(st, print_user, st) != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	return CTL_OK;
}

/* ---- asset ---- */

int ctl_asset_add(struct ctl *c, int argc, char **argv)
{
	const char *proto = NULL, *host = NULL, *port = NULL, *tls = NULL, *service = NULL;
	const char *weak = NULL, *keyfile = NULL;
	const char *pos[1];
	char stmt[1024];
	struct ctl_opt opts[] = {
		{"--protocol", 1, &proto, NULL}, {"--host", 1, &host, NULL},
		{"--port", 1, &port, NULL},      {"--tls", 1, &tls, NULL},
		{"--service", 1, &service, NULL},
		{CTL_OPT_ALLOW_WEAK_AUTH, 1, &weak, NULL},
		{CTL_OPT_SERVER_PUBLIC_KEY, 1, &keyfile, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state_asset a;
	memset(&a, 0, sizeof a);
	long p;
	if (!ctl_valid_name(pos[0]))
		return ctl_usage(c, "bad asset name '%s' (letters, digits, _ . -; at most 63)",
				 pos[0]);
	if (!proto || (strcmp(proto, "postgres") && strcmp(proto, "mysql") &&
		       strcmp(proto, "tds") && strcmp(proto, "tns")))
		return ctl_usage(c, "--protocol must be postgres, mysql, tds or tns");
	if (!host || !valid_word(host, sizeof a.host))
		return ctl_usage(c, "--host needs a host name or address");
	if (!port || parse_int(port, 1, 65535, &p) != 0)
		return ctl_usage(c, "--port needs a number from 1 to 65535");
	/* Default: verify-full when a CA for database servers is configured
	 * (the administrator can prove who the server is, so do), prefer
	 * otherwise (TLS when offered; strong auth methods only, see README). */
	if (!tls)
		tls = c->cfg.backend_ca[0] ? "verify-full" : "prefer";
	if (state_tls_parse(tls, &a.tls) != 0)
		return ctl_usage(c, "--tls must be disable, prefer, require or verify-full");
	if (service && !valid_word(service, sizeof a.service))
		return ctl_usage(c, "bad --service '%s'", service);
	if (strcmp(proto, "tns") == 0 && !service)
		return ctl_usage(c, "a tns asset needs --service (the real SERVICE_NAME)");
	static struct state_asset_auth aa; /* static: holds a PEM key (4 KiB) */
	memset(&aa, 0, sizeof aa);
	if (ctl_asset_auth_parse(c, proto, weak, keyfile, &aa) != CTL_OK)
		return CTL_USAGE;
	snprintf(a.name, sizeof a.name, "%s", pos[0]);
	snprintf(a.protocol, sizeof a.protocol, "%s", proto);
	snprintf(a.host, sizeof a.host, "%s", host);
	snprintf(a.service, sizeof a.service, "%s", service ? service : "");
	a.port = (int)p;
	a.created = c->now;

	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int rc = state_asset_add(st, &a);
	if (rc != STATE_OK) {
		audit_close(log);
		if (rc == STATE_EXISTS)
			return ctl_fail(c, "asset %s already exists", a.name);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	if ((aa.weak_auth || aa.server_public_key[0]) &&
	    (rc = state_asset_auth_set(st, a.name, &aa)) != STATE_OK) {
		audit_close(log);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	char how[80];
	printf("asset %s added (id %lld): %s %s:%d, tls %s%s%s, %s\n", a.name, (long long)a.id,
	       a.protocol, a.host, a.port, state_tls_name(a.tls), a.service[0] ? ", service " : "",
	       a.service, ctl_asset_auth_describe(&aa, how, sizeof how));
	ctl_cmdline(c->verb, argc, argv, NULL, stmt, sizeof stmt);
	char obj[192];
	snprintf(obj, sizeof obj, "asset:%s", a.name);
	return ctl_audit_admin(c, log, stmt, a.name, NULL, obj);
}

static int print_asset(void *ctx, const struct state_asset *a)
{
	(void)ctx;
	printf("%-20s %-9s %-30s %-5d %-11s %s\n", a->name, a->protocol, a->host, a->port,
	       state_tls_name(a->tls), a->service[0] ? a->service : "-");
	return 0;
}

int ctl_asset_list(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	if (ctl_args(c, argc, argv, NULL, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	printf("%-20s %-9s %-30s %-5s %-11s %s\n", "ASSET", "PROTOCOL", "HOST", "PORT", "TLS",
	       "SERVICE");
	if (state_asset_list(st, print_asset, NULL) != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	return CTL_OK;
}

/* ---- account ---- */

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

/* Seal the password of new account id and store it (inside the caller's
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

int ctl_account_add(struct ctl *c, int argc, char **argv)
{
	const char *username = NULL, *file = NULL, *cmd = NULL, *pos[1];
	int from_stdin = 0, rc = CTL_FAIL;
	char asset[64], name[64], stmt[1024], target[160], ref[STATE_REF_MAX] = "";
	char pw[SB_SECRET_MAX + 1] = "";
	uint8_t key[SB_MASTER_KEY_LEN];
	struct ctl_opt opts[] = {
		{"--username", 1, &username, NULL},
		{"--password-stdin", 0, NULL, &from_stdin},
		{"--secret-file", 1, &file, NULL},
		{"--secret-cmd", 1, &cmd, NULL},
		{NULL, 0, NULL, NULL},
	};
	static const char *const redact[] = {"--secret-file", "--secret-cmd", NULL};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_split_target(pos[0], asset, name) != 0)
		return ctl_usage(c, "expected ASSET/ACCOUNT, not '%s'", pos[0]);
	if (!username || !valid_text(username, STATE_USERNAME_MAX))
		return ctl_usage(c, "--username needs the database user name");
	if (from_stdin + !!file + !!cmd != 1)
		return ctl_usage(c, "give exactly one of --password-stdin, --secret-file, --secret-cmd");
	enum state_secret_kind kind = from_stdin ? STATE_SECRET_STORED
				      : file	 ? STATE_SECRET_FILE
						 : STATE_SECRET_CMD;
	snprintf(target, sizeof target, "%s/%s", asset, name);
	if (cmd) {
		if (!valid_text(cmd, sizeof ref))
			return ctl_usage(c, "--secret-cmd needs a one-line command");
		snprintf(ref, sizeof ref, "%s", cmd);
	}
	if (file) {
		/* The daemon reads it later from its own directory: store it
		 * absolute, and insist it exists now to catch typos. */
		char abs[PATH_MAX];
		struct stat sb;
		if (!realpath(file, abs))
			return ctl_fail(c, "secret file %s: %s", file, strerror(errno));
		if (strlen(abs) >= sizeof ref)
			return ctl_fail(c, "secret file path too long");
		snprintf(ref, sizeof ref, "%s", abs);
		if (stat(abs, &sb) == 0 && (sb.st_mode & 077))
			fprintf(stderr,
				"sqlbastionctl: %s: warning: %s is readable by group or others (mode %04o)\n",
				c->verb, abs, (unsigned)(sb.st_mode & 07777));
	}

	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct state_asset a;
	int r = state_asset_get(st, asset, &a);
	if (r == STATE_NOT_FOUND)
		return ctl_fail(c, "no asset %s", asset);
	if (r != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	char err[512];
	memset(key, 0, sizeof key);
	if (kind == STATE_SECRET_STORED) {
		if (ctl_master_key(c, key) != CTL_OK)
			return CTL_FAIL;
		if (read_password(c, target, pw, sizeof pw) != CTL_OK)
			goto out;
	}
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		goto out;
	if (state_begin(st) != STATE_OK) {
		ctl_fail(c, "%s", state_errmsg(st));
		audit_close(log);
		goto out;
	}
	int64_t id = 0;
	r = state_account_add(st, a.id, name, username, kind, ref, c->now, &id);
	if (r != STATE_OK) {
		if (r == STATE_EXISTS)
			ctl_fail(c, "account %s already exists", target);
		else
			ctl_fail(c, "%s", state_errmsg(st));
		goto rollback;
	}
	if (kind == STATE_SECRET_STORED && store_sealed(c, st, id, key, pw) != CTL_OK)
		goto rollback;
	if (kind == STATE_SECRET_FILE) {
		char probe[SB_SECRET_MAX + 1];
		int n = secret_fetch(st, key, id, probe, sizeof probe, err, sizeof err);
		sb_wipe(probe, sizeof probe);
		if (n < 0) {
			ctl_fail(c, "%s", err);
			goto rollback;
		}
	}
	if (state_commit(st) != STATE_OK) {
		ctl_fail(c, "%s", state_errmsg(st));
		audit_close(log);
		goto out;
	}
	printf("account %s added (id %lld): username %s, secret %s\n", target, (long long)id,
	       username, state_secret_kind_name(kind));
	if (kind == STATE_SECRET_CMD)
		printf("# the command runs at every connect; try it: sqlbastionctl asset check %s\n",
		       target);
	ctl_cmdline(c->verb, argc, argv, redact, stmt, sizeof stmt);
	char obj[192];
	snprintf(obj, sizeof obj, "account:%s,secret:%s", target, state_secret_kind_name(kind));
	rc = ctl_audit_admin(c, log, stmt, asset, name, obj);
	goto out;
rollback:
	state_rollback(st);
	audit_close(log);
out:
	sb_wipe(pw, sizeof pw);
	sb_wipe(key, sizeof key);
	return rc;
}

static int print_account(void *ctx, const struct state_account *a)
{
	char t[140];
	(void)ctx;
	snprintf(t, sizeof t, "%s/%s", a->asset, a->name);
	printf("%-40s %-24s %s\n", t, a->username, state_secret_kind_name(a->kind));
	return 0;
}

int ctl_account_list(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	if (ctl_args(c, argc, argv, NULL, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	printf("%-40s %-24s %s\n", "ASSET/ACCOUNT", "USERNAME", "SECRET");
	if (state_account_list(st, print_account, NULL) != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	return CTL_OK;
}

/* ---- grant ---- */

int ctl_grant_add(struct ctl *c, int argc, char **argv)
{
	const char *level = NULL, *hours = NULL, *until_s = NULL, *pos[2];
	const char *max_ttl_s = NULL, *renew_s = NULL;
	char asset[64], name[64], stmt[1024], target[160];
	struct ctl_opt opts[] = {
		{"--level", 1, &level, NULL},
		{"--hours", 1, &hours, NULL},
		{"--until", 1, &until_s, NULL},
		{"--max-ttl", 1, &max_ttl_s, NULL},
		{"--renewable", 1, &renew_s, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 2, 2, NULL) != CTL_OK)
		return CTL_USAGE;
	enum policy_level lv;
	time_t until = 0;
	if (!ctl_valid_name(pos[0]))
		return ctl_usage(c, "bad user name '%s'", pos[0]);
	if (ctl_split_target(pos[1], asset, name) != 0)
		return ctl_usage(c, "expected ASSET/ACCOUNT, not '%s'", pos[1]);
	if (!level || policy_level_parse(level, &lv) != 0)
		return ctl_usage(c, "--level must be read, write, operate or admin");
	if (hours && (strlen(hours) >= STATE_HOURS_MAX || auth_hours_match(hours, c->now) < 0))
		return ctl_usage(c, "bad --hours '%s' (HH:MM-HH:MM, e.g. 08:00-20:00 or 22:00-06:00)",
				 hours);
	if (until_s) {
		if (ctl_parse_time(until_s, c->now, 1, &until) < 0)
			return ctl_usage(c, "bad --until '%s' (e.g. 2025-12-31, \"2025-12-31 18:00\", +30d)",
					 until_s);
		if (until <= c->now)
			return ctl_usage(c, "--until %s is in the past", until_s);
	}
	int64_t max_ttl = 0;
	int renewable = 1;
	if (max_ttl_s && (ctl_parse_duration(max_ttl_s, &max_ttl) != 0 || max_ttl > CTL_MAX_TTL))
		return ctl_usage(c, "bad --max-ttl '%s' (30m, 8h, 7d, ...; at most 366d)", max_ttl_s);
	if (renew_s) {
		if (strcmp(renew_s, "yes") == 0)
			renewable = 1;
		else if (strcmp(renew_s, "no") == 0)
			renewable = 0;
		else
			return ctl_usage(c, "--renewable must be yes or no");
	}
	snprintf(target, sizeof target, "%s/%s", asset, name);

	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct state_user u;
	struct state_account ac;
	int r = state_user_get(st, pos[0], &u);
	if (r == STATE_NOT_FOUND)
		return ctl_fail(c, "no user %s", pos[0]);
	if (r == STATE_OK && (r = state_account_get(st, asset, name, &ac)) == STATE_NOT_FOUND)
		return ctl_fail(c, "no account %s", target);
	if (r != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int64_t id = 0;
	if (state_begin(st) != STATE_OK ||
	    state_grant_add(st, u.id, ac.id, lv, hours ? hours : "", (int64_t)until, c->now,
			    &id) != STATE_OK ||
	    state_grant_set_token_rules(st, id, max_ttl, renewable) != STATE_OK ||
	    state_commit(st) != STATE_OK) {
		state_rollback(st);
		audit_close(log);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	char ut[32];
	ctl_fmt_time(until, ut, sizeof ut);
	printf("grant %lld added: %s -> %s, %s%s%s%s%s%s%s%s\n", (long long)id, u.name, target,
	       policy_level_name(lv), hours ? ", hours " : "", hours ? hours : "",
	       until ? ", ends " : "", until ? ut : "", max_ttl_s ? ", tokens at most " : "",
	       max_ttl_s ? max_ttl_s : "", renewable ? "" : ", tokens not renewable");
	ctl_cmdline(c->verb, argc, argv, NULL, stmt, sizeof stmt);
	char obj[320];
	snprintf(obj, sizeof obj, "grant:%lld,user:%s,account:%s", (long long)id, u.name, target);
	return ctl_audit_admin(c, log, stmt, asset, name, obj);
}

struct grant_print {
	time_t now;
	struct state *st; /* for each grant's token rules (another statement) */
};

static int print_grant(void *ctx, const struct state_grant *g)
{
	const struct grant_print *gp = ctx;
	char t[140], ut[32];
	snprintf(t, sizeof t, "%s/%s", g->asset, g->account);
	ctl_fmt_time(g->until, ut, sizeof ut);
	int64_t max_ttl = 0;
	int renewable = 1;
	char mt[32] = "-";
	if (state_grant_token_rules(gp->st, g->id, &max_ttl, &renewable) == STATE_OK && max_ttl)
		snprintf(mt, sizeof mt, "%llds", (long long)max_ttl);
	printf("%-6lld %-20s %-40s %-8s %-12s %-19s %-10s %-9s%s\n", (long long)g->id, g->user, t,
	       policy_level_name(g->level), g->hours[0] ? g->hours : "any", ut, mt,
	       renewable ? "yes" : "no",
	       g->until && g->until <= (int64_t)gp->now ? " (expired)" : "");
	return 0;
}

int ctl_grant_list(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	int npos = 0;
	if (ctl_args(c, argc, argv, NULL, pos, 0, 1, &npos) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	int64_t uid = 0;
	if (npos == 1) {
		struct state_user u;
		int r = state_user_get(st, pos[0], &u);
		if (r == STATE_NOT_FOUND)
			return ctl_fail(c, "no user %s", pos[0]);
		if (r != STATE_OK)
			return ctl_fail(c, "%s", state_errmsg(st));
		uid = u.id;
	}
	struct grant_print gp = {.now = c->now, .st = st};
	printf("%-6s %-20s %-40s %-8s %-12s %-19s %-10s %s\n", "ID", "USER", "ASSET/ACCOUNT", "LEVEL",
	       "HOURS", "ENDS", "MAX_TTL", "RENEWABLE");
	if (state_grant_list(st, uid, 0, print_grant, &gp) != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	return CTL_OK;
}

int ctl_read_password(struct ctl *c, const char *target, char *out, size_t cap)
{
	return read_password(c, target, out, cap);
}

int ctl_store_sealed(struct ctl *c, struct state *st, int64_t id, const uint8_t *key,
		     const char *pw)
{
	return store_sealed(c, st, id, key, pw);
}
