/* ctl_check: "asset check ASSET/ACCOUNT": log in to the database with the
 * hosted account, as the proxy will, and print the server version.
 *
 * PostgreSQL through libpq, MySQL / MariaDB through mariadb-connector-c,
 * each honouring the asset's --tls mode (disable, prefer, require,
 * verify-full; for verify-full the client libraries' default trust store
 * applies). The password is fetched with secret_fetch() (so a --secret-cmd
 * runs exactly as at connect time), handed to the library in a parameter
 * array, never on a command line or in a message, and wiped right after.
 * Library error texts carry host, user and reason, never the password.
 *
 * The check itself is written to the audit log as an admin event: it is a
 * use of a hosted credential. tds and tns are not supported yet.
 */
#include <libpq-fe.h>
#include <mysql.h>
#include <stdio.h>
#include <string.h>

#include "proxy/ctl.h"
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

static int check_pg(struct ctl *c, const struct state_asset *a, const char *user,
		    const char *pw, char *out, size_t cap)
{
	static const char *const sslmodes[] = {"disable", "prefer", "require", "verify-full"};
	char port[8], timeout[16];
	snprintf(port, sizeof port, "%d", a->port);
	snprintf(timeout, sizeof timeout, "%d", c->cfg.connect_timeout);
	const char *const keys[] = {"host",	"port",		   "user",
				    "password", "dbname",	   "sslmode",
				    "connect_timeout", "application_name", NULL};
	const char *const vals[] = {a->host,  port,	       user,
				    pw,	      "postgres",      sslmodes[a->tls],
				    timeout,  "sqlbastionctl", NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 0);
	int rc = CTL_FAIL;
	if (!conn) {
		snprintf(out, cap, "out of memory");
		return CTL_FAIL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(out, cap, "%s", PQerrorMessage(conn));
		goto out;
	}
	PGresult *res = PQexec(conn, "SELECT version()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		snprintf(out, cap, "%s (tls %s)", PQgetvalue(res, 0, 0),
			 PQsslInUse(conn) ? "on" : "off");
		rc = CTL_OK;
	} else {
		snprintf(out, cap, "SELECT version(): %s", PQerrorMessage(conn));
	}
	PQclear(res);
out:
	PQfinish(conn); /* libpq wipes its copy of the password */
	return rc;
}

static int check_mysql(struct ctl *c, const struct state_asset *a, const char *user,
		       const char *pw, char *out, size_t cap)
{
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
	if (row && row[0]) {
		snprintf(out, cap, "%s (tls %s)", row[0], cipher ? "on" : "off");
		rc = CTL_OK;
	} else {
		snprintf(out, cap, "SELECT VERSION(): no result");
	}
	mysql_free_result(res);
out:
	mysql_close(m);
	return rc;
}

int ctl_asset_check(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char asset[64], name[64], target[160], err[1024], result[1100], stmt[512];
	char pw[SB_SECRET_MAX + 1];
	uint8_t key[SB_MASTER_KEY_LEN];
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_split_target(pos[0], asset, name) != 0)
		return ctl_usage(c, "expected ASSET/ACCOUNT, not '%s'", pos[0]);
	snprintf(target, sizeof target, "%s/%s", asset, name);
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct state_asset a;
	struct state_account ac;
	int r = state_account_get(st, asset, name, &ac);
	if (r == STATE_NOT_FOUND)
		return ctl_fail(c, "no account %s", target);
	if (r == STATE_OK)
		r = state_asset_get(st, asset, &a);
	if (r != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	if (strcmp(a.protocol, "postgres") != 0 && strcmp(a.protocol, "mysql") != 0)
		return ctl_fail(c, "checking %s assets is not supported yet", a.protocol);

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
	} else if (strcmp(a.protocol, "postgres") == 0) {
		rc = check_pg(c, &a, ac.username, pw, result, sizeof result);
	} else {
		rc = check_mysql(c, &a, ac.username, pw, result, sizeof result);
	}
	sb_wipe(pw, sizeof pw);
	one_line(result);

	snprintf(stmt, sizeof stmt, "%s %s", c->verb, target);
	char obj[320];
	snprintf(obj, sizeof obj, "account:%s,result:%s", target, rc == CTL_OK ? "ok" : "failed");
	if (ctl_audit_write(c, log, stmt, asset, name, obj, err, sizeof err) != 0)
		fprintf(stderr, "sqlbastionctl: %s: warning: audit record not written: %s\n",
			c->verb, err);
	if (rc != CTL_OK)
		return ctl_fail(c, "%s (%s@%s:%d): %s", target, ac.username, a.host, a.port, result);
	printf("%s: ok: %s\n", target, result);
	return CTL_OK;
}
