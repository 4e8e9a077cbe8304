/* sqlbastionctl: the administrator's command line (DESIGN.md "Control
 * plane"). This file parses "-c CONF <verb> ...", loads the config and
 * dispatches to the verb functions of ctl_*.c; it also holds `init`, which
 * prepares a fresh instance (directories, master key, state db, a
 * self-signed TLS certificate) and may be run again at any time.
 *
 * sessions, kill and reload talk to the running daemon over its admin
 * socket (ctl_admin.c); approvals, approve and reject (ctl_approvals.c)
 * work on the state DB, which the daemon reads and writes too.
 *
 * Everything sqlbastionctl creates is owner-only (umask 077), except the
 * TLS certificate, which is public by nature.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/ctl.h"
#include "proxy/secret.h"
#include "proxy/state.h"
#include "proxy/ssh_hostkey.h"
#include "proxy/tlsgen.h"
#include "lib/fsutil.h"

static const char usage_text[] =
	"usage: sqlbastionctl -c CONF <verb> ...\n"
	"\n"
	"  init                                  master key, state db, TLS certificate (idempotent)\n"
	"  user add NAME [--source CIDR,...] [--max-sessions N]\n"
	"  user set NAME [--source CIDR,...] [--max-sessions N]\n"
	"  user disable NAME | enable NAME | remove NAME | list\n"
	"  asset add NAME --protocol postgres|mysql|tds|tns --host H --port P\n"
	"                 [--tls disable|prefer|require|verify-full] [--service S]\n"
	"                 [--allow-weak-auth yes|no] [--server-public-key FILE]\n"
	"  asset set NAME [--host H] [--port P] [--tls T] [--service S]\n"
	"  asset remove NAME [--force]           --force: also the grants pointing to it\n"
	"  asset list\n"
	"  asset check ASSET/ACCOUNT             log in with the hosted account, print the version\n"
	"  account add ASSET/ACCOUNT --username U\n"
	"                 (--password-stdin | --secret-file PATH | --secret-cmd CMD | --not-hosted)\n"
	"  account set ASSET/ACCOUNT (--password-stdin | --secret-file PATH | --secret-cmd CMD |\n"
	"                 --not-hosted)\n"
	"  account remove ASSET/ACCOUNT | list\n"
	"  grant add USER ASSET/ACCOUNT --level read|write|operate|admin\n"
	"                 [--hours HH:MM-HH:MM] [--until TIME] [--max-ttl 8h] [--renewable yes|no]\n"
	"  grant revoke ID | list [USER]\n"
	"  token issue USER ASSET/ACCOUNT [--ttl 8h] [--json]   the token alone on line 1\n"
	"  token list [--json]\n"
	"  token renew ID [--ttl 8h]\n"
	"  token revoke ID | revoke --user USER\n"
	"  lockouts [--json] | lockouts clear USER|IP   failed-login lockouts\n"
	"  audit search [--user U] [--asset A] [--account X] [--session N] [--verb V]\n"
	"               [--decision D] [--event E] [--since T] [--until T] [--grep TEXT]\n"
	"               [--limit N] [--json]\n"
	"  audit verify [FILE...]                 the chain through FILEs in order; none: the\n"
	"                                        configured file and its rotated predecessors\n"
	"  audit reindex                         rebuild the search index from every audit file\n"
	"  sessions [--json] | kill SESSION      (daemon admin socket)\n"
	"  approvals [--json] [--all]            statements held by review rules (--all: decided,\n"
	"                                        used and expired ones too)\n"
	"  approve ID                            let the requester run that statement once\n"
	"                                        (within 1 hour; not your own request)\n"
	"  reject ID                             refuse a held statement\n"
	"  policy test --dialect pg|mysql [--level L] [--user U] [--asset A] [--account N]\n"
	"              [--database DB] [--policy FILE] 'SQL'|-\n"
	"                                        classification and decision (-c optional\n"
	"                                        with --policy)\n"
	"  reload                                (daemon admin socket)\n"
	"\n"
	"TIME: 2025-01-02, \"2025-01-02 18:00\", RFC 3339 (2025-01-02T18:00:00Z), @UNIX,\n"
	"      or relative: +8h, +30m, +2d (-8h for --since). Dates without a zone are\n"
	"      local time; --until DATE includes that whole day.\n"
	"TTL:  30m, 8h, 7d, 2w (at most 366d).\n"
	"Exit: 0 done, 1 failed, 2 usage error.\n";

struct verb {
	const char *group, *name; /* name NULL: a one-word verb */
	int (*fn)(struct ctl *c, int argc, char **argv);
};

static const struct verb verbs[] = {
	{"init", NULL, ctl_init},
	{"user", "add", ctl_user_add},
	{"user", "list", ctl_user_list},
	{"user", "set", ctl_user_set},
	{"user", "disable", ctl_user_disable},
	{"user", "enable", ctl_user_enable},
	{"user", "remove", ctl_user_remove},
	{"asset", "add", ctl_asset_add},
	{"asset", "list", ctl_asset_list},
	{"asset", "check", ctl_asset_check},
	{"asset", "set", ctl_asset_set},
	{"asset", "remove", ctl_asset_remove},
	{"account", "add", ctl_account_add},
	{"account", "list", ctl_account_list},
	{"account", "set", ctl_account_set},
	{"account", "remove", ctl_account_remove},
	{"grant", "add", ctl_grant_add},
	{"grant", "list", ctl_grant_list},
	{"grant", "revoke", ctl_grant_revoke},
	{"lockouts", "clear", ctl_lockouts_clear}, /* before the one-word form */
	{"lockouts", NULL, ctl_lockouts},
	{"token", "issue", ctl_token_issue},
	{"token", "list", ctl_token_list},
	{"token", "renew", ctl_token_renew},
	{"token", "revoke", ctl_token_revoke},
	{"audit", "search", ctl_audit_search},
	{"audit", "verify", ctl_audit_verify},
	{"audit", "reindex", ctl_audit_reindex},
	{"sessions", NULL, ctl_sessions},
	{"kill", NULL, ctl_kill},
	{"reload", NULL, ctl_reload},
	{"policy", "test", ctl_policy_test},
	{"approvals", NULL, ctl_approvals},
	{"approve", NULL, ctl_approve},
	{"reject", NULL, ctl_reject},
};

/* ---- init ---- */

static int exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* Create the master key (32 random bytes, 0600) unless present; a present
 * one is checked. *made tells which. 0 or -1 (message printed). */
static int init_master_key(struct ctl *c, int *made)
{
	char err[512];
	uint8_t key[SB_MASTER_KEY_LEN];
	const char *path = c->cfg.master_key;
	*made = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		int rc = secret_load_master_key(path, key, err, sizeof err);
		sb_wipe(key, sizeof key);
		if (rc != 0) {
			ctl_fail(c, "%s", err);
			return -1;
		}
		return 0;
	}
	if (fd < 0) {
		ctl_fail(c, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	int ok = sb_random(key, sizeof key) == 0 &&
		 write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
	sb_wipe(key, sizeof key);
	if (close(fd) != 0)
		ok = 0;
	if (!ok) {
		unlink(path);
		ctl_fail(c, "cannot write %s", path);
		return -1;
	}
	*made = 1;
	return 0;
}

int ctl_init(struct ctl *c, int argc, char **argv)
{
	char err[SB_PATH_MAX + 512], objects[128] = "", statement[64] = "init";
	const char *pos[1];
	int npos;
	if (ctl_args(c, argc, argv, NULL, pos, 0, 0, &npos) != CTL_OK)
		return CTL_USAGE;
	struct sb_config *cfg = &c->cfg;
	const char *paths[] = {cfg->state_db,    cfg->master_key, cfg->tls_cert,
			       cfg->tls_key,     cfg->audit_jsonl, cfg->audit_sqlite,
			       cfg->admin_socket, strcmp(cfg->log, "-") ? cfg->log : ""};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (paths[i][0] && sb_mkdir_parents(paths[i], err, sizeof err) != 0)
			return ctl_fail(c, "%s", err);
	}
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;

	int made_key = 0;
	if (init_master_key(c, &made_key) != 0)
		goto fail;
	printf("master key  %s: %s\n", cfg->master_key, made_key ? "created" : "ok");

	int had_state = exists(cfg->state_db);
	if (!ctl_state(c))
		goto fail;
	printf("state db    %s: %s\n", cfg->state_db, had_state ? "ok" : "created");

	int have_cert = exists(cfg->tls_cert), have_key = exists(cfg->tls_key), made_tls = 0;
	if (have_cert != have_key) {
		ctl_fail(c, "%s exists but %s does not; remove it or provide both",
			 have_cert ? cfg->tls_cert : cfg->tls_key,
			 have_cert ? cfg->tls_key : cfg->tls_cert);
		goto fail;
	}
	if (!have_cert) {
		char host[256] = "localhost";
		if (gethostname(host, sizeof host) != 0 || !host[0])
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		char ca_crt[SB_PATH_MAX + 16], ca_key[SB_PATH_MAX + 16];
		int made_ca = 0;
		if (tlsgen_ca_paths(cfg->tls_cert, ca_crt, ca_key, sizeof ca_crt) != 0 ||
		    tlsgen_ca_signed(cfg->tls_cert, cfg->tls_key, ca_crt, ca_key, host, &made_ca, err,
				     sizeof err) != 0) {
			ctl_fail(c, "TLS certificate: %s", err);
			goto fail;
		}
		made_tls = 1 + made_ca; /* 2: the CA is new too */
		printf("tls ca      %s: %s (clients verify the proxy with it; its key %s stays here)\n",
		       ca_crt, made_ca ? "created" : "ok", ca_key);
		printf("tls cert    %s: created (issued by that CA for %s, localhost, 127.0.0.1, ::1)\n",
		       cfg->tls_cert, host);
		printf("tls key     %s: created\n", cfg->tls_key);
	} else {
		printf("tls cert    %s: ok\n", cfg->tls_cert);
	}
	int made_ssh = 0;
	if (ssh_hostkey_ensure(cfg->ssh_host_key, &made_ssh, err, sizeof err) != 0) {
		ctl_fail(c, "SSH host key: %s", err);
		goto fail;
	}
	printf("ssh host key %s: %s\n", cfg->ssh_host_key, made_ssh ? "created" : "ok");
	ctl_print_ssh_hostkey(c);
	printf("audit log   %s\n", cfg->audit_jsonl);

	snprintf(objects, sizeof objects, "%s%s%s%s", made_key ? "master_key," : "",
		 had_state ? "" : "state_db,", made_tls == 2 ? "tls_ca," : "",
		 made_tls ? "tls_cert,tls_key," : "");
	if (made_ssh)
		snprintf(objects + strlen(objects), sizeof objects - strlen(objects),
			 "ssh_host_key,");
	size_t n = strlen(objects);
	if (n)
		objects[n - 1] = '\0';
	return ctl_audit_admin(c, log, statement, NULL, NULL, n ? objects : "nothing new");
fail:
	audit_close(log);
	return CTL_FAIL;
}

/* ---- main ---- */

static void who_am_i(struct ctl *c)
{
	struct passwd *pw = getpwuid(geteuid());
	if (pw && pw->pw_name)
		snprintf(c->os_user, sizeof c->os_user, "%s", pw->pw_name);
	else
		snprintf(c->os_user, sizeof c->os_user, "uid:%u", (unsigned)geteuid());
	/* Under sudo the change is the invoking person's: name them (the same
	 * rule as the approver in ctl_approvals.c). Never a secret. */
	const char *sudo = getenv("SUDO_USER");
	struct passwd *sp;
	snprintf(c->actor, sizeof c->actor, "%s", c->os_user);
	if (geteuid() == 0 && sudo && *sudo && strlen(sudo) < sizeof c->actor &&
	    (sp = getpwnam(sudo)) != NULL && sp->pw_uid != 0)
		snprintf(c->actor, sizeof c->actor, "%s", sudo);
}

int main(int argc, char **argv)
{
	struct ctl c;
	const char *conf = NULL;
	char err[1024], verbname[64];
	int i = 1;
	memset(&c, 0, sizeof c);
	c.admin_fd = -1;
	umask(077);

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return CTL_OK;
		}
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (++i == argc)
				break;
			conf = argv[i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			conf = argv[i] + 9;
		} else {
			fprintf(stderr, "sqlbastionctl: unknown option '%s'\n%s", argv[i], usage_text);
			return CTL_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	const char *group = argv[i++];
	const struct verb *v = NULL;
	int known_group = 0;
	for (size_t k = 0; k < sizeof verbs / sizeof verbs[0] && !v; k++) {
		if (strcmp(verbs[k].group, group) != 0)
			continue;
		known_group = 1;
		if (!verbs[k].name)
			v = &verbs[k];
		else if (i < argc && strcmp(verbs[k].name, argv[i]) == 0)
			v = &verbs[k];
	}
	if (!v) {
		if (known_group)
			fprintf(stderr, "sqlbastionctl: %s: expected a sub-command%s%s\n", group,
				i < argc ? ", not " : "", i < argc ? argv[i] : "");
		else
			fprintf(stderr, "sqlbastionctl: unknown verb '%s'\n", group);
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	if (v->name) {
		snprintf(verbname, sizeof verbname, "%s %s", v->group, v->name);
		i++;
	} else {
		snprintf(verbname, sizeof verbname, "%s", v->group);
	}
	c.verb = verbname;
	/* policy test needs no instance when given --policy */
	int conf_optional = v->fn == ctl_policy_test;
	if (!conf && !conf_optional)
		return ctl_usage(&c, "no configuration: use -c CONF");
	if (conf && config_load(conf, &c.cfg, err, sizeof err) != 0)
		return ctl_fail(&c, "%s", err);
	c.now = time(NULL);
	who_am_i(&c);

	int rc = v->fn(&c, argc - i, argv + i);
	state_close(c.st);
	if (c.admin_fd >= 0)
		close(c.admin_fd);
	if (fflush(stdout) != 0 && rc == CTL_OK)
		rc = ctl_fail(&c, "cannot write the output: %s", strerror(errno));
	return rc;
}
