/* state: the control-plane store over SQLite (see state.h).
 *
 * Every query lives in the sql_text table below and is prepared once per
 * connection on first use (SQLITE_PREPARE_PERSISTENT), then reset after each
 * call, so the per-login path costs no SQL compilation. Values are always
 * bound, never spliced into the text. The schema carries a version in
 * PRAGMA user_version: 0 means "empty file, create it", an older version is
 * migrated step by step (migrations[]) in one transaction, a version newer
 * than STATE_SCHEMA_VERSION is refused rather than misread. The approvals
 * queries live in state_approvals.c (their table is created here, with the
 * rest of the schema).
 *
 * This file does no logging and knows nothing of the login rules (auth.c) or
 * of hosted secrets beyond storing sealed bytes (secret.c).
 */
#include "proxy/state.h"
#include "lib/fsutil.h"
#include "proxy/state_int.h"
#include "proxy/state_asset_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum query {
	Q_USER_ADD,
	Q_USER_GET,
	Q_USER_LIST,
	Q_USER_SALT,
	Q_ASSET_ADD,
	Q_ASSET_GET,
	Q_ASSET_LIST,
	Q_ACCOUNT_ADD,
	Q_ACCOUNT_SET_BLOB,
	Q_ACCOUNT_GET,
	Q_ACCOUNT_SECRET,
	Q_ACCOUNT_LIST,
	Q_GRANT_ADD,
	Q_GRANT_FOR,
	Q_GRANT_LIST,
	Q_TOKEN_ADD,
	Q_TOKEN_GET,
	Q_TOKEN_LIST,
	Q_TOKEN_RENEW,
	Q_TOKEN_REVOKE,
	Q_TOKEN_TOUCH,
	Q_TOKEN_BY_SHA,
	Q_TOKEN_VERIFIERS,
	Q_LOGIN,
	Q_COUNT
};

#define USER_COLS "u.id, u.name, u.sources, u.max_sessions, u.scram_salt, u.created"
#define ASSET_COLS "a.id, a.name, a.protocol, a.host, a.port, a.tls, a.service, a.created"
#define ACCOUNT_COLS \
	"ac.id, ac.asset_id, a.name, ac.name, ac.username, ac.secret_kind, ac.created, ac.hosted"
#define TOKEN_COLS \
	"t.id, t.user_id, t.account_id, u.name, a.name, ac.name, t.created, " \
	"t.expires, coalesce(t.revoked_at, 0), coalesce(t.last_used, 0)"
#define TOKEN_FROM                                        \
	" FROM tokens t JOIN users u ON u.id = t.user_id" \
	" JOIN accounts ac ON ac.id = t.account_id"       \
	" JOIN assets a ON a.id = ac.asset_id"

static const char *const sql_text[Q_COUNT] = {
	[Q_USER_ADD] = "INSERT INTO users (name, sources, max_sessions, scram_salt, created)"
		       " VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_USER_GET] = "SELECT " USER_COLS " FROM users u WHERE u.name = ?1",
	[Q_USER_LIST] = "SELECT " USER_COLS " FROM users u ORDER BY u.name",
	[Q_USER_SALT] = "SELECT scram_salt FROM users WHERE id = ?1",
	[Q_ASSET_ADD] = "INSERT INTO assets (name, protocol, host, port, tls, service, created)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_ASSET_GET] = "SELECT " ASSET_COLS " FROM assets a WHERE a.name = ?1",
	[Q_ASSET_LIST] = "SELECT " ASSET_COLS " FROM assets a ORDER BY a.name",
	[Q_ACCOUNT_ADD] = "INSERT INTO accounts (asset_id, name, username, secret_kind, secret_ref,"
			  " created, hosted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_ACCOUNT_SET_BLOB] = "UPDATE accounts SET secret_blob = ?2 WHERE id = ?1",
	[Q_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM accounts ac JOIN assets a ON a.id = ac.asset_id"
			  " WHERE a.name = ?1 AND ac.name = ?2",
	[Q_ACCOUNT_SECRET] = "SELECT secret_kind, secret_blob, secret_ref, hosted FROM accounts"
			     " WHERE id = ?1",
	[Q_ACCOUNT_LIST] = "SELECT " ACCOUNT_COLS " FROM accounts ac JOIN assets a ON a.id = ac.asset_id"
			   " ORDER BY a.name, ac.name",
	[Q_GRANT_ADD] = "INSERT INTO grants (user_id, account_id, level, hours, until, created)"
			" VALUES (?1, ?2, ?3, ?4, nullif(?5, 0), ?6)",
	[Q_GRANT_FOR] = "SELECT " STATE_GRANT_COLS STATE_GRANT_FROM
			" WHERE g.user_id = ?1 AND g.account_id = ?2 ORDER BY g.id",
	[Q_GRANT_LIST] = "SELECT " STATE_GRANT_COLS STATE_GRANT_FROM
			 " WHERE (?1 = 0 OR g.user_id = ?1) AND (?2 = 0 OR g.account_id = ?2)"
			 " ORDER BY g.id",
	[Q_TOKEN_ADD] = "INSERT INTO tokens (user_id, account_id, created, expires, scram_iterations,"
			" scram_stored_key, scram_server_key, sha256, mysql_native, mysql_sha2)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[Q_TOKEN_GET] = "SELECT " TOKEN_COLS TOKEN_FROM " WHERE t.id = ?1",
	[Q_TOKEN_LIST] = "SELECT " TOKEN_COLS TOKEN_FROM " ORDER BY t.id",
	[Q_TOKEN_RENEW] = "UPDATE tokens SET expires = ?2 WHERE id = ?1 AND revoked_at IS NULL",
	[Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
	[Q_TOKEN_TOUCH] = "UPDATE tokens SET last_used = ?2 WHERE id = ?1",
	[Q_TOKEN_BY_SHA] = "SELECT id, user_id FROM tokens WHERE sha256 = ?1",
	[Q_TOKEN_VERIFIERS] = "SELECT id, scram_iterations, scram_stored_key, scram_server_key,"
			      " mysql_native, created, expires, coalesce(revoked_at, 0), mysql_sha2"
			      " FROM tokens WHERE user_id = ?1"
			      " AND (created >= ?2 OR (revoked_at IS NULL AND expires > ?3))"
			      " ORDER BY id DESC",
	[Q_LOGIN] = "SELECT " TOKEN_COLS ", " USER_COLS ", " ACCOUNT_COLS ", " ASSET_COLS TOKEN_FROM
		    " WHERE t.id = ?1",
};

/* Version 1. Foreign keys cascade so a later "user del" / "asset del" takes
 * its grants and tokens with it. Token ids use AUTOINCREMENT so the id of a
 * revoked token is never handed out again. */
static const char schema_v1[] =
	"CREATE TABLE users ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" sources TEXT NOT NULL DEFAULT '',"
	" max_sessions INTEGER NOT NULL DEFAULT 0 CHECK (max_sessions >= 0),"
	" scram_salt BLOB NOT NULL CHECK (length(scram_salt) = 16),"
	" created INTEGER NOT NULL);"
	"CREATE TABLE assets ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" protocol TEXT NOT NULL CHECK (protocol IN ('postgres', 'mysql', 'tds', 'tns')),"
	" host TEXT NOT NULL,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" tls TEXT NOT NULL DEFAULT 'prefer'"
	"  CHECK (tls IN ('disable', 'prefer', 'require', 'verify-full')),"
	" service TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL);"
	"CREATE TABLE accounts ("
	" id INTEGER PRIMARY KEY,"
	" asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" username TEXT NOT NULL,"
	" secret_kind TEXT NOT NULL CHECK (secret_kind IN ('stored', 'file', 'cmd')),"
	" secret_blob BLOB,"
	" secret_ref TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" UNIQUE (asset_id, name));"
	"CREATE TABLE grants ("
	" id INTEGER PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,"
	" level TEXT NOT NULL CHECK (level IN ('read', 'write', 'operate', 'admin')),"
	" hours TEXT NOT NULL DEFAULT '',"
	" until INTEGER,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX grants_user_account ON grants (user_id, account_id);"
	"CREATE TABLE tokens ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" revoked_at INTEGER,"
	" scram_iterations INTEGER NOT NULL,"
	" scram_stored_key BLOB NOT NULL CHECK (length(scram_stored_key) = 32),"
	" scram_server_key BLOB NOT NULL CHECK (length(scram_server_key) = 32),"
	" sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),"
	" mysql_native BLOB NOT NULL CHECK (length(mysql_native) = 20),"
	" mysql_sha2 BLOB NOT NULL CHECK (length(mysql_sha2) = 32),"
	" last_used INTEGER);"
	"CREATE INDEX tokens_user_created ON tokens (user_id, created);"
	"PRAGMA user_version = 1;";

/* Version 2: statements held by a `review` rule (state_approvals.c). Names,
 * not ids: a request is a record of who asked for what, as the audit log
 * names them. statement is a BLOB so the exact bytes are kept whatever the
 * client encoding; sha256 is over those bytes. AUTOINCREMENT: an approval
 * id is never handed out again. */
static const char schema_v2[] =
	"CREATE TABLE approvals ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user TEXT NOT NULL,"
	" asset TEXT NOT NULL,"
	" account TEXT NOT NULL,"
	" protocol TEXT NOT NULL,"
	" statement BLOB NOT NULL,"
	" sha256 BLOB NOT NULL CHECK (length(sha256) = 32),"
	" fingerprint TEXT NOT NULL DEFAULT '',"
	" rule TEXT NOT NULL,"
	" session INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'pending'"
	"  CHECK (status IN ('pending', 'approved', 'rejected', 'used', 'expired')),"
	" approver TEXT,"
	" decided INTEGER,"
	" used INTEGER,"
	" used_session INTEGER);"
	"CREATE INDEX approvals_match ON approvals (user, asset, sha256);"
	"CREATE INDEX approvals_status ON approvals (status);"
	"PRAGMA user_version = 2;";

/* migrations[v] takes a file from version v to v + 1 (and sets
 * user_version); a new file (version 0) runs them all. */
static const char *const migrations[] = {schema_v1, schema_v2};
_Static_assert(sizeof migrations / sizeof migrations[0] == STATE_SCHEMA_VERSION,
	       "one migration per schema version");

_Static_assert(Q_COUNT <= STATE_Q_CORE, "raise STATE_Q_CORE in state_int.h");

/* ---- small helpers ---- */

static int fail_db(struct state *st, const char *what)
{
	snprintf(st->err, sizeof st->err, "%s: %s", what, sqlite3_errmsg(st->db));
	return STATE_ERROR;
}

static int fail_msg(struct state *st, const char *what)
{
	snprintf(st->err, sizeof st->err, "%s", what);
	return STATE_ERROR;
}

sqlite3_stmt *state_prepared(struct state *st, int slot, const char *sql)
{
	if (!st->q[slot]) {
		if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->q[slot],
				       NULL) != SQLITE_OK) {
			fail_db(st, "prepare");
			st->q[slot] = NULL;
			return NULL;
		}
	}
	return st->q[slot];
}

/* The cached statement q, ready to bind, or NULL with st->err set. */
static sqlite3_stmt *stmt(struct state *st, enum query q)
{
	return state_prepared(st, (int)q, sql_text[q]);
}

static void stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* The end of a walk over the rows of s that stopped with step result rc
 * and callback result ret: STATE_ERROR ("<what>: <message>") when the step
 * failed, else ret; s reset. */
static int walk_end(struct state *st, sqlite3_stmt *s, int rc, int ret, const char *what)
{
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fail_db(st, what);
	stmt_done(s);
	return ret;
}

/* A bind on s failed: reset s; STATE_ERROR with "<what>: <message>". */
static int bind_fail(struct state *st, sqlite3_stmt *s, const char *what)
{
	stmt_done(s);
	return fail_db(st, what);
}

/* Run a write statement to completion: STATE_OK, STATE_EXISTS on a unique
 * conflict, STATE_ERROR otherwise. Resets s. */
static int run_write(struct state *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	int ret = STATE_OK;
	if (rc != SQLITE_DONE) {
		int ext = sqlite3_extended_errcode(st->db);
		if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
			snprintf(st->err, sizeof st->err, "%s: already exists", what);
			ret = STATE_EXISTS;
		} else {
			ret = fail_db(st, what);
		}
	}
	stmt_done(s);
	return ret;
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Copy a blob column that must be exactly len bytes. 0 or -1. */
static int col_blob(sqlite3_stmt *s, int i, void *dst, size_t len)
{
	const void *b = sqlite3_column_blob(s, i);
	if (!b || (size_t)sqlite3_column_bytes(s, i) != len)
		return -1;
	memcpy(dst, b, len);
	return 0;
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

/* ---- names ---- */

static const char *const tls_names[] = {"disable", "prefer", "require", "verify-full"};
static const char *const kind_names[] = {"stored", "file", "cmd", "not-hosted"};

const char *state_tls_name(enum asset_tls t)
{
	return (unsigned)t < 4 ? tls_names[t] : "?";
}

int state_tls_parse(const char *s, enum asset_tls *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, tls_names[i]) == 0) {
			*out = (enum asset_tls)i;
			return 0;
		}
	}
	return -1;
}

const char *state_secret_kind_name(enum state_secret_kind k)
{
	return (unsigned)k < 4 ? kind_names[k] : "?";
}

const char *state_secret_kind_column(enum state_secret_kind k)
{
	return k == STATE_SECRET_NONE ? "stored" : state_secret_kind_name(k);
}

/* secret_kind as stored plus the hosted column (0 = not hosted). */
static int kind_read(const char *s, int hosted, enum state_secret_kind *out)
{
	if (!hosted) {
		*out = STATE_SECRET_NONE;
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum state_secret_kind)i;
			return 0;
		}
	}
	return -1;
}


/* ---- open / close / transactions ---- */

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Create the schema when the file is new, bring an older one up to date
 * (migrations[]), refuse a newer one. */
static int ensure_schema(struct state *st)
{
	int v = 0;
	if (user_version(st->db, &v) != 0)
		return fail_db(st, "read schema version");
	if (v < STATE_SCHEMA_VERSION && v >= 0) {
		/* Two processes may race to create or migrate it: take the
		 * write lock, then look again. */
		if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return fail_db(st, "update schema");
		if (user_version(st->db, &v) != 0)
			goto fail;
		for (; v >= 0 && v < STATE_SCHEMA_VERSION; v++) {
			if (sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
				goto fail;
		}
		if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	if (v > STATE_SCHEMA_VERSION || v < 0) {
		snprintf(st->err, sizeof st->err,
			 "schema version %d is newer than this program's (%d)", v,
			 STATE_SCHEMA_VERSION);
		return STATE_ERROR;
	}
	return STATE_OK;
fail:
	fail_db(st, "update schema");
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return STATE_ERROR;
}

static int journal_is_wal(void *ctx, int n, char **vals, char **cols)
{
	(void)cols;
	*(int *)ctx = n == 1 && vals[0] && strcmp(vals[0], "wal") == 0;
	return 0;
}

struct state *state_open(const char *path, char *err, size_t errlen)
{
	struct state *st = calloc(1, sizeof *st);
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sb_mkdir_parents(path, err, errlen) != 0)
		goto fail;
	/* Create the file ourselves so it is 0600 from the first byte; SQLite
	 * gives the -wal and -shm files the mode of the main file. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		goto fail;
	}
	if ((sb.st_mode & 077) && sb.st_uid == geteuid())
		(void)fchmod(fd, sb.st_mode & 0600); /* tighten a loose mode */
	close(fd);

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	if (sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	int wal = 0;
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", journal_is_wal, &wal,
			 NULL) != SQLITE_OK ||
	    !wal) {
		snprintf(err, errlen, "%s: cannot switch to WAL mode: %s", path,
			 sqlite3_errmsg(st->db));
		goto fail;
	}
	if (ensure_schema(st) != STATE_OK || state_lifecycle_migrate(st) != STATE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		goto fail;
	}
	/* Separate from the numbered migrations: idempotent column adds. */
	if (state_asset_auth_migrate(st) != STATE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		goto fail;
	}
	return st;
fail:
	state_close(st);
	return NULL;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	for (int i = 0; i < STATE_Q_SLOTS; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	free(st);
}

const char *state_errmsg(const struct state *st)
{
	return st->err;
}

int state_begin(struct state *st)
{
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail_db(st, "begin");
	return STATE_OK;
}

int state_commit(struct state *st)
{
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail_db(st, "commit");
		state_rollback(st);
		return STATE_ERROR;
	}
	return STATE_OK;
}

void state_rollback(struct state *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- row readers (column order = the *_COLS macros) ---- */

static int read_user(struct state *st, sqlite3_stmt *s, int c, struct state_user *u)
{
	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(s, c);
	col_text(s, c + 1, u->name, sizeof u->name);
	col_text(s, c + 2, u->sources, sizeof u->sources);
	u->max_sessions = sqlite3_column_int(s, c + 3);
	if (col_blob(s, c + 4, u->scram_salt, sizeof u->scram_salt) != 0)
		return fail_msg(st, "corrupt users.scram_salt");
	u->created = sqlite3_column_int64(s, c + 5);
	return STATE_OK;
}

static int read_asset(struct state *st, sqlite3_stmt *s, int c, struct state_asset *a)
{
	char tls[16];
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(s, c);
	col_text(s, c + 1, a->name, sizeof a->name);
	col_text(s, c + 2, a->protocol, sizeof a->protocol);
	col_text(s, c + 3, a->host, sizeof a->host);
	a->port = sqlite3_column_int(s, c + 4);
	col_text(s, c + 5, tls, sizeof tls);
	col_text(s, c + 6, a->service, sizeof a->service);
	a->created = sqlite3_column_int64(s, c + 7);
	if (state_tls_parse(tls, &a->tls) != 0)
		return fail_msg(st, "corrupt assets.tls");
	return STATE_OK;
}

static int read_account(struct state *st, sqlite3_stmt *s, int c, struct state_account *a)
{
	char kind[16];
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(s, c);
	a->asset_id = sqlite3_column_int64(s, c + 1);
	col_text(s, c + 2, a->asset, sizeof a->asset);
	col_text(s, c + 3, a->name, sizeof a->name);
	col_text(s, c + 4, a->username, sizeof a->username);
	col_text(s, c + 5, kind, sizeof kind);
	a->created = sqlite3_column_int64(s, c + 6);
	if (kind_read(kind, sqlite3_column_int(s, c + 7), &a->kind) != 0)
		return fail_msg(st, "corrupt accounts.secret_kind");
	return STATE_OK;
}

int state_read_grant(struct state *st, sqlite3_stmt *s, struct state_grant *g)
{
	char level[16];
	memset(g, 0, sizeof *g);
	g->id = sqlite3_column_int64(s, 0);
	g->user_id = sqlite3_column_int64(s, 1);
	g->account_id = sqlite3_column_int64(s, 2);
	col_text(s, 3, g->user, sizeof g->user);
	col_text(s, 4, g->asset, sizeof g->asset);
	col_text(s, 5, g->account, sizeof g->account);
	col_text(s, 6, level, sizeof level);
	col_text(s, 7, g->hours, sizeof g->hours);
	g->until = sqlite3_column_int64(s, 8);
	g->created = sqlite3_column_int64(s, 9);
	if (policy_level_parse(level, &g->level) != 0)
		return fail_msg(st, "corrupt grants.level");
	return STATE_OK;
}

static void read_token(sqlite3_stmt *s, int c, struct state_token_info *t)
{
	memset(t, 0, sizeof *t);
	t->id = sqlite3_column_int64(s, c);
	t->user_id = sqlite3_column_int64(s, c + 1);
	t->account_id = sqlite3_column_int64(s, c + 2);
	col_text(s, c + 3, t->user, sizeof t->user);
	col_text(s, c + 4, t->asset, sizeof t->asset);
	col_text(s, c + 5, t->account, sizeof t->account);
	t->created = sqlite3_column_int64(s, c + 6);
	t->expires = sqlite3_column_int64(s, c + 7);
	t->revoked_at = sqlite3_column_int64(s, c + 8);
	t->last_used = sqlite3_column_int64(s, c + 9);
}

/* Step s expecting at most one row: STATE_OK with the row current,
 * STATE_NOT_FOUND (s reset) or STATE_ERROR (s reset). */
static int step_one(struct state *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return STATE_OK;
	int ret = rc == SQLITE_DONE ? STATE_NOT_FOUND : fail_db(st, what);
	stmt_done(s);
	return ret;
}

/* The helpers above, for the other state*.c files (state_int.h). */
int state_fail_db(struct state *st, const char *what) { return fail_db(st, what); }
int state_fail_msg(struct state *st, const char *what) { return fail_msg(st, what); }
void state_stmt_done(sqlite3_stmt *s) { stmt_done(s); }
int state_run_write(struct state *st, sqlite3_stmt *s, const char *what)
{
	return run_write(st, s, what);
}
int state_step_one(struct state *st, sqlite3_stmt *s, const char *what)
{
	return step_one(st, s, what);
}
int state_bind_fail(struct state *st, sqlite3_stmt *s, const char *what)
{
	return bind_fail(st, s, what);
}
int state_walk_end(struct state *st, sqlite3_stmt *s, int rc, int ret, const char *what)
{
	return walk_end(st, s, rc, ret, what);
}
void state_col_text(sqlite3_stmt *s, int i, char *dst, size_t cap) { col_text(s, i, dst, cap); }
int state_bind_text(sqlite3_stmt *s, int i, const char *v) { return bind_text(s, i, v); }

/* ---- users ---- */

int state_user_add(struct state *st, const char *name, const char *sources,
		   int max_sessions, int64_t now, int64_t *id)
{
	uint8_t salt[SB_SCRAM_SALT_LEN];
	if (sb_random(salt, sizeof salt) != 0)
		return fail_msg(st, "no random bytes for the SCRAM salt");
	sqlite3_stmt *s = stmt(st, Q_USER_ADD);
	if (!s)
		return STATE_ERROR;
	if (bind_text(s, 1, name) || bind_text(s, 2, sources) ||
	    sqlite3_bind_int(s, 3, max_sessions) ||
	    sqlite3_bind_blob(s, 4, salt, sizeof salt, SQLITE_TRANSIENT) ||
	    sqlite3_bind_int64(s, 5, now))
		return bind_fail(st, s, "add user");
	int rc = run_write(st, s, "add user");
	if (rc == STATE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int state_user_get(struct state *st, const char *name, struct state_user *out)
{
	sqlite3_stmt *s = stmt(st, Q_USER_GET);
	if (!s)
		return STATE_ERROR;
	if (bind_text(s, 1, name))
		return bind_fail(st, s, "get user");
	int rc = step_one(st, s, "get user");
	if (rc != STATE_OK)
		return rc;
	rc = read_user(st, s, 0, out);
	stmt_done(s);
	return rc;
}

int state_user_list(struct state *st, int (*cb)(void *ctx, const struct state_user *u),
		    void *ctx)
{
	sqlite3_stmt *s = stmt(st, Q_USER_LIST);
	if (!s)
		return STATE_ERROR;
	int rc, ret = STATE_OK;
	struct state_user u;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((ret = read_user(st, s, 0, &u)) != STATE_OK || (ret = cb(ctx, &u)) != 0)
			break;
	}
	return walk_end(st, s, rc, ret, "list users");
}

/* ---- assets ---- */

int state_asset_add(struct state *st, struct state_asset *a)
{
	sqlite3_stmt *s = stmt(st, Q_ASSET_ADD);
	if (!s)
		return STATE_ERROR;
	if (bind_text(s, 1, a->name) || bind_text(s, 2, a->protocol) ||
	    bind_text(s, 3, a->host) || sqlite3_bind_int(s, 4, a->port) ||
	    bind_text(s, 5, state_tls_name(a->tls)) || bind_text(s, 6, a->service) ||
	    sqlite3_bind_int64(s, 7, a->created))
		return bind_fail(st, s, "add asset");
	int rc = run_write(st, s, "add asset");
	if (rc == STATE_OK)
		a->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int state_asset_get(struct state *st, const char *name, struct state_asset *out)
{
	sqlite3_stmt *s = stmt(st, Q_ASSET_GET);
	if (!s)
		return STATE_ERROR;
	if (bind_text(s, 1, name))
		return bind_fail(st, s, "get asset");
	int rc = step_one(st, s, "get asset");
	if (rc != STATE_OK)
		return rc;
	rc = read_asset(st, s, 0, out);
	stmt_done(s);
	return rc;
}

int state_asset_list(struct state *st, int (*cb)(void *ctx, const struct state_asset *a),
		     void *ctx)
{
	sqlite3_stmt *s = stmt(st, Q_ASSET_LIST);
	if (!s)
		return STATE_ERROR;
	int rc, ret = STATE_OK;
	struct state_asset a;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((ret = read_asset(st, s, 0, &a)) != STATE_OK || (ret = cb(ctx, &a)) != 0)
			break;
	}
	return walk_end(st, s, rc, ret, "list assets");
}

/* ---- accounts ---- */

int state_account_add(struct state *st, int64_t asset_id, const char *name,
		      const char *username, enum state_secret_kind kind,
		      const char *ref, int64_t now, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, Q_ACCOUNT_ADD);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, asset_id) || bind_text(s, 2, name) ||
	    bind_text(s, 3, username) || bind_text(s, 4, state_secret_kind_column(kind)) ||
	    bind_text(s, 5, ref) || sqlite3_bind_int64(s, 6, now) ||
	    sqlite3_bind_int(s, 7, kind != STATE_SECRET_NONE))
		return bind_fail(st, s, "add account");
	int rc = run_write(st, s, "add account");
	if (rc == STATE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int state_account_set_blob(struct state *st, int64_t id, const uint8_t *blob, size_t len)
{
	if (len > STATE_BLOB_MAX)
		return fail_msg(st, "sealed secret too long");
	sqlite3_stmt *s = stmt(st, Q_ACCOUNT_SET_BLOB);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id) ||
	    sqlite3_bind_blob(s, 2, blob, (int)len, SQLITE_STATIC))
		return bind_fail(st, s, "store secret");
	int rc = run_write(st, s, "store secret");
	if (rc == STATE_OK && sqlite3_changes(st->db) == 0)
		return STATE_NOT_FOUND;
	return rc;
}

int state_account_get(struct state *st, const char *asset, const char *name,
		      struct state_account *out)
{
	sqlite3_stmt *s = stmt(st, Q_ACCOUNT_GET);
	if (!s)
		return STATE_ERROR;
	if (bind_text(s, 1, asset) || bind_text(s, 2, name))
		return bind_fail(st, s, "get account");
	int rc = step_one(st, s, "get account");
	if (rc != STATE_OK)
		return rc;
	rc = read_account(st, s, 0, out);
	stmt_done(s);
	return rc;
}

int state_account_secret(struct state *st, int64_t id, struct state_account_secret *out)
{
	char kind[16];
	sqlite3_stmt *s = stmt(st, Q_ACCOUNT_SECRET);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return bind_fail(st, s, "get account secret");
	int rc = step_one(st, s, "get account secret");
	if (rc != STATE_OK)
		return rc;
	memset(out, 0, sizeof *out);
	col_text(s, 0, kind, sizeof kind);
	const void *b = sqlite3_column_blob(s, 1);
	size_t n = (size_t)sqlite3_column_bytes(s, 1);
	col_text(s, 2, out->ref, sizeof out->ref);
	rc = STATE_OK;
	if (kind_read(kind, sqlite3_column_int(s, 3), &out->kind) != 0)
		rc = fail_msg(st, "corrupt accounts.secret_kind");
	else if (n > sizeof out->blob)
		rc = fail_msg(st, "corrupt accounts.secret_blob");
	else if (b) {
		memcpy(out->blob, b, n);
		out->blob_len = n;
	}
	stmt_done(s);
	return rc;
}

int state_account_list(struct state *st,
		       int (*cb)(void *ctx, const struct state_account *a), void *ctx)
{
	sqlite3_stmt *s = stmt(st, Q_ACCOUNT_LIST);
	if (!s)
		return STATE_ERROR;
	int rc, ret = STATE_OK;
	struct state_account a;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((ret = read_account(st, s, 0, &a)) != STATE_OK || (ret = cb(ctx, &a)) != 0)
			break;
	}
	return walk_end(st, s, rc, ret, "list accounts");
}

/* ---- grants ---- */

int state_grant_add(struct state *st, int64_t user_id, int64_t account_id,
		    enum policy_level level, const char *hours, int64_t until,
		    int64_t now, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, Q_GRANT_ADD);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, user_id) || sqlite3_bind_int64(s, 2, account_id) ||
	    bind_text(s, 3, policy_level_name(level)) || bind_text(s, 4, hours) ||
	    sqlite3_bind_int64(s, 5, until) || sqlite3_bind_int64(s, 6, now))
		return bind_fail(st, s, "add grant");
	int rc = run_write(st, s, "add grant");
	if (rc == STATE_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int state_grant_list(struct state *st, int64_t user_id, int64_t account_id,
		     int (*cb)(void *ctx, const struct state_grant *g), void *ctx)
{
	/* The login path asks for one user and one account: use the query
	 * the (user_id, account_id) index serves. */
	sqlite3_stmt *s = stmt(st, user_id && account_id ? Q_GRANT_FOR : Q_GRANT_LIST);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, user_id) || sqlite3_bind_int64(s, 2, account_id))
		return bind_fail(st, s, "list grants");
	int rc, ret = STATE_OK;
	struct state_grant g;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((ret = state_read_grant(st, s, &g)) != STATE_OK || (ret = cb(ctx, &g)) != 0)
			break;
	}
	return walk_end(st, s, rc, ret, "list grants");
}

/* ---- tokens ---- */

/* RFC 4648 base32, lower case, no padding: 20 bytes -> 32 characters. */
static void base32_lower(const uint8_t *in, size_t n, char *out)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

int state_token_issue(struct state *st, int64_t user_id, int64_t account_id,
		      int64_t now, int64_t expires, char token_out[STATE_TOKEN_LEN + 1],
		      int64_t *id)
{
	uint8_t salt[SB_SCRAM_SALT_LEN], rnd[20], salted[SB_SHA256_LEN];
	uint8_t client_key[SB_SHA256_LEN], stored_key[SB_SHA256_LEN];
	uint8_t server_key[SB_SHA256_LEN], sha[SB_SHA256_LEN];
	uint8_t sha1[SB_SHA1_LEN], native[SB_SHA1_LEN];
	uint8_t sha2_1[SB_SHA256_LEN], sha2[SB_SHA256_LEN];
	int ret = STATE_ERROR;
	token_out[0] = '\0';

	sqlite3_stmt *s = stmt(st, Q_USER_SALT);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, user_id))
		return bind_fail(st, s, "issue token");
	int rc = step_one(st, s, "issue token");
	if (rc != STATE_OK)
		return rc;
	rc = col_blob(s, 0, salt, sizeof salt);
	stmt_done(s);
	if (rc != 0)
		return fail_msg(st, "corrupt users.scram_salt");

	if (sb_random(rnd, sizeof rnd) != 0) {
		fail_msg(st, "no random bytes for the token");
		goto fail;
	}
	memcpy(token_out, STATE_TOKEN_PREFIX, 4);
	base32_lower(rnd, sizeof rnd, token_out + 4);
	size_t tlen = strlen(token_out);

	/* RFC 5802: SaltedPassword = Hi(token, salt, i); ClientKey =
	 * HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey);
	 * ServerKey = HMAC(SaltedPassword, "Server Key"). The token is ASCII,
	 * so SASLprep leaves it unchanged. */
	if (sb_pbkdf2_sha256(token_out, tlen, salt, sizeof salt, SB_SCRAM_ITERATIONS,
			     salted) != 0) {
		fail_msg(st, "PBKDF2 failed");
		goto fail;
	}
	sb_hmac_sha256(salted, sizeof salted, "Client Key", 10, client_key);
	sb_sha256(client_key, sizeof client_key, stored_key);
	sb_hmac_sha256(salted, sizeof salted, "Server Key", 10, server_key);
	state_token_lookup_hash(token_out, tlen, sha);
	sb_sha1(token_out, tlen, sha1);
	sb_sha1(sha1, sizeof sha1, native);
	sb_sha256(token_out, tlen, sha2_1);
	sb_sha256(sha2_1, sizeof sha2_1, sha2);

	s = stmt(st, Q_TOKEN_ADD);
	if (!s)
		goto fail;
	if (sqlite3_bind_int64(s, 1, user_id) || sqlite3_bind_int64(s, 2, account_id) ||
	    sqlite3_bind_int64(s, 3, now) || sqlite3_bind_int64(s, 4, expires) ||
	    sqlite3_bind_int(s, 5, SB_SCRAM_ITERATIONS) ||
	    sqlite3_bind_blob(s, 6, stored_key, sizeof stored_key, SQLITE_STATIC) ||
	    sqlite3_bind_blob(s, 7, server_key, sizeof server_key, SQLITE_STATIC) ||
	    sqlite3_bind_blob(s, 8, sha, sizeof sha, SQLITE_STATIC) ||
	    sqlite3_bind_blob(s, 9, native, sizeof native, SQLITE_STATIC) ||
	    sqlite3_bind_blob(s, 10, sha2, sizeof sha2, SQLITE_STATIC)) {
		stmt_done(s);
		fail_db(st, "issue token");
		goto fail;
	}
	ret = run_write(st, s, "issue token");
	if (ret != STATE_OK) {
		if (ret == STATE_EXISTS)
			ret = fail_msg(st, "issue token: random token collided; try again");
		goto fail;
	}
	if (id)
		*id = sqlite3_last_insert_rowid(st->db);
	goto out;
fail:
	sb_wipe(token_out, STATE_TOKEN_LEN + 1);
	ret = STATE_ERROR;
out:
	sb_wipe(rnd, sizeof rnd);
	sb_wipe(salted, sizeof salted);
	sb_wipe(client_key, sizeof client_key);
	sb_wipe(sha1, sizeof sha1);
	sb_wipe(sha2_1, sizeof sha2_1);
	return ret;
}

int state_token_get(struct state *st, int64_t id, struct state_token_info *out)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_GET);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return bind_fail(st, s, "get token");
	int rc = step_one(st, s, "get token");
	if (rc != STATE_OK)
		return rc;
	read_token(s, 0, out);
	stmt_done(s);
	return STATE_OK;
}

int state_token_list(struct state *st,
		     int (*cb)(void *ctx, const struct state_token_info *t), void *ctx)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_LIST);
	if (!s)
		return STATE_ERROR;
	int rc, ret = STATE_OK;
	struct state_token_info t;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_token(s, 0, &t);
		if ((ret = cb(ctx, &t)) != 0)
			break;
	}
	return walk_end(st, s, rc, ret, "list tokens");
}

/* Run an "UPDATE tokens ... WHERE id = ?1 AND revoked_at IS NULL" and tell
 * a missing token from a revoked one when nothing changed. */
static int token_update(struct state *st, enum query q, int64_t id, int64_t v,
			const char *what)
{
	sqlite3_stmt *s = stmt(st, q);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id) || sqlite3_bind_int64(s, 2, v))
		return bind_fail(st, s, what);
	int rc = run_write(st, s, what);
	if (rc != STATE_OK || sqlite3_changes(st->db) > 0)
		return rc;
	struct state_token_info t;
	rc = state_token_get(st, id, &t);
	if (rc == STATE_OK) {
		snprintf(st->err, sizeof st->err, "token %lld is revoked", (long long)id);
		return STATE_EXISTS;
	}
	if (rc == STATE_NOT_FOUND)
		snprintf(st->err, sizeof st->err, "no token %lld", (long long)id);
	return rc;
}

int state_token_renew(struct state *st, int64_t id, int64_t expires)
{
	return token_update(st, Q_TOKEN_RENEW, id, expires, "renew token");
}

int state_token_revoke(struct state *st, int64_t id, int64_t now)
{
	return token_update(st, Q_TOKEN_REVOKE, id, now, "revoke token");
}

int state_token_touch(struct state *st, int64_t id, int64_t now)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_TOUCH);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id) || sqlite3_bind_int64(s, 2, now))
		return bind_fail(st, s, "touch token");
	return run_write(st, s, "touch token");
}

void state_token_lookup_hash(const char *token, size_t len, uint8_t out[SB_SHA256_LEN])
{
	static const char label[] = "sqlbastion token lookup";
	sb_hmac_sha256(label, sizeof label - 1, token, len, out);
}

int state_token_by_sha256(struct state *st, const uint8_t hash[SB_SHA256_LEN],
			  int64_t *id, int64_t *user_id)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_BY_SHA);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_blob(s, 1, hash, SB_SHA256_LEN, SQLITE_STATIC))
		return bind_fail(st, s, "find token");
	int rc = step_one(st, s, "find token");
	if (rc != STATE_OK)
		return rc;
	*id = sqlite3_column_int64(s, 0);
	*user_id = sqlite3_column_int64(s, 1);
	stmt_done(s);
	return STATE_OK;
}

int state_token_verifiers(struct state *st, int64_t user_id, int64_t since, int64_t now,
			  int (*cb)(void *ctx, const struct state_token_verifier *v),
			  void *ctx)
{
	sqlite3_stmt *s = stmt(st, Q_TOKEN_VERIFIERS);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, user_id) || sqlite3_bind_int64(s, 2, since) ||
	    sqlite3_bind_int64(s, 3, now))
		return bind_fail(st, s, "token verifiers");
	int rc, ret = STATE_OK;
	struct state_token_verifier v;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&v, 0, sizeof v);
		v.id = sqlite3_column_int64(s, 0);
		v.iterations = sqlite3_column_int(s, 1);
		if (col_blob(s, 2, v.stored_key, sizeof v.stored_key) ||
		    col_blob(s, 3, v.server_key, sizeof v.server_key) ||
		    col_blob(s, 4, v.mysql_native, sizeof v.mysql_native) ||
		    col_blob(s, 8, v.mysql_sha2, sizeof v.mysql_sha2)) {
			ret = fail_msg(st, "corrupt token verifiers");
			break;
		}
		v.created = sqlite3_column_int64(s, 5);
		v.expires = sqlite3_column_int64(s, 6);
		v.revoked_at = sqlite3_column_int64(s, 7);
		ret = cb(ctx, &v);
		if (ret != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fail_db(st, "token verifiers");
	sb_wipe(&v, sizeof v);
	stmt_done(s);
	return ret;
}

int state_login_get(struct state *st, int64_t token_id, struct state_login *out)
{
	sqlite3_stmt *s = stmt(st, Q_LOGIN);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, token_id))
		return bind_fail(st, s, "login lookup");
	int rc = step_one(st, s, "login lookup");
	if (rc != STATE_OK)
		return rc;
	read_token(s, 0, &out->token);
	rc = read_user(st, s, 10, &out->user);
	/* Column offsets: TOKEN_COLS 10, USER_COLS 6, ACCOUNT_COLS 8. */
	if (rc == STATE_OK)
		rc = read_account(st, s, 16, &out->account);
	if (rc == STATE_OK)
		rc = read_asset(st, s, 24, &out->asset);
	stmt_done(s);
	return rc;
}
