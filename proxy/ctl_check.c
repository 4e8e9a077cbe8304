/* ctl_check: "asset check ASSET/ACCOUNT": log in to the database with the
 * hosted account, as the proxy will, and print the server version, the TLS
 * state and the authentication method seen.
 *
 * PostgreSQL with the proxy's own login code (ctl_check_pg.c), MySQL /
 * MariaDB through mariadb-connector-c, each honouring the asset's --tls
 * mode (disable, prefer, require, verify-full) and the proxy's rules for
 * the hosted secret (backend_auth.h): Connector/C is restricted to the
 * plugins that do not give the secret away unless the server is verified
 * or the asset allows weak auth. The password is fetched with secret_fetch() (so a --secret-cmd
 * runs exactly as at connect time), handed to the library in a parameter
 * array, never on a command line or in a message, and wiped right after.
 * Library error texts carry host, user and reason, never the password.
 *
 * The check itself is written to the audit log as an admin event: it is a
 * use of a hosted credential. tds and tns are not supported yet.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/ctl.h"
#include "proxy/ctl_check_pg.h"
#include "proxy/state_asset_auth.h"
#include "proxy/secret.h"
#include "proxy/state.h"

/* One line: library messages span lines; whitespace runs become one
 * space, none at the end. */
static void one_line(char *s)
{
	char *o = s;
	for (const char *p = s; *p; p++) {
		int space = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
		if (space && (o == s || o[-1] == ' '))
			continue;
		*o++ = space ? ' ' : *p;
	}
	while (o > s && o[-1] == ' ')
		o--;
	*o = '\0';
}

/* The authentication plugin the server has for the current account (SHOW
 * GRANTS of one's own account is always allowed), into out. */
static void account_plugin(MYSQL *m, char *out, size_t cap)
{
	snprintf(out, cap, "unknown");
	if (mysql_query(m, "SHOW GRANTS") != 0)
		return;
	MYSQL_RES *res = mysql_store_result(m);
	MYSQL_ROW row;
	while (res && (row = mysql_fetch_row(res))) {
		const char *g = row[0] ? row[0] : "", *v;
		if ((v = strstr(g, "IDENTIFIED VIA "))) {
			v += strlen("IDENTIFIED VIA ");
			snprintf(out, cap, "%.*s", (int)strcspn(v, " ;"), v);
			break;
		}
		if (strstr(g, "IDENTIFIED BY PASSWORD")) {
			snprintf(out, cap, "mysql_native_password");
			break;
		}
	}
	mysql_free_result(res);
}

static int check_mysql(struct ctl *c, const struct state_asset *a,
		       const struct state_asset_auth *aa, const char *pw_user, const char *pw,
		       char *out, size_t cap)
{
	const char *user = pw_user;
	MYSQL *m = mysql_init(NULL);
	int rc = CTL_FAIL;
	if (!m) {
		snprintf(out, cap, "out of memory");
		return CTL_FAIL;
	}
	unsigned int timeout = (unsigned)c->cfg.connect_timeout;
	my_bool on = 1, verify = a->tls == ASSET_TLS_VERIFY_FULL;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (a->tls != ASSET_TLS_DISABLE) {
		/* Connector/C asks for TLS when offered; without verification
		 * it goes on in clear if the server has none, so require is
		 * checked below, after the connect. */
		mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
		if (verify && c->cfg.backend_ca[0])
			mysql_optionsv(m, MYSQL_OPT_SSL_CA, c->cfg.backend_ca);
	}
	/* The proxy's rules (backend_auth.h): without a verified server and
	 * without --allow-weak-auth, only plugins that never hand over the
	 * secret; caching_sha2 (whose full authentication sends it in clear
	 * over TLS, or to a key the server sends) only with a pinned key on a
	 * plain connection. */
	if (!verify && !aa->weak_auth) {
		int sha2 = aa->server_public_key[0] && a->tls == ASSET_TLS_DISABLE;
		mysql_optionsv(m, MARIADB_OPT_RESTRICTED_AUTH,
			       sha2 ? "mysql_native_password,client_ed25519,caching_sha2_password"
				    : "mysql_native_password,client_ed25519");
	}
	char keyfile[] = "/tmp/sqlbastionctl-key-XXXXXX";
	int keyfd = -1;
	if (aa->server_public_key[0] && (keyfd = mkstemp(keyfile)) >= 0) {
		size_t kl = strlen(aa->server_public_key);
		if (write(keyfd, aa->server_public_key, kl) == (ssize_t)kl)
			mysql_optionsv(m, MYSQL_SERVER_PUBLIC_KEY, keyfile);
	}
	if (!mysql_real_connect(m, a->host, user, pw, NULL, (unsigned)a->port, NULL, 0)) {
		snprintf(out, cap, "%s", mysql_error(m));
		goto out;
	}
	const char *cipher = mysql_get_ssl_cipher(m);
	if (a->tls >= ASSET_TLS_REQUIRE && !cipher) {
		snprintf(out, cap, "the server did not use TLS (asset --tls %s)",
			 state_tls_name(a->tls));
		goto out;
	}
	if (mysql_query(m, "SELECT VERSION()") != 0) {
		snprintf(out, cap, "SELECT VERSION(): %s", mysql_error(m));
		goto out;
	}
	MYSQL_RES *res = mysql_store_result(m);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	char ver[256] = "", plugin[64];
	if (row && row[0])
		snprintf(ver, sizeof ver, "%s", row[0]);
	mysql_free_result(res);
	if (ver[0]) {
		account_plugin(m, plugin, sizeof plugin);
		snprintf(out, cap, "%s (tls %s; auth %s)", ver,
			 !cipher ? "off" : verify ? "on, verified" : "on, not verified", plugin);
		rc = CTL_OK;
	} else {
		snprintf(out, cap, "SELECT VERSION(): no result");
	}
out:
	mysql_close(m);
	if (keyfd >= 0) {
		close(keyfd);
		unlink(keyfile);
	}
	return rc;
}

int ctl_asset_check(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char err[1024], result[1100], stmt[512];
	struct ctl_target t;
	char pw[SB_SECRET_MAX + 1];
	uint8_t key[SB_MASTER_KEY_LEN];
	static struct state_asset_auth aa[1]; /* static: a 4 KiB PEM key */
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_target_parse(c, pos[0], &t) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	struct state_asset a;
	struct state_account ac;
	if (!st || ctl_get_account(c, st, &t, &ac) != CTL_OK ||
	    ctl_get_asset(c, st, t.asset, &a) != CTL_OK)
		return CTL_FAIL;
	if (strcmp(a.protocol, "postgres") != 0 && strcmp(a.protocol, "mysql") != 0)
		return ctl_fail(c, "checking %s assets is not supported yet", a.protocol);

	if (ac.kind == STATE_SECRET_NONE)
		return ctl_fail(c, "%s is not hosted: there is no password to log in with", t.name);
	memset(key, 0, sizeof key);
	if (ac.kind == STATE_SECRET_STORED && ctl_master_key(c, key) != CTL_OK)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log) {
		sb_wipe(key, sizeof key);
		return CTL_FAIL;
	}
	int n = secret_fetch(st, key, ac.id, pw, sizeof pw, err, sizeof err);
	sb_wipe(key, sizeof key);
	int rc;
	if (n < 0) {
		snprintf(result, sizeof result, "secret: %s", err);
		rc = CTL_FAIL;
	} else if (state_asset_auth_get(st, a.id, aa) != STATE_OK) {
		snprintf(result, sizeof result, "asset options: %s", state_errmsg(st));
		rc = CTL_FAIL;
	} else if (strcmp(a.protocol, "postgres") == 0) {
		rc = ctl_check_pg(c, &a, aa, ac.username, pw, result, sizeof result);
	} else {
		rc = check_mysql(c, &a, aa, ac.username, pw, result, sizeof result);
	}
	sb_wipe(pw, sizeof pw);
	one_line(result);

	snprintf(stmt, sizeof stmt, "%s %s", c->verb, t.name);
	char obj[320];
	snprintf(obj, sizeof obj, "account:%s,result:%s", t.name, rc == CTL_OK ? "ok" : "failed");
	if (ctl_audit_write(c, log, stmt, t.asset, t.account, obj, err, sizeof err) != 0)
		fprintf(stderr, "sqlbastionctl: %s: warning: audit record not written: %s\n",
			c->verb, err);
	if (rc != CTL_OK)
		return ctl_fail(c, "%s (%s@%s:%d): %s", t.name, ac.username, a.host, a.port, result);
	printf("%s: ok: %s\n", t.name, result);
	return CTL_OK;
}
