/* audit: the record of who ran what, written so it can be proven complete.
 *
 * This module owns the audit event format (one JSON object per line), the
 * hash chain over records (seq + SHA-256 of the previous record's hash and
 * this record), the JSON-lines writer and the SQLite search index. It takes
 * plain values; it knows nothing of sockets or protocols.
 *
 * Durability contract: audit_write() returns only after the record has been
 * handed to the kernel with write(2) on a file opened O_APPEND, so a kill -9
 * of the proxy after it returns cannot lose the record. Callers forward a
 * statement to a backend only after audit_write() returned 0.
 *
 * Several processes may append to one file (the daemon and sqlbastionctl for
 * admin events): every append holds an flock(2) on the file, and a writer
 * whose file grew under it re-reads the last record to continue the chain.
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
 * query_id of 0. statement_len 0 means statement is NUL-terminated (pass ""
 * for an empty statement). Start from audit_event_init() so the numbers
 * begin as -1 (absent) rather than 0. */
struct audit_event {
	enum audit_event_type type;
	uint64_t session;       /* proxy session id; 0 for admin events */
	const char *user;       /* bastion identity */
	const char *client;     /* "ip:port" */
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

/* Open (create if absent, with its directory) the JSON-lines file at
 * jsonl_path; sqlite_path may be NULL. Returns NULL with errbuf filled. */
struct audit_log *audit_open(const char *jsonl_path, const char *sqlite_path,
			     char *errbuf, size_t errlen);
void audit_close(struct audit_log *log);

/* Append one record (assigns seq and hash). Returns 0 when the record is in
 * the kernel, -1 when it could not be written (errbuf filled); the chain
 * state is unchanged on failure so a later write continues it. */
int audit_write(struct audit_log *log, const struct audit_event *ev,
		char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Reopen the file by path (after logrotate moved it). The next write
 * continues the chain of the file now at the path from its last record; a
 * new, empty file starts its own chain at seq 1 (each file verifies on its
 * own). A handle also follows a rename by itself within a second, and
 * reopens a removed file at its next write. */
int audit_reopen(struct audit_log *log, char *errbuf, size_t errlen);

const char *audit_event_name(enum audit_event_type t);

/* Zero *ev, set its type, and set rows, duration_us, bytes_in and
 * bytes_out to -1 (absent). */
void audit_event_init(struct audit_event *ev, enum audit_event_type type);

/* ---- verification and search (used by sqlbastionctl) ---- */

/* Check the chain of a JSON-lines file. Returns 0 when intact; otherwise -1
 * with errbuf naming the first broken line and why. *records gets the count
 * of records checked. */
int audit_verify_file(const char *jsonl_path, uint64_t *records, char *errbuf,
		      size_t errlen);

/* audit_verify_file(), then compare with what the SQLite index at
 * sqlite_path has seen (read only; the index is not synced first): the file
 * must still hold the index's highest seq with the same hash, which catches
 * records deleted from the end and a file rewritten from the start. A file
 * whose chain starts after the index's last record (rotated) is not
 * compared; a missing index is skipped. Same returns as audit_verify_file. */
int audit_verify_with_index(const char *jsonl_path, const char *sqlite_path,
			    uint64_t *records, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

/* Bring the SQLite index at sqlite_path up to date with jsonl_path. */
int audit_index_sync(const char *jsonl_path, const char *sqlite_path,
		     char *errbuf, size_t errlen);

struct audit_filter {
	const char *user, *asset, *account, *verb, *decision, *event;
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
