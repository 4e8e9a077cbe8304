/* Unit tests for proxy/auth: cleartext and SCRAM token checks (the proof
 * built here exactly as a client builds it) and every login rule: expiry,
 * revocation, protocol, source CIDRs (IPv4, IPv6, mapped), grant hours
 * (with wrap past midnight), grant expiry, strongest grant, session limit;
 * plus tables for auth_cidr_match and auth_hours_match. Times are UTC. */
#include "proxy/auth.h"
#include "proxy/state.h"
#include "unit.h"

#include <stdlib.h>
#include <time.h>

static char dir[64];
static struct state *st;
static time_t base; /* 2024-06-03 12:00:00 UTC, a Monday */

struct fixture {
	int64_t acc_pg, acc_my;
	char tok_ok[STATE_TOKEN_LEN + 1];      /* alice -> pg/app, write */
	char tok_expired[STATE_TOKEN_LEN + 1]; /* alice -> pg/app */
	char tok_revoked[STATE_TOKEN_LEN + 1];
	char tok_my[STATE_TOKEN_LEN + 1];      /* alice -> my/app, read */
	char tok_bob[STATE_TOKEN_LEN + 1];     /* bob -> pg/app, sources + limit */
	char tok_carol[STATE_TOKEN_LEN + 1];   /* carol: day hours */
	char tok_carol_n[STATE_TOKEN_LEN + 1]; /* carol: night hours (wrap) */
	char tok_dave[STATE_TOKEN_LEN + 1];    /* dave: grant past until */
	char tok_erin[STATE_TOKEN_LEN + 1];    /* erin: no grant */
	char tok_frank[STATE_TOKEN_LEN + 1];   /* frank: read always + admin 09-17 */
	char tok_old[STATE_TOKEN_LEN + 1];     /* alice: 40 days old, expired */
	char tok_old_active[STATE_TOKEN_LEN + 1]; /* alice: 40 days old, 90-day ttl */
	int64_t id_ok;
};
static struct fixture fx;

static int64_t add_user(const char *name, const char *sources, int max)
{
	int64_t id = 0;
	CHECK(state_user_add(st, name, sources, max, base - 86400, &id) == STATE_OK);
	return id;
}

static int64_t add_account(const char *asset, const char *proto, int port)
{
	struct state_asset a = {.port = port, .tls = ASSET_TLS_PREFER, .created = base};
	snprintf(a.name, sizeof a.name, "%s", asset);
	snprintf(a.protocol, sizeof a.protocol, "%s", proto);
	snprintf(a.host, sizeof a.host, "10.9.8.7");
	CHECK(state_asset_add(st, &a) == STATE_OK);
	int64_t id = 0;
	CHECK(state_account_add(st, a.id, "app", "app_db", STATE_SECRET_FILE, "/dev/null", base,
				&id) == STATE_OK);
	return id;
}

static void grant(int64_t user, int64_t acc, enum policy_level l, const char *hours,
		  int64_t until)
{
	int64_t id;
	CHECK(state_grant_add(st, user, acc, l, hours, until, base, &id) == STATE_OK);
}

static int64_t issue(int64_t user, int64_t acc, int64_t created, int64_t expires, char *tok)
{
	int64_t id = 0;
	CHECK(state_token_issue(st, user, acc, created, expires, tok, &id) == STATE_OK);
	return id;
}

static void setup(void)
{
	fx.acc_pg = add_account("pg", "postgres", 5432);
	fx.acc_my = add_account("my", "mysql", 3306);
	int64_t alice = add_user("alice", "", 0);
	int64_t bob = add_user("bob", "10.0.0.0/8, ::1/128", 2);
	int64_t carol = add_user("carol", "", 0);
	int64_t dave = add_user("dave", "", 0);
	int64_t erin = add_user("erin", "", 0);
	int64_t frank = add_user("frank", "", 0);
	grant(alice, fx.acc_pg, POLICY_LEVEL_WRITE, "", 0);
	grant(alice, fx.acc_my, POLICY_LEVEL_READ, "", 0);
	grant(bob, fx.acc_pg, POLICY_LEVEL_READ, "", 0);
	grant(carol, fx.acc_pg, POLICY_LEVEL_WRITE, "09:00-17:00", 0);
	grant(carol, fx.acc_my, POLICY_LEVEL_WRITE, "22:00-06:00", 0);
	grant(dave, fx.acc_pg, POLICY_LEVEL_WRITE, "", base - 60);
	grant(frank, fx.acc_pg, POLICY_LEVEL_READ, "", 0);
	grant(frank, fx.acc_pg, POLICY_LEVEL_ADMIN, "09:00-17:00", 0);
	int64_t h = 3600, d = 86400;
	fx.id_ok = issue(alice, fx.acc_pg, base - h, base + 8 * h, fx.tok_ok);
	issue(alice, fx.acc_pg, base - 9 * h, base - h, fx.tok_expired);
	int64_t rid = issue(alice, fx.acc_pg, base - h, base + 8 * h, fx.tok_revoked);
	CHECK(state_token_revoke(st, rid, base - 60) == STATE_OK);
	issue(alice, fx.acc_my, base - h, base + 8 * h, fx.tok_my);
	issue(bob, fx.acc_pg, base - h, base + 8 * h, fx.tok_bob);
	issue(carol, fx.acc_pg, base - h, base + 30 * d, fx.tok_carol);
	issue(carol, fx.acc_my, base - h, base + 30 * d, fx.tok_carol_n);
	issue(dave, fx.acc_pg, base - h, base + 8 * h, fx.tok_dave);
	issue(erin, fx.acc_pg, base - h, base + 8 * h, fx.tok_erin);
	issue(frank, fx.acc_pg, base - h, base + 30 * d, fx.tok_frank);
	issue(alice, fx.acc_pg, base - 40 * d, base - 39 * d, fx.tok_old);
	issue(alice, fx.acc_pg, base - 40 * d, base + 50 * d, fx.tok_old_active);
	(void)erin;
}

static int live_count;
static int live_cb(void *ctx, const char *user)
{
	(void)ctx;
	(void)user;
	return live_count;
}

static struct auth_login login(const char *user, const char *ip, const char *proto, time_t now)
{
	struct auth_login in = {
		.user = user,
		.client_ip = ip,
		.protocol = proto,
		.now = now,
		.live_sessions = live_cb,
	};
	return in;
}

static char reason[256];
static struct auth_target target;

static enum auth_status tok(const char *user, const char *token, const char *ip,
			    const char *proto, time_t now)
{
	struct auth_login in = login(user, ip, proto, now);
	reason[0] = '\0';
	return auth_check_token(st, &in, token, strlen(token), &target, reason, sizeof reason);
}

#define REFUSED(call, why)                                  \
	do {                                                \
		CHECK((call) == AUTH_REFUSED);              \
		CHECK_STR(reason, why);                     \
	} while (0)

static void test_cleartext(void)
{
	const char *pg = "postgres";
	CHECK(tok("alice", fx.tok_ok, "127.0.0.1", pg, base) == AUTH_OK);
	CHECK(target.token_id == fx.id_ok && target.account_id == fx.acc_pg);
	CHECK_STR(target.user, "alice");
	CHECK_STR(target.asset, "pg");
	CHECK_STR(target.protocol, "postgres");
	CHECK_STR(target.host, "10.9.8.7");
	CHECK(target.port == 5432 && target.tls == ASSET_TLS_PREFER);
	CHECK_STR(target.account, "app");
	CHECK_STR(target.db_username, "app_db");
	CHECK(target.level == POLICY_LEVEL_WRITE && target.max_sessions == 0);
	struct state_token_info ti;
	CHECK(state_token_get(st, fx.id_ok, &ti) == STATE_OK && ti.last_used == base);

	REFUSED(tok("alice", "sbt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "127.0.0.1", pg, base),
		"bad token");
	REFUSED(tok("alice", "", "127.0.0.1", pg, base), "bad token");
	REFUSED(tok("nobody", fx.tok_ok, "127.0.0.1", pg, base), "unknown user");
	REFUSED(tok("bob", fx.tok_ok, "10.1.1.1", pg, base), "bad token"); /* alice's token */
	REFUSED(tok("alice", fx.tok_expired, "127.0.0.1", pg, base), "token expired");
	CHECK_STR(target.asset, "pg"); /* identity kept for the audit record */
	REFUSED(tok("alice", fx.tok_revoked, "127.0.0.1", pg, base), "token revoked");
	REFUSED(tok("alice", fx.tok_ok, "127.0.0.1", "mysql", base),
		"asset protocol postgres does not match listener mysql");
	CHECK(tok("alice", fx.tok_my, "127.0.0.1", "mysql", base) == AUTH_OK);
	CHECK(target.level == POLICY_LEVEL_READ);
	/* The token's expiry is checked at the login's time. */
	REFUSED(tok("alice", fx.tok_ok, "127.0.0.1", pg, base + 8 * 3600), "token expired");
}

static void test_rules(void)
{
	const char *pg = "postgres";
	live_count = 0;
	/* Sources: 10.0.0.0/8 and ::1/128 */
	CHECK(tok("bob", fx.tok_bob, "10.1.2.3", pg, base) == AUTH_OK);
	CHECK(target.max_sessions == 2 && target.level == POLICY_LEVEL_READ);
	CHECK(tok("bob", fx.tok_bob, "::1", pg, base) == AUTH_OK);
	CHECK(tok("bob", fx.tok_bob, "::ffff:10.20.30.40", pg, base) == AUTH_OK);
	REFUSED(tok("bob", fx.tok_bob, "192.168.0.1", pg, base),
		"source 192.168.0.1 not allowed");
	REFUSED(tok("bob", fx.tok_bob, "::ffff:192.168.0.1", pg, base),
		"source ::ffff:192.168.0.1 not allowed");
	REFUSED(tok("bob", fx.tok_bob, "2001:db8::1", pg, base),
		"source 2001:db8::1 not allowed");
	REFUSED(tok("bob", fx.tok_bob, NULL, pg, base), "source (unknown) not allowed");
	CHECK(tok("alice", fx.tok_ok, NULL, pg, base) == AUTH_OK); /* no list: anywhere */

	/* Session limit 2 */
	live_count = 1;
	CHECK(tok("bob", fx.tok_bob, "10.1.2.3", pg, base) == AUTH_OK);
	live_count = 2;
	REFUSED(tok("bob", fx.tok_bob, "10.1.2.3", pg, base), "session limit 2 reached");
	live_count = -1;
	CHECK(tok("bob", fx.tok_bob, "10.1.2.3", pg, base) == AUTH_ERROR);
	live_count = 0;

	/* Hours 09:00-17:00 (base is 12:00) */
	CHECK(tok("carol", fx.tok_carol, "1.2.3.4", pg, base) == AUTH_OK);
	REFUSED(tok("carol", fx.tok_carol, "1.2.3.4", pg, base + 8 * 3600), "outside grant hours");
	REFUSED(tok("carol", fx.tok_carol, "1.2.3.4", pg, base - 4 * 3600), "outside grant hours");
	/* Hours 22:00-06:00 wrap past midnight */
	REFUSED(tok("carol", fx.tok_carol_n, "1.2.3.4", "mysql", base), "outside grant hours");
	CHECK(tok("carol", fx.tok_carol_n, "1.2.3.4", "mysql", base + 11 * 3600) == AUTH_OK);
	CHECK(tok("carol", fx.tok_carol_n, "1.2.3.4", "mysql", base + 15 * 3600) == AUTH_OK);
	REFUSED(tok("carol", fx.tok_carol_n, "1.2.3.4", "mysql", base + 18 * 3600),
		"outside grant hours");

	/* Grant past its until; no grant at all */
	REFUSED(tok("dave", fx.tok_dave, "1.2.3.4", pg, base), "grant expired");
	REFUSED(tok("erin", fx.tok_erin, "1.2.3.4", pg, base), "no grant");

	/* Strongest valid grant: admin inside 09-17, read outside */
	CHECK(tok("frank", fx.tok_frank, "1.2.3.4", pg, base) == AUTH_OK);
	CHECK(target.level == POLICY_LEVEL_ADMIN);
	CHECK(tok("frank", fx.tok_frank, "1.2.3.4", pg, base + 8 * 3600) == AUTH_OK);
	CHECK(target.level == POLICY_LEVEL_READ);

	/* auth_check_rules directly: unknown token id, wrong user */
	struct auth_login in = login("alice", "1.2.3.4", pg, base);
	REFUSED(auth_check_rules(st, &in, 99999, &target, reason, sizeof reason), "bad token");
	in.user = "bob";
	REFUSED(auth_check_rules(st, &in, fx.id_ok, &target, reason, sizeof reason), "bad token");
}

/* The client side of SCRAM-SHA-256 (RFC 5802 section 3). */
static void client_proof(const char *token, const uint8_t *salt, int iterations,
			 const char *am, uint8_t proof[32], uint8_t expect_sig[32])
{
	uint8_t salted[32], ck[32], sk[32], sig[32], srvk[32];
	CHECK(sb_pbkdf2_sha256(token, strlen(token), salt, SB_SCRAM_SALT_LEN, iterations,
			       salted) == 0);
	sb_hmac_sha256(salted, 32, "Client Key", 10, ck);
	sb_sha256(ck, 32, sk);
	sb_hmac_sha256(sk, 32, am, strlen(am), sig);
	for (int i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	sb_hmac_sha256(salted, 32, "Server Key", 10, srvk);
	sb_hmac_sha256(srvk, 32, am, strlen(am), expect_sig);
}

static enum auth_status scram(const char *user, const char *token, const char *proto,
			      time_t now, int check_sig)
{
	static const char am[] = "n=,r=abcdef,r=abcdefXYZ,s=c2FsdA==,i=4096,c=biws,r=abcdefXYZ";
	uint8_t salt[SB_SCRAM_SALT_LEN], proof[32], want[32], got[32];
	int iters = 0;
	CHECK(auth_scram_params(st, user, salt, &iters) == 0);
	CHECK(iters == SB_SCRAM_ITERATIONS);
	client_proof(token, salt, iters, am, proof, want);
	struct auth_login in = login(user, "127.0.0.1", proto, now);
	memset(got, 0, sizeof got);
	reason[0] = '\0';
	enum auth_status s = auth_check_scram(st, &in, am, strlen(am), proof, got, &target,
					      reason, sizeof reason);
	if (check_sig)
		CHECK(memcmp(got, want, 32) == 0);
	return s;
}

static void test_scram(void)
{
	const char *pg = "postgres";
	CHECK(scram("alice", fx.tok_ok, pg, base, 1) == AUTH_OK);
	CHECK(target.token_id == fx.id_ok && target.level == POLICY_LEVEL_WRITE);
	CHECK(scram("alice", fx.tok_my, "mysql", base, 1) == AUTH_OK);
	CHECK(target.account_id == fx.acc_my);
	REFUSED(scram("alice", "sbt_wrongwrongwrongwrongwrongwrong22", pg, base, 0), "bad token");
	REFUSED(scram("alice", fx.tok_expired, pg, base, 0), "token expired");
	REFUSED(scram("alice", fx.tok_revoked, pg, base, 0), "token revoked");
	REFUSED(scram("alice", fx.tok_ok, "tds", base, 0),
		"asset protocol postgres does not match listener tds");
	REFUSED(scram("bob", fx.tok_ok, pg, base, 0), "bad token"); /* another user's token */
	/* Older than the 30-day window and expired: not even tried. */
	REFUSED(scram("alice", fx.tok_old, pg, base, 0), "bad token");
	/* Old but still active: tried. */
	CHECK(scram("alice", fx.tok_old_active, pg, base, 1) == AUTH_OK);

	/* Unknown user: a salt all the same, stable per name, different
	 * between names, and the check fails with "unknown user". */
	uint8_t s1[16], s2[16], s3[16], ra[16], rb[16];
	int it;
	CHECK(auth_scram_params(st, "mallory", s1, &it) == 0 && it == SB_SCRAM_ITERATIONS);
	CHECK(auth_scram_params(st, "mallory", s2, &it) == 0);
	CHECK(auth_scram_params(st, "trudy", s3, &it) == 0);
	CHECK(memcmp(s1, s2, 16) == 0 && memcmp(s1, s3, 16) != 0);
	CHECK(auth_scram_params(st, "alice", ra, &it) == 0);
	CHECK(auth_scram_params(st, "bob", rb, &it) == 0);
	CHECK(memcmp(ra, rb, 16) != 0);
	REFUSED(scram("mallory", fx.tok_ok, pg, base, 0), "unknown user");
}

static void test_cidr_table(void)
{
	static const struct {
		const char *list, *ip;
		int want;
	} t[] = {
		{"", "1.2.3.4", 1},
		{NULL, "1.2.3.4", 1},
		{" , ", "1.2.3.4", 1},
		{"10.0.0.0/8", "10.1.2.3", 1},
		{"10.0.0.0/8", "11.0.0.1", 0},
		{"10.0.0.0/8,192.168.1.0/24", "192.168.1.77", 1},
		{"192.168.1.0/24", "192.168.2.1", 0},
		{"10.128.0.0/9", "10.127.255.255", 0},
		{"10.128.0.0/9", "10.128.0.1", 1},
		{"1.2.3.4", "1.2.3.4", 1},
		{"1.2.3.4", "1.2.3.5", 0},
		{"1.2.3.4/32", "1.2.3.4", 1},
		{"0.0.0.0/0", "8.8.8.8", 1},
		{"10.1.2.3/8", "10.200.0.1", 1}, /* host bits ignored */
		{"::1/128", "::1", 1},
		{"::1", "::1", 1},
		{"::1", "::2", 0},
		{"2001:db8::/32", "2001:db8:1::5", 1},
		{"2001:db8::/32", "2001:db9::1", 0},
		{"fe80::/10", "fe80::1%eth0", 1},
		{"::/0", "2001:db8::1", 1},
		{"::/0", "8.8.8.8", 0},              /* families do not mix */
		{"0.0.0.0/0", "2001:db8::1", 0},
		{"10.0.0.0/8", "::1", 0},
		{"10.0.0.0/8", "::ffff:10.2.3.4", 1}, /* mapped compares as IPv4 */
		{"10.0.0.0/8", "::ffff:11.2.3.4", 0},
		{"::ffff:10.0.0.0/104", "10.9.9.9", 1},
		{"::ffff:10.0.0.0/104", "::ffff:10.9.9.9", 1},
		{"::ffff:10.0.0.0/104", "11.9.9.9", 0},
		{" 10.0.0.0/8 , ::1/128 ", "::1", 1},
		{"10.0.0.0/8", "garbage", 0},
		{"10.0.0.0/8", "", 0},
		{"10.0.0.0/8", NULL, 0},
		{"10.0.0.0/33", "10.0.0.1", -1},
		{"::1/129", "::1", -1},
		{"10.0.0.0/", "10.0.0.1", -1},
		{"10.0.0.0/8x", "10.0.0.1", -1},
		{"10.0.0.0/-1", "10.0.0.1", -1},
		{"bogus", "10.0.0.1", -1},
		{"10.0.0.0/8,bogus", "10.0.0.1", -1}, /* bad whatever the address */
		{"10.0.0.0/8;1.2.3.4", "10.0.0.1", -1},
		{"::ffff:10.0.0.0/8", "10.0.0.1", -1},
		{"300.1.1.1/8", "10.0.0.1", -1},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int got = auth_cidr_match(t[i].list, t[i].ip);
		if (got != t[i].want)
			fprintf(stderr, "cidr case %zu: \"%s\" / \"%s\": got %d want %d\n", i,
				t[i].list ? t[i].list : "(null)", t[i].ip ? t[i].ip : "(null)",
				got, t[i].want);
		CHECK(got == t[i].want);
	}
}

static void test_hours_table(void)
{
	time_t day = base - 12 * 3600; /* 2024-06-03 00:00 UTC */
#define AT(h, m) (day + (h) * 3600 + (m) * 60)
	static const struct {
		const char *hours;
		int h, m, want;
	} t[] = {
		{"", 3, 0, 1},
		{"09:00-17:00", 12, 0, 1},
		{"09:00-17:00", 9, 0, 1},
		{"09:00-17:00", 8, 59, 0},
		{"09:00-17:00", 16, 59, 1},
		{"09:00-17:00", 17, 0, 0},
		{"22:00-06:00", 23, 0, 1},
		{"22:00-06:00", 22, 0, 1},
		{"22:00-06:00", 0, 0, 1},
		{"22:00-06:00", 3, 30, 1},
		{"22:00-06:00", 5, 59, 1},
		{"22:00-06:00", 6, 0, 0},
		{"22:00-06:00", 12, 0, 0},
		{"22:00-06:00", 21, 59, 0},
		{"00:00-24:00", 23, 59, 1},
		{"00:00-24:00", 0, 0, 1},
		{"23:30-00:30", 0, 15, 1},
		{"23:30-00:30", 0, 30, 0},
		{"9:00-17:00", 12, 0, -1},
		{"09:00-09:00", 12, 0, -1},
		{"25:00-26:00", 12, 0, -1},
		{"09:60-10:00", 12, 0, -1},
		{"09:00_17:00", 12, 0, -1},
		{"24:00-05:00", 12, 0, -1},
		{"09:00-24:01", 12, 0, -1},
		{"09:00-17:00x", 12, 0, -1},
		{"09:00-", 12, 0, -1},
		{"always", 12, 0, -1},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int got = auth_hours_match(t[i].hours, AT(t[i].h, t[i].m));
		if (got != t[i].want)
			fprintf(stderr, "hours case %zu: \"%s\" at %02d:%02d: got %d want %d\n",
				i, t[i].hours, t[i].h, t[i].m, got, t[i].want);
		CHECK(got == t[i].want);
	}
	CHECK(auth_hours_match(NULL, day) == 1);
#undef AT
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	struct tm tm = {.tm_year = 124, .tm_mon = 5, .tm_mday = 3, .tm_hour = 12};
	base = timegm(&tm);

	snprintf(dir, sizeof dir, "/tmp/sbtest-auth-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/state.db", dir);
	st = state_open(path, err, sizeof err);
	CHECK(st != NULL);
	if (st) {
		setup();
		test_cleartext();
		test_rules();
		test_scram();
		state_close(st);
	}
	test_cidr_table();
	test_hours_table();
	sb_wipe(&fx, sizeof fx);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return UNIT_DONE("auth");
}
