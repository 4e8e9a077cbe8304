/* audit_index: the SQLite search index derived from the JSON-lines file.
 *
 * audit_index_sync() reads the lines appended since the last sync (from the
 * byte offset kept in the meta table) and inserts them into records in one
 * transaction. seq is unique across rotated files, so rows of older files
 * stay: when the file was rotated (another inode), the rest of the rotated
 * file is found beside it by its inode and indexed first, then the new file
 * from its start; when the file shrank or was rewritten under the same
 * inode, the rows from its first seq on are dropped and it is re-read.
 * audit_index_rebuild() drops everything and reads a list of files. A
 * trailing half line is left for the next sync. Lines it cannot read as records (no seq) are
 * skipped: proving the file is intact is audit_verify's job, not this one.
 *
 * The database is created mode 0600 in WAL mode, so searches can run while
 * another process syncs. Schema:
 *   records(seq INTEGER PRIMARY KEY, ts, event, session, user, client,
 *           protocol, asset, account, database, statement, verb, decision,
 *           rule, rows, error, duration_us, entry, line TEXT)  -- line = raw JSON
 *   meta(key TEXT PRIMARY KEY, value)  -- 'offset', 'inode', 'tail'
 * ('tail' holds the last bytes indexed, so a file truncated and written
 * again past the old offset under the same inode is noticed too.)
 * It never runs on the proxy's hot path and never logs.
 */
#include "audit/audit.h"
#include "audit/audit_err.h"
#include "audit/audit_files.h"
#include "audit/audit_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* Bytes of the last indexed line kept to recognise the file again. */
#define INDEX_TAIL 80

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS records("
	" seq INTEGER PRIMARY KEY, ts TEXT, event TEXT, session INTEGER,"
	" user TEXT, client TEXT, protocol TEXT, asset TEXT, account TEXT,"
	" database TEXT, statement TEXT, verb TEXT, decision TEXT, rule TEXT,"
	" rows INTEGER, error TEXT, duration_us INTEGER, line TEXT NOT NULL,"
	" entry TEXT);"
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
	"duration_us", "entry",
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

/* An index made before the entry column (issue 14) gets it, filled from
 * each row's own JSON line (records without "entry" stay NULL). */
static int add_entry_column(sqlite3 *db, char **msg)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('records')"
				    " WHERE name = 'entry'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return SQLITE_OK;
	if (rc != SQLITE_DONE)
		return rc;
	return sqlite3_exec(db, "BEGIN IMMEDIATE;"
			    " ALTER TABLE records ADD COLUMN entry TEXT;"
			    " UPDATE records SET entry = json_extract(line, '$.entry')"
			    "  WHERE json_valid(line);"
			    " COMMIT;", NULL, NULL, msg);
}

/* Open (creating mode 0600, with the schema) the index at path. */
static sqlite3 *index_open(const char *path, char *errbuf, size_t errlen)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		audit_seterr(errbuf, errlen, "index %s: %s", path, strerror(errno));
		return NULL;
	}
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK ||
	    add_entry_column(db, &msg) != SQLITE_OK)
		goto fail;
	return db;
fail:
	audit_seterr(errbuf, errlen, "index %s: %s", path,
	       msg ? msg : db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_free(msg);
	sqlite3_close(db);
	return NULL;
}

/* Index the whole lines of f from *offset on; *offset and tail follow. */
static int index_lines(FILE *f, sqlite3_stmt *ins, struct parsed *rec,
		       int64_t *offset, char *tail, size_t *taillen,
		       uint64_t *count)
{
	char *line = NULL;
	size_t linecap = 0;
	ssize_t n;
	int rc = SQLITE_OK;
	if (fseeko(f, (off_t)*offset, SEEK_SET) < 0)
		return SQLITE_IOERR;
	while ((n = getline(&line, &linecap, f)) > 0) {
		size_t len = (size_t)n;
		if (line[len - 1] != '\n')
			break; /* half line: next time */
		*offset += n;
		*taillen = len < INDEX_TAIL ? len : INDEX_TAIL;
		memcpy(tail, line + len - *taillen, *taillen);
		len--;
		if (len > INT32_MAX || parse_line(line, len, rec) < 0)
			continue;
		if ((rc = bind_record(ins, rec, line, len)) != SQLITE_OK)
			break;
		if (count)
			(*count)++;
	}
	free(line);
	if (rc == SQLITE_OK && ferror(f))
		rc = SQLITE_IOERR;
	return rc;
}

static const char insert_sql[] =
	"INSERT OR REPLACE INTO records(seq, ts, event, session, user,"
	" client, protocol, asset, account, database, statement, verb,"
	" decision, rule, rows, error, duration_us, entry, line)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	" ?13, ?14, ?15, ?16, ?17, ?18, ?19)";

/* The rotated file beside jsonl_path whose inode is ino, opened; NULL if
 * there is none. */
static FILE *find_rotated(const char *jsonl_path, int64_t ino)
{
	char **files = NULL;
	size_t n = 0;
	FILE *found = NULL;
	if (audit_list_files(jsonl_path, 0, &files, &n, NULL, 0) < 0)
		return NULL;
	for (size_t i = n; i > 0 && !found; i--) {
		struct stat st;
		if (stat(files[i - 1], &st) == 0 && (int64_t)st.st_ino == ino)
			found = fopen(files[i - 1], "re");
	}
	audit_free_list(files, n);
	return found;
}

static int delete_from(sqlite3 *db, uint64_t seq)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "DELETE FROM records WHERE seq >= ?",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* End an indexing transaction: with save, record where the file was left
 * (offset, inode, tail) for the next sync; finalize *ins and commit
 * (*in_tx = 0). SQLITE_OK or the code that failed (still in the
 * transaction: index_done rolls it back). */
static int commit_at(sqlite3 *db, sqlite3_stmt **ins, int *in_tx, int save, int64_t offset,
		     int64_t inode, const char *tail, size_t taillen)
{
	int rc;
	if (save && ((rc = meta_set(db, "offset", offset)) != SQLITE_OK ||
		     (rc = meta_set(db, "inode", inode)) != SQLITE_OK ||
		     (rc = meta_set_tail(db, tail, taillen)) != SQLITE_OK))
		return rc;
	sqlite3_finalize(*ins);
	*ins = NULL;
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) == SQLITE_OK)
		*in_tx = 0;
	return rc;
}

/* Free what an index sync or rebuild holds, rolling back a transaction
 * still open (in_tx). */
static void index_done(sqlite3 *db, sqlite3_stmt *ins, int in_tx, struct parsed *rec)
{
	sqlite3_finalize(ins);
	if (in_tx)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	audit_buf_free(&rec->strs);
}

int audit_index_sync(const char *jsonl_path, const char *sqlite_path,
		     char *errbuf, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	FILE *f = NULL, *old = NULL;
	struct parsed rec;
	struct stat st;
	int64_t offset, inode;
	char tail[INDEX_TAIL];
	size_t taillen = 0;
	int in_tx = 0, ret = -1, rc;

	memset(&rec, 0, sizeof rec);
	audit_buf_init(&rec.strs);
	if (!jsonl_path || !sqlite_path) {
		audit_seterr(errbuf, errlen, "audit index: no file or index path");
		goto fail;
	}
	f = fopen(jsonl_path, "re");
	if (!f || fstat(fileno(f), &st) < 0) {
		audit_seterr(errbuf, errlen, "open %s: %s", jsonl_path,
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
	if ((rc = sqlite3_prepare_v2(db, insert_sql, -1, &ins, NULL)) !=
	    SQLITE_OK)
		goto fail_db;
	if (offset > 0 && inode >= 0 && inode != (int64_t)st.st_ino) {
		/* rotated: finish the file we were following, if it is
		 * still beside us and as we left it */
		old = find_rotated(jsonl_path, inode);
		if (old && tail_matches(old, offset, tail, taillen) &&
		    (rc = index_lines(old, ins, &rec, &offset, tail, &taillen,
				      NULL)) != SQLITE_OK)
			goto fail_db;
		offset = 0;
		taillen = 0;
	} else if (offset < 0 || (off_t)offset > st.st_size ||
		   (offset > 0 && !tail_matches(f, offset, tail, taillen))) {
		/* truncated or rewritten in place: drop its rows, read again */
		uint64_t first = 1;
		if (audit_file_first_seq(jsonl_path, &first) < 0)
			first = 1;
		if ((rc = delete_from(db, first)) != SQLITE_OK)
			goto fail_db;
		offset = 0;
		taillen = 0;
	}
	if ((rc = index_lines(f, ins, &rec, &offset, tail, &taillen, NULL)) !=
	    SQLITE_OK) {
		if (rc == SQLITE_IOERR) {
			audit_seterr(errbuf, errlen, "read %s: %s", jsonl_path,
			       strerror(errno));
			goto fail;
		}
		goto fail_db;
	}
	if (commit_at(db, &ins, &in_tx, 1, offset, (int64_t)st.st_ino, tail, taillen) !=
	    SQLITE_OK)
		goto fail_db;
	ret = 0;
	goto out;
fail_db:
	audit_seterr(errbuf, errlen, "index %s: %s", sqlite_path, sqlite3_errmsg(db));
fail:
out:
	index_done(db, ins, in_tx, &rec);
	if (f)
		fclose(f);
	if (old)
		fclose(old);
	return ret;
}

int audit_index_rebuild(const char *const *paths, size_t n,
			const char *sqlite_path, uint64_t *records,
			char *errbuf, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	struct parsed rec;
	char tail[INDEX_TAIL];
	size_t taillen = 0;
	int64_t offset = 0, ino = -1;
	int in_tx = 0, ret = -1, rc;

	memset(&rec, 0, sizeof rec);
	audit_buf_init(&rec.strs);
	if (records)
		*records = 0;
	db = index_open(sqlite_path, errbuf, errlen);
	if (!db)
		goto out;
	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM records;"
				   " DELETE FROM meta;",
			       NULL, NULL, NULL)) != SQLITE_OK)
		goto fail_db;
	in_tx = 1;
	if ((rc = sqlite3_prepare_v2(db, insert_sql, -1, &ins, NULL)) !=
	    SQLITE_OK)
		goto fail_db;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		FILE *f = fopen(paths[i], "re");
		if (!f || fstat(fileno(f), &st) < 0) {
			audit_seterr(errbuf, errlen, "open %s: %s", paths[i],
			       strerror(errno));
			if (f)
				fclose(f);
			goto out;
		}
		offset = 0;
		taillen = 0;
		ino = (int64_t)st.st_ino;
		rc = index_lines(f, ins, &rec, &offset, tail, &taillen, records);
		fclose(f);
		if (rc == SQLITE_IOERR) {
			audit_seterr(errbuf, errlen, "read %s: %s", paths[i],
			       strerror(errno));
			goto out;
		}
		if (rc != SQLITE_OK)
			goto fail_db;
	}
	/* follow the last file from where the rebuild stopped */
	if (commit_at(db, &ins, &in_tx, n > 0, offset, ino, tail, taillen) != SQLITE_OK)
		goto fail_db;
	ret = 0;
	goto out;
fail_db:
	audit_seterr(errbuf, errlen, "index %s: %s", sqlite_path, sqlite3_errmsg(db));
out:
	index_done(db, ins, in_tx, &rec);
	return ret;
}
