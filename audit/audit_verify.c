/* audit_verify: proves a sequence of JSON-lines audit files is the chain
 * its writers made, or names the first line where it is not.
 *
 * It re-reads the files line by line, in the order given, and checks, for
 * each record, that the line is complete and valid JSON, that its seq is
 * one more than the previous one, and that its hash is
 * hex(SHA-256(prev_hash_hex || line_without_hash)) (HMAC-SHA-256 with the
 * key when one is given) as audit_writer.c made it, where the previous
 * hash may come from the previous file. The first record of a file that
 * continues a chain carries "prev", which must equal the last hash of the
 * previous file. An edited byte, a deleted, moved or swapped line, records
 * deleted from the start, a missing or reordered file and a file cut
 * mid-line are all caught. One cut is reported apart (AUDIT_VERIFY_TORN):
 * an incomplete last line of the newest file, which is what a writer
 * killed in the middle of write(2) leaves (the kernel may stop a write at
 * a page boundary on SIGKILL); the writer seals it at its next start.
 *
 * The anchor: the first record of the first file is either seq 1 or
 * carries "prev" (its predecessors were removed by retention); its own
 * link cannot be checked, only everything after it.
 *
 * What the files alone cannot show: whole records deleted from the end of
 * the newest file (the shorter chain is still valid), and (without a key)
 * files rewritten with freshly computed hashes. audit_verify_with_index()
 * closes part of that gap with the high-water mark kept in the SQLite
 * index: the index's last seq and its hash must still be in the files. An
 * index synced after the deletion has forgotten it, so verify before
 * searching. With an HMAC key, only a holder of the key can extend or
 * rewrite the chain.
 *
 * It does not repair anything, does not read the index beyond two rows, and
 * never logs.
 */
#include "audit/audit.h"
#include "audit/audit_err.h"
#include "audit/audit_json.h"
#include "lib/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

static const char zero_hash[AUDIT_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* What the pass over the files learned (carried from file to file). */
struct chain_walk {
	uint64_t records;   /* records verified */
	uint64_t last_seq;  /* seq of the last verified record */
	int started;        /* last_seq/last_hash hold a chain head */
	char last_hash[AUDIT_HASH_HEX + 1];
	const uint8_t *key; /* borrowed; NULL = SHA-256 */
	size_t keylen;
	uint64_t probe_seq; /* in: a seq whose hash to remember, 0 = none */
	char probe_hash[AUDIT_HASH_HEX + 1]; /* out: "" if not reached */
	/* out: the newest file ends in an incomplete line (a writer stopped
	 * mid-write); its path, line number and length */
	const char *torn_path;
	uint64_t torn_line;
	size_t torn_len;
};

/* The "prev" member of a record, into out: 1 found, 0 absent. */
static int record_prev(const char *line, size_t len,
		       char out[AUDIT_HASH_HEX + 1])
{
	struct audit_json_member m;
	if (audit_json_get(line, len, "prev", &m) == 1 &&
	    m.type == AUDIT_JSON_STRING && m.vallen == AUDIT_HASH_HEX) {
		memcpy(out, m.val, AUDIT_HASH_HEX);
		out[AUDIT_HASH_HEX] = '\0';
		return 1;
	}
	return 0;
}

#define VERR(...)                                                     \
	do {                                                          \
		char m_[512];                                         \
		snprintf(m_, sizeof m_, __VA_ARGS__);                 \
		audit_seterr(errbuf, errlen, "%s: line %llu: %s", path,     \
		       (unsigned long long)lineno, m_);               \
	} while (0)

/* `newest`: path is the last file of the chain, where a writer that
 * stopped mid-write (kill -9, crash) may have left an incomplete last line;
 * that is recorded in w, not failed (the next writer seals it, see
 * audit_writer.c). Anywhere else a line without its newline is damage. */
static int walk_file(const char *path, int newest, struct chain_walk *w,
		     char *errbuf, size_t errlen)
{
	FILE *f = NULL;
	char *line = NULL;
	size_t linecap = 0;
	struct audit_buf h;
	uint64_t lineno = 0;
	ssize_t n;
	int ret = -1;

	audit_buf_init(&h);
	f = fopen(path, "re");
	if (!f) {
		audit_seterr(errbuf, errlen, "open %s: %s", path, strerror(errno));
		goto fail;
	}
	while ((n = getline(&line, &linecap, f)) > 0) {
		uint64_t seq;
		char hash[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
		char prev[AUDIT_HASH_HEX + 1];
		uint8_t md[SB_SHA256_LEN];
		size_t len = (size_t)n;

		lineno++;
		if (line[len - 1] != '\n' && newest) {
			w->torn_path = path;
			w->torn_line = lineno;
			w->torn_len = len;
			break;
		}
		if (line[len - 1] != '\n') {
			VERR("truncated line (no newline at end of file)");
			goto fail;
		}
		len--;
		if (len == 0 || line[0] != '{' || !audit_json_valid(line, len)) {
			VERR("not JSON / truncated line");
			goto fail;
		}
		if (audit_record_tail(line, len, &seq, hash) < 0) {
			VERR("no seq and hash at the end of the record (edited?)");
			goto fail;
		}
		int has_prev = lineno == 1 && record_prev(line, len, prev);
		if (!w->started) {
			/* the anchor: seq 1, or a continued file whose
			 * predecessors are gone */
			if (seq == 1) {
				memcpy(w->last_hash, zero_hash, sizeof w->last_hash);
			} else if (has_prev) {
				memcpy(w->last_hash, prev, sizeof w->last_hash);
			} else {
				VERR("seq %llu at the start of the file, want 1 "
				     "(leading records deleted?)",
				     (unsigned long long)seq);
				goto fail;
			}
			w->last_seq = seq - 1;
			w->started = 1;
		} else if (lineno == 1 && has_prev &&
			   strcmp(prev, w->last_hash) != 0) {
			VERR("prev does not match the last record of the "
			     "previous file (a file missing or out of order?)");
			goto fail;
		} else if (lineno == 1 && seq == w->last_seq + 1 && !has_prev &&
			   seq > 1) {
			VERR("first record of a continued file has no prev "
			     "(leading records deleted?)");
			goto fail;
		}
		if (seq != w->last_seq + 1) {
			if (lineno == 1)
				VERR("seq %llu at the start of the file, want "
				     "%llu (records deleted, or files out of "
				     "order?)",
				     (unsigned long long)seq,
				     (unsigned long long)(w->last_seq + 1));
			else
				VERR("seq %llu follows %llu (record deleted "
				     "or reordered)",
				     (unsigned long long)seq,
				     (unsigned long long)w->last_seq);
			goto fail;
		}
		h.len = 0;
		audit_buf_put(&h, w->last_hash, AUDIT_HASH_HEX);
		audit_buf_put(&h, line, len - AUDIT_HASH_SUFFIX_LEN);
		if (h.oom) {
			audit_seterr(errbuf, errlen, "out of memory");
			goto fail;
		}
		if (w->key)
			sb_hmac_sha256(w->key, w->keylen, h.p, h.len, md);
		else
			sb_sha256(h.p, h.len, md);
		sb_hex(md, sizeof md, want);
		if (memcmp(want, hash, AUDIT_HASH_HEX) != 0) {
			VERR("hash mismatch (record edited%s?)",
			     w->key ? ", or written without this hmac key" : "");
			goto fail;
		}
		if (seq == w->probe_seq)
			memcpy(w->probe_hash, hash, sizeof hash);
		w->last_seq = seq;
		memcpy(w->last_hash, hash, sizeof hash);
		w->records++;
	}
	if (ferror(f)) {
		audit_seterr(errbuf, errlen, "read %s: %s", path, strerror(errno));
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

static int walk_chain(const char *const *paths, size_t n, struct chain_walk *w,
		      char *errbuf, size_t errlen)
{
	w->records = 0;
	w->last_seq = 0;
	w->started = 0;
	memcpy(w->last_hash, zero_hash, sizeof w->last_hash);
	w->probe_hash[0] = '\0';
	w->torn_path = NULL;
	for (size_t i = 0; i < n; i++)
		if (walk_file(paths[i], i + 1 == n, w, errbuf, errlen) < 0)
			return -1;
	return 0;
}

/* An intact chain that ends in an incomplete line: AUDIT_VERIFY_TORN with
 * errbuf saying where; otherwise 0. */
static int torn_result(const struct chain_walk *w, char *errbuf, size_t errlen)
{
	if (!w->torn_path)
		return 0;
	audit_seterr(errbuf, errlen,
	       "%s: line %llu: incomplete last line (%zu bytes, no newline): "
	       "a writer stopped mid-write (kill -9, crash); every record "
	       "before it is intact, and the next writer seals the fragment "
	       "into the chain",
	       w->torn_path, (unsigned long long)w->torn_line, w->torn_len);
	return AUDIT_VERIFY_TORN;
}

int audit_verify_files(const char *const *paths, size_t n, const uint8_t *key,
		       size_t keylen, uint64_t *records, uint64_t *last_seq,
		       char *errbuf, size_t errlen)
{
	struct chain_walk w;
	memset(&w, 0, sizeof w);
	w.key = key;
	w.keylen = keylen;
	int r = walk_chain(paths, n, &w, errbuf, errlen);
	if (records)
		*records = w.records;
	if (last_seq)
		*last_seq = w.last_seq;
	return r < 0 ? r : torn_result(&w, errbuf, errlen);
}

int audit_verify_file(const char *jsonl_path, uint64_t *records, char *errbuf,
		      size_t errlen)
{
	return audit_verify_files(&jsonl_path, 1, NULL, 0, records, NULL,
				  errbuf, errlen);
}

/* ---- the index's high-water mark ---- */

struct index_mark {
	uint64_t max_seq;                    /* 0: empty or no index */
	char max_hash[AUDIT_HASH_HEX + 1];
	char max_ts[40];
	char root_hash[AUDIT_HASH_HEX + 1];  /* "" when seq 1 is absent */
};

/* Hash and ts of one indexed line (the index keeps the raw line). */
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

/* Lines in the file at path (for messages). */
static uint64_t count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	uint64_t n = 0;
	int ch;
	if (!f)
		return 0;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

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
	audit_seterr(errbuf, errlen, "index %s: %s", sqlite_path,
	       db ? sqlite3_errmsg(db) : "cannot open");
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

int audit_verify_with_index(const char *jsonl_path, const char *sqlite_path,
			    const uint8_t *key, size_t keylen,
			    uint64_t *records, size_t *nfiles, char *errbuf,
			    size_t errlen)
{
	struct index_mark mk;
	struct chain_walk w;
	char **files = NULL;
	size_t n = 0;
	int ret = -1;

	memset(&w, 0, sizeof w);
	w.key = key;
	w.keylen = keylen;
	if (records)
		*records = 0;
	if (nfiles)
		*nfiles = 0;
	if (read_mark(sqlite_path, &mk, errbuf, errlen) < 0)
		return -1;
	if (audit_list_files(jsonl_path, 1, &files, &n, errbuf, errlen) < 0)
		return -1;
	if (nfiles)
		*nfiles = n;
	w.probe_seq = mk.max_seq;
	int r = walk_chain((const char *const *)files, n, &w, errbuf, errlen);
	if (records)
		*records = w.records;
	if (r < 0) {
		ret = r;
		goto out;
	}
	if (mk.max_seq == 0) {
		ret = 0;
		goto out;
	}
	if (w.records == 0) {
		audit_seterr(errbuf, errlen,
		       "%s: the files hold no record but the index has seen "
		       "seq %llu (truncated?)",
		       jsonl_path, (unsigned long long)mk.max_seq);
		goto out;
	}
	if (w.last_seq < mk.max_seq) {
		audit_seterr(errbuf, errlen,
		       "%s: line %llu: file ends at seq %llu but the index has "
		       "seen seq %llu (records deleted from the end?)",
		       jsonl_path, (unsigned long long)count_lines(jsonl_path),
		       (unsigned long long)w.last_seq,
		       (unsigned long long)mk.max_seq);
		goto out;
	}
	if (w.probe_hash[0] && strcmp(w.probe_hash, mk.max_hash) != 0) {
		audit_seterr(errbuf, errlen,
		       "seq %llu differs from the indexed copy (file "
		       "rewritten?)",
		       (unsigned long long)mk.max_seq);
		goto out;
	}
	ret = 0;
out:
	if (ret == 0)
		ret = torn_result(&w, errbuf, errlen);
	audit_free_list(files, n);
	return ret;
}
