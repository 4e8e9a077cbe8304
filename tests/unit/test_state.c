/* Unit tests for proxy/state: schema creation and file modes, the typed
 * queries, token issue (verifiers only, never the token), renew / revoke,
 * the SCRAM verifier window, and that a second connection (the daemon) sees
 * a change made by the first (sqlbastionctl) without reopening. */
#include "proxy/state.h"
#include "unit.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int count_cb(void *ctx, const void *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static int user_count(void *ctx, const struct state_user *u) { return count_cb(ctx, u); }
static int token_count(void *ctx, const struct state_token_info *t) { return count_cb(ctx, t); }
static int grant_count(void *ctx, const struct state_grant *g) { return count_cb(ctx, g); }
static int asset_count(void *ctx, const struct state_asset *a) { return count_cb(ctx, a); }
static int account_count(void *ctx, const struct state_account *a) { return count_cb(ctx, a); }

struct ids {
	int64_t ids[16];
	int n;
};

static int verifier_ids(void *ctx, const struct state_token_verifier *v)
{
	struct ids *w = ctx;
	if (w->n < 16)
		w->ids[w->n++] = v->id;
	return 0;
}

static int has_id(const struct ids *w, int64_t id)
{
	for (int i = 0; i < w->n; i++)
		if (w->ids[i] == id)
			return 1;
	return 0;
}

struct match_walk {
	int64_t id;
	uint8_t stored_key[SB_SHA256_LEN], native[SB_SHA1_LEN], sha2[SB_SHA256_LEN];
	int ok;
};

static int verifier_match(void *ctx, const struct state_token_verifier *v)
{
	struct match_walk *m = ctx;
	if (v->id == m->id)
		m->ok = v->iterations == SB_SCRAM_ITERATIONS &&
			memcmp(v->stored_key, m->stored_key, SB_SHA256_LEN) == 0 &&
			memcmp(v->mysql_native, m->native, SB_SHA1_LEN) == 0 &&
			memcmp(v->mysql_sha2, m->sha2, SB_SHA256_LEN) == 0 &&
			memcmp(v->server_key, m->stored_key, SB_SHA256_LEN) != 0;
	return 0;
}

/* Does the file at path contain needle anywhere? */
static int file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t nl = strlen(needle), cap = 1 << 20, n;
	char *buf = malloc(cap);
	n = fread(buf, 1, cap, f);
	fclose(f);
	int found = 0;
	for (size_t i = 0; i + nl <= n && !found; i++)
		found = memcmp(buf + i, needle, nl) == 0;
	free(buf);
	return found;
}

static void test_open(void)
{
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/a/b/state.db", dir);
	struct state *st = state_open(path, err, sizeof err);
	CHECK(st != NULL);
	if (!st) {
		fprintf(stderr, "state_open: %s\n", err);
		return;
	}
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	char sub[256];
	snprintf(sub, sizeof sub, "%s/a/b", dir);
	CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	int64_t id = 0;
	CHECK(state_user_add(st, "x", "", 0, 1000, &id) == STATE_OK && id > 0);
	char wal[300];
	snprintf(wal, sizeof wal, "%s-wal", path);
	CHECK(stat(wal, &sb) == 0 && (sb.st_mode & 077) == 0); /* WAL mode, owner-only */
	state_close(st);

	/* Reopen: schema kept, data kept; a loose mode is tightened. */
	CHECK(chmod(path, 0644) == 0);
	st = state_open(path, err, sizeof err);
	CHECK(st != NULL);
	struct state_user u;
	CHECK(st && state_user_get(st, "x", &u) == STATE_OK && u.id == id);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	state_close(st);

	/* A newer schema is refused, not misread. */
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	st = state_open(path, err, sizeof err);
	CHECK(st == NULL);
	CHECK(strstr(err, "schema version 99") != NULL);
	state_close(st);

	/* Not a file. */
	st = state_open(dir, err, sizeof err);
	CHECK(st == NULL);
}

static void test_objects(struct state *st)
{
	int64_t alice, bob, a2;
	struct state_user u, u2;
	CHECK(state_user_add(st, "alice", "10.0.0.0/8", 3, 1000, &alice) == STATE_OK);
	CHECK(state_user_add(st, "bob", "", 0, 1000, &bob) == STATE_OK);
	CHECK(state_user_add(st, "alice", "", 0, 1000, &a2) == STATE_EXISTS);
	CHECK(state_user_get(st, "nobody", &u) == STATE_NOT_FOUND);
	CHECK(state_user_get(st, "alice", &u) == STATE_OK);
	CHECK_STR(u.sources, "10.0.0.0/8");
	CHECK(u.max_sessions == 3 && u.created == 1000 && u.id == alice);
	CHECK(state_user_get(st, "bob", &u2) == STATE_OK);
	CHECK(memcmp(u.scram_salt, u2.scram_salt, SB_SCRAM_SALT_LEN) != 0);
	int n = 0;
	CHECK(state_user_list(st, user_count, &n) == STATE_OK && n == 2);

	struct state_asset a = {.port = 5432, .tls = ASSET_TLS_REQUIRE, .created = 1000};
	snprintf(a.name, sizeof a.name, "pg1");
	snprintf(a.protocol, sizeof a.protocol, "postgres");
	snprintf(a.host, sizeof a.host, "db.internal");
	CHECK(state_asset_add(st, &a) == STATE_OK && a.id > 0);
	CHECK(state_asset_add(st, &a) == STATE_EXISTS);
	struct state_asset b = a;
	snprintf(b.name, sizeof b.name, "my1");
	snprintf(b.protocol, sizeof b.protocol, "mysql");
	b.port = 3306;
	b.tls = ASSET_TLS_DISABLE;
	CHECK(state_asset_add(st, &b) == STATE_OK);
	struct state_asset bad = a;
	snprintf(bad.name, sizeof bad.name, "bad");
	snprintf(bad.protocol, sizeof bad.protocol, "oracle");
	CHECK(state_asset_add(st, &bad) == STATE_ERROR); /* CHECK constraint */
	struct state_asset g;
	CHECK(state_asset_get(st, "pg1", &g) == STATE_OK);
	CHECK_STR(g.host, "db.internal");
	CHECK(g.tls == ASSET_TLS_REQUIRE && g.port == 5432);
	CHECK(state_asset_get(st, "nope", &g) == STATE_NOT_FOUND);
	n = 0;
	CHECK(state_asset_list(st, asset_count, &n) == STATE_OK && n == 2);

	int64_t acc, acc2, acc3;
	CHECK(state_account_add(st, a.id, "app", "app_user", STATE_SECRET_STORED, "", 1000,
				&acc) == STATE_OK);
	CHECK(state_account_add(st, a.id, "app", "x", STATE_SECRET_FILE, "/x", 1000, &acc2) ==
	      STATE_EXISTS);
	CHECK(state_account_add(st, b.id, "app", "root", STATE_SECRET_CMD, "echo hi", 1000,
				&acc2) == STATE_OK);
	CHECK(state_account_add(st, 999, "zz", "z", STATE_SECRET_FILE, "/z", 1000, &acc3) ==
	      STATE_ERROR); /* no such asset: foreign key */
	uint8_t blob[40];
	memset(blob, 0xab, sizeof blob);
	CHECK(state_account_set_blob(st, acc, blob, sizeof blob) == STATE_OK);
	CHECK(state_account_set_blob(st, 4242, blob, sizeof blob) == STATE_NOT_FOUND);
	struct state_account ac;
	CHECK(state_account_get(st, "pg1", "app", &ac) == STATE_OK);
	CHECK(ac.id == acc && ac.asset_id == a.id && ac.kind == STATE_SECRET_STORED);
	CHECK_STR(ac.asset, "pg1");
	CHECK_STR(ac.username, "app_user");
	CHECK(state_account_get(st, "my1", "nope", &ac) == STATE_NOT_FOUND);
	struct state_account_secret sec;
	CHECK(state_account_secret(st, acc, &sec) == STATE_OK);
	CHECK(sec.kind == STATE_SECRET_STORED && sec.blob_len == sizeof blob &&
	      memcmp(sec.blob, blob, sizeof blob) == 0);
	CHECK(state_account_secret(st, acc2, &sec) == STATE_OK);
	CHECK(sec.kind == STATE_SECRET_CMD && sec.blob_len == 0);
	CHECK_STR(sec.ref, "echo hi");
	n = 0;
	CHECK(state_account_list(st, account_count, &n) == STATE_OK && n == 2);

	int64_t gid;
	CHECK(state_grant_add(st, alice, acc, POLICY_LEVEL_WRITE, "09:00-17:00", 0, 1000,
			      &gid) == STATE_OK);
	CHECK(state_grant_add(st, alice, acc2, POLICY_LEVEL_READ, "", 5000, 1000, &gid) ==
	      STATE_OK);
	CHECK(state_grant_add(st, bob, acc, POLICY_LEVEL_ADMIN, "", 0, 1000, &gid) == STATE_OK);
	n = 0;
	CHECK(state_grant_list(st, 0, 0, grant_count, &n) == STATE_OK && n == 3);
	n = 0;
	CHECK(state_grant_list(st, alice, 0, grant_count, &n) == STATE_OK && n == 2);
	n = 0;
	CHECK(state_grant_list(st, 0, acc, grant_count, &n) == STATE_OK && n == 2);
	n = 0;
	CHECK(state_grant_list(st, alice, acc, grant_count, &n) == STATE_OK && n == 1);
}

static void test_tokens(struct state *st, const char *path)
{
	char err[256], tok[STATE_TOKEN_LEN + 1], tok2[STATE_TOKEN_LEN + 1];
	struct state_user u;
	struct state_account ac;
	CHECK(state_user_get(st, "alice", &u) == STATE_OK);
	CHECK(state_account_get(st, "pg1", "app", &ac) == STATE_OK);
	int64_t now = 100000000, id, id2;

	/* The daemon's connection, opened before the change. */
	struct state *daemon = state_open(path, err, sizeof err);
	CHECK(daemon != NULL);
	struct state_token_info ti;
	CHECK(state_token_get(daemon, 1, &ti) == STATE_NOT_FOUND);

	CHECK(state_token_issue(st, u.id, ac.id, now, now + 3600, tok, &id) == STATE_OK);
	CHECK(strlen(tok) == STATE_TOKEN_LEN && strncmp(tok, "sbt_", 4) == 0);
	CHECK(strspn(tok + 4, "abcdefghijklmnopqrstuvwxyz234567") == 32);
	CHECK(state_token_issue(st, u.id, ac.id, now, now + 3600, tok2, &id2) == STATE_OK);
	CHECK(strcmp(tok, tok2) != 0 && id2 > id);
	CHECK(state_token_issue(st, 9999, ac.id, now, now + 60, tok2, &id2) == STATE_NOT_FOUND);

	/* Verifiers, as a client / the auth module would compute them. */
	uint8_t h[SB_SHA256_LEN], salted[SB_SHA256_LEN], ck[SB_SHA256_LEN], sk[SB_SHA256_LEN];
	uint8_t s1[SB_SHA1_LEN], s2[SB_SHA1_LEN];
	state_token_lookup_hash(tok, strlen(tok), h);
	int64_t fid = 0, fuser = 0;
	CHECK(state_token_by_sha256(daemon, h, &fid, &fuser) == STATE_OK);
	CHECK(fid == id && fuser == u.id);
	h[0] ^= 1;
	CHECK(state_token_by_sha256(daemon, h, &fid, &fuser) == STATE_NOT_FOUND);
	/* The lookup hash is not the bare SHA-256 a caching_sha2 response is made of. */
	sb_sha256(tok, strlen(tok), h);
	CHECK(state_token_by_sha256(daemon, h, &fid, &fuser) == STATE_NOT_FOUND);
	CHECK(sb_pbkdf2_sha256(tok, strlen(tok), u.scram_salt, SB_SCRAM_SALT_LEN,
			       SB_SCRAM_ITERATIONS, salted) == 0);
	sb_hmac_sha256(salted, 32, "Client Key", 10, ck);
	sb_sha256(ck, 32, sk);
	sb_sha1(tok, strlen(tok), s1);
	sb_sha1(s1, sizeof s1, s2);
	struct ids w = {.n = 0};
	CHECK(state_token_verifiers(daemon, u.id, now - STATE_SCRAM_WINDOW, now, verifier_ids,
				    &w) == STATE_OK);
	CHECK(w.n == 2 && w.ids[0] == id + 1 && w.ids[1] == id); /* newest first */

	struct state_login l;
	CHECK(state_login_get(daemon, id, &l) == STATE_OK);
	CHECK_STR(l.user.name, "alice");
	CHECK_STR(l.asset.name, "pg1");
	CHECK_STR(l.asset.protocol, "postgres");
	CHECK_STR(l.account.username, "app_user");
	CHECK(l.token.expires == now + 3600 && l.token.revoked_at == 0 && l.token.last_used == 0);
	CHECK(state_login_get(daemon, 777, &l) == STATE_NOT_FOUND);

	/* The stored verifiers equal what a client derives from the token. */
	struct match_walk mw = {.id = id};
	memcpy(mw.stored_key, sk, 32);
	memcpy(mw.native, s2, 20);
	uint8_t t1[SB_SHA256_LEN];
	sb_sha256(tok, strlen(tok), t1);
	sb_sha256(t1, sizeof t1, mw.sha2);
	CHECK(state_token_verifiers(daemon, u.id, 0, now, verifier_match, &mw) == STATE_OK);
	CHECK(mw.ok == 1);

	/* Renew / revoke, seen by the daemon's connection at once. */
	CHECK(state_token_renew(st, id, now + 7200) == STATE_OK);
	CHECK(state_token_get(daemon, id, &ti) == STATE_OK && ti.expires == now + 7200);
	CHECK(state_token_revoke(st, id, now + 10) == STATE_OK);
	CHECK(state_token_get(daemon, id, &ti) == STATE_OK && ti.revoked_at == now + 10);
	CHECK(state_token_revoke(st, id, now + 20) == STATE_EXISTS);
	CHECK(state_token_renew(st, id, now + 9999) == STATE_EXISTS);
	CHECK(strstr(state_errmsg(st), "revoked") != NULL);
	CHECK(state_token_revoke(st, 4242, now) == STATE_NOT_FOUND);
	CHECK(state_token_renew(st, 4242, now) == STATE_NOT_FOUND);
	CHECK(state_token_touch(daemon, id + 1, now + 30) == STATE_OK);
	CHECK(state_token_get(st, id + 1, &ti) == STATE_OK && ti.last_used == now + 30);
	CHECK_STR(ti.user, "alice");
	CHECK_STR(ti.asset, "pg1");
	CHECK_STR(ti.account, "app");
	int n = 0;
	CHECK(state_token_list(daemon, token_count, &n) == STATE_OK && n == 2);

	/* The SCRAM window: recent tokens whatever their state; older ones
	 * only while active. */
	int64_t old_expired, old_active, recent_revoked;
	char t3[STATE_TOKEN_LEN + 1];
	int64_t day = 86400;
	CHECK(state_token_issue(st, u.id, ac.id, now - 40 * day, now - 39 * day, t3,
				&old_expired) == STATE_OK);
	CHECK(state_token_issue(st, u.id, ac.id, now - 40 * day, now + day, t3, &old_active) ==
	      STATE_OK);
	CHECK(state_token_issue(st, u.id, ac.id, now - day, now + day, t3, &recent_revoked) ==
	      STATE_OK);
	CHECK(state_token_revoke(st, recent_revoked, now - 10) == STATE_OK);
	w.n = 0;
	CHECK(state_token_verifiers(daemon, u.id, now - STATE_SCRAM_WINDOW, now, verifier_ids,
				    &w) == STATE_OK);
	CHECK(!has_id(&w, old_expired));
	CHECK(has_id(&w, old_active));
	CHECK(has_id(&w, recent_revoked));
	CHECK(has_id(&w, id)); /* revoked, recent */

	/* The token is nowhere in the files. */
	state_close(daemon);
	char wal[300];
	snprintf(wal, sizeof wal, "%s-wal", path);
	CHECK(!file_contains(path, tok) && !file_contains(wal, tok));
	CHECK(!file_contains(path, tok + 4) && !file_contains(wal, tok + 4));
	sb_wipe(tok, sizeof tok);
}

/* A transaction rolled back leaves nothing behind. */
static void test_tx(struct state *st)
{
	struct state_user u;
	CHECK(state_begin(st) == STATE_OK);
	int64_t id;
	CHECK(state_user_add(st, "tx", "", 0, 1, &id) == STATE_OK);
	state_rollback(st);
	CHECK(state_user_get(st, "tx", &u) == STATE_NOT_FOUND);
	CHECK(state_begin(st) == STATE_OK);
	CHECK(state_user_add(st, "tx", "", 0, 1, &id) == STATE_OK);
	CHECK(state_commit(st) == STATE_OK);
	CHECK(state_user_get(st, "tx", &u) == STATE_OK);
}

static void test_names(void)
{
	enum asset_tls t;
	CHECK(state_tls_parse("verify-full", &t) == 0 && t == ASSET_TLS_VERIFY_FULL);
	CHECK(state_tls_parse("verify-ca", &t) == -1);
	CHECK_STR(state_tls_name(ASSET_TLS_PREFER), "prefer");
	CHECK_STR(state_secret_kind_name(STATE_SECRET_CMD), "cmd");
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sbtest-state-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_open();
	test_names();

	char path[256], err[256];
	snprintf(path, sizeof path, "%s/state.db", dir);
	struct state *st = state_open(path, err, sizeof err);
	CHECK(st != NULL);
	if (st) {
		test_objects(st);
		test_tokens(st, path);
		test_tx(st);
		state_close(st);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return UNIT_DONE("state");
}
