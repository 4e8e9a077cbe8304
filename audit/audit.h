/* audit: the record of who ran what, written so it can be proven complete.
 *
 * This module owns the audit event format (one JSON object per line), the
 * hash chain over records (seq + SHA-256, or HMAC-SHA-256 with a key, of the
 * previous record's hash and this record), the JSON-lines writer, rotation,
 * the optional syslog export and the SQLite search index. It takes plain
 * values; it knows nothing of sockets or protocols.
 *
 * Durability contract: audit_write() returns only after the record has been
 * handed to the kernel with write(2) on a file opened O_APPEND, so a kill -9
 * of the proxy after it returns cannot lose the record. Callers forward a
 * statement to a backend only after audit_write() returned 0.
 *
 * Writers. The daemon is the single writer (AUDIT_OPEN_EXCLUSIVE): it holds
 * an flock(2) on the file for as long as it has it open, keeps the chain
 * head in memory and appends each record with one write(2). sqlbastionctl
 * sends its admin events to the daemon over the admin socket; only when no
 * daemon runs does it open the file shared (the default), taking the flock
 * per record and re-reading the chain head from the file.
 *
 * Chain across files: seq never restarts. When a file is rotated (by size,
 * or renamed by logrotate and reopened on SIGHUP), the first record of the
 * new file carries "prev" (the hash of the last record of the previous
 * file) and continues its seq; audit_list_files() finds the rotated files
 * and audit_verify_files() checks a sequence of them, links included.
 *
 * The SQLite index is derived: audit_index_sync() brings it up to date from
 * the JSON lines, so it can always be rebuilt and never slows the hot path.
 */
#ifndef SB_AUDIT_H
#define SB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

enum audit_event_type {
	AUDIT_LOGIN,        /* "login" */
	AUDIT_LOGIN_FAILED, /* "login_failed" */
	AUDIT_QUERY,        /* "query": written before the statement is forwarded */
	AUDIT_QUERY_END,    /* "query_end": rows, error, duration */
	AUDIT_SESSION_END,  /* "session_end" */
	AUDIT_ADMIN,        /* "admin": a sqlbastionctl change */
};

/* One event. Every pointer is borrowed for the call and may be NULL. The
 * record rule (the full text is at the top of audit/audit_writer.c): ts,
 * event, session, user, client, protocol, seq and hash are always written,
 * as null when unknown (session 0, a NULL string); every other field is
 * left out when absent: a NULL string, a negative number (use -1), a
 * query_id or approval of 0. statement_len 0 means statement is
 * NUL-terminated (pass "" for an empty statement). Start from audit_event_init() so the numbers
 * begin as -1 (absent) rather than 0. */
struct audit_event {
	enum audit_event_type type;
	uint64_t session;       /* proxy session id; 0 for admin events */
	const char *user;       /* bastion identity */
	const char *client;     /* "ip:port" */
	const char *entry;      /* how the session came in: "direct", "ssh"; NULL = absent */
	const char *protocol;   /* "postgres", "mysql", ... */
	const char *asset;
	const char *account;    /* database user */
	const char *database;
	const char *statement;  /* full text, escaped by the writer */
	size_t statement_len;   /* bytes of statement (it need not be NUL-terminated) */
	const char *fingerprint;
	const char *verb;
	const char *objects;
	const char *decision;   /* "allow", "deny", ... */
	const char *rule;
	int64_t approval;       /* approval request id (review workflow); 0 = absent */
	int64_t rows;           /* -1 = null */
	const char *error;      /* error text of a failed statement / reason of a refusal */
	int64_t duration_us;    /* -1 = null */
	int64_t bytes_in;       /* -1 = null */
	int64_t bytes_out;      /* -1 = null */
	uint64_t query_id;      /* ties query_end to its query; 0 = absent */
	const char *params;     /* bound parameters as a JSON array text, or NULL */
};

struct audit_log; /* opaque */

enum audit_on_failure { AUDIT_FAIL_CLOSE, AUDIT_FAIL_OPEN };

/* Largest HMAC key read from [audit] hmac_key. */
#define AUDIT_KEY_MAX 128

struct audit_options {
	int exclusive;           /* single writer: flock held while open */
	uint64_t rotate_size;    /* rename the file before it grows past this; 0 = never */
	const uint8_t *hmac_key; /* copied; NULL = plain SHA-256 chain */
	size_t hmac_key_len;
	const char *syslog;      /* "unix:/dev/log", "udp:HOST:PORT" or NULL */
};

/* Open (create if absent, with its directory) the JSON-lines file at
 * jsonl_path for shared appends (flock per record); sqlite_path may be
 * NULL and is unused. Returns NULL with errbuf filled. */
struct audit_log *audit_open(const char *jsonl_path, const char *sqlite_path,
			     char *errbuf, size_t errlen);

/* Open with options (opt may be NULL: shared, no rotation, no key). With
 * exclusive set, fails when another process holds the file's lock ("is
 * another sqlbastion running?"), without waiting. */
struct audit_log *audit_open_opts(const char *jsonl_path,
				  const struct audit_options *opt,
				  char *errbuf, size_t errlen);
void audit_close(struct audit_log *log);

/* Rename the current file to "<path>.YYYYMMDDTHHMMSSZ" and continue the
 * chain in a new file at path. Exclusive handles only. 0 or -1. */
int audit_rotate(struct audit_log *log, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

struct audit_stats {
	uint64_t seq;          /* seq of the last record written */
	uint64_t written;      /* records written by this handle */
	uint64_t failed;       /* audit_write() calls that failed */
	uint64_t rotations;
	uint64_t syslog_sent, syslog_failed;
};
void audit_get_stats(const struct audit_log *log, struct audit_stats *out);

/* Append one record (assigns seq and hash). Returns 0 when the record is in
 * the kernel, -1 when it could not be written (errbuf filled); the chain
 * state is unchanged on failure so a later write continues it. */
int audit_write(struct audit_log *log, const struct audit_event *ev,
		char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Accept a record whose loss on a crash could not hide a statement that
 * ran (query_end: rows, duration): it is formatted now (its ts is now) and
 * sealed into the chain, in order, when the next audit_write() or
 * audit_flush() writes, so both reach the kernel with one write(2). A
 * non-exclusive handle writes at once. 0 ok, -1 with errbuf. */
int audit_defer(struct audit_log *log, const struct audit_event *ev, char *errbuf,
		size_t errlen) __attribute__((warn_unused_result));
/* Write deferred records now (the daemon calls it on a short timer, at
 * session end and at exit). 0 ok or nothing to do, -1 with errbuf. */
int audit_flush(struct audit_log *log, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));
/* Number of deferred records not yet written. */
int audit_pending(const struct audit_log *log);

/* Reopen the file by path (after logrotate moved it). The next write
 * continues the chain: from the last record of the file now at the path,
 * or, when that file is new and empty, from the last record this handle
 * wrote (or, for a fresh handle, the newest rotated file beside it). A
 * handle also follows a rename by itself within a second, and reopens a
 * removed file at its next write. */
int audit_reopen(struct audit_log *log, char *errbuf, size_t errlen);

const char *audit_event_name(enum audit_event_type t);

/* Zero *ev, set its type, and set rows, duration_us, bytes_in and
 * bytes_out to -1 (absent). */
void audit_event_init(struct audit_event *ev, enum audit_event_type type);

/* ---- verification and search (used by sqlbastionctl) ---- */

/* The files of the chain at jsonl_path: its rotated predecessors beside it
 * ordered by their first seq, then (include_self) jsonl_path itself. *out
 * is a malloc'd array of *n malloc'd paths (free with audit_free_list). */
int audit_list_files(const char *jsonl_path, int include_self, char ***out,
		     size_t *n, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));
void audit_free_list(char **paths, size_t n);

/* Read an HMAC key file (mode 0600, at least 16 bytes, at most cap). */
int audit_load_key(const char *path, uint8_t *key, size_t cap, size_t *len,
		   char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Verify the chain through paths[0..n) in order: every record and every
 * link between files (the first record of file i+1 must continue seq and
 * carry "prev" equal to the last hash of file i). The first record of the
 * first file is the anchor: seq 1, or a "prev" member (its predecessor is
 * gone). key may be NULL (plain SHA-256 chain). Returns 0 when intact;
 * AUDIT_VERIFY_TORN when intact up to an incomplete last line of the last
 * file (a writer stopped mid-write; errbuf says where; the next writer
 * seals it into the chain); otherwise -1 with errbuf "FILE: line N: why".
 * *records counts the records checked, *last_seq the seq reached. */
#define AUDIT_VERIFY_TORN 1
int audit_verify_files(const char *const *paths, size_t n, const uint8_t *key,
		       size_t keylen, uint64_t *records, uint64_t *last_seq,
		       char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

/* Check the chain of a JSON-lines file. Returns 0 when intact,
 * AUDIT_VERIFY_TORN as audit_verify_files; otherwise -1
 * with errbuf naming the first broken line and why. *records gets the count
 * of records checked. */
int audit_verify_file(const char *jsonl_path, uint64_t *records, char *errbuf,
		      size_t errlen);

/* Verify the chain through jsonl_path's rotated predecessors and
 * jsonl_path itself (audit_list_files), then compare with what the SQLite
 * index at sqlite_path has seen (read only; the index is not synced
 * first): the files must still hold the index's highest seq with the same
 * hash, which catches records deleted from the end and files rewritten. A
 * missing index is skipped. *nfiles gets the number of files checked.
 * Same returns as audit_verify_files. */
int audit_verify_with_index(const char *jsonl_path, const char *sqlite_path,
			    const uint8_t *key, size_t keylen,
			    uint64_t *records, size_t *nfiles, char *errbuf,
			    size_t errlen) __attribute__((warn_unused_result));

/* Bring the SQLite index at sqlite_path up to date with jsonl_path. When
 * the file was rotated since the last sync, the rest of the rotated file
 * (found beside it by inode) is indexed first; rows of older files stay. */
int audit_index_sync(const char *jsonl_path, const char *sqlite_path,
		     char *errbuf, size_t errlen);

/* Drop the index and rebuild it from paths[0..n) in order (the last one
 * is the live file it then follows). *records gets the rows indexed. */
int audit_index_rebuild(const char *const *paths, size_t n,
			const char *sqlite_path, uint64_t *records,
			char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

struct audit_filter {
	const char *user, *asset, *account, *verb, *decision, *event;
	const char *entry; /* how sessions came in: direct, ssh, web */
	const char *grep;  /* substring of the statement, case-insensitive */
	const char *since; /* RFC 3339 or "YYYY-MM-DD[ HH:MM[:SS]]" */
	const char *until;
	uint64_t session;  /* 0 = any */
	int limit;         /* 0 = no limit; else the newest limit matches */
};

/* Sync the index, then print matching records to out: the raw JSON line
 * each when json != 0, otherwise one readable line each. Returns the
 * number of matches, or -1 with errbuf filled. */
int audit_search(const char *jsonl_path, const char *sqlite_path,
		 const struct audit_filter *f, int json, void *out_FILE,
		 char *errbuf, size_t errlen);

#endif
