/* audit_index: the SQLite search index derived from the JSON-lines file.
 *
 * audit_index_sync() reads the lines appended since the last sync (from the
 * byte offset kept in the meta table) and inserts them into records in one
 * transaction; when the file was replaced (another inode) or shrank, it
 * drops what it had and re-reads from the start. A trailing half line is
 * left for the next sync. Lines it cannot read as records (no seq) are
 * skipped: proving the file is intact is audit_verify's job, not this one.
 *
 * The database is created mode 0600 in WAL mode, so searches can run while
 * another process syncs. Schema:
 *   records(seq INTEGER PRIMARY KEY, ts, event, session, user, client,
 *           protocol, asset, account, database, statement, verb, decision,
 *           rule, rows, error, duration_us, line TEXT)  -- line = raw JSON
 *   meta(key TEXT PRIMARY KEY, value)  -- 'offset', 'inode', 'tail'
 * ('tail' holds the last bytes indexed, so a file truncated and written
 * again past the old offset under the same inode is noticed too.)
 * It never runs on the proxy's hot path and never logs.
 */
#include "audit/audit.h"
#include "audit/audit_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

__attribute__((format(printf, 3, 4))) static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!errbuf || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/* Bytes of the last indexed line kept to recognise the file again. */
#define INDEX_TAIL 80

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS records("
	" seq INTEGER PRIMARY KEY, ts TEXT, event TEXT, session INTEGER,"
	" user TEXT, client TEXT, protocol TEXT, asset TEXT, account TEXT,"
	" database TEXT, statement TEXT, verb TEXT, decision TEXT, rule TEXT,"
	" rows INTEGER, error TEXT, duration_us INTEGER, line TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS records_ts ON records(ts);"
	"CREATE INDEX IF NOT EXISTS records_user ON records(user);"
	"CREATE INDEX IF NOT EXISTS records_session ON records(session);"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);";

/* Columns of records after seq, in insert order (parameter ?2 onwards);
 * "line" is bound separately as the last one. */
static const char *const columns[] = {
	"ts",     "event",     "session", "user",  "client",
	"protocol", "asset",   "account", "database", "statement",
	"verb",   "decision",  "rule",    "rows",  "error",
	"duration_us",
};
#define NCOLS (sizeof columns / sizeof columns[0])

static int col_is_int(size_t i)
{
	return strcmp(columns[i], "session") == 0 ||
	       strcmp(columns[i], "rows") == 0 ||
	       strcmp(columns[i], "duration_us") == 0;
}

static int col_index(const char *key, size_t keylen)
{
	for (size_t i = 0; i < NCOLS; i++)
		if (strlen(columns[i]) == keylen &&
		    memcmp(columns[i], key, keylen) == 0)
			return (int)i;
	return -1;
}

/* One parsed record: where each column's value is (strings decoded into
 * strs; offsets, since strs may move while it grows). */
struct parsed {
	int has[NCOLS];
	size_t off[NCOLS], len[NCOLS];
	int64_t num[NCOLS];
	int64_t seq;
	struct audit_buf strs;
};

static int parse_line(const char *line, size_t len, struct parsed *r)
{
	struct audit_json_iter it;
	struct audit_json_member m;
	int got_seq = 0, rc;

	memset(r->has, 0, sizeof r->has);
	r->strs.len = 0;
	r->strs.oom = 0;
	if (audit_json_iter_init(&it, line, len) < 0)
		return -1;
	while ((rc = audit_json_next(&it, &m)) == 1) {
		if (m.keylen == 3 && memcmp(m.key, "seq", 3) == 0) {
			if (audit_json_i64(&m, &r->seq) < 0 || r->seq < 0)
				return -1;
			got_seq = 1;
			continue;
		}
		int c = col_index(m.key, m.keylen);
		if (c < 0 || m.type == AUDIT_JSON_NULL)
			continue;
		if (col_is_int((size_t)c)) {
			if (audit_json_i64(&m, &r->num[c]) == 0)
				r->has[c] = 1;
			continue;
		}
		r->off[c] = r->strs.len;
		if (m.type == AUDIT_JSON_STRING) {
			if (audit_json_unescape(m.val, m.vallen, &r->strs) < 0)
				continue;
		} else {
			audit_buf_put(&r->strs, m.val, m.vallen);
		}
		r->len[c] = r->strs.len - r->off[c];
		r->has[c] = 1;
	}
	if (rc < 0 || !got_seq || r->strs.oom)
		return -1;
	return 0;
}

static int bind_record(sqlite3_stmt *ins, const struct parsed *r,
		       const char *line, size_t len)
{
	int rc = sqlite3_reset(ins);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_clear_bindings(ins);
	sqlite3_bind_int64(ins, 1, r->seq);
	for (size_t i = 0; i < NCOLS; i++) {
		int p = (int)i + 2;
		if (!r->has[i])
			continue;
		if (col_is_int(i))
			sqlite3_bind_int64(ins, p, r->num[i]);
		else
			sqlite3_bind_text(ins, p, r->strs.p + r->off[i],
					  (int)r->len[i], SQLITE_STATIC);
	}
	sqlite3_bind_text(ins, (int)NCOLS + 2, line, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(ins);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int meta_get(sqlite3 *db, const char *key, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*out = -1;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The 'tail' blob: the last bytes indexed, to notice a file truncated and
 * rewritten past the offset (copytruncate rotation keeps the inode). */
static int meta_get_tail(sqlite3 *db, char *out, size_t cap, size_t *len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
		db, "SELECT value FROM meta WHERE key = 'tail'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	*len = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		const void *p = sqlite3_column_blob(st, 0);
		if (p && n <= cap) {
			memcpy(out, p, n);
			*len = n;
		}
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static int meta_set_tail(sqlite3 *db, const char *tail, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
		db, "INSERT OR REPLACE INTO meta(key, value) VALUES('tail', ?)",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(st, 1, tail, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* 1 when the file still holds tail[0..len) just before offset. */
static int tail_matches(FILE *f, int64_t offset, const char *tail, size_t len)
{
	char cur[INDEX_TAIL];
	if (len == 0 || len > sizeof cur || offset < (int64_t)len)
		return 0;
	return pread(fileno(f), cur, len, (off_t)(offset - (int64_t)len)) ==
		       (ssize_t)len &&
	       memcmp(cur, tail, len) == 0;
}

static int meta_set(sqlite3 *db, const char *key, int64_t v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
		db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1,
		&st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Open (creating mode 0600, with the schema) the index at path. */
static sqlite3 *index_open(const char *path, char *errbuf, size_t errlen)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		seterr(errbuf, errlen, "index %s: %s", path, strerror(errno));
		return NULL;
	}
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return db;
fail:
	seterr(errbuf, errlen, "index %s: %s", path,
	       msg ? msg : db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_free(msg);
	sqlite3_close(db);
	return NULL;
}

int audit_index_sync(const char *jsonl_path, const char *sqlite_path,
		     char *errbuf, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	FILE *f = NULL;
	char *line = NULL;
	size_t linecap = 0;
	struct parsed rec;
	struct stat st;
	int64_t offset, inode;
	char tail[INDEX_TAIL];
	size_t taillen = 0;
	int in_tx = 0, ret = -1, rc;
	ssize_t n;

	memset(&rec, 0, sizeof rec);
	audit_buf_init(&rec.strs);
	if (!jsonl_path || !sqlite_path) {
		seterr(errbuf, errlen, "audit index: no file or index path");
		goto fail;
	}
	f = fopen(jsonl_path, "re");
	if (!f || fstat(fileno(f), &st) < 0) {
		seterr(errbuf, errlen, "open %s: %s", jsonl_path,
		       strerror(errno));
		goto fail;
	}
	db = index_open(sqlite_path, errbuf, errlen);
	if (!db)
		goto fail;
	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		goto fail_db;
	in_tx = 1;
	if ((rc = meta_get(db, "offset", &offset)) != SQLITE_OK ||
	    (rc = meta_get(db, "inode", &inode)) != SQLITE_OK)
		goto fail_db;
	if ((rc = meta_get_tail(db, tail, sizeof tail, &taillen)) != SQLITE_OK)
		goto fail_db;
	if (offset < 0 || inode != (int64_t)st.st_ino ||
	    (off_t)offset > st.st_size ||
	    (offset > 0 && !tail_matches(f, offset, tail, taillen))) {
		/* replaced, truncated or never indexed: start over */
		if ((rc = sqlite3_exec(db, "DELETE FROM records", NULL, NULL,
				       NULL)) != SQLITE_OK)
			goto fail_db;
		offset = 0;
		taillen = 0;
	}
	if (fseeko(f, (off_t)offset, SEEK_SET) < 0) {
		seterr(errbuf, errlen, "seek %s: %s", jsonl_path,
		       strerror(errno));
		goto fail;
	}
	rc = sqlite3_prepare_v2(
		db,
		"INSERT OR REPLACE INTO records(seq, ts, event, session, user,"
		" client, protocol, asset, account, database, statement, verb,"
		" decision, rule, rows, error, duration_us, line)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
		" ?13, ?14, ?15, ?16, ?17, ?18)",
		-1, &ins, NULL);
	if (rc != SQLITE_OK)
		goto fail_db;
	while ((n = getline(&line, &linecap, f)) > 0) {
		size_t len = (size_t)n;
		if (line[len - 1] != '\n')
			break; /* half line: next time */
		offset += n;
		taillen = len < INDEX_TAIL ? len : INDEX_TAIL;
		memcpy(tail, line + len - taillen, taillen);
		len--;
		if (len > INT32_MAX || parse_line(line, len, &rec) < 0)
			continue;
		if ((rc = bind_record(ins, &rec, line, len)) != SQLITE_OK)
			goto fail_db;
	}
	if (ferror(f)) {
		seterr(errbuf, errlen, "read %s: %s", jsonl_path,
		       strerror(errno));
		goto fail;
	}
	if ((rc = meta_set(db, "offset", offset)) != SQLITE_OK ||
	    (rc = meta_set(db, "inode", (int64_t)st.st_ino)) != SQLITE_OK ||
	    (rc = meta_set_tail(db, tail, taillen)) != SQLITE_OK)
		goto fail_db;
	sqlite3_finalize(ins);
	ins = NULL;
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail_db;
	in_tx = 0;
	ret = 0;
	goto out;
fail_db:
	seterr(errbuf, errlen, "index %s: %s", sqlite_path, sqlite3_errmsg(db));
fail:
out:
	sqlite3_finalize(ins);
	if (in_tx)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	if (f)
		fclose(f);
	free(line);
	audit_buf_free(&rec.strs);
	return ret;
}
