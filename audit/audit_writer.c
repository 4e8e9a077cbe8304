/* audit_writer: appends chained JSON-lines records to the audit file.
 *
 * It formats one event as one line, links it into the hash chain and hands
 * it to the kernel with a single write(2) under an flock(2), so several
 * handles (in this process or others, e.g. sqlbastionctl) can append to one
 * file and keep one chain. It does not sync or touch the SQLite index, does
 * not rotate files, does not fsync (the durability contract is "in the
 * kernel", see audit.h) and never logs: failures fill errbuf.
 *
 * Record format: one JSON object per line, members in this order:
 *   ts event session user client protocol asset account database statement
 *   fingerprint verb objects decision rule rows error duration_us bytes_in
 *   bytes_out query_id params seq hash
 * Always present (null when unknown): ts, event, session (null when 0),
 *   user, client, protocol (null when NULL), seq, hash.
 * Omitted when absent: the other strings when NULL (a non-NULL empty string
 *   is written as ""), rows/duration_us/bytes_in/bytes_out when negative,
 *   query_id when 0, params when NULL.
 * ts is RFC 3339 UTC with microseconds ("2026-11-22T16:04:05.123456Z"),
 *   taken when the record is built, before the lock: between concurrent
 *   writers ts may step back by microseconds; seq is the order.
 * event is audit_event_name(type) ("unknown" for a value out of range).
 * statement is statement[0..statement_len), or strlen(statement) when
 *   statement_len is 0 (so pass "" for an empty statement).
 * params is embedded as is when it is a valid one-line JSON array, and
 *   written as a JSON string otherwise, so the line stays valid JSON.
 * Strings are escaped as audit_json.h describes (valid UTF-8 kept, controls
 *   and invalid bytes as \u00XX); a line never holds a raw newline.
 *
 * Chain: seq starts at 1 in a fresh (empty) file and grows by 1.
 *   hash = hex(SHA-256(prev_hash_hex || line_without_hash)), lower-case,
 *   where line_without_hash is the line from '{' up to but excluding
 *   `,"hash":` (so it ends with `"seq":<n>`), and prev_hash_hex is the hash
 *   of the previous line, or 64 '0' for the first record of a file. Every
 *   file is its own chain: after a rotation the new file starts at seq 1.
 *
 * Failures: the record is not written and the chain state is unchanged,
 * except that a line the kernel took only in part (disk full mid-write) is
 * completed by the next call before its own record, so the file never keeps
 * a half line from this writer. A half line left by a writer that died is
 * ended with a newline by the next writer (verification then reports that
 * line), which continues the chain from the last whole record.
 *
 * A handle is not thread-safe: give each thread its own (the flock
 * serializes them) or guard one with a mutex.
 */
#include "audit/audit.h"
#include "audit/audit_json.h"
#include "proxy/crypto.h"
#include "proxy/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A buffer this large after a record (a huge statement) is released rather
 * than kept for the next one. */
#define WRITER_KEEP_MAX (1024 * 1024)
/* Bytes read back from the end of the file to recover seq and hash: the
 * ending `,"seq":<20 digits>,"hash":"<64>"}` is 102 bytes. */
#define TAIL_READ 128

struct audit_log {
	char *path;        /* owned */
	char *sqlite_path; /* owned, may be NULL; for callers, unused here */
	int wfd;           /* O_WRONLY|O_APPEND, -1 when closed */
	int rfd;           /* O_RDONLY on the same inode, for chain recovery */
	dev_t dev;
	ino_t ino;
	int synced;        /* seq, prev and size describe the file */
	off_t size;        /* file size after our last append */
	uint64_t seq;      /* seq of the last record in the file */
	char prev[AUDIT_HASH_HEX + 1]; /* hash of that record */
	/* Line being built: AUDIT_HASH_HEX bytes of room for prev (hashed
	 * together with the line in one call), then the line. */
	struct audit_buf buf;
	/* A line the kernel took only in part; same layout as buf. */
	struct audit_buf pend;
	size_t pend_done; /* bytes of the line already in the file */
	uint64_t pend_seq;
	char pend_hash[AUDIT_HASH_HEX + 1];
	int have_pend;
	/* SHA-256 with the algorithm fetched once: the one-shot sb_sha256()
	 * looks it up on every call, which is a third of a record's CPU. */
	EVP_MD *sha256;     /* owned */
	EVP_MD_CTX *md_ctx; /* owned */
	time_t ts_sec;    /* second ts_head was made for */
	char ts_head[20]; /* "YYYY-MM-DDTHH:MM:SS" */
};

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

const char *audit_event_name(enum audit_event_type t)
{
	switch (t) {
	case AUDIT_LOGIN: return "login";
	case AUDIT_LOGIN_FAILED: return "login_failed";
	case AUDIT_QUERY: return "query";
	case AUDIT_QUERY_END: return "query_end";
	case AUDIT_SESSION_END: return "session_end";
	case AUDIT_ADMIN: return "admin";
	}
	return "unknown";
}

void audit_event_init(struct audit_event *ev, enum audit_event_type type)
{
	memset(ev, 0, sizeof *ev);
	ev->type = type;
	ev->rows = -1;
	ev->duration_us = -1;
	ev->bytes_in = -1;
	ev->bytes_out = -1;
}

/* ---- files ---- */

static void close_files(struct audit_log *log)
{
	if (log->wfd >= 0)
		close(log->wfd);
	if (log->rfd >= 0)
		close(log->rfd);
	log->wfd = log->rfd = -1;
	log->synced = 0;
	log->have_pend = 0; /* its line belongs to the file we left */
}

/* Open the write and read descriptors on the same file at log->path. */
static int open_files(struct audit_log *log, char *errbuf, size_t errlen)
{
	struct stat ws, rs;
	close_files(log);
	if (sb_mkdir_parents(log->path, errbuf, errlen) < 0)
		return -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		log->wfd = open(log->path,
				O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
				0600);
		if (log->wfd < 0)
			goto fail;
		log->rfd = open(log->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (log->rfd < 0 || fstat(log->wfd, &ws) < 0 ||
		    fstat(log->rfd, &rs) < 0)
			goto fail;
		if (!S_ISREG(ws.st_mode)) {
			close_files(log);
			seterr(errbuf, errlen, "open %s: not a regular file",
			       log->path);
			return -1;
		}
		if (ws.st_dev == rs.st_dev && ws.st_ino == rs.st_ino) {
			log->dev = ws.st_dev;
			log->ino = ws.st_ino;
			return 0;
		}
		close_files(log); /* replaced between the two opens: again */
	}
	seterr(errbuf, errlen, "open %s: file keeps being replaced", log->path);
	return -1;
fail:
	seterr(errbuf, errlen, "open %s: %s", log->path, strerror(errno));
	close_files(log);
	return -1;
}

/* write(2) all of p[0..n), looping over short writes; *done says how much
 * the kernel took. 0 ok, -1 with errno. */
static int write_all(int fd, const char *p, size_t n, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t w = write(fd, p + *done, n - *done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		*done += (size_t)w;
	}
	return 0;
}

static int lock_fd(int fd, int op)
{
	int r;
	do
		r = flock(fd, op);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Take the lock and stat the file, reopening the path once when the
 * descriptor is bad or its file was removed. 0 locked, -1 unlocked. */
static int lock_and_stat(struct audit_log *log, struct stat *st, char *errbuf,
			 size_t errlen)
{
	int err = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (log->wfd < 0 && open_files(log, errbuf, errlen) < 0)
			return -1;
		if (lock_fd(log->wfd, LOCK_EX) == 0) {
			if (fstat(log->wfd, st) == 0 && st->st_nlink > 0)
				return 0;
			err = errno;
			(void)lock_fd(log->wfd, LOCK_UN);
		} else {
			err = errno;
		}
		close_files(log);
	}
	seterr(errbuf, errlen, "lock %s: %s", log->path,
	       err ? strerror(err) : "file removed while writing");
	return -1;
}

/* With the lock held: if the file is exactly as our half-written line left
 * it, write the rest of that line, which then becomes the chain head. If
 * the file changed otherwise, forget the line (recover_chain handles what
 * is there). 0 ok, -1 the rest could not be written either. */
static int settle_pending(struct audit_log *log, struct stat *st,
			  char *errbuf, size_t errlen)
{
	if (!log->have_pend)
		return 0;
	if (!log->synced || st->st_size != log->size + (off_t)log->pend_done) {
		log->have_pend = 0;
		return 0;
	}
	size_t total = log->pend.len - AUDIT_HASH_HEX, done;
	int r = write_all(log->wfd, log->pend.p + AUDIT_HASH_HEX + log->pend_done,
			  total - log->pend_done, &done);
	log->pend_done += done;
	st->st_size += (off_t)done;
	if (r < 0) {
		seterr(errbuf, errlen,
		       "write %s: %s (completing an earlier record)", log->path,
		       strerror(errno));
		return -1;
	}
	log->seq = log->pend_seq;
	memcpy(log->prev, log->pend_hash, sizeof log->prev);
	log->size += (off_t)total;
	log->have_pend = 0;
	return 0;
}

/* Offset just past the last '\n' before end (0 when there is none). */
static int last_newline(int fd, off_t end, off_t *out)
{
	char chunk[4096];
	while (end > 0) {
		size_t n = end < (off_t)sizeof chunk ? (size_t)end : sizeof chunk;
		ssize_t r = pread(fd, chunk, n, end - (off_t)n);
		if (r != (ssize_t)n) {
			if (r >= 0)
				errno = EIO;
			return -1;
		}
		for (size_t i = n; i > 0; i--) {
			if (chunk[i - 1] == '\n') {
				*out = end - (off_t)n + (off_t)i;
				return 0;
			}
		}
		end -= (off_t)n;
	}
	*out = 0;
	return 0;
}

/* With the lock held and the file not as we left it (another writer
 * appended, it was replaced or truncated, or this is our first write):
 * take seq and hash from its last record. A trailing half line is ended
 * with a newline first. */
static int recover_chain(struct audit_log *log, const struct stat *st,
			 char *errbuf, size_t errlen)
{
	off_t size = st->st_size, end;
	char tail[TAIL_READ];

	log->synced = 0;
	if (size == 0) {
		log->seq = 0;
		memcpy(log->prev, zero_hash, sizeof log->prev);
		log->size = 0;
		log->synced = 1;
		return 0;
	}
	if (last_newline(log->rfd, size, &end) < 0)
		goto fail_io;
	if (end != size) {
		size_t done;
		if (write_all(log->wfd, "\n", 1, &done) < 0) {
			seterr(errbuf, errlen, "write %s: %s (ending a half line)",
			       log->path, strerror(errno));
			return -1;
		}
		size++;
	}
	if (end == 0) {
		/* nothing but a half line: the chain starts after it */
		log->seq = 0;
		memcpy(log->prev, zero_hash, sizeof log->prev);
	} else {
		size_t n = end - 1 < TAIL_READ ? (size_t)(end - 1) : TAIL_READ;
		ssize_t r = pread(log->rfd, tail, n, end - 1 - (off_t)n);
		if (r != (ssize_t)n) {
			if (r >= 0)
				errno = EIO;
			goto fail_io;
		}
		if (audit_record_tail(tail, n, &log->seq, log->prev) < 0) {
			seterr(errbuf, errlen,
			       "%s: last line is not a chained audit record; "
			       "cannot continue the chain (move the file aside)",
			       log->path);
			return -1;
		}
	}
	log->size = size;
	log->synced = 1;
	return 0;
fail_io:
	seterr(errbuf, errlen, "read %s: %s", log->path, strerror(errno));
	return -1;
}

/* ---- formatting ---- */

static void put_2(char *o, int v)
{
	o[0] = (char)('0' + v / 10 % 10);
	o[1] = (char)('0' + v % 10);
}

static void put_ts(struct audit_log *log, const struct timespec *now)
{
	struct audit_buf *b = &log->buf;
	if (now->tv_sec != log->ts_sec || log->ts_head[0] == '\0') {
		struct tm tm;
		time_t t = now->tv_sec;
		gmtime_r(&t, &tm);
		int y = tm.tm_year + 1900;
		char *o = log->ts_head;
		put_2(o, y / 100);
		put_2(o + 2, y % 100);
		o[4] = '-';
		put_2(o + 5, tm.tm_mon + 1);
		o[7] = '-';
		put_2(o + 8, tm.tm_mday);
		o[10] = 'T';
		put_2(o + 11, tm.tm_hour);
		o[13] = ':';
		put_2(o + 14, tm.tm_min);
		o[16] = ':';
		put_2(o + 17, tm.tm_sec);
		o[19] = '\0';
		log->ts_sec = now->tv_sec;
	}
	char frac[9];
	long us = now->tv_nsec / 1000;
	frac[0] = '.';
	for (int i = 6; i >= 1; i--) {
		frac[i] = (char)('0' + us % 10);
		us /= 10;
	}
	frac[7] = 'Z';
	frac[8] = '"';
	audit_buf_put(b, log->ts_head, 19);
	audit_buf_put(b, frac, sizeof frac);
}

/* `,"key":` then the string or null */
static void put_str_or_null(struct audit_buf *b, const char *key,
			    const char *s)
{
	audit_buf_puts(b, key);
	if (s)
		audit_json_put_str(b, s, strlen(s));
	else
		audit_buf_put(b, "null", 4);
}

static void put_opt_str(struct audit_buf *b, const char *key, const char *s)
{
	if (s)
		put_str_or_null(b, key, s);
}

static void put_opt_i64(struct audit_buf *b, const char *key, int64_t v)
{
	if (v >= 0) {
		audit_buf_puts(b, key);
		audit_buf_put_i64(b, v);
	}
}

/* params: a valid JSON array without raw line breaks goes in as is. */
static void put_params(struct audit_buf *b, const char *params)
{
	size_t n = strlen(params);
	const char *p = params;
	audit_buf_puts(b, ",\"params\":");
	while (p < params + n && (*p == ' ' || *p == '\t'))
		p++;
	if (p < params + n && *p == '[' && !memchr(params, '\n', n) &&
	    !memchr(params, '\r', n) && audit_json_valid(params, n))
		audit_buf_put(b, params, n);
	else
		audit_json_put_str(b, params, n);
}

/* Build everything up to (not including) `,"seq":` into log->buf, after
 * the room kept for the previous hash. */
static void build_body(struct audit_log *log, const struct audit_event *ev,
		       const struct timespec *now)
{
	struct audit_buf *b = &log->buf;
	b->len = 0;
	b->oom = 0;
	if (audit_buf_reserve(b, AUDIT_HASH_HEX + 512) < 0)
		return;
	b->len = AUDIT_HASH_HEX;
	audit_buf_puts(b, "{\"ts\":\"");
	put_ts(log, now);
	audit_buf_puts(b, ",\"event\":\"");
	audit_buf_puts(b, audit_event_name(ev->type));
	audit_buf_puts(b, "\",\"session\":");
	if (ev->session)
		audit_buf_put_u64(b, ev->session);
	else
		audit_buf_puts(b, "null");
	put_str_or_null(b, ",\"user\":", ev->user);
	put_str_or_null(b, ",\"client\":", ev->client);
	put_str_or_null(b, ",\"protocol\":", ev->protocol);
	put_opt_str(b, ",\"asset\":", ev->asset);
	put_opt_str(b, ",\"account\":", ev->account);
	put_opt_str(b, ",\"database\":", ev->database);
	if (ev->statement) {
		size_t n = ev->statement_len ? ev->statement_len
					     : strlen(ev->statement);
		audit_buf_puts(b, ",\"statement\":");
		audit_json_put_str(b, ev->statement, n);
	}
	put_opt_str(b, ",\"fingerprint\":", ev->fingerprint);
	put_opt_str(b, ",\"verb\":", ev->verb);
	put_opt_str(b, ",\"objects\":", ev->objects);
	put_opt_str(b, ",\"decision\":", ev->decision);
	put_opt_str(b, ",\"rule\":", ev->rule);
	put_opt_i64(b, ",\"rows\":", ev->rows);
	put_opt_str(b, ",\"error\":", ev->error);
	put_opt_i64(b, ",\"duration_us\":", ev->duration_us);
	put_opt_i64(b, ",\"bytes_in\":", ev->bytes_in);
	put_opt_i64(b, ",\"bytes_out\":", ev->bytes_out);
	if (ev->query_id) {
		audit_buf_puts(b, ",\"query_id\":");
		audit_buf_put_u64(b, ev->query_id);
	}
	if (ev->params)
		put_params(b, ev->params);
}

/* Append seq and hash to the body in log->buf (lock held, chain synced).
 * 0 ok, -1 with errbuf filled. */
static int seal_line(struct audit_log *log, uint64_t seq,
		     char hash[AUDIT_HASH_HEX + 1], char *errbuf, size_t errlen)
{
	struct audit_buf *b = &log->buf;
	uint8_t md[SB_SHA256_LEN];
	audit_buf_puts(b, ",\"seq\":");
	audit_buf_put_u64(b, seq);
	if (audit_buf_reserve(b, AUDIT_HASH_SUFFIX_LEN + 1) < 0) {
		seterr(errbuf, errlen, "out of memory formatting a record");
		return -1;
	}
	memcpy(b->p, log->prev, AUDIT_HASH_HEX);
	if (EVP_DigestInit_ex2(log->md_ctx, log->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(log->md_ctx, b->p, b->len) != 1 ||
	    EVP_DigestFinal_ex(log->md_ctx, md, NULL) != 1) {
		seterr(errbuf, errlen, "SHA-256 failed");
		return -1;
	}
	sb_hex(md, sizeof md, hash);
	audit_buf_put(b, ",\"hash\":\"", 9);
	audit_buf_put(b, hash, AUDIT_HASH_HEX);
	audit_buf_put(b, "\"}\n", 3);
	return 0;
}

/* ---- API ---- */

struct audit_log *audit_open(const char *jsonl_path, const char *sqlite_path,
			     char *errbuf, size_t errlen)
{
	struct audit_log *log = calloc(1, sizeof *log);
	if (!log) {
		seterr(errbuf, errlen, "out of memory");
		return NULL;
	}
	log->wfd = log->rfd = -1;
	audit_buf_init(&log->buf);
	audit_buf_init(&log->pend);
	if (!jsonl_path || !*jsonl_path) {
		seterr(errbuf, errlen, "audit file path is empty");
		goto fail;
	}
	log->path = strdup(jsonl_path);
	if (!log->path || (sqlite_path && !(log->sqlite_path = strdup(sqlite_path)))) {
		seterr(errbuf, errlen, "out of memory");
		goto fail;
	}
	log->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	log->md_ctx = EVP_MD_CTX_new();
	if (!log->sha256 || !log->md_ctx) {
		seterr(errbuf, errlen, "SHA-256 unavailable");
		goto fail;
	}
	if (open_files(log, errbuf, errlen) < 0)
		goto fail;
	if (audit_buf_reserve(&log->buf, 4096) < 0) {
		seterr(errbuf, errlen, "out of memory");
		goto fail;
	}
	return log;
fail:
	audit_close(log);
	return NULL;
}

/* Best effort before leaving a file: finish a half-written line. */
static void flush_pending(struct audit_log *log)
{
	struct stat st;
	if (!log->have_pend || log->wfd < 0)
		return;
	if (lock_fd(log->wfd, LOCK_EX) < 0)
		return;
	if (fstat(log->wfd, &st) == 0 && st.st_nlink > 0)
		(void)settle_pending(log, &st, NULL, 0);
	(void)lock_fd(log->wfd, LOCK_UN);
}

void audit_close(struct audit_log *log)
{
	if (!log)
		return;
	flush_pending(log);
	close_files(log);
	audit_buf_free(&log->buf);
	audit_buf_free(&log->pend);
	EVP_MD_CTX_free(log->md_ctx);
	EVP_MD_free(log->sha256);
	free(log->path);
	free(log->sqlite_path);
	free(log);
}

int audit_reopen(struct audit_log *log, char *errbuf, size_t errlen)
{
	flush_pending(log);
	return open_files(log, errbuf, errlen);
}

int audit_write(struct audit_log *log, const struct audit_event *ev,
		char *errbuf, size_t errlen)
{
	struct timespec now;
	struct stat st;
	char hash[AUDIT_HASH_HEX + 1];
	size_t done = 0;
	int ret = -1;

	if (!log || !ev) {
		seterr(errbuf, errlen, "audit_write: no log or no event");
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &now);

	/* Once a second, follow a rename of the path (rotation without a
	 * reopen): the next record goes to the file now at the path. */
	if (log->wfd >= 0 && now.tv_sec != log->ts_sec) {
		struct stat ps;
		if (stat(log->path, &ps) < 0 || ps.st_dev != log->dev ||
		    ps.st_ino != log->ino) {
			flush_pending(log);
			close_files(log);
		}
	}

	build_body(log, ev, &now);
	if (log->buf.oom) {
		seterr(errbuf, errlen, "out of memory formatting a record");
		return -1;
	}
	if (lock_and_stat(log, &st, errbuf, errlen) < 0)
		return -1;
	if (settle_pending(log, &st, errbuf, errlen) < 0)
		goto out;
	if ((!log->synced || st.st_size != log->size) &&
	    recover_chain(log, &st, errbuf, errlen) < 0)
		goto out;

	if (seal_line(log, log->seq + 1, hash, errbuf, errlen) < 0)
		goto out;
	const char *line = log->buf.p + AUDIT_HASH_HEX;
	size_t len = log->buf.len - AUDIT_HASH_HEX;
	if (write_all(log->wfd, line, len, &done) < 0) {
		int err = errno;
		if (done > 0) {
			/* keep the half line to finish it next time */
			struct audit_buf t = log->pend;
			log->pend = log->buf;
			log->buf = t;
			log->pend_done = done;
			log->pend_seq = log->seq + 1;
			memcpy(log->pend_hash, hash, sizeof hash);
			log->have_pend = 1;
			seterr(errbuf, errlen,
			       "write %s: %s (%zu of %zu bytes written; the "
			       "next write completes the record)",
			       log->path, strerror(err), done, len);
		} else {
			seterr(errbuf, errlen, "write %s: %s", log->path,
			       strerror(err));
		}
		goto out;
	}
	log->seq++;
	memcpy(log->prev, hash, sizeof hash);
	log->size += (off_t)len;
	ret = 0;
out:
	(void)lock_fd(log->wfd, LOCK_UN);
	if (log->buf.cap > WRITER_KEEP_MAX)
		audit_buf_free(&log->buf);
	if (!log->have_pend && log->pend.cap > WRITER_KEEP_MAX)
		audit_buf_free(&log->pend);
	return ret;
}
