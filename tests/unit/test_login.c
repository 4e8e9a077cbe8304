/* Unit tests for proxy/login: the core's login services without a server.
 *
 * A session is built by hand around a real state DB and a real audit log
 * in a temporary directory, with a test protocol descriptor that records
 * what the login tail asked it to tell the client. Covered: the user name
 * as sent; token, SCRAM (both ends of the exchange built with the codec's
 * own client and server halves) and verifier-walk checks, including that a
 * miss with a later step counts no lockout failure and that a lock looks
 * like a wrong token; refusals audited with their reason while the client
 * hears only the generic kind, and nothing twice on an ending session; an
 * identity authenticated elsewhere taken without a password; the login
 * record, and the refusal when the audit log is down; the hosted secret
 * fetched for the backend start and wiped after. */
#include "proxy/login.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "protocols/mysql/my_auth.h"
#include "protocols/mysql/my_codec.h"
#include "protocols/pgsql/pg_scram.h"
#include "proxy/identity.h"
#include "proxy/proxy.h"
#include "proxy/secret.h"
#include "proxy/session.h"
#include "proxy/state.h"
#include "unit.h"

static char dir[64], audit_path[128];
static struct sb_proxy px;
static int64_t now_s;

/* What the tail told the client through the descriptor. */
struct told {
	int n;
	enum login_refusal kind;
	char reason[320];
};

static void on_refused(struct session *s, void *state, enum login_refusal kind,
		       const char *reason)
{
	struct told *t = state;
	t->n++;
	t->kind = kind;
	snprintf(t->reason, sizeof t->reason, "%s", reason);
	s->close_after_flush = 1; /* as a frontend's fatal error does */
}

static const struct protocol pg_test = {.name = "postgres", .login_refused = on_refused};
static const struct protocol my_test = {.name = "mysql", .login_refused = on_refused};

static struct {
	char pg[STATE_TOKEN_LEN + 1];   /* alice -> pg/app, write */
	char my[STATE_TOKEN_LEN + 1];   /* alice -> my/app, read */
	char nosecret[STATE_TOKEN_LEN + 1]; /* bob -> pg/gone, secret file missing */
} tok;

static void new_session(struct session *s, struct told *t, const struct protocol *p)
{
	memset(s, 0, sizeof *s);
	memset(t, 0, sizeof *t);
	s->px = &px;
	s->proto = p;
	s->pstate = t;
	s->id = 7;
	s->ident.session = 7;
	s->ident.entry = IDENTITY_ENTRY_DIRECT;
	s->ident.protocol = p->name;
	snprintf(s->ident.client_ip, sizeof s->ident.client_ip, "10.1.2.3");
	snprintf(s->ident.client_addr, sizeof s->ident.client_addr, "10.1.2.3:5555");
}

/* The audit file's contents (static buffer). */
static const char *audit_text(void)
{
	static char buf[65536];
	FILE *f = fopen(audit_path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static int audit_has(const char *needle)
{
	return strstr(audit_text(), needle) != NULL;
}

/* A fresh session of protocol p where user logs in with token through
 * the checks and the tail's verdict (login_checked). Returns its result. */
static int log_in(struct session *s, struct told *t, struct login *l, const struct protocol *p,
		  const char *user, const char *token)
{
	char reason[256] = "";
	new_session(s, t, p);
	memset(l, 0, sizeof *l);
	CHECK(login_set_user(l, user) == 0);
	enum auth_status st = login_check_token(s, l, token, strlen(token), reason, sizeof reason);
	return login_checked(s, l, st, reason);
}

static int64_t add_account(const char *asset, const char *proto, const char *secret_file)
{
	struct state_asset a = {.port = 1, .tls = ASSET_TLS_DISABLE, .created = now_s};
	snprintf(a.name, sizeof a.name, "%s", asset);
	snprintf(a.protocol, sizeof a.protocol, "%s", proto);
	snprintf(a.host, sizeof a.host, "127.0.0.1");
	CHECK(state_asset_add(px.state, &a) == STATE_OK);
	int64_t id = 0;
	CHECK(state_account_add(px.state, a.id, "app", "app_db", STATE_SECRET_FILE, secret_file,
				now_s, &id) == STATE_OK);
	return id;
}

static void setup(void)
{
	char secret[160], missing[160];
	snprintf(secret, sizeof secret, "%s/secret", dir);
	snprintf(missing, sizeof missing, "%s/no-such-secret", dir);
	FILE *f = fopen(secret, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("hosted-pw\n", f);
		fclose(f);
	}
	int64_t pg = add_account("pg", "postgres", secret);
	int64_t my = add_account("my", "mysql", secret);
	int64_t gone = add_account("gone", "postgres", missing);
	int64_t alice = 0, bob = 0, id = 0;
	CHECK(state_user_add(px.state, "alice", "", 0, now_s - 60, &alice) == STATE_OK);
	CHECK(state_user_add(px.state, "bob", "", 0, now_s - 60, &bob) == STATE_OK);
	CHECK(state_grant_add(px.state, alice, pg, POLICY_LEVEL_WRITE, "", 0, now_s, &id) ==
	      STATE_OK);
	CHECK(state_grant_add(px.state, alice, my, POLICY_LEVEL_READ, "", 0, now_s, &id) ==
	      STATE_OK);
	CHECK(state_grant_add(px.state, bob, gone, POLICY_LEVEL_READ, "", 0, now_s, &id) ==
	      STATE_OK);
	CHECK(state_token_issue(px.state, alice, pg, now_s - 60, now_s + 3600, tok.pg, &id) ==
	      STATE_OK);
	CHECK(state_token_issue(px.state, alice, my, now_s - 60, now_s + 3600, tok.my, &id) ==
	      STATE_OK);
	CHECK(state_token_issue(px.state, bob, gone, now_s - 60, now_s + 3600, tok.nosecret,
				&id) == STATE_OK);
}

static void test_user(void)
{
	struct login l = {0};
	CHECK(login_set_user(&l, "alice") == 0);
	CHECK_STR(l.user, "alice");
	CHECK(l.user_set);
	char longname[100];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK(login_set_user(&l, longname) == -1);
	CHECK(strlen(l.user) == sizeof l.user - 1); /* truncated, for the audit */
}

static void test_token(void)
{
	struct session s;
	struct told t;
	struct login l = {0};
	char reason[256] = "";
	new_session(&s, &t, &pg_test);
	CHECK(login_set_user(&l, "alice") == 0);
	CHECK(login_check_token(&s, &l, tok.pg, strlen(tok.pg), reason, sizeof reason) == AUTH_OK);
	CHECK(!s.ident.logged_in); /* the check alone does not log in */
	CHECK(log_in(&s, &t, &l, &pg_test, "alice", tok.pg) == 0);
	CHECK_STR(s.ident.target.asset, "pg");
	CHECK_STR(s.ident.target.db_username, "app_db");
	CHECK(s.ident.target.level == POLICY_LEVEL_WRITE);
	CHECK(s.ident.logged_in);
	CHECK(t.n == 0);

	/* a wrong token: refused, audited with the reason, the client told
	 * only "auth refused" */
	CHECK(log_in(&s, &t, &l, &pg_test, "alice", "not-a-token") == -1);
	CHECK(t.n == 1 && t.kind == LOGIN_REFUSE_AUTH);
	CHECK_STR(t.reason, "bad token");
	CHECK(!s.ident.logged_in);
	CHECK(audit_has("\"event\":\"login_failed\""));
	CHECK(audit_has("\"error\":\"bad token\""));
	CHECK(audit_has("\"user\":\"alice\""));

	/* the session is ending already: no second refusal, no second record */
	size_t before = strlen(audit_text());
	login_refuse(&s, &l, "second reason");
	CHECK(t.n == 1);
	CHECK(strlen(audit_text()) == before);

	/* a token of another protocol's asset is refused on this listener */
	CHECK(log_in(&s, &t, &l, &pg_test, "alice", tok.my) == -1);
	CHECK(strstr(t.reason, "protocol") != NULL);
}

static void test_scram(void)
{
	struct session s;
	struct told t;
	struct login l = {0};
	struct pg_scram_client cl;
	struct pg_scram_server sv;
	char cfirst[PG_SCRAM_MSG_MAX], cfinal[PG_SCRAM_MSG_MAX], vmsg[128], err[160];
	char reason[256] = "";
	uint8_t salt[SB_SCRAM_SALT_LEN], proof[SB_SHA256_LEN], sig[SB_SHA256_LEN];
	int iterations = 0;
	new_session(&s, &t, &pg_test);
	CHECK(login_set_user(&l, "alice") == 0);
	memset(&cl, 0, sizeof cl);
	memset(&sv, 0, sizeof sv);
	int n = pg_scram_client_first(&cl, cfirst, sizeof cfirst);
	CHECK(n > 0);
	CHECK(login_scram_params(&s, &l, salt, &iterations) == 0);
	CHECK(iterations >= 4096);
	CHECK(pg_scram_server_first(&sv, cfirst, (size_t)n, salt, sizeof salt, iterations, err,
				    sizeof err) == 0);
	int fl = pg_scram_client_final(&cl, tok.pg, sv.server_first, strlen(sv.server_first),
				       cfinal, sizeof cfinal, err, sizeof err);
	CHECK(fl > 0);
	CHECK(pg_scram_server_final(&sv, cfinal, (size_t)fl, proof, err, sizeof err) == 0);
	enum auth_status st = login_check_scram(&s, &l, sv.auth_message, sv.auth_message_len,
						proof, sig, reason, sizeof reason);
	CHECK(st == AUTH_OK);
	CHECK_STR(s.ident.target.asset, "pg");
	int vl = pg_scram_server_final_message(sig, vmsg, sizeof vmsg);
	CHECK(vl > 0);
	CHECK(pg_scram_client_verify(&cl, vmsg, (size_t)vl) == 0); /* the client trusts us */

	/* a forged proof */
	proof[0] ^= 1;
	new_session(&s, &t, &pg_test);
	st = login_check_scram(&s, &l, sv.auth_message, sv.auth_message_len, proof, sig, reason,
			       sizeof reason);
	CHECK(st == AUTH_REFUSED);

	/* an unknown user gets a salt too, the same one each time */
	uint8_t s1[SB_SCRAM_SALT_LEN], s2[SB_SCRAM_SALT_LEN];
	struct login u = {0};
	CHECK(login_set_user(&u, "nobody") == 0);
	CHECK(login_scram_params(&s, &u, s1, &iterations) == 0);
	CHECK(login_scram_params(&s, &u, s2, &iterations) == 0);
	CHECK(memcmp(s1, s2, sizeof s1) == 0);
}

/* The MySQL native-password walk: the response made from the token and
 * our scramble, checked against each verifier. */
struct native_try {
	uint8_t scramble[MY_SCRAMBLE_LEN];
	uint8_t resp[MY_NATIVE_LEN];
};

static int native_match(void *ctx, const uint8_t native[SB_SHA1_LEN],
			const uint8_t sha2[SB_SHA256_LEN])
{
	const struct native_try *k = ctx;
	(void)sha2;
	return my_native_verify(native, k->scramble, k->resp);
}

static enum auth_status walk(struct session *s, struct login *l, const char *token,
			     int more_steps, int *no_match, char *reason, size_t rl)
{
	struct native_try k;
	for (size_t i = 0; i < sizeof k.scramble; i++)
		k.scramble[i] = (uint8_t)(i * 7 + 1);
	CHECK(my_native_scramble(token, strlen(token), k.scramble, k.resp) == MY_NATIVE_LEN);
	reason[0] = '\0';
	return login_check_verifiers(s, l, native_match, &k, more_steps, no_match, reason, rl);
}

static void test_verifiers(void)
{
	struct session s;
	struct told t;
	struct login l = {0};
	char reason[256];
	int no_match = -1;
	new_session(&s, &t, &my_test);
	CHECK(login_set_user(&l, "alice") == 0);
	CHECK(walk(&s, &l, tok.my, 0, &no_match, reason, sizeof reason) == AUTH_OK);
	CHECK(no_match == 0);
	CHECK_STR(s.ident.target.asset, "my");
	CHECK(s.ident.target.level == POLICY_LEVEL_READ);

	CHECK(walk(&s, &l, "wrong", 0, &no_match, reason, sizeof reason) == AUTH_REFUSED);
	CHECK(no_match == 1);
	CHECK_STR(reason, "bad token");

	struct login nobody = {0};
	CHECK(login_set_user(&nobody, "nobody") == 0);
	CHECK(walk(&s, &nobody, "wrong", 0, &no_match, reason, sizeof reason) == AUTH_REFUSED);
	CHECK(no_match == 1);
	CHECK_STR(reason, "unknown user");

	/* Lockout after 2 failures (from another address, so the lock stays
	 * out of the other tests). Misses with a later step to come count
	 * nothing: the good token still gets in after many of them. */
	snprintf(s.ident.client_ip, sizeof s.ident.client_ip, "10.9.9.9");
	px.cfg.lockout = (struct auth_lockout_conf){.failures = 2, .window = 900,
						    .lock_time = 600, .max_lock_time = 600};
	for (int i = 0; i < 4; i++) {
		CHECK(walk(&s, &l, "wrong", 1, &no_match, reason, sizeof reason) == AUTH_REFUSED);
		CHECK(no_match == 1);
	}
	CHECK(walk(&s, &l, tok.my, 0, &no_match, reason, sizeof reason) == AUTH_OK);
	/* counted misses lock the pair; then the right token looks wrong */
	CHECK(walk(&s, &l, "wrong", 0, &no_match, reason, sizeof reason) == AUTH_REFUSED);
	CHECK(walk(&s, &l, "wrong", 0, &no_match, reason, sizeof reason) == AUTH_REFUSED);
	CHECK(walk(&s, &l, tok.my, 0, &no_match, reason, sizeof reason) == AUTH_REFUSED);
	CHECK(no_match == 1);
	CHECK(strncmp(reason, "locked out", 10) == 0);
	/* and with a later step the lock also takes the wrong-token path */
	CHECK(walk(&s, &l, tok.my, 1, &no_match, reason, sizeof reason) == AUTH_REFUSED);
	CHECK(no_match == 1);
	px.cfg.lockout = (struct auth_lockout_conf){0};
}

static void test_identity_elsewhere(void)
{
	struct session s, s2;
	struct told t, t2;
	struct login l = {0}, l2 = {0};
	CHECK(log_in(&s, &t, &l, &pg_test, "alice", tok.pg) == 0);

	/* what an SSH entry would hand over: authenticated by its own check */
	struct identity who = {.session = 99, .entry = "ssh", .protocol = "postgres", .logged_in = 1};
	who.target = s.ident.target;
	snprintf(who.database, sizeof who.database, "appdb");

	new_session(&s2, &t2, &pg_test);
	CHECK(login_set_identity(&s2, &l2, &who) == 0);
	CHECK(s2.ident.logged_in);
	CHECK_STR(s2.ident.target.asset, "pg");
	CHECK_STR(s2.ident.database, "appdb");
	CHECK_STR(l2.user, "alice");
	CHECK(s2.ident.session == 7); /* the session keeps its own id */
	CHECK(t2.n == 0);

	/* refused: not authenticated, another protocol, a target of another protocol */
	struct identity bad = who;
	bad.logged_in = 0;
	new_session(&s2, &t2, &pg_test);
	CHECK(login_set_identity(&s2, &l2, &bad) == -1);
	CHECK(!s2.ident.logged_in);
	bad = who;
	bad.protocol = "mysql";
	CHECK(login_set_identity(&s2, &l2, &bad) == -1);
	bad = who;
	snprintf(bad.target.protocol, sizeof bad.target.protocol, "mysql");
	CHECK(login_set_identity(&s2, &l2, &bad) == -1);
	CHECK(!s2.ident.logged_in);
}

static void test_complete(void)
{
	struct session s;
	struct told t;
	struct login l = {0};
	CHECK(log_in(&s, &t, &l, &pg_test, "alice", tok.pg) == 0);
	l.secret = calloc(1, SB_SECRET_MAX); /* as login_start_backend makes it */
	CHECK(l.secret != NULL);
	if (l.secret)
		snprintf(l.secret, SB_SECRET_MAX, "hosted-pw");
	CHECK(login_complete(&s, &l, NULL) == 0);
	CHECK(s.login_audited);
	CHECK(l.secret == NULL); /* wiped once the backend let us in */
	CHECK(audit_has("\"event\":\"login\""));
	CHECK(audit_has("\"asset\":\"pg\""));

	/* the audit log is down and on_failure = close: the login is refused */
	struct audit_log *log = px.audit;
	px.audit = NULL;
	px.cfg.audit_on_failure = AUDIT_FAIL_CLOSE;
	CHECK(log_in(&s, &t, &l, &pg_test, "alice", tok.pg) == 0);
	CHECK(login_complete(&s, &l, NULL) == -1);
	CHECK(t.n == 1 && t.kind == LOGIN_REFUSE_AUDIT);
	CHECK(!s.ident.logged_in);
	CHECK(!s.login_audited);
	px.audit = log;
}

static void test_start_backend(void)
{
	struct session s;
	struct told t;
	struct login l = {0};
	px.base = event_base_new();
	CHECK(px.base != NULL);

	/* the secret cannot be read: refused, the reason only in the audit */
	CHECK(log_in(&s, &t, &l, &pg_test, "bob", tok.nosecret) == 0);
	CHECK(login_start_backend(&s, &l) == -1);
	CHECK(t.n == 1 && t.kind == LOGIN_REFUSE_AUTH);
	CHECK(strncmp(t.reason, "hosted secret unavailable", 25) == 0);
	CHECK(audit_has("hosted secret unavailable"));
	CHECK(!audit_has("hosted-pw"));
	login_free(&l);
	CHECK(l.secret == NULL);

	/* fetched: held for the backend login, connecting */
	struct login l2;
	CHECK(log_in(&s, &t, &l2, &pg_test, "alice", tok.pg) == 0);
	CHECK(login_start_backend(&s, &l2) == 0);
	CHECK(t.n == 0);
	CHECK(l2.secret && strcmp(l2.secret, "hosted-pw") == 0);
	CHECK(s.backend != NULL);
	login_wipe_secret(&l2);
	CHECK(l2.secret == NULL);
	login_free(&l2);
	if (s.backend)
		bufferevent_free(s.backend);
	event_base_free(px.base);
	px.base = NULL;
}

/* The state DB and the audit log in a fresh temporary directory. */
static int open_stores(void)
{
	char path[256], err[256];
	snprintf(dir, sizeof dir, "/tmp/sbtest-login-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(path, sizeof path, "%s/state.db", dir);
	snprintf(audit_path, sizeof audit_path, "%s/audit.jsonl", dir);
	px.state = state_open(path, err, sizeof err);
	px.audit = px.state ? audit_open(audit_path, NULL, err, sizeof err) : NULL;
	if (!px.audit)
		fprintf(stderr, "%s\n", err);
	return px.audit ? 0 : -1;
}

int main(void)
{
	now_s = (int64_t)time(NULL);
	int ok = open_stores() == 0;
	CHECK(ok);
	if (ok) {
		setup();
		test_user();
		test_token();
		test_scram();
		test_verifiers();
		test_identity_elsewhere();
		test_complete();
		test_start_backend();
	}
	if (px.audit)
		audit_close(px.audit);
	if (px.state)
		state_close(px.state);
	sb_wipe(&tok, sizeof tok);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (dir[0] && system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return UNIT_DONE("login");
}
