/* audit_writer: appends chained JSON-lines records to the audit file.
 *
 * It formats one event as one line, links it into the hash chain and hands
 * it to the kernel with a single write(2). Two modes (audit.h "Writers"):
 *   exclusive  the daemon: the file's flock is taken once, without waiting,
 *              when the file is opened and held until it is closed; the
 *              chain head (seq, hash, size) lives in memory, so a record
 *              costs one write(2) and no other syscall (plus one stat(2) a
 *              second to notice a rename).
 *   shared     sqlbastionctl without a daemon: every append takes the flock
 *              (waiting at most AUDIT_LOCK_WAIT_MS), checks the path still
 *              names the locked file and re-reads the chain head when the
 *              file changed under it.
 * It rotates by size (exclusive handles), may mirror each record to syslog
 * (audit_syslog.c), does not sync or touch the SQLite index, does not fsync
 * (the durability contract is "in the kernel", see audit.h) and never logs:
 * failures fill errbuf.
 *
 * Record format: one JSON object per line, members in this order:
 *   ts event session user client protocol asset account database statement
 *   fingerprint verb objects decision rule approval rows error duration_us
 *   bytes_in bytes_out query_id params prev seq hash
 * Always present (null when unknown): ts, event, session (null when 0),
 *   user, client, protocol (null when NULL), seq, hash.
 * Omitted when absent: the other strings when NULL (a non-NULL empty string
 *   is written as ""), rows/duration_us/bytes_in/bytes_out when negative,
 *   query_id when 0, approval when 0 or negative, params when NULL.
 * prev is written only in the first record of a file that continues a
 *   chain (seq > 1): the hash of the last record of the previous file.
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
 * Chain: seq starts at 1 and grows by 1 across files.
 *   hash = hex(SHA-256(prev_hash_hex || line_without_hash)), lower-case,
 *   or hex(HMAC-SHA-256(key, same)) when a key is configured, where
 *   line_without_hash is the line from '{' up to but excluding `,"hash":`
 *   (so it ends with `"seq":<n>`), and prev_hash_hex is the hash of the
 *   previous record (in this file or the previous one), or 64 '0' for
 *   seq 1.
 *
 * Rotation names: "<path>.YYYYMMDDTHHMMSSZ" (UTC time of the rotation),
 *   "-2", "-3"... appended when that name exists.
 *
 * Failures: the record is not written and the chain state is unchanged,
 * except that a line the kernel took only in part (disk full mid-write) is
 * completed by the next call before its own record, so the file never keeps
 * a half line from this writer. A half line left by a writer that died is
 * cut by the next writer and kept, escaped, in an admin record (verb
 * "AUDIT RECOVER") chained after the last whole record (seal_torn_tail).
 *
 * A handle is not thread-safe: give each thread its own shared handle (the
 * flock serializes them) or guard one with a mutex.
 */
#include "audit/audit.h"
#include "audit/audit_err.h"
#include "audit/audit_files.h"
#include "audit/audit_json.h"
#include "audit/audit_syslog.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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
/* How long a shared writer waits for the file lock. The daemon holds it for
 * as long as it runs, so waiting longer would only hang sqlbastionctl. */
#define AUDIT_LOCK_WAIT_MS 3000
/* Deferred records kept before a flush is forced (bounds the loss on a
 * kill -9 and the size of one write). */
#define AUDIT_DEFER_MAX 256
/* Bytes of an incomplete last line kept when it is sealed (a record is at
 * most a max_message statement, escaped). */
#define AUDIT_TORN_KEEP (64u * 1024 * 1024)

struct audit_log {
	char *path;        /* owned */
	int exclusive;     /* see the file comment */
	uint64_t rotate_size;
	uint8_t key[AUDIT_KEY_MAX];
	size_t keylen;     /* 0 = plain SHA-256 */
	struct audit_syslog *syslog; /* owned, may be NULL */
	int wfd;           /* O_WRONLY|O_APPEND, -1 when closed */
	dev_t dev;
	ino_t ino;
	int synced;        /* seq, prev and size describe the open file */
	int have_chain;    /* seq and prev hold a chain head from any file */
	off_t size;        /* file size after our last append */
	uint64_t seq;      /* seq of the last record of the chain */
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
	/* Records accepted by audit_defer() and not yet in the file: their
	 * bodies (no seq/hash yet), one per line, sealed into the chain in
	 * order when the next durable record or audit_flush() writes them. */
	struct audit_buf defer;
	size_t ndefer;
	const char *defer_event[AUDIT_DEFER_MAX]; /* event names, for syslog */
	/* The sealed lines of one flush, written with one write(2); same
	 * layout as buf. */
	struct audit_buf out;
	/* SHA-256 with the algorithm fetched once: the one-shot sb_sha256()
	 * looks it up on every call, which is a third of a record's CPU. */
	EVP_MD *sha256;     /* owned */
	EVP_MD_CTX *md_ctx; /* owned */
	time_t ts_sec;    /* second ts_head was made for */
	time_t checked_sec; /* second the path was last compared with the file */
	char ts_head[20]; /* "YYYY-MM-DDTHH:MM:SS" */
	struct audit_stats stats;
};

static int flush_deferred(struct audit_log *log, size_t durable_off, char *errbuf,
			  size_t errlen);
static int write_all(int fd, const char *p, size_t n, size_t *done);
static void build_body(struct audit_log *log, const struct audit_event *ev,
		       const struct timespec *now);
static int seal_line(struct audit_log *log, uint64_t seq, int first_in_file,
		     char hash[AUDIT_HASH_HEX + 1], char *errbuf, size_t errlen);

static const char zero_hash[AUDIT_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

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

static int lock_fd(int fd, int op)
{
	int r;
	do
		r = flock(fd, op);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Shared writers: the lock, waiting at most AUDIT_LOCK_WAIT_MS. */
static int lock_wait(int fd)
{
	for (int waited = 0;; waited += 5) {
		if (lock_fd(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || waited >= AUDIT_LOCK_WAIT_MS)
			return -1;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static void close_files(struct audit_log *log)
{
	if (log->wfd >= 0)
		close(log->wfd); /* drops the lock too */
	log->wfd = -1;
	log->synced = 0;
	log->have_pend = 0; /* its line belongs to the file we left */
}

/* Chain head of the newest rotated file beside path, for a new empty file
 * when this handle knows none. Leaves the chain at "seq 0" when there is
 * no such file. */
static void chain_from_predecessor(struct audit_log *log)
{
	char **files = NULL;
	size_t n = 0;
	log->seq = 0;
	memcpy(log->prev, zero_hash, sizeof log->prev);
	if (audit_list_files(log->path, 0, &files, &n, NULL, 0) < 0)
		return;
	/* sorted by first seq: the last one holds the newest records */
	for (size_t i = n; i > 0; i--) {
		int fd = open(files[i - 1], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		struct stat st;
		off_t end;
		uint64_t seq;
		char hash[AUDIT_HASH_HEX + 1];
		if (fd < 0)
			continue;
		int r = fstat(fd, &st) == 0
				? audit_file_head(fd, st.st_size, &seq, hash, &end)
				: -1;
		close(fd);
		if (r == 0) {
			log->seq = seq;
			memcpy(log->prev, hash, sizeof log->prev);
			break;
		}
	}
	audit_free_list(files, n);
}

/* A record of len bytes whose hash is hash is now whole in the file: the
 * chain moves on to it. */
static void chain_advance(struct audit_log *log, const char hash[AUDIT_HASH_HEX + 1], size_t len)
{
	log->seq++;
	memcpy(log->prev, hash, sizeof log->prev);
	log->size += (off_t)len;
	log->stats.written++;
	log->stats.seq = log->seq;
}

/* Append one record of `ev` to the open, locked file with the chain head
 * in log (synced), keeping log->buf (it may hold the caller's record being
 * built). 0 ok, -1 with errbuf. */
static int write_record_now(struct audit_log *log, const struct audit_event *ev,
			    char *errbuf, size_t errlen)
{
	struct audit_buf saved = log->buf;
	struct timespec now;
	char hash[AUDIT_HASH_HEX + 1];
	size_t len, done;
	int ret = -1;

	audit_buf_init(&log->buf);
	clock_gettime(CLOCK_REALTIME, &now);
	build_body(log, ev, &now);
	if (log->buf.oom) {
		audit_seterr(errbuf, errlen, "out of memory formatting a record");
		goto out;
	}
	if (seal_line(log, log->seq + 1, log->size == 0, hash, errbuf, errlen) < 0)
		goto out;
	len = log->buf.len - AUDIT_HASH_HEX;
	if (write_all(log->wfd, log->buf.p + AUDIT_HASH_HEX, len, &done) < 0) {
		/* a part in the file is a torn line again: the next
		 * recovery seals it */
		log->synced = 0;
		audit_seterr(errbuf, errlen, "write %s: %s", log->path, strerror(errno));
		goto out;
	}
	chain_advance(log, hash, len);
	ret = 0;
out:
	audit_buf_free(&log->buf);
	log->buf = saved;
	return ret;
}

/* The file ends in bytes [end, size) that are not a whole line: a writer
 * stopped in the middle of write(2) (on SIGKILL the kernel may stop a
 * write at a page boundary). Those bytes are no record (a query record is
 * forwarded only once whole), but they are evidence: they are cut from the
 * file and kept, escaped, in an admin record chained after the last whole
 * one, so the chain verifies and nothing written is lost. The chain head
 * is already taken from the whole records. 0 or -1 with errbuf. */
static int seal_torn_tail(struct audit_log *log, off_t end, off_t size,
			  char *errbuf, size_t errlen)
{
	size_t total = (size_t)(size - end);
	size_t keep = total < AUDIT_TORN_KEEP ? total : AUDIT_TORN_KEEP;
	char *bytes = malloc(keep ? keep : 1);
	char why[200];
	int ret = -1;

	if (!bytes) {
		audit_seterr(errbuf, errlen, "out of memory reading %s", log->path);
		return -1;
	}
	if (pread(log->wfd, bytes, keep, end) != (ssize_t)keep) {
		audit_seterr(errbuf, errlen, "read %s: %s (incomplete last line)",
		       log->path, strerror(errno));
		goto out;
	}
	if (ftruncate(log->wfd, end) < 0) {
		audit_seterr(errbuf, errlen, "truncate %s: %s (incomplete last line)",
		       log->path, strerror(errno));
		goto out;
	}
	log->size = end;
	log->synced = log->have_chain = 1;
	snprintf(why, sizeof why,
		 "incomplete record of %zu bytes at the end of the file, left "
		 "by a writer that stopped mid-write; sealed here%s",
		 total, keep < total ? " (its first bytes)" : "");
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_ADMIN);
	ev.user = "sqlbastion";
	ev.verb = "AUDIT RECOVER";
	ev.statement = bytes;
	ev.statement_len = keep;
	ev.error = why;
	ret = write_record_now(log, &ev, errbuf, errlen);
out:
	free(bytes);
	return ret;
}

/* The file as it is now (lock held): take seq and hash from its last
 * record; an empty file continues the chain this handle knows, or the
 * newest rotated file's. A trailing half line is
 * sealed (seal_torn_tail). */
static int recover_chain(struct audit_log *log, off_t size, char *errbuf,
			 size_t errlen)
{
	off_t end;
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];

	log->synced = 0;
	if (size == 0) {
		if (!log->have_chain || !log->exclusive)
			chain_from_predecessor(log);
		log->size = 0;
		log->synced = log->have_chain = 1;
		return 0;
	}
	int r = audit_file_head(log->wfd, size, &seq, hash, &end);
	if (r == -1) {
		audit_seterr(errbuf, errlen, "read %s: %s", log->path, strerror(errno));
		return -1;
	}
	if (r == -2) {
		audit_seterr(errbuf, errlen,
		       "%s: last line is not a chained audit record; "
		       "cannot continue the chain (move the file aside)",
		       log->path);
		return -1;
	}
	if (r == 1) {
		/* nothing but a half line: continue what we know */
		if (!log->have_chain || !log->exclusive)
			chain_from_predecessor(log);
	} else {
		log->seq = seq;
		memcpy(log->prev, hash, sizeof log->prev);
	}
	if (end != size)
		return seal_torn_tail(log, end, size, errbuf, errlen);
	log->size = size;
	log->synced = log->have_chain = 1;
	return 0;
}

/* Open log->path for appending (O_RDWR: the chain head is read back with
 * pread on the same descriptor). Exclusive handles take the lock here and
 * read the chain head. 0 or -1. */
static int open_files(struct audit_log *log, char *errbuf, size_t errlen)
{
	struct stat st;
	close_files(log);
	if (sb_mkdir_parents(log->path, errbuf, errlen) < 0)
		return -1;
	log->wfd = open(log->path,
			O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (log->wfd < 0) {
		audit_seterr(errbuf, errlen, "open %s: %s", log->path, strerror(errno));
		return -1;
	}
	if (fstat(log->wfd, &st) < 0 || !S_ISREG(st.st_mode)) {
		audit_seterr(errbuf, errlen, "open %s: not a regular file", log->path);
		close_files(log);
		return -1;
	}
	log->dev = st.st_dev;
	log->ino = st.st_ino;
	if (!log->exclusive)
		return 0;
	if (lock_fd(log->wfd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close_files(log);
		if (err == EWOULDBLOCK)
			audit_seterr(errbuf, errlen,
			       "%s is locked by another process (is another "
			       "sqlbastion running with this audit file?)",
			       log->path);
		else
			audit_seterr(errbuf, errlen, "lock %s: %s", log->path,
			       strerror(err));
		return -1;
	}
	/* locked: nobody else appends from now on */
	if (fstat(log->wfd, &st) < 0 ||
	    recover_chain(log, st.st_size, errbuf, errlen) < 0) {
		if (errbuf && !errbuf[0])
			audit_seterr(errbuf, errlen, "stat %s: %s", log->path,
			       strerror(errno));
		close_files(log);
		return -1;
	}
	return 0;
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

/* Shared handles: take the lock on the file the path names now (reopening
 * when it was renamed or removed) and sync the chain head with it. 0
 * locked, -1 unlocked. */
static int lock_shared(struct audit_log *log, char *errbuf, size_t errlen)
{
	int err = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		struct stat st, ps;
		if (log->wfd < 0 && open_files(log, errbuf, errlen) < 0)
			return -1;
		if (lock_wait(log->wfd) < 0) {
			err = errno;
			if (err == EWOULDBLOCK) {
				audit_seterr(errbuf, errlen,
				       "%s stayed locked for %d ms (a running "
				       "sqlbastion holds it; is its admin socket "
				       "answering?)",
				       log->path, AUDIT_LOCK_WAIT_MS);
				return -1;
			}
			close_files(log);
			continue;
		}
		if (fstat(log->wfd, &st) == 0 && stat(log->path, &ps) == 0 &&
		    st.st_dev == ps.st_dev && st.st_ino == ps.st_ino) {
			if (log->synced && st.st_size == log->size + (off_t)(log->have_pend ? log->pend_done : 0))
				return 0;
			log->have_pend = 0;
			if (recover_chain(log, st.st_size, errbuf, errlen) == 0)
				return 0;
			(void)lock_fd(log->wfd, LOCK_UN);
			return -1;
		}
		err = errno;
		(void)lock_fd(log->wfd, LOCK_UN);
		close_files(log); /* renamed or removed: the path's file next */
	}
	audit_seterr(errbuf, errlen, "lock %s: %s", log->path,
	       err ? strerror(err) : "file keeps being replaced");
	return -1;
}

/* Write the rest of a half-written line (the file is as it left it), which
 * then becomes the chain head. 0 ok, -1 the rest could not be written. */
static int settle_pending(struct audit_log *log, char *errbuf, size_t errlen)
{
	if (!log->have_pend)
		return 0;
	size_t total = log->pend.len - AUDIT_HASH_HEX, done;
	int r = write_all(log->wfd, log->pend.p + AUDIT_HASH_HEX + log->pend_done,
			  total - log->pend_done, &done);
	log->pend_done += done;
	if (r < 0) {
		audit_seterr(errbuf, errlen,
		       "write %s: %s (completing an earlier record)", log->path,
		       strerror(errno));
		return -1;
	}
	log->seq = log->pend_seq;
	memcpy(log->prev, log->pend_hash, sizeof log->prev);
	log->size += (off_t)total;
	log->have_pend = 0;
	log->stats.written++;
	log->stats.seq = log->seq;
	return 0;
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
	put_opt_str(b, ",\"entry\":", ev->entry);
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
	if (ev->approval > 0) {
		audit_buf_puts(b, ",\"approval\":");
		audit_buf_put_i64(b, ev->approval);
	}
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

/* Append prev (first record of a continued file), seq and hash to the
 * body in log->buf (chain synced). 0 ok, -1 with errbuf filled. */
static int seal_line(struct audit_log *log, uint64_t seq, int first_in_file,
		     char hash[AUDIT_HASH_HEX + 1], char *errbuf, size_t errlen)
{
	struct audit_buf *b = &log->buf;
	uint8_t md[SB_SHA256_LEN];
	if (first_in_file && seq > 1) {
		audit_buf_puts(b, ",\"prev\":\"");
		audit_buf_put(b, log->prev, AUDIT_HASH_HEX);
		audit_buf_putc(b, '"');
	}
	audit_buf_puts(b, ",\"seq\":");
	audit_buf_put_u64(b, seq);
	if (audit_buf_reserve(b, AUDIT_HASH_SUFFIX_LEN + 1) < 0) {
		audit_seterr(errbuf, errlen, "out of memory formatting a record");
		return -1;
	}
	memcpy(b->p, log->prev, AUDIT_HASH_HEX);
	if (log->keylen) {
		unsigned int mdlen = 0;
		if (!HMAC(EVP_sha256(), log->key, (int)log->keylen,
			  (const unsigned char *)b->p, b->len, md, &mdlen) ||
		    mdlen != sizeof md) {
			audit_seterr(errbuf, errlen, "HMAC-SHA-256 failed");
			return -1;
		}
	} else if (EVP_DigestInit_ex2(log->md_ctx, log->sha256, NULL) != 1 ||
		   EVP_DigestUpdate(log->md_ctx, b->p, b->len) != 1 ||
		   EVP_DigestFinal_ex(log->md_ctx, md, NULL) != 1) {
		audit_seterr(errbuf, errlen, "SHA-256 failed");
		return -1;
	}
	sb_hex(md, sizeof md, hash);
	audit_buf_put(b, ",\"hash\":\"", 9);
	audit_buf_put(b, hash, AUDIT_HASH_HEX);
	audit_buf_put(b, "\"}\n", 3);
	return 0;
}

/* ---- API ---- */

struct audit_log *audit_open_opts(const char *jsonl_path,
				  const struct audit_options *opt,
				  char *errbuf, size_t errlen)
{
	struct audit_log *log = calloc(1, sizeof *log);
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!log) {
		audit_seterr(errbuf, errlen, "out of memory");
		return NULL;
	}
	log->wfd = -1;
	audit_buf_init(&log->buf);
	audit_buf_init(&log->pend);
	memcpy(log->prev, zero_hash, sizeof log->prev);
	if (!jsonl_path || !*jsonl_path) {
		audit_seterr(errbuf, errlen, "audit file path is empty");
		goto fail;
	}
	log->path = strdup(jsonl_path);
	if (!log->path) {
		audit_seterr(errbuf, errlen, "out of memory");
		goto fail;
	}
	if (opt) {
		log->exclusive = opt->exclusive;
		log->rotate_size = opt->rotate_size;
		if (opt->hmac_key && opt->hmac_key_len) {
			if (opt->hmac_key_len > sizeof log->key) {
				audit_seterr(errbuf, errlen, "hmac key longer than %d bytes",
				       AUDIT_KEY_MAX);
				goto fail;
			}
			memcpy(log->key, opt->hmac_key, opt->hmac_key_len);
			log->keylen = opt->hmac_key_len;
		}
		if (opt->syslog && *opt->syslog) {
			log->syslog = audit_syslog_open(opt->syslog, errbuf, errlen);
			if (!log->syslog)
				goto fail;
		}
	}
	log->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	log->md_ctx = EVP_MD_CTX_new();
	if (!log->sha256 || !log->md_ctx) {
		audit_seterr(errbuf, errlen, "SHA-256 unavailable");
		goto fail;
	}
	if (open_files(log, errbuf, errlen) < 0)
		goto fail;
	if (audit_buf_reserve(&log->buf, 4096) < 0) {
		audit_seterr(errbuf, errlen, "out of memory");
		goto fail;
	}
	return log;
fail:
	audit_close(log);
	return NULL;
}

struct audit_log *audit_open(const char *jsonl_path, const char *sqlite_path,
			     char *errbuf, size_t errlen)
{
	(void)sqlite_path;
	return audit_open_opts(jsonl_path, NULL, errbuf, errlen);
}

/* Best effort before leaving a file: finish a half-written line. */
static void flush_pending(struct audit_log *log)
{
	if (!log->have_pend || log->wfd < 0)
		return;
	if (log->exclusive) {
		(void)settle_pending(log, NULL, 0);
		return;
	}
	if (lock_wait(log->wfd) < 0)
		return;
	struct stat st;
	if (fstat(log->wfd, &st) == 0 && st.st_nlink > 0 &&
	    st.st_size == log->size + (off_t)log->pend_done)
		(void)settle_pending(log, NULL, 0);
	(void)lock_fd(log->wfd, LOCK_UN);
}

void audit_close(struct audit_log *log)
{
	if (!log)
		return;
	flush_pending(log);
	if (log->ndefer)
		(void)flush_deferred(log, (size_t)-1, NULL, 0);
	close_files(log);
	audit_syslog_close(log->syslog);
	audit_buf_free(&log->defer);
	audit_buf_free(&log->out);
	audit_buf_free(&log->buf);
	audit_buf_free(&log->pend);
	EVP_MD_CTX_free(log->md_ctx);
	EVP_MD_free(log->sha256);
	sb_wipe(log->key, sizeof log->key);
	free(log->path);
	free(log);
}

int audit_reopen(struct audit_log *log, char *errbuf, size_t errlen)
{
	flush_pending(log);
	if (log->exclusive)
		return open_files(log, errbuf, errlen);
	close_files(log);
	return open_files(log, errbuf, errlen);
}

int audit_rotate(struct audit_log *log, char *errbuf, size_t errlen)
{
	char to[4096 + 40];
	struct tm tm;
	time_t now = time(NULL);
	struct stat st;

	if (!log->exclusive) {
		audit_seterr(errbuf, errlen, "rotation needs the exclusive writer");
		return -1;
	}
	flush_pending(log);
	gmtime_r(&now, &tm);
	int n = snprintf(to, sizeof to, "%s.", log->path);
	strftime(to + n, sizeof to - (size_t)n, "%Y%m%dT%H%M%SZ", &tm);
	size_t base = strlen(to);
	for (int k = 2; stat(to, &st) == 0 && k < 1000; k++)
		snprintf(to + base, sizeof to - base, "-%d", k);
	if (rename(log->path, to) < 0) {
		audit_seterr(errbuf, errlen, "rotate %s: %s", log->path, strerror(errno));
		return -1;
	}
	log->stats.rotations++;
	/* the chain head stays in memory: the new file continues it */
	return open_files(log, errbuf, errlen);
}

void audit_get_stats(const struct audit_log *log, struct audit_stats *out)
{
	*out = log->stats;
	out->seq = log->seq;
	if (log->syslog)
		audit_syslog_stats(log->syslog, &out->syslog_sent,
				   &out->syslog_failed);
}

/* Exclusive handles: once a second, notice that the path no longer names
 * our file (renamed by logrotate without a SIGHUP, or removed) and move to
 * the file at the path. */
static void follow_path(struct audit_log *log, time_t now)
{
	struct stat ps;
	if (log->wfd < 0 || now == log->checked_sec)
		return;
	log->checked_sec = now;
	if (stat(log->path, &ps) < 0 || ps.st_dev != log->dev ||
	    ps.st_ino != log->ino) {
		flush_pending(log);
		close_files(log);
	}
}

/* Queue the body in log->buf (built by build_body) as a deferred line. */
static int defer_body(struct audit_log *log, const struct audit_event *ev)
{
	audit_buf_put(&log->defer, log->buf.p + AUDIT_HASH_HEX, log->buf.len - AUDIT_HASH_HEX);
	audit_buf_putc(&log->defer, '\n');
	if (log->defer.oom)
		return -1;
	log->defer_event[log->ndefer++] = audit_event_name(ev->type);
	return 0;
}

/* Seal every deferred line into the chain, in order, and write them all
 * with one write(2). The chain state moves only once they are in the
 * kernel. `durable_off` is where the caller's own record starts in the
 * queue (or SIZE_MAX): if nothing could be written it is dropped again,
 * since its caller is told -1 and will not run its statement. */
static int flush_deferred(struct audit_log *log, size_t durable_off, char *errbuf, size_t errlen)
{
	uint64_t seq0 = log->seq;
	char prev0[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
	size_t done = 0;
	memcpy(prev0, log->prev, sizeof prev0);
	if (log->wfd < 0 && open_files(log, errbuf, errlen) < 0)
		goto unwritten;
	if (settle_pending(log, errbuf, errlen) < 0)
		goto unwritten;
	if (log->rotate_size && log->size > 0 &&
	    (uint64_t)log->size + log->defer.len + 200 * log->ndefer > log->rotate_size &&
	    audit_rotate(log, errbuf, errlen) < 0)
		goto unwritten;

	log->out.len = 0;
	log->out.oom = 0;
	if (audit_buf_reserve(&log->out, AUDIT_HASH_HEX + log->defer.len + 200 * log->ndefer) < 0) {
		audit_seterr(errbuf, errlen, "out of memory formatting records");
		goto unwritten;
	}
	log->out.len = AUDIT_HASH_HEX;
	uint64_t seq = log->seq;
	int first = log->size == 0;
	/* Where the caller's durable line starts in out, and the chain head
	 * just before it: a partial write that stops short of it must not
	 * leave that record to be completed later. */
	size_t durable_line = (size_t)-1;
	uint64_t seq_before = seq;
	char hash_before[AUDIT_HASH_HEX + 1];
	memcpy(hash_before, log->prev, sizeof hash_before);
	const char *p = log->defer.p, *end = log->defer.p + log->defer.len;
	while (p < end) {
		if ((size_t)(p - log->defer.p) == durable_off) {
			durable_line = log->out.len - AUDIT_HASH_HEX;
			seq_before = seq;
			memcpy(hash_before, log->prev, sizeof hash_before);
		}
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		log->buf.len = 0;
		log->buf.oom = 0;
		if (audit_buf_reserve(&log->buf, AUDIT_HASH_HEX + n + 256) < 0) {
			audit_seterr(errbuf, errlen, "out of memory formatting a record");
			goto restore;
		}
		log->buf.len = AUDIT_HASH_HEX;
		audit_buf_put(&log->buf, p, n);
		if (seal_line(log, seq + 1, first, hash, errbuf, errlen) < 0)
			goto restore;
		memcpy(log->prev, hash, sizeof hash); /* the next line chains to it */
		seq++;
		first = 0;
		audit_buf_put(&log->out, log->buf.p + AUDIT_HASH_HEX, log->buf.len - AUDIT_HASH_HEX);
		p = nl + 1;
	}
	if (log->out.oom) {
		audit_seterr(errbuf, errlen, "out of memory formatting records");
		goto restore;
	}
	const char *lines = log->out.p + AUDIT_HASH_HEX;
	size_t len = log->out.len - AUDIT_HASH_HEX;
	if (write_all(log->wfd, lines, len, &done) < 0) {
		int err = errno;
		if (done > 0) {
			/* The kernel took part: finish it next time (as a half line),
			 * without the caller's own record if it was not reached. */
			if (durable_line != (size_t)-1 && done <= durable_line) {
				log->out.len = AUDIT_HASH_HEX + durable_line;
				seq = seq_before;
				memcpy(hash, hash_before, sizeof hash);
			}
			struct audit_buf t = log->pend;
			log->pend = log->out;
			log->out = t;
			log->pend_done = done;
			log->pend_seq = seq;
			memcpy(log->pend_hash, hash, sizeof hash);
			log->have_pend = 1;
			log->seq = seq0;
			memcpy(log->prev, prev0, sizeof prev0);
			log->defer.len = 0;
			log->ndefer = 0;
			audit_seterr(errbuf, errlen, "write %s: %s (%zu of %zu bytes written; the next write completes them)",
			       log->path, strerror(err), done, len);
			return -1;
		}
		audit_seterr(errbuf, errlen, "write %s: %s", log->path, strerror(err));
		goto restore;
	}
	log->seq = seq;
	log->size += (off_t)len;
	log->stats.written += log->ndefer;
	log->stats.seq = log->seq;
	if (log->syslog) {
		size_t i = 0;
		for (const char *q = lines; q < lines + len; i++) {
			const char *nl = memchr(q, '\n', (size_t)(lines + len - q));
			audit_syslog_send(log->syslog, log->defer_event[i], q, (size_t)(nl - q));
			q = nl + 1;
		}
	}
	log->defer.len = 0;
	log->ndefer = 0;
	if (log->out.cap > WRITER_KEEP_MAX)
		audit_buf_free(&log->out);
	return 0;
restore:
	log->seq = seq0;
	memcpy(log->prev, prev0, sizeof prev0);
unwritten:
	if (durable_off != (size_t)-1 && durable_off < log->defer.len) {
		log->defer.len = durable_off;
		log->ndefer--;
	}
	return -1;
}

/* SB_BENCH_NO_AUDIT exists only so `make bench` can measure what auditing
 * costs (issue: "audit on vs audit off"): tests/bench builds a separate
 * binary with it. Shipped builds never define it and no config key or flag
 * reaches it; the product has no way to run unaudited. */
#ifdef SB_BENCH_NO_AUDIT
#define BENCH_SKIP_AUDIT() return 0
#else
#define BENCH_SKIP_AUDIT() (void)0
#endif

int audit_defer(struct audit_log *log, const struct audit_event *ev, char *errbuf, size_t errlen)
{
	BENCH_SKIP_AUDIT();
	if (!log || !ev || !log->exclusive)
		return audit_write(log, ev, errbuf, errlen);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	build_body(log, ev, &now);
	if (log->buf.oom || defer_body(log, ev) < 0) {
		audit_seterr(errbuf, errlen, "out of memory queueing a record");
		log->stats.failed++;
		return -1;
	}
	if (log->ndefer >= AUDIT_DEFER_MAX || log->defer.len > WRITER_KEEP_MAX)
		return audit_flush(log, errbuf, errlen);
	return 0;
}

int audit_flush(struct audit_log *log, char *errbuf, size_t errlen)
{
	if (!log || !log->ndefer)
		return 0;
	int r = flush_deferred(log, (size_t)-1, errbuf, errlen);
	if (r < 0)
		log->stats.failed++;
	return r;
}

int audit_pending(const struct audit_log *log)
{
	return log ? (int)log->ndefer : 0;
}

int audit_write(struct audit_log *log, const struct audit_event *ev,
		char *errbuf, size_t errlen)
{
	BENCH_SKIP_AUDIT();
	struct timespec now;
	char hash[AUDIT_HASH_HEX + 1];
	size_t done = 0;
	int ret = -1, locked = 0;

	if (!log || !ev) {
		audit_seterr(errbuf, errlen, "audit_write: no log or no event");
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	follow_path(log, now.tv_sec);

	build_body(log, ev, &now);
	if (log->buf.oom) {
		audit_seterr(errbuf, errlen, "out of memory formatting a record");
		goto out;
	}
	if (log->exclusive) {
		/* This record and any deferred ones, in one write. */
		size_t before = log->defer.len;
		if (defer_body(log, ev) < 0) {
			audit_seterr(errbuf, errlen, "out of memory queueing a record");
			goto out;
		}
		ret = flush_deferred(log, before, errbuf, errlen);
		goto out;
	} else {
		if (lock_shared(log, errbuf, errlen) < 0)
			goto out;
		locked = 1;
	}
	if (settle_pending(log, errbuf, errlen) < 0)
		goto out;
	/* Rotate before a record that would take the file past rotate_size
	 * (a file holds at least one record). */
	if (log->exclusive && log->rotate_size && log->size > 0 &&
	    (uint64_t)log->size + (log->buf.len - AUDIT_HASH_HEX) + 200 >
		    log->rotate_size &&
	    audit_rotate(log, errbuf, errlen) < 0)
		goto out;

	if (seal_line(log, log->seq + 1, log->size == 0, hash, errbuf, errlen) < 0)
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
			audit_seterr(errbuf, errlen,
			       "write %s: %s (%zu of %zu bytes written; the "
			       "next write completes the record)",
			       log->path, strerror(err), done, len);
		} else {
			audit_seterr(errbuf, errlen, "write %s: %s", log->path,
			       strerror(err));
		}
		goto out;
	}
	chain_advance(log, hash, len);
	if (log->syslog)
		audit_syslog_send(log->syslog, audit_event_name(ev->type), line,
				  len - 1);
	ret = 0;
out:
	if (locked)
		(void)lock_fd(log->wfd, LOCK_UN);
	if (ret < 0)
		log->stats.failed++;
	if (log->buf.cap > WRITER_KEEP_MAX)
		audit_buf_free(&log->buf);
	if (!log->have_pend && log->pend.cap > WRITER_KEEP_MAX)
		audit_buf_free(&log->pend);
	return ret;
}
