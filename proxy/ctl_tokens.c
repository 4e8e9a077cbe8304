/* ctl_tokens: "token issue | list | renew | revoke".
 *
 * issue prints the token alone on its first line (scripts take line 1),
 * then lines for humans, each a shell comment or a ready client command
 * for the first listener of the asset's protocol: plain, then verifying
 * the bastion's certificate (tlsgen_trust_anchor), with JDBC URLs. The token is printed
 * only after its audit record is written; if that write fails the token is
 * revoked again and never shown. The token is wiped from memory after use
 * and appears nowhere else (not in the audit record, not in the state DB).
 *
 * list shows ids, owners, times and state (active | expired | revoked),
 * never a token or a verifier.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/ctl.h"
#include "proxy/state.h"
#include "proxy/ssh_hostkey.h"
#include "proxy/tlsgen.h"

/* Printed for the database when the asset names none (--service). */
#define CTL_DB_PLACEHOLDER "DBNAME"

struct grant_count {
	time_t now;
	int any, live;
};

static int count_grant(void *ctx, const struct state_grant *g)
{
	struct grant_count *gc = ctx;
	gc->any++;
	if (g->until == 0 || g->until > (int64_t)gc->now)
		gc->live++;
	return 0;
}

/* Does user_id hold a grant on account_id that has not ended? CTL_OK or
 * CTL_FAIL (printed). */
static int check_grant(struct ctl *c, struct state *st, int64_t user_id, int64_t account_id,
		       const char *user, const char *target)
{
	struct grant_count gc = {.now = c->now};
	if (state_grant_list(st, user_id, account_id, count_grant, &gc) != STATE_OK)
		return ctl_db_fail(c, st, NULL);
	if (gc.any == 0)
		return ctl_fail(c, "user %s has no grant on %s (grant add first)", user, target);
	if (gc.live == 0)
		return ctl_fail(c, "every grant of %s on %s has passed its --until", user, target);
	return CTL_OK;
}

static int parse_ttl(struct ctl *c, const char *s, int64_t *ttl)
{
	*ttl = CTL_DEFAULT_TTL;
	if (s && (ctl_parse_duration(s, ttl) != 0 || *ttl > CTL_MAX_TTL))
		return ctl_usage(c, "bad --ttl '%s' (30m, 8h, 7d, ...; at most 366d)", s);
	return CTL_OK;
}

/* The proxy's address for clients of protocol: the first listener. A
 * wildcard address is replaced by this host's name. 0, or -1 if none. */
static int listener_for(const struct ctl *c, const char *protocol, char *host, size_t cap,
			int *port)
{
	for (int i = 0; i < c->cfg.n_listen; i++) {
		const struct sb_listen_addr *l = &c->cfg.listen[i];
		if (strcmp(l->protocol, protocol) != 0)
			continue;
		if (strcmp(l->host, "0.0.0.0") == 0 || strcmp(l->host, "::") == 0 || !l->host[0]) {
			if (gethostname(host, cap) != 0 || !host[0])
				snprintf(host, cap, "localhost");
			host[cap - 1] = '\0';
		} else {
			snprintf(host, cap, "%s", l->host);
		}
		*port = l->port;
		return 0;
	}
	return -1;
}

/* How a client verifies the proxy (the token crosses that link): the file
 * to trust, per tlsgen_trust_anchor. */
static void print_verify_hints(const struct ctl *c, const char *protocol, const char *host,
			       int port, const char *user, const char *db)
{
	char ca[SB_PATH_MAX + 16];
	int kind = tlsgen_trust_anchor(c->cfg.tls_cert, ca, sizeof ca);
	if (kind == TLSGEN_ANCHOR_NONE) {
		snprintf(ca, sizeof ca, "CA_FILE");
		printf("# verify the bastion with the CA that issued %s (CA_FILE below):\n",
		       c->cfg.tls_cert);
	} else {
		printf("# verify the bastion (copy %s to the client machine; the token crosses this link):\n",
		       ca);
	}
	if (strcmp(protocol, "postgres") == 0) {
		printf("psql \"host=%s port=%d user=%s dbname=%s sslmode=verify-full sslrootcert=%s\"\n",
		       host, port, user, db, ca);
		printf("# JDBC: jdbc:postgresql://%s:%d/%s?user=%s&sslmode=verify-full&sslrootcert=%s\n",
		       host, port, db, user, ca);
	} else if (strcmp(protocol, "mysql") == 0) {
		printf("mysql -h %s -P %d -u %s -p --ssl-ca=%s --ssl-verify-server-cert %s\n", host,
		       port, user, ca, db);
		printf("# JDBC: jdbc:mariadb://%s:%d/%s?user=%s&sslMode=verify-full&serverSslCert=%s\n"
		       "#   (MariaDB Connector/J 2.x: useSsl=true&serverSslCert=...)\n",
		       host, port, db, user, ca);
		/* sysbench 1.0 hard-codes these three file names. */
		printf("# sysbench --mysql-ssl=on: copy %s to cacert.pem in its working directory, "
		       "next to any client-cert.pem + client-key.pem pair (the bastion asks for none)\n",
		       ca);
	}
}

/* The client lines for the first listener of protocol. db: the database
 * to name in them (a placeholder when the asset names none). */
static void print_hints(const struct ctl *c, const char *protocol, const char *user,
			const char *db)
{
	char host[256];
	int port;
	if (listener_for(c, protocol, host, sizeof host, &port) != 0) {
		printf("# no %s listener in %s: add one under [listeners]\n", protocol, c->cfg.path);
		return;
	}
	if (strcmp(protocol, "postgres") == 0)
		printf("psql \"host=%s port=%d user=%s dbname=%s\"\n", host, port, user, db);
	else if (strcmp(protocol, "mysql") == 0)
		printf("mysql -h %s -P %d -u %s -p %s\n", host, port, user, db);
	else if (strcmp(protocol, "tds") == 0)
		printf("sqlcmd -S %s,%d -U %s\n", host, port, user);
	else if (strcmp(protocol, "tns") == 0)
		printf("# Oracle clients: host %s, port %d, user %s, SERVICE_NAME = the token\n", host,
		       port, user);
	if (strcmp(protocol, "postgres") == 0 || strcmp(protocol, "mysql") == 0) {
		if (strcmp(db, CTL_DB_PLACEHOLDER) == 0)
			printf("# %s: the database to open (asset add --service DB names one)\n",
			       CTL_DB_PLACEHOLDER);
		print_verify_hints(c, protocol, host, port, user, db);
	}
	printf("# GUI tools (DBeaver, DataGrip, Navicat): host %s, port %d, user %s, password = the token\n",
	       host, port, user);
}

void ctl_print_ssh_hostkey(const struct ctl *c)
{
	char host[256];
	int port;
	if (listener_for(c, "ssh", host, sizeof host, &port) != 0)
		return;
	ssh_hostkey_print(c->cfg.ssh_host_key, host, port);
}

/* The SSH-tunnel lines: the tunnel to the asset by name, then the client
 * through it (no password for a hosted account; the account's own for one
 * that is not hosted: the database checks it end to end). */
static void print_ssh_hints(const struct ctl *c, const struct state_asset *a,
			    const struct state_account *ac, const char *user, const char *db)
{
	char host[256];
	int port;
	if (listener_for(c, "ssh", host, sizeof host, &port) != 0)
		return;
	int local = a->port == 5432 ? 54321 : a->port == 3306 ? 33061 : 40000 + a->port % 20000;
	printf("# SSH tunnel: host %s, port %d, user %s, password = the token\n", host, port, user);
	printf("ssh -N -L %d:%s:%d %s@%s -p %d\n", local, a->name, a->port, user, host, port);
	if (ac->kind == STATE_SECRET_NONE)
		printf("# inside the tunnel: %s's own database password (the account is not hosted)\n",
		       ac->username);
	else
		printf("# inside the tunnel: no database password (the account is hosted)\n");
	if (strcmp(a->protocol, "postgres") == 0)
		printf("psql \"host=127.0.0.1 port=%d user=%s dbname=%s\"\n", local, ac->username, db);
	else if (strcmp(a->protocol, "mysql") == 0)
		printf("mysql -h 127.0.0.1 -P %d -u %s %s\n", local, ac->username, db);
	ctl_print_ssh_hostkey(c);
}

int ctl_token_issue(struct ctl *c, int argc, char **argv)
{
	const char *ttl_s = NULL, *pos[2];
	int json = 0;
	char stmt[1024];
	struct ctl_target t;
	struct ctl_opt opts[] = {
		{"--ttl", 1, &ttl_s, NULL},
		{"--json", 0, NULL, &json},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 2, 2, NULL) != CTL_OK)
		return CTL_USAGE;
	int64_t ttl;
	if (!ctl_valid_name(pos[0]))
		return ctl_usage(c, "bad user name '%s'", pos[0]);
	if (ctl_target_parse(c, pos[1], &t) != CTL_OK || parse_ttl(c, ttl_s, &ttl) != CTL_OK)
		return CTL_USAGE;

	struct state *st = ctl_state(c);
	struct state_user u;
	struct state_account ac;
	struct state_asset a;
	if (!st || ctl_get_user(c, st, pos[0], &u) != CTL_OK ||
	    ctl_get_account(c, st, &t, &ac) != CTL_OK || ctl_get_asset(c, st, t.asset, &a) != CTL_OK)
		return CTL_FAIL;
	if (check_grant(c, st, u.id, ac.id, u.name, t.name) != CTL_OK)
		return CTL_FAIL;
	if (ctl_token_rules(c, st, u.id, ac.id, t.name, 0, ttl_s != NULL, &ttl) != CTL_OK)
		return CTL_FAIL;

	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	char tok[STATE_TOKEN_LEN + 1];
	int64_t id = 0, expires = (int64_t)c->now + ttl;
	if (state_token_issue(st, u.id, ac.id, c->now, expires, tok, &id) != STATE_OK)
		return ctl_db_fail(c, st, log);
	ctl_cmdline(c->verb, argc, argv, NULL, stmt, sizeof stmt);
	char obj[320];
	snprintf(obj, sizeof obj, "token:%lld,user:%s,account:%s", (long long)id, u.name, t.name);
	char err[512];
	if (ctl_audit_write(c, log, stmt, t.asset, t.account, obj, err, sizeof err) != 0) {
		int rr = state_token_revoke(st, id, c->now);
		sb_wipe(tok, sizeof tok);
		return ctl_fail(c, "audit log: %s; token %lld %s", err, (long long)id,
				rr == STATE_OK ? "revoked again, not shown"
					       : "not shown but NOT revoked: revoke it");
	}

	char when[40];
	if (json) {
		ctl_fmt_rfc3339(expires, when, sizeof when);
		printf("{\"token\":\"%s\",\"id\":%lld,\"expires\":\"%s\"}\n", tok, (long long)id, when);
	} else {
		ctl_fmt_time(expires, when, sizeof when);
		printf("%s\n", tok);
		printf("# token %lld: %s -> %s (%s), expires %s; shown once, it cannot be recovered\n",
		       (long long)id, u.name, t.name, a.protocol, when);
		/* --service names the database for postgres / mysql assets. */
		print_hints(c, a.protocol, u.name, a.service[0] ? a.service : CTL_DB_PLACEHOLDER);
		print_ssh_hints(c, &a, &ac, u.name,
				a.service[0] ? a.service : CTL_DB_PLACEHOLDER);
	}
	sb_wipe(tok, sizeof tok);
	return CTL_OK;
}

static const char *token_state(const struct state_token_info *t, time_t now)
{
	if (t->revoked_at)
		return "revoked";
	if (t->expires <= (int64_t)now)
		return "expired";
	return "active";
}

struct token_print {
	time_t now;
	int json;
};

static int print_token(void *ctx, const struct state_token_info *t)
{
	const struct token_print *tp = ctx;
	char target[140], created[40], expires[40], used[40];
	snprintf(target, sizeof target, "%s/%s", t->asset, t->account);
	if (tp->json) {
		char ju[140], ja[140], jc[140], rv[48], lu[48];
		ctl_json_str(t->user, ju, sizeof ju);
		ctl_json_str(t->asset, ja, sizeof ja);
		ctl_json_str(t->account, jc, sizeof jc);
		ctl_fmt_rfc3339(t->created, created, sizeof created);
		ctl_fmt_rfc3339(t->expires, expires, sizeof expires);
		ctl_json_time(t->revoked_at, rv, sizeof rv);
		ctl_json_time(t->last_used, lu, sizeof lu);
		printf("{\"id\":%lld,\"user\":%s,\"asset\":%s,\"account\":%s,\"created\":\"%s\","
		       "\"expires\":\"%s\",\"state\":\"%s\",\"revoked_at\":%s,\"last_used\":%s}\n",
		       (long long)t->id, ju, ja, jc, created, expires, token_state(t, tp->now), rv,
		       lu);
		return 0;
	}
	ctl_fmt_time(t->created, created, sizeof created);
	ctl_fmt_time(t->expires, expires, sizeof expires);
	ctl_fmt_time(t->last_used, used, sizeof used);
	printf("%-6lld %-20s %-32s %-19s  %-19s  %-8s %s\n", (long long)t->id, t->user, target,
	       created, expires, token_state(t, tp->now), used);
	return 0;
}

int ctl_token_list(struct ctl *c, int argc, char **argv)
{
	struct state *st;
	struct token_print tp = {.now = c->now};
	struct ctl_opt opts[] = {{"--json", 0, NULL, &tp.json}, {NULL, 0, NULL, NULL}};
	int rc = ctl_list_open(c, argc, argv, opts, &st);
	if (rc != CTL_OK)
		return rc;
	if (!tp.json)
		printf("%-6s %-20s %-32s %-19s  %-19s  %-8s %s\n", "ID", "USER", "ASSET/ACCOUNT",
		       "CREATED", "EXPIRES", "STATE", "LAST_USED");
	return ctl_state_result(c, st, state_token_list(st, print_token, &tp));
}

/* The token a renew (renewing = 1) or revoke names: open the state DB
 * (*st), look token id up (*t, and "ASSET/ACCOUNT" into target) and refuse
 * a revoked one. CTL_OK, or CTL_FAIL (printed). */
static int named_token(struct ctl *c, int64_t id, int renewing, struct state **st,
		       struct state_token_info *t, char target[140])
{
	*st = ctl_state(c);
	if (!*st || ctl_get_token(c, *st, id, t) != CTL_OK)
		return CTL_FAIL;
	if (t->revoked_at && renewing)
		return ctl_fail(c, "token %lld is revoked; issue a new one", (long long)id);
	if (t->revoked_at)
		return ctl_fail(c, "token %lld is already revoked", (long long)id);
	snprintf(target, 140, "%s/%s", t->asset, t->account);
	return CTL_OK;
}

int ctl_token_renew(struct ctl *c, int argc, char **argv)
{
	const char *ttl_s = NULL, *pos[1];
	char target[140], when[40];
	struct ctl_opt opts[] = {{"--ttl", 1, &ttl_s, NULL}, {NULL, 0, NULL, NULL}};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	int64_t id, ttl;
	if (ctl_parse_id(pos[0], &id) != 0)
		return ctl_usage(c, "bad token id '%s'", pos[0]);
	if (parse_ttl(c, ttl_s, &ttl) != CTL_OK)
		return CTL_USAGE;
	struct state *st;
	struct state_token_info t;
	if (named_token(c, id, 1, &st, &t, target) != CTL_OK ||
	    check_grant(c, st, t.user_id, t.account_id, t.user, target) != CTL_OK ||
	    ctl_token_rules(c, st, t.user_id, t.account_id, target, 1, ttl_s != NULL, &ttl) !=
		    CTL_OK)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int64_t expires = (int64_t)c->now + ttl;
	if (state_token_renew(st, id, expires) != STATE_OK)
		return ctl_db_fail(c, st, log);
	ctl_fmt_time(expires, when, sizeof when);
	printf("token %lld renewed: %s -> %s, expires %s\n", (long long)id, t.user, target, when);
	return ctl_record(c, log, argc, argv, NULL, t.asset, t.account,
			  "token:%lld,user:%s,account:%s", (long long)id, t.user, target);
}

int ctl_token_revoke(struct ctl *c, int argc, char **argv)
{
	const char *pos[1], *user = NULL;
	char target[140];
	int npos = 0;
	struct ctl_opt opts[] = {{"--user", 1, &user, NULL}, {NULL, 0, NULL, NULL}};
	if (ctl_args(c, argc, argv, opts, pos, 0, 1, &npos) != CTL_OK)
		return CTL_USAGE;
	if (user && npos == 0)
		return ctl_token_revoke_user(c, user, argc, argv);
	if (user || npos != 1)
		return ctl_usage(c, "give a token ID or --user USER");
	int64_t id;
	if (ctl_parse_id(pos[0], &id) != 0)
		return ctl_usage(c, "bad token id '%s'", pos[0]);
	struct state *st;
	struct state_token_info t;
	if (named_token(c, id, 0, &st, &t, target) != CTL_OK)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int r = state_token_revoke(st, id, c->now);
	if (r != STATE_OK)
		return ctl_state_fail(c, st, log, r, STATE_EXISTS, "token %lld is already revoked",
				      (long long)id);
	printf("token %lld revoked: %s -> %s\n", (long long)id, t.user, target);
	printf("# new logins with it fail now; its open sessions end within seconds\n");
	return ctl_record(c, log, argc, argv, NULL, t.asset, t.account,
			  "token:%lld,user:%s,account:%s", (long long)id, t.user, target);
}
