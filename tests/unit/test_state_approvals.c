/* Unit tests for proxy/state_approvals: a held statement becomes a pending
 * request (the same one while it is pending), approve / reject by someone
 * other than the requester, use once (two connections racing for one
 * approval: one wins), expiry of requests and of approvals with an injected
 * clock, and the v1 -> v2 schema migration. */
#include "proxy/state.h"
#include "unit.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];

#define T0 1700000000LL /* an arbitrary "now" */

static const char del_sql[] = "DELETE FROM orders WHERE id < 10";

static struct state_approval_request req(const char *user, const char *sql)
{
	struct state_approval_request rq = {.user = user,
					    .asset = "pg1",
					    .account = "app",
					    .protocol = "postgres",
					    .sql = sql,
					    .sql_len = strlen(sql),
					    .fingerprint = "DELETE FROM orders WHERE id < ?",
					    .rule = "hold-deletes",
					    .session = 7};
	return rq;
}

static int use(struct state *st, const char *user, const char *sql, int64_t now, int64_t *id)
{
	return state_approval_use(st, user, "pg1", "app", sql, strlen(sql), 9, now, id);
}

static enum state_approval_status status_of(struct state *st, int64_t id, int64_t now)
{
	struct state_approval a;
	if (state_approval_get(st, id, now, &a) != STATE_OK)
		return (enum state_approval_status)-1;
	state_approval_release(&a);
	return a.status;
}

static void test_request_and_dedup(struct state *st)
{
	struct state_approval_request rq = req("alice", del_sql);
	int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0;
	int created = 0;
	CHECK(state_approval_request(st, &rq, T0, &id1, &created) == STATE_OK);
	CHECK(id1 > 0 && created == 1);
	/* The same statement again while pending: the same request. */
	CHECK(state_approval_request(st, &rq, T0 + 60, &id2, &created) == STATE_OK);
	CHECK(id2 == id1 && created == 0);
	/* Another user, another text (one byte differs): new requests. */
	struct state_approval_request other = req("bob", del_sql);
	CHECK(state_approval_request(st, &other, T0, &id3, &created) == STATE_OK);
	CHECK(id3 != id1 && created == 1);
	struct state_approval_request text = req("alice", "DELETE FROM orders WHERE id < 11");
	CHECK(state_approval_request(st, &text, T0, &id4, &created) == STATE_OK);
	CHECK(id4 != id1 && id4 != id3 && created == 1);
	/* Another account on the same asset: a new request. */
	struct state_approval_request acc = req("alice", del_sql);
	acc.account = "admin";
	int64_t id5 = 0;
	CHECK(state_approval_request(st, &acc, T0, &id5, &created) == STATE_OK);
	CHECK(id5 != id1 && created == 1);

	struct state_approval a;
	CHECK(state_approval_get(st, id1, T0 + 60, &a) == STATE_OK);
	CHECK_STR(a.user, "alice");
	CHECK_STR(a.asset, "pg1");
	CHECK_STR(a.account, "app");
	CHECK_STR(a.protocol, "postgres");
	CHECK_STR(a.rule, "hold-deletes");
	CHECK_STR(a.fingerprint, "DELETE FROM orders WHERE id < ?");
	CHECK(a.statement_len == strlen(del_sql) && memcmp(a.statement, del_sql, a.statement_len) == 0);
	uint8_t sha[SB_SHA256_LEN];
	sb_sha256(del_sql, strlen(del_sql), sha);
	CHECK(memcmp(a.sha256, sha, sizeof sha) == 0);
	CHECK(a.session == 7 && a.created == T0);
	CHECK(a.status == STATE_APPROVAL_PENDING);
	CHECK(a.expires == T0 + STATE_APPROVAL_PENDING_TTL);
	CHECK(a.approver[0] == '\0' && a.decided == 0 && a.used == 0);
	state_approval_release(&a);
	CHECK(state_approval_get(st, 999999, T0, &a) == STATE_NOT_FOUND);

	/* Nothing approved yet: nothing to use. */
	int64_t used = 0;
	CHECK(use(st, "alice", del_sql, T0 + 61, &used) == STATE_NOT_FOUND);
}

/* Exact bytes: a statement with a NUL and bytes that are not UTF-8. */
static void test_binary_text(struct state *st)
{
	static const char bin[] = "SELECT '\x82\xa0\x00\xff'";
	struct state_approval_request rq = req("carol", "");
	rq.sql = bin;
	rq.sql_len = sizeof bin - 1;
	int64_t id = 0, again = 0;
	CHECK(state_approval_request(st, &rq, T0, &id, NULL) == STATE_OK);
	CHECK(state_approval_request(st, &rq, T0, &again, NULL) == STATE_OK && again == id);
	struct state_approval a;
	CHECK(state_approval_get(st, id, T0, &a) == STATE_OK);
	CHECK(a.statement_len == sizeof bin - 1 && memcmp(a.statement, bin, sizeof bin - 1) == 0);
	state_approval_release(&a);
	/* An empty statement is stored as an empty blob, not NULL. */
	struct state_approval_request empty = req("carol", "");
	CHECK(state_approval_request(st, &empty, T0, &id, NULL) == STATE_OK);
	CHECK(state_approval_get(st, id, T0, &a) == STATE_OK && a.statement_len == 0 &&
	      a.statement && a.statement[0] == '\0');
	state_approval_release(&a);
}

static void test_approve_and_use_once(struct state *st, const char *path)
{
	static const char sql[] = "DELETE FROM orders WHERE id = 42";
	struct state_approval_request rq = req("dave", sql);
	int64_t id = 0, used = 0;
	CHECK(state_approval_request(st, &rq, T0, &id, NULL) == STATE_OK);

	/* No self-approval, whatever the case of the name. */
	CHECK(state_approval_decide(st, id, 1, "dave", T0 + 10) == STATE_REFUSED);
	CHECK(strstr(state_errmsg(st), "someone else") != NULL);
	CHECK(state_approval_decide(st, id, 1, "DAVE", T0 + 10) == STATE_REFUSED);
	CHECK(status_of(st, id, T0 + 10) == STATE_APPROVAL_PENDING);

	CHECK(state_approval_decide(st, id, 1, "root", T0 + 100) == STATE_OK);
	struct state_approval a;
	CHECK(state_approval_get(st, id, T0 + 100, &a) == STATE_OK);
	CHECK(a.status == STATE_APPROVAL_APPROVED);
	CHECK_STR(a.approver, "root");
	CHECK(a.decided == T0 + 100 && a.expires == T0 + 100 + STATE_APPROVAL_USE_TTL);
	state_approval_release(&a);
	/* Decided once only. */
	CHECK(state_approval_decide(st, id, 1, "root", T0 + 101) == STATE_EXISTS);
	CHECK(strstr(state_errmsg(st), "already approved by root") != NULL);
	CHECK(state_approval_decide(st, id, 0, "erin", T0 + 101) == STATE_EXISTS);
	CHECK(state_approval_decide(st, 999999, 1, "root", T0) == STATE_NOT_FOUND);

	/* Only the requester, on that asset and account, with the exact text. */
	CHECK(use(st, "erin", sql, T0 + 200, &used) == STATE_NOT_FOUND);
	CHECK(use(st, "dave", "DELETE FROM orders WHERE id = 42 ", T0 + 200, &used) ==
	      STATE_NOT_FOUND);
	CHECK(state_approval_use(st, "dave", "pg2", "app", sql, strlen(sql), 9, T0 + 200, &used) ==
	      STATE_NOT_FOUND);
	CHECK(state_approval_use(st, "dave", "pg1", "admin", sql, strlen(sql), 9, T0 + 200,
				 &used) == STATE_NOT_FOUND);

	/* Two connections (two sessions, or two proxies) race for it: the
	 * second one finds it used. */
	char err[256];
	struct state *st2 = state_open(path, err, sizeof err);
	CHECK(st2 != NULL);
	CHECK(use(st, "dave", sql, T0 + 200, &used) == STATE_OK && used == id);
	int64_t used2 = 0;
	if (st2)
		CHECK(use(st2, "dave", sql, T0 + 201, &used2) == STATE_NOT_FOUND);
	CHECK(use(st, "dave", sql, T0 + 202, &used2) == STATE_NOT_FOUND);
	CHECK(state_approval_get(st, id, T0 + 300, &a) == STATE_OK);
	CHECK(a.status == STATE_APPROVAL_USED && a.used == T0 + 200 && a.used_session == 9);
	state_approval_release(&a);
	CHECK(state_approval_decide(st, id, 1, "root", T0 + 301) == STATE_EXISTS);
	CHECK(strstr(state_errmsg(st), "is used") != NULL);

	/* Sent again after use: a new request. */
	int64_t again = 0;
	int created = 0;
	CHECK(state_approval_request(st, &rq, T0 + 400, &again, &created) == STATE_OK);
	CHECK(again != id && again > id && created == 1);

	/* Two approvals of the same text: each lets it run once, oldest first,
	 * and the second connection sees the first one's change. */
	CHECK(state_approval_decide(st, again, 1, "root", T0 + 401) == STATE_OK);
	int64_t third = 0;
	CHECK(state_approval_request(st, &rq, T0 + 402, &third, &created) == STATE_OK);
	CHECK(third != again && created == 1);
	CHECK(state_approval_decide(st, third, 1, "root", T0 + 403) == STATE_OK);
	if (st2) {
		CHECK(use(st2, "dave", sql, T0 + 404, &used2) == STATE_OK && used2 == again);
		CHECK(use(st, "dave", sql, T0 + 405, &used) == STATE_OK && used == third);
		CHECK(use(st2, "dave", sql, T0 + 406, &used2) == STATE_NOT_FOUND);
	}
	state_close(st2);
}

static void test_reject(struct state *st)
{
	static const char sql[] = "DELETE FROM orders WHERE id = 7";
	struct state_approval_request rq = req("frank", sql);
	int64_t id = 0, used = 0, again = 0;
	CHECK(state_approval_request(st, &rq, T0, &id, NULL) == STATE_OK);
	CHECK(state_approval_decide(st, id, 0, "root", T0 + 5) == STATE_OK);
	struct state_approval a;
	CHECK(state_approval_get(st, id, T0 + 5, &a) == STATE_OK);
	CHECK(a.status == STATE_APPROVAL_REJECTED && a.decided == T0 + 5 && a.expires == 0);
	CHECK_STR(a.approver, "root");
	state_approval_release(&a);
	CHECK(use(st, "frank", sql, T0 + 6, &used) == STATE_NOT_FOUND);
	CHECK(state_approval_decide(st, id, 1, "root", T0 + 7) == STATE_EXISTS);
	CHECK(strstr(state_errmsg(st), "already rejected by root") != NULL);
	/* Sent again: a new request, not the rejected one. */
	CHECK(state_approval_request(st, &rq, T0 + 8, &again, NULL) == STATE_OK && again != id);
	/* A requester may withdraw (reject) their own request. */
	CHECK(state_approval_decide(st, again, 0, "frank", T0 + 9) == STATE_OK);
	CHECK(status_of(st, again, T0 + 9) == STATE_APPROVAL_REJECTED);
}

struct list_walk {
	int n;
	int64_t ids[64];
	enum state_approval_status status[64];
};

static int list_cb(void *ctx, const struct state_approval *a)
{
	struct list_walk *w = ctx;
	if (w->n < 64) {
		w->ids[w->n] = a->id;
		w->status[w->n] = a->status;
		w->n++;
	}
	return 0;
}

static int listed(const struct list_walk *w, int64_t id, enum state_approval_status *s)
{
	for (int i = 0; i < w->n; i++) {
		if (w->ids[i] == id) {
			*s = w->status[i];
			return 1;
		}
	}
	return 0;
}

static void test_expiry(struct state *st)
{
	static const char sql[] = "DELETE FROM orders WHERE id = 99";
	const int64_t t = T0 + 100000; /* clear of the other tests' requests */
	struct state_approval_request rq = req("gina", sql);
	int64_t old = 0, id = 0, used = 0;
	int created = 0;

	/* A request waits PENDING_TTL for a decision, then expires. */
	CHECK(state_approval_request(st, &rq, t, &old, NULL) == STATE_OK);
	CHECK(status_of(st, old, t + STATE_APPROVAL_PENDING_TTL - 1) == STATE_APPROVAL_PENDING);
	CHECK(status_of(st, old, t + STATE_APPROVAL_PENDING_TTL) == STATE_APPROVAL_EXPIRED);
	CHECK(state_approval_decide(st, old, 1, "root", t + STATE_APPROVAL_PENDING_TTL) ==
	      STATE_EXISTS);
	CHECK(strstr(state_errmsg(st), "expired") != NULL);
	CHECK(state_approval_decide(st, old, 0, "root", t + STATE_APPROVAL_PENDING_TTL + 5) ==
	      STATE_EXISTS);
	/* Sent again after its request expired: a new request. */
	CHECK(state_approval_request(st, &rq, t + STATE_APPROVAL_PENDING_TTL, &id, &created) ==
	      STATE_OK);
	CHECK(id != old && created == 1);

	/* Listing: pending ones only, or all with their effective status. */
	struct list_walk w = {0};
	enum state_approval_status s;
	CHECK(state_approval_list(st, 0, t + STATE_APPROVAL_PENDING_TTL, list_cb, &w) == STATE_OK);
	CHECK(!listed(&w, old, &s));
	CHECK(listed(&w, id, &s) && s == STATE_APPROVAL_PENDING);
	memset(&w, 0, sizeof w);
	CHECK(state_approval_list(st, 1, t + STATE_APPROVAL_PENDING_TTL, list_cb, &w) == STATE_OK);
	CHECK(listed(&w, old, &s) && s == STATE_APPROVAL_EXPIRED);
	CHECK(listed(&w, id, &s) && s == STATE_APPROVAL_PENDING);

	/* Storing `expired`. */
	int n = 0;
	CHECK(state_approval_expire(st, t + STATE_APPROVAL_PENDING_TTL, &n) == STATE_OK);
	CHECK(n >= 1);
	CHECK(state_approval_expire(st, t + STATE_APPROVAL_PENDING_TTL, &n) == STATE_OK && n == 0);

	/* An approval must be used within USE_TTL of being approved. */
	const int64_t ta = t + STATE_APPROVAL_PENDING_TTL + 60;
	CHECK(state_approval_decide(st, id, 1, "root", ta) == STATE_OK);
	CHECK(use(st, "gina", sql, ta + STATE_APPROVAL_USE_TTL, &used) == STATE_NOT_FOUND);
	CHECK(status_of(st, id, ta + STATE_APPROVAL_USE_TTL) == STATE_APPROVAL_EXPIRED);
	CHECK(state_approval_expire(st, ta + STATE_APPROVAL_USE_TTL, &n) == STATE_OK && n == 1);
	struct state_approval a;
	CHECK(state_approval_get(st, id, ta, &a) == STATE_OK);
	CHECK(a.status == STATE_APPROVAL_EXPIRED); /* stored now, whatever the clock */
	CHECK_STR(a.approver, "root");             /* who approved it stays */
	state_approval_release(&a);
	CHECK(state_approval_decide(st, id, 1, "root", ta + 1) == STATE_EXISTS);
	CHECK(strstr(state_errmsg(st), "approved by root and has expired") != NULL);

	/* One second before the end it is still usable. */
	CHECK(state_approval_request(st, &rq, ta + STATE_APPROVAL_USE_TTL + 10, &id, NULL) ==
	      STATE_OK);
	CHECK(state_approval_decide(st, id, 1, "root", ta + STATE_APPROVAL_USE_TTL + 20) ==
	      STATE_OK);
	CHECK(use(st, "gina", sql, ta + 2 * STATE_APPROVAL_USE_TTL + 19, &used) == STATE_OK &&
	      used == id);
}

/* A v1 file (made before approvals existed) is migrated when opened. */
static void test_migration(void)
{
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/v1.db", dir);
	struct state *st = state_open(path, err, sizeof err);
	CHECK(st != NULL);
	int64_t uid = 0;
	CHECK(st && state_user_add(st, "old", "", 0, T0, &uid) == STATE_OK);
	state_close(st);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "DROP TABLE approvals; PRAGMA user_version = 1", NULL, NULL, NULL) ==
	      SQLITE_OK);
	sqlite3_close(db);

	st = state_open(path, err, sizeof err);
	CHECK(st != NULL);
	if (!st) {
		fprintf(stderr, "state_open: %s\n", err);
		return;
	}
	struct state_user u;
	CHECK(state_user_get(st, "old", &u) == STATE_OK && u.id == uid);
	struct state_approval_request rq = req("old", del_sql);
	int64_t id = 0;
	CHECK(state_approval_request(st, &rq, T0, &id, NULL) == STATE_OK && id > 0);
	state_close(st);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_stmt *s = NULL;
	CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == STATE_SCHEMA_VERSION);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* A user's pending requests are bounded; the same statement again still
 * finds its request, other users are not affected, and room comes back
 * as requests expire. Runs on its own clock (T0 + 1 day) so the other
 * tests' requests have expired. */
static void test_pending_bound(struct state *st)
{
	const int64_t now = T0 + 86400;
	char sql[64];
	int64_t id = 0, first = 0;
	int created = 0, stored = 0;
	for (int i = 0; i < STATE_APPROVAL_MAX_PENDING; i++) {
		snprintf(sql, sizeof sql, "DELETE FROM orders WHERE id = %d", i);
		struct state_approval_request rq = req("flood", sql);
		if (state_approval_request(st, &rq, now, &id, &created) == STATE_OK && created)
			stored++;
		if (i == 0)
			first = id;
	}
	CHECK(stored == STATE_APPROVAL_MAX_PENDING);
	struct state_approval_request over = req("flood", "DELETE FROM orders WHERE id = -1");
	CHECK(state_approval_request(st, &over, now, &id, &created) == STATE_REFUSED);
	CHECK(strstr(state_errmsg(st), "pending") != NULL);
	/* A statement already pending is still found. */
	struct state_approval_request again = req("flood", "DELETE FROM orders WHERE id = 0");
	CHECK(state_approval_request(st, &again, now, &id, &created) == STATE_OK);
	CHECK(id == first && created == 0);
	/* Another user has room. */
	struct state_approval_request other = req("carol", "DELETE FROM orders WHERE id = -1");
	CHECK(state_approval_request(st, &other, now, &id, &created) == STATE_OK && created);
	/* Once the requests expire there is room again. */
	CHECK(state_approval_request(st, &over, now + STATE_APPROVAL_PENDING_TTL + 1, &id,
				     &created) == STATE_OK &&
	      created);
}

/* The table is bounded: requests that can no longer change are deleted
 * once `retention` has passed since their last event; live ones stay. */
static void test_purge(struct state *st)
{
	const int64_t t = T0 + 1000000;
	const int64_t ret = 86400;
	int64_t pend, appr, rej, used_id, fresh, id;
	int n = -1;
	struct state_approval_request rq = req("pia", "DELETE FROM orders WHERE id = 1");
	CHECK(state_approval_request(st, &rq, t, &pend, NULL) == STATE_OK);
	rq = req("pia", "DELETE FROM orders WHERE id = 2");
	CHECK(state_approval_request(st, &rq, t, &appr, NULL) == STATE_OK);
	CHECK(state_approval_decide(st, appr, 1, "root", t + 1) == STATE_OK);
	rq = req("pia", "DELETE FROM orders WHERE id = 3");
	CHECK(state_approval_request(st, &rq, t, &rej, NULL) == STATE_OK);
	CHECK(state_approval_decide(st, rej, 0, "root", t + 1) == STATE_OK);
	rq = req("pia", "DELETE FROM orders WHERE id = 4");
	CHECK(state_approval_request(st, &rq, t, &used_id, NULL) == STATE_OK);
	CHECK(state_approval_decide(st, used_id, 1, "root", t + 1) == STATE_OK);
	CHECK(use(st, "pia", "DELETE FROM orders WHERE id = 4", t + 2, &id) == STATE_OK);
	/* Within the retention none of these goes, not even the rejected one
	 * (the earlier tests' requests, long past it, do). */
	CHECK(state_approval_purge(st, t + 10, ret, &n) == STATE_OK && n > 0);
	CHECK(state_approval_purge(st, t + 10, ret, &n) == STATE_OK && n == 0);
	CHECK(status_of(st, rej, t + 10) == STATE_APPROVAL_REJECTED);
	CHECK(status_of(st, used_id, t + 10) == STATE_APPROVAL_USED);
	CHECK(status_of(st, pend, t + 10) == STATE_APPROVAL_PENDING);
	/* A pending request made later is still live when the others go. */
	const int64_t later = t + ret + STATE_APPROVAL_USE_TTL + 10;
	rq = req("pia", "DELETE FROM orders WHERE id = 5");
	CHECK(state_approval_request(st, &rq, later, &fresh, NULL) == STATE_OK);
	CHECK(state_approval_purge(st, later, ret, &n) == STATE_OK && n == 4);
	struct state_approval a;
	CHECK(state_approval_get(st, pend, later, &a) == STATE_NOT_FOUND);
	CHECK(state_approval_get(st, appr, later, &a) == STATE_NOT_FOUND);
	CHECK(state_approval_get(st, rej, later, &a) == STATE_NOT_FOUND);
	CHECK(state_approval_get(st, used_id, later, &a) == STATE_NOT_FOUND);
	CHECK(status_of(st, fresh, later) == STATE_APPROVAL_PENDING);
	CHECK(state_approval_purge(st, later, ret, &n) == STATE_OK && n == 0);
}

static void test_names(void)
{
	CHECK_STR(state_approval_status_name(STATE_APPROVAL_PENDING), "pending");
	CHECK_STR(state_approval_status_name(STATE_APPROVAL_EXPIRED), "expired");
	CHECK_STR(state_approval_status_name((enum state_approval_status)9), "?");
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sbtest-approvals-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_migration();

	char path[256], err[256];
	snprintf(path, sizeof path, "%s/state.db", dir);
	struct state *st = state_open(path, err, sizeof err);
	CHECK(st != NULL);
	if (st) {
		test_request_and_dedup(st);
		test_binary_text(st);
		test_approve_and_use_once(st, path);
		test_reject(st);
		test_expiry(st);
		test_pending_bound(st);
		test_purge(st);
		state_close(st);
	} else {
		fprintf(stderr, "state_open: %s\n", err);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return UNIT_DONE("state_approvals");
}
