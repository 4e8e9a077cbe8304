/* audit_verify: proves a JSON-lines audit file is the chain its writers
 * made, or names the first line where it is not.
 *
 * It re-reads the file line by line and checks, for each record, that the
 * line is complete and valid JSON, that its seq is one more than the
 * previous one (1 for the first line), and that its hash is
 * hex(SHA-256(prev_hash_hex || line_without_hash)) as audit_writer.c made
 * it. An edited byte, a deleted or moved line, records deleted from the
 * start and a file cut mid-line are all caught.
 *
 * What the file alone cannot show: whole records deleted from the end (the
 * shorter file is still a valid chain), and a file rewritten with freshly
 * computed hashes (the chain has no key). audit_verify_with_index() closes
 * part of that gap with the high-water mark kept in the SQLite index: the
 * index's last seq and its hash must still be in the file. An index synced
 * after the deletion has forgotten it, so verify before searching.
 *
 * It does not repair anything, does not read the index beyond two rows, and
 * never logs.
 */
#include "audit/audit.h"
#include "audit/audit_json.h"
#include "proxy/crypto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

static const char zero_hash[AUDIT_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

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

/* What one pass over the file learned. */
struct chain_walk {
	uint64_t records;   /* records verified */
	uint64_t last_seq;  /* seq of the last verified record */
	char last_hash[AUDIT_HASH_HEX + 1];
	char root_hash[AUDIT_HASH_HEX + 1]; /* hash of seq 1, "" if none */
	char first_ts[40];  /* ts of the first record, "" if none */
	uint64_t probe_seq; /* in: a seq whose hash to remember, 0 = none */
	char probe_hash[AUDIT_HASH_HEX + 1]; /* out: "" if not reached */
};

/* The ts member of a record, copied into out (empty when absent). */
static void record_ts(const char *line, size_t len, char *out, size_t outlen)
{
	struct audit_json_member m;
	out[0] = '\0';
	if (audit_json_get(line, len, "ts", &m) == 1 &&
	    m.type == AUDIT_JSON_STRING && m.vallen < outlen) {
		memcpy(out, m.val, m.vallen);
		out[m.vallen] = '\0';
	}
}

static int walk_chain(const char *path, struct chain_walk *w, char *errbuf,
		      size_t errlen)
{
	FILE *f = NULL;
	char *line = NULL;
	size_t linecap = 0;
	struct audit_buf h;
	uint64_t lineno = 0;
	ssize_t n;
	int ret = -1;

	audit_buf_init(&h);
	w->records = 0;
	w->last_seq = 0;
	memcpy(w->last_hash, zero_hash, sizeof w->last_hash);
	w->root_hash[0] = '\0';
	w->first_ts[0] = '\0';
	w->probe_hash[0] = '\0';

	f = fopen(path, "re");
	if (!f) {
		seterr(errbuf, errlen, "open %s: %s", path, strerror(errno));
		goto fail;
	}
	while ((n = getline(&line, &linecap, f)) > 0) {
		uint64_t seq;
		char hash[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
		uint8_t md[SB_SHA256_LEN];
		size_t len = (size_t)n;

		lineno++;
		if (line[len - 1] != '\n') {
			seterr(errbuf, errlen,
			       "line %llu: truncated line (no newline at end "
			       "of file)",
			       (unsigned long long)lineno);
			goto fail;
		}
		len--;
		if (len == 0 || line[0] != '{' || !audit_json_valid(line, len)) {
			seterr(errbuf, errlen,
			       "line %llu: not JSON / truncated line",
			       (unsigned long long)lineno);
			goto fail;
		}
		if (audit_record_tail(line, len, &seq, hash) < 0) {
			seterr(errbuf, errlen,
			       "line %llu: no seq and hash at the end of the "
			       "record (edited?)",
			       (unsigned long long)lineno);
			goto fail;
		}
		if (seq != w->last_seq + 1) {
			if (lineno == 1)
				seterr(errbuf, errlen,
				       "line 1: seq %llu at the start of the "
				       "file, want 1 (leading records "
				       "deleted?)",
				       (unsigned long long)seq);
			else
				seterr(errbuf, errlen,
				       "line %llu: seq %llu follows %llu "
				       "(record deleted or reordered)",
				       (unsigned long long)lineno,
				       (unsigned long long)seq,
				       (unsigned long long)w->last_seq);
			goto fail;
		}
		h.len = 0;
		audit_buf_put(&h, w->last_hash, AUDIT_HASH_HEX);
		audit_buf_put(&h, line, len - AUDIT_HASH_SUFFIX_LEN);
		if (h.oom) {
			seterr(errbuf, errlen, "out of memory");
			goto fail;
		}
		sb_sha256(h.p, h.len, md);
		sb_hex(md, sizeof md, want);
		if (memcmp(want, hash, AUDIT_HASH_HEX) != 0) {
			seterr(errbuf, errlen,
			       "line %llu: hash mismatch (record edited?)",
			       (unsigned long long)lineno);
			goto fail;
		}
		if (seq == 1) {
			memcpy(w->root_hash, hash, sizeof hash);
			record_ts(line, len, w->first_ts, sizeof w->first_ts);
		}
		if (seq == w->probe_seq)
			memcpy(w->probe_hash, hash, sizeof hash);
		w->last_seq = seq;
		memcpy(w->last_hash, hash, sizeof hash);
		w->records++;
	}
	if (ferror(f)) {
		seterr(errbuf, errlen, "read %s: %s", path, strerror(errno));
		goto fail;
	}
	ret = 0;
fail:
	if (f)
		fclose(f);
	free(line);
	audit_buf_free(&h);
	return ret;
}

int audit_verify_file(const char *jsonl_path, uint64_t *records, char *errbuf,
		      size_t errlen)
{
	struct chain_walk w;
	memset(&w, 0, sizeof w);
	int r = walk_chain(jsonl_path, &w, errbuf, errlen);
	if (records)
		*records = w.records;
	return r;
}

/* ---- the index's high-water mark ---- */

struct index_mark {
	uint64_t max_seq;                    /* 0: empty or no index */
	char max_hash[AUDIT_HASH_HEX + 1];
	char max_ts[40];
	char root_hash[AUDIT_HASH_HEX + 1];  /* "" when seq 1 is absent */
};

/* Hash and ts of one indexed line (the index keeps the raw line). */
static int mark_from_line(const unsigned char *line, int n, char *hash,
			  char *ts, size_t tslen)
{
	uint64_t seq;
	if (!line || n <= 0 ||
	    audit_record_tail((const char *)line, (size_t)n, &seq, hash) < 0)
		return -1;
	if (ts)
		record_ts((const char *)line, (size_t)n, ts, tslen);
	return 0;
}

static int read_mark(const char *sqlite_path, struct index_mark *mk,
		     char *errbuf, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int ret = -1, rc;

	memset(mk, 0, sizeof *mk);
	if (!sqlite_path || stat(sqlite_path, &sb) < 0)
		return 0; /* no index: nothing to compare */
	if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		goto fail_db;
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_prepare_v2(db,
				"SELECT seq, line FROM records WHERE seq = "
				"(SELECT max(seq) FROM records) OR seq = 1",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		/* a database without our table: not an index yet */
		if (sqlite3_strnicmp(sqlite3_errmsg(db), "no such table", 13) ==
		    0) {
			ret = 0;
			goto out;
		}
		goto fail_db;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		const unsigned char *line = sqlite3_column_text(st, 1);
		int n = sqlite3_column_bytes(st, 1);
		char hash[AUDIT_HASH_HEX + 1];
		char ts[40];
		if (mark_from_line(line, n, hash, ts, sizeof ts) < 0)
			continue;
		if (seq == 1)
			memcpy(mk->root_hash, hash, sizeof hash);
		if (seq >= mk->max_seq) {
			mk->max_seq = seq;
			memcpy(mk->max_hash, hash, sizeof hash);
			memcpy(mk->max_ts, ts, sizeof ts);
		}
	}
	if (rc != SQLITE_DONE)
		goto fail_db;
	ret = 0;
	goto out;
fail_db:
	seterr(errbuf, errlen, "index %s: %s", sqlite_path,
	       db ? sqlite3_errmsg(db) : "cannot open");
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

int audit_verify_with_index(const char *jsonl_path, const char *sqlite_path,
			    uint64_t *records, char *errbuf, size_t errlen)
{
	struct index_mark mk;
	struct chain_walk w;

	memset(&w, 0, sizeof w);
	if (records)
		*records = 0;
	if (read_mark(sqlite_path, &mk, errbuf, errlen) < 0)
		return -1;
	w.probe_seq = mk.max_seq;
	if (walk_chain(jsonl_path, &w, errbuf, errlen) < 0) {
		if (records)
			*records = w.records;
		return -1;
	}
	if (records)
		*records = w.records;
	if (mk.max_seq == 0)
		return 0;
	if (w.records == 0) {
		seterr(errbuf, errlen,
		       "file is empty but the index has seen seq %llu "
		       "(truncated? after a rotation, re-sync the index)",
		       (unsigned long long)mk.max_seq);
		return -1;
	}
	/* A different chain that starts after everything the index saw is a
	 * rotated file: nothing to compare. */
	if (strcmp(w.root_hash, mk.root_hash) != 0 && mk.max_ts[0] &&
	    strcmp(w.first_ts, mk.max_ts) > 0)
		return 0;
	if (w.last_seq < mk.max_seq) {
		seterr(errbuf, errlen,
		       "line %llu: file ends at seq %llu but the index has "
		       "seen seq %llu (records deleted from the end?)",
		       (unsigned long long)w.records,
		       (unsigned long long)w.last_seq,
		       (unsigned long long)mk.max_seq);
		return -1;
	}
	if (strcmp(w.probe_hash, mk.max_hash) != 0) {
		seterr(errbuf, errlen,
		       "line %llu: seq %llu differs from the indexed copy "
		       "(file rewritten?)",
		       (unsigned long long)mk.max_seq,
		       (unsigned long long)mk.max_seq);
		return -1;
	}
	return 0;
}
