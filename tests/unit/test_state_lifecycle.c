/* Unit tests for proxy/state_lifecycle.c and proxy/auth_lifecycle.c: the
 * idempotent schema step, disable / update / remove with their cascades,
 * grant token rules, the re-check's named causes, and the lockout counters
 * (thresholds, per-source ceiling, back-off, success reset, persistence
 * across connections). */
#include "proxy/auth.h"
#include "proxy/state.h"
#include "unit.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];

static struct state *open_state(const char *path)
{
	char err[256];
	struct state *st = state_open(path, err, sizeof err);
	if (!st)
		fprintf(stderr, "state_open: %s\n", err);
	return st;
}

static int has_column(const char *path, const char *table, const char *col)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	char sql[128];
	int found = 0;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW)
			if (strcmp((const char *)sqlite3_column_text(s, 1), col) == 0)
				found = 1;
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return found;
}

/* A v2 file: users + grants without the new columns, no lockouts table. */
static void make_v2(const char *path)
{
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db,
		     "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
		     " sources TEXT NOT NULL DEFAULT '', max_sessions INTEGER NOT NULL DEFAULT 0,"
		     " scram_salt BLOB NOT NULL, created INTEGER NOT NULL);"
		     "CREATE TABLE assets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
		     " protocol TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,"
		     " tls TEXT NOT NULL DEFAULT 'prefer', service TEXT NOT NULL DEFAULT '',"
		     " created INTEGER NOT NULL);"
		     "CREATE TABLE accounts (id INTEGER PRIMARY KEY, asset_id INTEGER NOT NULL"
		     " REFERENCES assets (id) ON DELETE CASCADE, name TEXT NOT NULL,"
		     " username TEXT NOT NULL, secret_kind TEXT NOT NULL, secret_blob BLOB,"
		     " secret_ref TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,"
		     " UNIQUE (asset_id, name));"
		     "CREATE TABLE grants (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL"
		     " REFERENCES users (id) ON DELETE CASCADE, account_id INTEGER NOT NULL"
		     " REFERENCES accounts (id) ON DELETE CASCADE, level TEXT NOT NULL,"
		     " hours TEXT NOT NULL DEFAULT '', until INTEGER, created INTEGER NOT NULL);"
		     "CREATE TABLE tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER"
		     " NOT NULL REFERENCES users (id) ON DELETE CASCADE, account_id INTEGER NOT"
		     " NULL REFERENCES accounts (id) ON DELETE CASCADE, created INTEGER NOT NULL,"
		     " expires INTEGER NOT NULL, revoked_at INTEGER, scram_iterations INTEGER NOT"
		     " NULL, scram_stored_key BLOB NOT NULL, scram_server_key BLOB NOT NULL,"
		     " sha256 BLOB NOT NULL UNIQUE, mysql_native BLOB NOT NULL, mysql_sha2 BLOB"
		     " NOT NULL, last_used INTEGER);"
		     "CREATE TABLE approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT);"
		     "INSERT INTO users VALUES (1, 'old', '', 0, zeroblob(16), 1);"
		     "PRAGMA user_version = 2;",
		     NULL, NULL, NULL);
	sqlite3_close(db);
}

static void test_migration(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/v2.db", dir);
	make_v2(path);
	CHECK(has_column(path, "users", "disabled") == 0);
	struct state *st = open_state(path);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(has_column(path, "users", "disabled") == 1);
	CHECK(has_column(path, "grants", "max_ttl") == 1);
	CHECK(has_column(path, "grants", "renewable") == 1);
	CHECK(has_column(path, "lockouts", "locked_until") == 1);
	int dis = -1;
	CHECK(state_user_disabled(st, 1, &dis) == STATE_OK && dis == 0);
	state_close(st);
	/* idempotent: a second open (and a second process) adds nothing */
	st = open_state(path);
	CHECK(st != NULL);
	state_close(st);
}

struct fixture {
	struct state *st;
	int64_t alice, bob, asset_id, acc, grant, tok;
	time_t now; /* when the fixture was made: tests reason from it, not from a
		       later clock reading a second boundary may separate */
};

static void setup(struct fixture *f, const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s.db", dir, name);
	memset(f, 0, sizeof *f);
	f->st = open_state(path);
	struct state_asset a = {.port = 5432, .tls = ASSET_TLS_DISABLE, .created = 1};
	snprintf(a.name, sizeof a.name, "pg1");
	snprintf(a.protocol, sizeof a.protocol, "postgres");
	snprintf(a.host, sizeof a.host, "127.0.0.1");
	char tok[STATE_TOKEN_LEN + 1];
	time_t now = f->now = time(NULL);
	CHECK(state_user_add(f->st, "alice", "", 0, now, &f->alice) == STATE_OK);
	CHECK(state_user_add(f->st, "bob", "", 0, now, &f->bob) == STATE_OK);
	CHECK(state_asset_add(f->st, &a) == STATE_OK);
	f->asset_id = a.id;
	CHECK(state_account_add(f->st, a.id, "app", "app", STATE_SECRET_CMD, "echo x", now,
				&f->acc) == STATE_OK);
	CHECK(state_grant_add(f->st, f->alice, f->acc, POLICY_LEVEL_WRITE, "", 0, now,
			      &f->grant) == STATE_OK);
	CHECK(state_token_issue(f->st, f->alice, f->acc, now, now + 3600, tok, &f->tok) ==
	      STATE_OK);
}

static void target_of(struct fixture *f, struct auth_target *t)
{
	memset(t, 0, sizeof *t);
	t->level = POLICY_LEVEL_WRITE; /* as logged in under the fixture's grant */
	t->token_id = f->tok;
	t->user_id = f->alice;
	snprintf(t->user, sizeof t->user, "alice");
	t->asset_id = f->asset_id;
	t->account_id = f->acc;
	snprintf(t->protocol, sizeof t->protocol, "postgres");
}

static const char *recheck(struct fixture *f, time_t now, int64_t *vu)
{
	static char reason[200];
	struct auth_target t;
	int64_t v = 0;
	target_of(f, &t);
	reason[0] = '\0';
	enum auth_status s = auth_recheck(f->st, &t, "127.0.0.1", now, &v, reason, sizeof reason);
	if (vu)
		*vu = v;
	return s == AUTH_OK ? "ok" : s == AUTH_REFUSED ? reason : "error";
}

static void test_recheck_causes(void)
{
	struct fixture f;
	int64_t vu = 0;

	setup(&f, "causes");
	time_t now = f.now;
	CHECK_STR(recheck(&f, now, &vu), "ok");
	CHECK(vu == (int64_t)now + 3600); /* the token's expiry */
	CHECK_STR(recheck(&f, now + 3600, NULL), "token expired");
	CHECK(state_user_set_disabled(f.st, "alice", 1) == STATE_OK);
	CHECK(state_user_set_disabled(f.st, "alice", 1) == STATE_EXISTS);
	CHECK_STR(recheck(&f, now, NULL), "user disabled");
	CHECK(state_user_set_disabled(f.st, "alice", 0) == STATE_OK);
	CHECK_STR(recheck(&f, now, NULL), "ok");
	CHECK(state_user_update(f.st, "alice", "10.0.0.0/8", -1) == STATE_OK);
	CHECK_STR(recheck(&f, now, NULL), "source 127.0.0.1 not allowed");
	CHECK(state_user_update(f.st, "alice", "", 3) == STATE_OK);
	CHECK_STR(recheck(&f, now, NULL), "ok");
	CHECK(state_grant_revoke(f.st, f.grant) == STATE_OK);
	CHECK(state_grant_revoke(f.st, f.grant) == STATE_NOT_FOUND);
	CHECK_STR(recheck(&f, now, NULL), "grant revoked");
	int64_t g2;
	CHECK(state_grant_add(f.st, f.alice, f.acc, POLICY_LEVEL_READ, "", now + 10, now, &g2) ==
	      STATE_OK);
	/* the session logged in at write; only read is granted now */
	CHECK_STR(recheck(&f, now, &vu), "grant changed: write no longer granted (now read)");
	int64_t g3;
	CHECK(state_grant_add(f.st, f.alice, f.acc, POLICY_LEVEL_WRITE, "", now + 10, now, &g3) ==
	      STATE_OK);
	CHECK(state_grant_revoke(f.st, g2) == STATE_OK);
	CHECK_STR(recheck(&f, now, &vu), "ok");
	CHECK(vu == (int64_t)now + 10); /* the grant's until comes first */
	CHECK_STR(recheck(&f, now + 10, NULL), "grant expired");
	int n = 0;
	CHECK(state_token_revoke_user(f.st, f.alice, now, &n) == STATE_OK && n == 1);
	CHECK_STR(recheck(&f, now, NULL), "token revoked");
	state_close(f.st);

	setup(&f, "removed_user");
	int grants = -1, tokens = -1;
	CHECK(state_user_remove(f.st, "alice", &grants, &tokens) == STATE_OK);
	CHECK(grants == 1 && tokens == 1);
	CHECK_STR(recheck(&f, now, NULL), "user removed");
	CHECK(state_user_remove(f.st, "alice", NULL, NULL) == STATE_NOT_FOUND);
	state_close(f.st);

	setup(&f, "removed_asset");
	CHECK(state_asset_remove(f.st, "pg1", 0, &grants) == STATE_REFUSED && grants == 1);
	CHECK_STR(recheck(&f, now, NULL), "ok");
	CHECK(state_asset_remove(f.st, "pg1", 1, &grants) == STATE_OK);
	CHECK_STR(recheck(&f, now, NULL), "asset removed");
	state_close(f.st);

	setup(&f, "removed_account");
	CHECK(state_account_remove(f.st, f.acc, &grants, &tokens) == STATE_OK);
	CHECK_STR(recheck(&f, now, NULL), "account removed");
	state_close(f.st);
}

static void test_token_rules(void)
{
	struct fixture f;
	int64_t max_ttl = -1;
	int renewable = -1;
	setup(&f, "rules");
	time_t now = f.now;
	CHECK(state_token_rules_for(f.st, f.alice, f.acc, now, &max_ttl, &renewable) == STATE_OK);
	CHECK(max_ttl == 0 && renewable == 1);
	CHECK(state_grant_set_token_rules(f.st, f.grant, 3600, 0) == STATE_OK);
	CHECK(state_token_rules_for(f.st, f.alice, f.acc, now, &max_ttl, &renewable) == STATE_OK);
	CHECK(max_ttl == 3600 && renewable == 0);
	int64_t g2;
	CHECK(state_grant_add(f.st, f.alice, f.acc, POLICY_LEVEL_READ, "", 0, now, &g2) ==
	      STATE_OK);
	CHECK(state_grant_set_token_rules(f.st, g2, 7200, 0) == STATE_OK);
	CHECK(state_token_rules_for(f.st, f.alice, f.acc, now, &max_ttl, &renewable) == STATE_OK);
	CHECK(max_ttl == 7200 && renewable == 0); /* the most permissive */
	CHECK(state_token_rules_for(f.st, f.bob, f.acc, now, &max_ttl, &renewable) ==
	      STATE_NOT_FOUND);
	state_close(f.st);
}

static int lock_rows(void *ctx, const struct state_lockout *l)
{
	(void)l;
	(*(int *)ctx)++;
	return 0;
}

static void test_lockout(void)
{
	struct fixture f;
	char reason[200];
	time_t now = 1700000000;
	struct auth_lockout_conf conf = {.failures = 3, .source_failures = 5, .window = 100,
					 .lock_time = 60, .max_lock_time = 200};
	setup(&f, "lockout");
	struct auth_login a1 = {.user = "alice", .client_ip = "10.0.0.1", .now = now,
				.lockout = &conf};
	struct auth_login a2 = a1;
	a2.client_ip = "10.0.0.2";

	for (int i = 0; i < 2; i++)
		auth_lockout_failed(f.st, &a1);
	CHECK(auth_lockout_check(f.st, &a1, reason, sizeof reason) == 0);
	auth_lockout_failed(f.st, &a1);
	CHECK(auth_lockout_check(f.st, &a1, reason, sizeof reason) == 1);
	CHECK(strstr(reason, "locked out: user from 10.0.0.1") != NULL);
	CHECK(auth_lockout_check(f.st, &a2, reason, sizeof reason) == 0); /* other source */
	/* locked attempts are not counted: the lock does not grow */
	struct state_lockout l;
	auth_lockout_failed(f.st, &a1);
	CHECK(state_lockout_get(f.st, "alice", "10.0.0.1", &l) == STATE_OK);
	CHECK(l.locked_until == now + 60 && l.locks == 1 && l.failures == 0);
	/* persisted: a second connection (a restarted daemon) sees the lock */
	char path[128];
	snprintf(path, sizeof path, "%s/lockout.db", dir);
	struct state *st2 = open_state(path);
	CHECK(auth_lockout_check(st2, &a1, reason, sizeof reason) == 1);
	state_close(st2);
	/* ended; the next lock in a row doubles (back-off), capped */
	a1.now = now + 61;
	CHECK(auth_lockout_check(f.st, &a1, reason, sizeof reason) == 0);
	for (int i = 0; i < 3; i++)
		auth_lockout_failed(f.st, &a1);
	CHECK(state_lockout_get(f.st, "alice", "10.0.0.1", &l) == STATE_OK);
	CHECK(l.locks == 2 && l.locked_until == a1.now + 120);
	a1.now += 121;
	for (int i = 0; i < 3; i++)
		auth_lockout_failed(f.st, &a1);
	CHECK(state_lockout_get(f.st, "alice", "10.0.0.1", &l) == STATE_OK);
	CHECK(l.locks == 3 && l.locked_until == a1.now + 200); /* 240 capped at 200 */
	/* a success resets the user+source run */
	a1.now += 201;
	auth_lockout_passed(f.st, &a1);
	CHECK(state_lockout_get(f.st, "alice", "10.0.0.1", &l) == STATE_OK);
	CHECK(l.locks == 0 && l.failures == 0);
	/* failures older than the window are forgotten */
	auth_lockout_failed(f.st, &a1);
	auth_lockout_failed(f.st, &a1);
	a1.now += 101;
	auth_lockout_failed(f.st, &a1);
	CHECK(auth_lockout_check(f.st, &a1, reason, sizeof reason) == 0);

	/* the per-source ceiling across users */
	struct auth_login s = {.client_ip = "10.9.9.9", .now = now, .lockout = &conf};
	const char *names[] = {"u1", "u1", "u2", "u2", "u3"};
	for (int i = 0; i < 5; i++) {
		s.user = names[i];
		auth_lockout_failed(f.st, &s);
	}
	s.user = "alice";
	CHECK(auth_lockout_check(f.st, &s, reason, sizeof reason) == 1);
	CHECK(strstr(reason, "source 10.9.9.9") != NULL);
	/* pending audits: user+source alice@10.0.0.1 and the source */
	int pend = 0;
	CHECK(state_lockout_pending(f.st, now, lock_rows, &pend) == STATE_OK && pend >= 2);
	int n = 0;
	CHECK(state_lockout_clear(f.st, NULL, "10.9.9.9", &n) == STATE_OK && n >= 3);
	CHECK(auth_lockout_check(f.st, &s, reason, sizeof reason) == 0);
	CHECK(state_lockout_clear(f.st, "alice", NULL, &n) == STATE_OK && n == 1);
	/* no lockout configured, or a re-check: nothing counted */
	struct auth_login off = {.user = "zed", .client_ip = "10.1.1.1", .now = now};
	for (int i = 0; i < 10; i++)
		auth_lockout_failed(f.st, &off);
	CHECK(state_lockout_get(f.st, "zed", "10.1.1.1", &l) == STATE_NOT_FOUND);
	state_close(f.st);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sb-unit-lifecycle-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_migration();
	test_recheck_causes();
	test_token_rules();
	test_lockout();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return UNIT_DONE("state_lifecycle");
}
