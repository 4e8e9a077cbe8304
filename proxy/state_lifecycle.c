/* state_lifecycle: the queries behind changing and taking away access
 * (see state.h "the life of access"), and the failed-login counters.
 *
 * Its schema step is idempotent rather than a numbered migration: each
 * column is added only when PRAGMA table_info lacks it and each table is
 * created IF NOT EXISTS, under one write lock, so it composes with the
 * numbered migrations of state.c (and with any other such step) in any
 * order, and a file of schema version 2 gains it on first open.
 */
#include <stdio.h>
#include <string.h>

#include "proxy/state.h"
#include "proxy/state_int.h"

enum lq {
	LQ_USER_DISABLED,
	LQ_USER_SET_DISABLED,
	LQ_USER_UPDATE,
	LQ_USER_COUNTS,
	LQ_USER_REMOVE,
	LQ_ASSET_UPDATE,
	LQ_ASSET_GRANTS,
	LQ_ASSET_REMOVE,
	LQ_ACCOUNT_SET_SECRET,
	LQ_ACCOUNT_COUNTS,
	LQ_ACCOUNT_REMOVE,
	LQ_GRANT_GET,
	LQ_GRANT_REVOKE,
	LQ_GRANT_SET_RULES,
	LQ_GRANT_RULES,
	LQ_TOKEN_RULES_FOR,
	LQ_TOKEN_REVOKE_USER,
	LQ_EXISTS_USER,
	LQ_EXISTS_ACCOUNT,
	LQ_EXISTS_ASSET,
	LQ_LOCK_GET,
	LQ_LOCK_PUT,
	LQ_LOCK_LIST,
	LQ_LOCK_PENDING,
	LQ_LOCK_MARK,
	LQ_LOCK_CLEAR_USER,
	LQ_LOCK_CLEAR_IP,
	LQ_LOCK_PRUNE,
	LQ_COUNT
};
_Static_assert(LQ_COUNT <= STATE_Q_LIFECYCLE, "raise STATE_Q_LIFECYCLE in state_int.h");

#define LOCK_COLS "user, ip, failures, window_start, locks, locked_at, locked_until, audited"

static const char *const lq_text[LQ_COUNT] = {
	[LQ_USER_DISABLED] = "SELECT disabled FROM users WHERE id = ?1",
	[LQ_USER_SET_DISABLED] = "UPDATE users SET disabled = ?2 WHERE name = ?1",
	[LQ_USER_UPDATE] = "UPDATE users SET sources = coalesce(?2, sources),"
			   " max_sessions = CASE WHEN ?3 < 0 THEN max_sessions ELSE ?3 END"
			   " WHERE name = ?1",
	[LQ_USER_COUNTS] = "SELECT u.id, (SELECT count(*) FROM grants WHERE user_id = u.id),"
			   " (SELECT count(*) FROM tokens WHERE user_id = u.id)"
			   " FROM users u WHERE u.name = ?1",
	[LQ_USER_REMOVE] = "DELETE FROM users WHERE name = ?1",
	[LQ_ASSET_UPDATE] = "UPDATE assets SET host = CASE WHEN ?2 THEN ?3 ELSE host END,"
			    " port = CASE WHEN ?4 THEN ?5 ELSE port END,"
			    " tls = CASE WHEN ?6 THEN ?7 ELSE tls END,"
			    " service = CASE WHEN ?8 THEN ?9 ELSE service END"
			    " WHERE name = ?1",
	[LQ_ASSET_GRANTS] = "SELECT a.id, (SELECT count(*) FROM grants g JOIN accounts ac"
			    " ON ac.id = g.account_id WHERE ac.asset_id = a.id)"
			    " FROM assets a WHERE a.name = ?1",
	[LQ_ASSET_REMOVE] = "DELETE FROM assets WHERE name = ?1",
	[LQ_ACCOUNT_SET_SECRET] = "UPDATE accounts SET secret_kind = ?2, secret_ref = ?3,"
				  " secret_blob = NULL, hosted = ?4 WHERE id = ?1",
	[LQ_ACCOUNT_COUNTS] = "SELECT (SELECT count(*) FROM grants WHERE account_id = ?1),"
			      " (SELECT count(*) FROM tokens WHERE account_id = ?1)",
	[LQ_ACCOUNT_REMOVE] = "DELETE FROM accounts WHERE id = ?1",
	[LQ_GRANT_GET] = "SELECT " STATE_GRANT_COLS STATE_GRANT_FROM " WHERE g.id = ?1",
	[LQ_GRANT_REVOKE] = "DELETE FROM grants WHERE id = ?1",
	[LQ_GRANT_SET_RULES] = "UPDATE grants SET max_ttl = ?2, renewable = ?3 WHERE id = ?1",
	[LQ_GRANT_RULES] = "SELECT max_ttl, renewable FROM grants WHERE id = ?1",
	[LQ_TOKEN_RULES_FOR] = "SELECT count(*), max(max_ttl = 0), max(max_ttl), max(renewable)"
			       " FROM grants WHERE user_id = ?1 AND account_id = ?2"
			       " AND (until IS NULL OR until > ?3)",
	[LQ_TOKEN_REVOKE_USER] = "UPDATE tokens SET revoked_at = ?2"
				 " WHERE user_id = ?1 AND revoked_at IS NULL",
	[LQ_EXISTS_USER] = "SELECT 1 FROM users WHERE id = ?1",
	[LQ_EXISTS_ACCOUNT] = "SELECT 1 FROM accounts WHERE id = ?1",
	[LQ_EXISTS_ASSET] = "SELECT 1 FROM assets WHERE id = ?1",
	[LQ_LOCK_GET] = "SELECT " LOCK_COLS " FROM lockouts WHERE user = ?1 AND ip = ?2",
	[LQ_LOCK_PUT] = "INSERT OR REPLACE INTO lockouts (" LOCK_COLS ")"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[LQ_LOCK_LIST] = "SELECT " LOCK_COLS " FROM lockouts ORDER BY ip, user",
	[LQ_LOCK_PENDING] = "SELECT " LOCK_COLS " FROM lockouts WHERE locked_at > 0 AND"
			    " (audited = 0 OR (audited = 1 AND locked_until <= ?1))",
	[LQ_LOCK_MARK] = "UPDATE lockouts SET audited = ?3 WHERE user = ?1 AND ip = ?2",
	[LQ_LOCK_CLEAR_USER] = "DELETE FROM lockouts WHERE user = ?1 AND user <> ''",
	[LQ_LOCK_CLEAR_IP] = "DELETE FROM lockouts WHERE ip = ?1",
	[LQ_LOCK_PRUNE] = "DELETE FROM lockouts WHERE locked_until <= ?1 - ?2"
			  " AND window_start <= ?1 - ?2 AND (locked_at = 0 OR audited = 2)",
};

static sqlite3_stmt *lq(struct state *st, enum lq q)
{
	return state_prepared(st, STATE_Q_LIFECYCLE_BASE + (int)q, lq_text[q]);
}

/* ---- schema ---- */

static int has_column(sqlite3 *db, const char *table, const char *col, int *has)
{
	sqlite3_stmt *s = NULL;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table); /* our own constant names */
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc;
	*has = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *n = sqlite3_column_text(s, 1);
		if (n && strcmp((const char *)n, col) == 0)
			*has = 1;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static const struct {
	const char *table, *column, *add;
} lifecycle_columns[] = {
	{"users", "disabled",
	 "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0"},
	{"grants", "max_ttl",
	 "ALTER TABLE grants ADD COLUMN max_ttl INTEGER NOT NULL DEFAULT 0"},
	{"grants", "renewable",
	 "ALTER TABLE grants ADD COLUMN renewable INTEGER NOT NULL DEFAULT 1"},
	/* 0 = not hosted (state.h STATE_SECRET_NONE) */
	{"accounts", "hosted",
	 "ALTER TABLE accounts ADD COLUMN hosted INTEGER NOT NULL DEFAULT 1 CHECK (hosted IN (0, 1))"},
};

static const char lockouts_table[] =
	"CREATE TABLE IF NOT EXISTS lockouts ("
	" user TEXT NOT NULL,"
	" ip TEXT NOT NULL,"
	" failures INTEGER NOT NULL DEFAULT 0,"
	" window_start INTEGER NOT NULL DEFAULT 0,"
	" locks INTEGER NOT NULL DEFAULT 0,"
	" locked_at INTEGER NOT NULL DEFAULT 0,"
	" locked_until INTEGER NOT NULL DEFAULT 0,"
	" audited INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (user, ip)) WITHOUT ROWID";

/* 1 when something is missing, 0 when all is there, -1 on error. */
static int lifecycle_missing(sqlite3 *db)
{
	int has;
	for (size_t i = 0; i < sizeof lifecycle_columns / sizeof lifecycle_columns[0]; i++) {
		if (has_column(db, lifecycle_columns[i].table, lifecycle_columns[i].column, &has))
			return -1;
		if (!has)
			return 1;
	}
	if (has_column(db, "lockouts", "user", &has))
		return -1;
	return !has;
}

int state_lifecycle_migrate(struct state *st)
{
	int m = lifecycle_missing(st->db);
	if (m < 0)
		return state_fail_db(st, "read schema");
	if (m == 0)
		return STATE_OK; /* the usual case: no write lock taken */
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return state_fail_db(st, "update schema");
	for (size_t i = 0; i < sizeof lifecycle_columns / sizeof lifecycle_columns[0]; i++) {
		int has;
		if (has_column(st->db, lifecycle_columns[i].table, lifecycle_columns[i].column,
			       &has) != 0)
			goto fail;
		if (!has && sqlite3_exec(st->db, lifecycle_columns[i].add, NULL, NULL, NULL) !=
				    SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(st->db, lockouts_table, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return STATE_OK;
fail:
	state_fail_db(st, "update schema (access lifecycle)");
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return STATE_ERROR;
}

/* ---- helpers ---- */

/* Run a write; STATE_NOT_FOUND when it changed no row. */
static int write_some(struct state *st, sqlite3_stmt *s, const char *what)
{
	int rc = state_run_write(st, s, what);
	if (rc == STATE_OK && sqlite3_changes(st->db) == 0) {
		snprintf(st->err, sizeof st->err, "%s: not found", what);
		return STATE_NOT_FOUND;
	}
	return rc;
}

/* ---- users ---- */

int state_user_disabled(struct state *st, int64_t user_id, int *disabled)
{
	sqlite3_stmt *s = lq(st, LQ_USER_DISABLED);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, user_id))
		return state_bind_fail(st, s, "user disabled");
	int rc = state_step_one(st, s, "user disabled");
	if (rc != STATE_OK)
		return rc;
	*disabled = sqlite3_column_int(s, 0) != 0;
	state_stmt_done(s);
	return STATE_OK;
}

int state_user_set_disabled(struct state *st, const char *name, int disabled)
{
	struct state_user u;
	int cur = 0;
	int rc = state_user_get(st, name, &u);
	if (rc != STATE_OK)
		return rc;
	if ((rc = state_user_disabled(st, u.id, &cur)) != STATE_OK)
		return rc;
	if (cur == (disabled != 0)) {
		snprintf(st->err, sizeof st->err, "user %s is already %s", name,
			 disabled ? "disabled" : "enabled");
		return STATE_EXISTS;
	}
	sqlite3_stmt *s = lq(st, LQ_USER_SET_DISABLED);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, name) || sqlite3_bind_int(s, 2, disabled != 0))
		return state_bind_fail(st, s, "disable user");
	return write_some(st, s, "disable user");
}

int state_user_update(struct state *st, const char *name, const char *sources, int max_sessions)
{
	sqlite3_stmt *s = lq(st, LQ_USER_UPDATE);
	if (!s)
		return STATE_ERROR;
	int b = state_bind_text(s, 1, name);
	b |= sources ? sqlite3_bind_text(s, 2, sources, -1, SQLITE_STATIC) : sqlite3_bind_null(s, 2);
	b |= sqlite3_bind_int(s, 3, max_sessions);
	if (b)
		return state_bind_fail(st, s, "update user");
	return write_some(st, s, "update user");
}

int state_user_remove(struct state *st, const char *name, int *grants, int *tokens)
{
	sqlite3_stmt *s = lq(st, LQ_USER_COUNTS);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, name))
		return state_bind_fail(st, s, "remove user");
	int rc = state_step_one(st, s, "remove user");
	if (rc != STATE_OK)
		return rc;
	if (grants)
		*grants = sqlite3_column_int(s, 1);
	if (tokens)
		*tokens = sqlite3_column_int(s, 2);
	state_stmt_done(s);
	s = lq(st, LQ_USER_REMOVE);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, name))
		return state_bind_fail(st, s, "remove user");
	return write_some(st, s, "remove user");
}

/* ---- assets ---- */

int state_asset_update(struct state *st, const char *name, const struct state_asset_change *ch)
{
	sqlite3_stmt *s = lq(st, LQ_ASSET_UPDATE);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, name) || sqlite3_bind_int(s, 2, ch->has_host != 0) ||
	    state_bind_text(s, 3, ch->host) || sqlite3_bind_int(s, 4, ch->has_port != 0) ||
	    sqlite3_bind_int(s, 5, ch->port) || sqlite3_bind_int(s, 6, ch->has_tls != 0) ||
	    state_bind_text(s, 7, state_tls_name(ch->tls)) ||
	    sqlite3_bind_int(s, 8, ch->has_service != 0) || state_bind_text(s, 9, ch->service))
		return state_bind_fail(st, s, "update asset");
	return write_some(st, s, "update asset");
}

int state_asset_grants(struct state *st, const char *name, int *grants)
{
	sqlite3_stmt *s = lq(st, LQ_ASSET_GRANTS);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, name))
		return state_bind_fail(st, s, "asset grants");
	int rc = state_step_one(st, s, "asset grants");
	if (rc != STATE_OK)
		return rc;
	*grants = sqlite3_column_int(s, 1);
	state_stmt_done(s);
	return STATE_OK;
}

int state_asset_remove(struct state *st, const char *name, int force, int *grants)
{
	int n = 0;
	int rc = state_asset_grants(st, name, &n);
	if (rc != STATE_OK)
		return rc;
	if (grants)
		*grants = n;
	if (n > 0 && !force) {
		snprintf(st->err, sizeof st->err,
			 "%d grant%s point to asset %s (revoke them, or use --force to remove them too)",
			 n, n == 1 ? "" : "s", name);
		return STATE_REFUSED;
	}
	sqlite3_stmt *s = lq(st, LQ_ASSET_REMOVE);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, name))
		return state_bind_fail(st, s, "remove asset");
	return write_some(st, s, "remove asset");
}

/* ---- accounts ---- */

int state_account_set_secret(struct state *st, int64_t id, enum state_secret_kind kind,
			     const char *ref)
{
	sqlite3_stmt *s = lq(st, LQ_ACCOUNT_SET_SECRET);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id) || state_bind_text(s, 2, state_secret_kind_column(kind)) ||
	    state_bind_text(s, 3, ref) || sqlite3_bind_int(s, 4, kind != STATE_SECRET_NONE))
		return state_bind_fail(st, s, "set account secret");
	return write_some(st, s, "set account secret");
}

int state_account_remove(struct state *st, int64_t id, int *grants, int *tokens)
{
	sqlite3_stmt *s = lq(st, LQ_ACCOUNT_COUNTS);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return state_bind_fail(st, s, "remove account");
	int rc = state_step_one(st, s, "remove account");
	if (rc != STATE_OK)
		return rc;
	if (grants)
		*grants = sqlite3_column_int(s, 0);
	if (tokens)
		*tokens = sqlite3_column_int(s, 1);
	state_stmt_done(s);
	s = lq(st, LQ_ACCOUNT_REMOVE);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return state_bind_fail(st, s, "remove account");
	return write_some(st, s, "remove account");
}

/* ---- grants and token rules ---- */

int state_grant_get(struct state *st, int64_t id, struct state_grant *g)
{
	sqlite3_stmt *s = lq(st, LQ_GRANT_GET);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return state_bind_fail(st, s, "get grant");
	int rc = state_step_one(st, s, "get grant");
	if (rc != STATE_OK) {
		if (rc == STATE_NOT_FOUND)
			snprintf(st->err, sizeof st->err, "no grant %lld", (long long)id);
		return rc;
	}
	rc = state_read_grant(st, s, g);
	state_stmt_done(s);
	return rc;
}

int state_grant_revoke(struct state *st, int64_t id)
{
	sqlite3_stmt *s = lq(st, LQ_GRANT_REVOKE);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return state_bind_fail(st, s, "revoke grant");
	int rc = write_some(st, s, "revoke grant");
	if (rc == STATE_NOT_FOUND)
		snprintf(st->err, sizeof st->err, "no grant %lld", (long long)id);
	return rc;
}

int state_grant_set_token_rules(struct state *st, int64_t id, int64_t max_ttl, int renewable)
{
	sqlite3_stmt *s = lq(st, LQ_GRANT_SET_RULES);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id) || sqlite3_bind_int64(s, 2, max_ttl < 0 ? 0 : max_ttl) ||
	    sqlite3_bind_int(s, 3, renewable != 0))
		return state_bind_fail(st, s, "grant token rules");
	return write_some(st, s, "grant token rules");
}

int state_grant_token_rules(struct state *st, int64_t id, int64_t *max_ttl, int *renewable)
{
	sqlite3_stmt *s = lq(st, LQ_GRANT_RULES);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return state_bind_fail(st, s, "grant token rules");
	int rc = state_step_one(st, s, "grant token rules");
	if (rc != STATE_OK)
		return rc;
	*max_ttl = sqlite3_column_int64(s, 0);
	*renewable = sqlite3_column_int(s, 1) != 0;
	state_stmt_done(s);
	return STATE_OK;
}

int state_token_rules_for(struct state *st, int64_t user_id, int64_t account_id, int64_t now,
			  int64_t *max_ttl, int *renewable)
{
	sqlite3_stmt *s = lq(st, LQ_TOKEN_RULES_FOR);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, user_id) || sqlite3_bind_int64(s, 2, account_id) ||
	    sqlite3_bind_int64(s, 3, now))
		return state_bind_fail(st, s, "token rules");
	int rc = state_step_one(st, s, "token rules");
	if (rc != STATE_OK)
		return rc;
	int n = sqlite3_column_int(s, 0);
	int unlimited = sqlite3_column_int(s, 1);
	*max_ttl = unlimited ? 0 : sqlite3_column_int64(s, 2);
	*renewable = sqlite3_column_int(s, 3) != 0;
	state_stmt_done(s);
	return n > 0 ? STATE_OK : STATE_NOT_FOUND;
}

int state_token_revoke_user(struct state *st, int64_t user_id, int64_t now, int *n)
{
	sqlite3_stmt *s = lq(st, LQ_TOKEN_REVOKE_USER);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, user_id) || sqlite3_bind_int64(s, 2, now))
		return state_bind_fail(st, s, "revoke tokens");
	int rc = state_run_write(st, s, "revoke tokens");
	if (rc == STATE_OK && n)
		*n = sqlite3_changes(st->db);
	return rc;
}

int state_entity_exists(struct state *st, enum state_entity e, int64_t id)
{
	enum lq q = e == STATE_ENT_USER ? LQ_EXISTS_USER
		    : e == STATE_ENT_ACCOUNT ? LQ_EXISTS_ACCOUNT
					     : LQ_EXISTS_ASSET;
	sqlite3_stmt *s = lq(st, q);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return state_bind_fail(st, s, "exists");
	int rc = state_step_one(st, s, "exists");
	if (rc == STATE_OK) {
		state_stmt_done(s);
		return 1;
	}
	return rc == STATE_NOT_FOUND ? 0 : STATE_ERROR;
}

int state_data_version(struct state *st, int64_t *v)
{
	/* Not cached: a PRAGMA statement is cheap to prepare and this runs
	 * once a second. */
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, "PRAGMA data_version", -1, &s, NULL) != SQLITE_OK)
		return state_fail_db(st, "data_version");
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : state_fail_db(st, "data_version");
}

/* ---- lockouts ---- */

static void read_lock(sqlite3_stmt *s, struct state_lockout *l)
{
	memset(l, 0, sizeof *l);
	state_col_text(s, 0, l->user, sizeof l->user);
	state_col_text(s, 1, l->ip, sizeof l->ip);
	l->failures = sqlite3_column_int(s, 2);
	l->window_start = sqlite3_column_int64(s, 3);
	l->locks = sqlite3_column_int(s, 4);
	l->locked_at = sqlite3_column_int64(s, 5);
	l->locked_until = sqlite3_column_int64(s, 6);
	l->audited = sqlite3_column_int(s, 7);
}

int state_lockout_get(struct state *st, const char *user, const char *ip,
		      struct state_lockout *out)
{
	sqlite3_stmt *s = lq(st, LQ_LOCK_GET);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, user) || state_bind_text(s, 2, ip))
		return state_bind_fail(st, s, "get lockout");
	int rc = state_step_one(st, s, "get lockout");
	if (rc != STATE_OK)
		return rc;
	read_lock(s, out);
	state_stmt_done(s);
	return STATE_OK;
}

int state_lockout_put(struct state *st, const struct state_lockout *l)
{
	sqlite3_stmt *s = lq(st, LQ_LOCK_PUT);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, l->user) || state_bind_text(s, 2, l->ip) ||
	    sqlite3_bind_int(s, 3, l->failures) || sqlite3_bind_int64(s, 4, l->window_start) ||
	    sqlite3_bind_int(s, 5, l->locks) || sqlite3_bind_int64(s, 6, l->locked_at) ||
	    sqlite3_bind_int64(s, 7, l->locked_until) || sqlite3_bind_int(s, 8, l->audited))
		return state_bind_fail(st, s, "store lockout");
	return state_run_write(st, s, "store lockout");
}

static int walk_locks(struct state *st, sqlite3_stmt *s,
		      int (*cb)(void *ctx, const struct state_lockout *l), void *ctx)
{
	int rc, ret = STATE_OK;
	struct state_lockout l;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_lock(s, &l);
		if ((ret = cb(ctx, &l)) != 0)
			break;
	}
	return state_walk_end(st, s, rc, ret, "list lockouts");
}

int state_lockout_list(struct state *st, int (*cb)(void *ctx, const struct state_lockout *l),
		       void *ctx)
{
	sqlite3_stmt *s = lq(st, LQ_LOCK_LIST);
	return s ? walk_locks(st, s, cb, ctx) : STATE_ERROR;
}

int state_lockout_pending(struct state *st, int64_t now,
			  int (*cb)(void *ctx, const struct state_lockout *l), void *ctx)
{
	sqlite3_stmt *s = lq(st, LQ_LOCK_PENDING);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, now))
		return state_bind_fail(st, s, "pending lockouts");
	return walk_locks(st, s, cb, ctx);
}

int state_lockout_mark(struct state *st, const char *user, const char *ip, int audited)
{
	sqlite3_stmt *s = lq(st, LQ_LOCK_MARK);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, user) || state_bind_text(s, 2, ip) ||
	    sqlite3_bind_int(s, 3, audited))
		return state_bind_fail(st, s, "mark lockout");
	return state_run_write(st, s, "mark lockout");
}

int state_lockout_clear(struct state *st, const char *user, const char *ip, int *n)
{
	sqlite3_stmt *s = lq(st, ip ? LQ_LOCK_CLEAR_IP : LQ_LOCK_CLEAR_USER);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, ip ? ip : user))
		return state_bind_fail(st, s, "clear lockouts");
	int rc = state_run_write(st, s, "clear lockouts");
	if (rc == STATE_OK && n)
		*n = sqlite3_changes(st->db);
	return rc;
}

int state_lockout_prune(struct state *st, int64_t now, int64_t idle)
{
	sqlite3_stmt *s = lq(st, LQ_LOCK_PRUNE);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, now) || sqlite3_bind_int64(s, 2, idle))
		return state_bind_fail(st, s, "prune lockouts");
	return state_run_write(st, s, "prune lockouts");
}
