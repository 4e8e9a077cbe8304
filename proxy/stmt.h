/* stmt: the statement machinery every frontend shares.
 *
 * What a frontend does with a statement is the same whatever the wire
 * format: decide it, write the audit "query" record, forward it, remember
 * that the backend owes a reply, and write "query_end" (rows, error,
 * duration) when that reply has ended. This module owns that part:
 *
 *  - struct stmt_queue: the replies the backend still owes, in order. Each
 *    frontend entry starts with struct stmt_pending (query id, start,
 *    rows, first error); popping an entry writes its query_end record.
 *    The session points at the queue (session.pending) so that the core
 *    can write every in-flight query_end record before session_end.
 *  - struct stmt_decision: the stored decision of a prepared statement
 *    (text, verb, fingerprint, objects, rule, action, approval), audited
 *    again at each run, and stmt_approved_run(): an approval runs once.
 *  - the caps on what a session queues (STMT_*_MAX).
 *  - the decision scratch every frontend needs (struct stmt_queue: the
 *    last decision, its approval, the statement text `sessions` shows) and
 *    the message being streamed unread per side (stream.h).
 *
 * A frontend supplies only what is protocol-specific through struct
 * stmt_ops: the size of its entry, its cap, what ending one of its entries
 * means (release), and how it writes a denial (deny). Framing and how a
 * reply ends stay in the frontend.
 */
#ifndef SB_STMT_H
#define SB_STMT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "lib/ring.h"
#include "proxy/stream.h"

struct session;

/* Caps (issue 10, "unbounded memory"). When a queue is full the frontend
 * stops reading its client until a reply ends, so a client that pipelines
 * without reading cannot grow the proxy's memory. PostgreSQL pipelines
 * deeper in practice (pgbench -M extended: five entries a transaction). */
#define STMT_PG_PENDING_MAX 4096u       /* PostgreSQL: replies awaited */
#define STMT_MY_PENDING_MAX 1024u       /* MySQL: replies owed to the client */
#define STMT_LOCAL_BYTES_MAX (256u * 1024u) /* bytes of proxy-made replies queued */
#define STMT_PRE_READY_MAX (64u * 1024u)    /* client bytes read before the session is ready */

/* The statement text kept for `sessions` (stmt_current), bytes with its NUL. */
#define STMT_CURRENT_MAX 160

/* What query_end says of a statement whose reply never came. */
#define STMT_NO_REPLY_SESSION_ENDED "session ended before the reply"

/* The head of every frontend's pending entry (its first member). */
struct stmt_pending {
	uint64_t seq;      /* queue sequence at push (1, 2, ...): holds wait for a given entry */
	uint64_t query_id; /* audit query_id; 0 = no query_end record (or already written) */
	int64_t start_us;  /* sess_now_us() at push */
	int64_t rows;      /* rows returned + affected; -1 = none seen */
	char *error;       /* owned: the first error text seen, or NULL */
};

struct stmt_ops {
	enum policy_dialect dialect; /* for decisions made again (stmt_approved_run) */
	size_t entry_size;           /* the frontend's entry; starts with struct stmt_pending */
	size_t max_pending;          /* cap: stmt_queue_full() at this many entries */
	/* The entry at the head ends (its query_end is written): free what the
	 * frontend's part owns and apply what its end means. error: the pop's
	 * error_if_unset (NULL when the reply ended normally); the entry's own
	 * error is still set. Never NULL. */
	void (*release)(void *conn, void *entry, const char *error);
	/* Refuse a statement the policy refused (pres: action >= review, its
	 * message): the protocol's own denial, a kill rule's close included.
	 * Returns the frontend's "consumed" result (> 0), or -1 when the
	 * session must close. */
	int (*deny)(void *conn, const struct policy_result *pres);
};

struct stmt_queue {
	struct sb_ring ring;        /* of ops->entry_size entries */
	uint64_t seq;               /* sequence of the last pushed entry */
	size_t local_bytes;         /* bytes of replies the proxy made itself, queued */
	const struct stmt_ops *ops; /* borrowed, static */
	void *conn;                 /* borrowed: the frontend's state, passed to ops */
	struct session *s;          /* borrowed */

	/* The decision scratch (stmt_decide), reused for every statement. */
	struct policy_result pres;  /* the last decision */
	int64_t approval;           /* its approval id (0 = none) */
	char current[STMT_CURRENT_MAX]; /* the last statement's text, for `sessions` */
	struct stream pass;         /* a message relayed unread, per side (stream.h) */
};

/* Set up an empty queue and its decision scratch, and register it with the
 * session (s->pending) so that its query_end records are written before
 * session_end and `sessions` shows its statement text. */
void stmt_queue_init(struct stmt_queue *q, struct session *s, const struct stmt_ops *ops,
		     void *conn);
/* Pop every entry (query_end with STMT_NO_REPLY_SESSION_ENDED for those not
 * written yet), free the storage and the scratch, unregister from the
 * session. A queue never set up (zeroed) is left alone. */
void stmt_queue_free(struct stmt_queue *q);

/* Append a zeroed entry (seq, start time, rows = -1 set); NULL when out of
 * memory. The pointer is valid until the next push or pop. */
void *stmt_push(struct stmt_queue *q);
/* The oldest entry / entry i (0 = oldest) / NULL; how many. (Inline: the
 * relays ask on every message.) */
static inline void *stmt_head(const struct stmt_queue *q)
{
	return sb_ring_head(&q->ring);
}
static inline void *stmt_at(const struct stmt_queue *q, size_t i)
{
	return sb_ring_at(&q->ring, i);
}
static inline size_t stmt_count(const struct stmt_queue *q)
{
	return q->ring.len;
}
/* Undo the last push (nothing was written for it; ops->release is not
 * called: the caller set nothing it owns). */
void stmt_drop_tail(struct stmt_queue *q);
/* The head's reply ended: write its query_end record (its error, else
 * error_if_unset), call ops->release, drop it. No-op when empty. */
void stmt_pop(struct stmt_queue *q, const char *error_if_unset);
/* Write the query_end record of every entry now, with `error` where the
 * entry has none (the session is ending: its replies will not come); the
 * entries stay, with no record left to write. */
void stmt_end_all(struct stmt_queue *q, const char *error);
/* Why the client must not be read now (a cap is reached), or NULL. */
const char *stmt_queue_full(const struct stmt_queue *q);

/* Record the first error of an entry (printf format; kept to 300 bytes). */
void stmt_set_error(struct stmt_pending *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Count rows into an entry (from "none seen" to n). */
void stmt_add_rows(struct stmt_pending *p, int64_t n);

/* ---- decisions ---- */

/* Keep the text of the statement at hand (for `sessions`), cut to cap. */
void stmt_remember(char *current, size_t cap, const char *sql, size_t len);

/* The statement at hand is sql: remembered in q->current. */
static inline void stmt_note(struct stmt_queue *q, const char *sql, size_t len)
{
	stmt_remember(q->current, sizeof q->current, sql, len);
}

/* The statement text `sessions` shows ("" before the first). */
static inline const char *stmt_current(const struct stmt_queue *q)
{
	return q->current;
}

/* Decide on sql into the scratch: q->pres, q->approval (stmt_evaluate). */
void stmt_decide(struct stmt_queue *q, const char *sql, size_t len);

/* The audit "query" record of sql as the scratch decided it (q->pres,
 * q->approval): the query id, 0 when it must not run (stmt_audit_result). */
uint64_t stmt_audit_decided(struct stmt_queue *q, const char *sql, size_t len,
			    const char *params);

/* Decide on sql for the queue's session under its dialect into *pres;
 * returns the approval id (sess_evaluate). */
int64_t stmt_evaluate(struct stmt_queue *q, const char *sql, size_t len,
		      struct policy_result *pres);

/* Write the audit "query" record of sql as *pres decided it. Returns the
 * query id, 0 when the statement must not run (audit down). */
uint64_t stmt_audit_result(struct session *s, const char *sql, size_t len,
			   const struct policy_result *pres, int64_t approval, const char *params);

/* The stored decision of a prepared statement: audited at each run. */
struct stmt_decision {
	char *sql;             /* owned, NUL-terminated */
	size_t sql_len;
	char *verb, *fingerprint, *objects, *rule; /* owned copies ("" when unset) */
	enum policy_action action;
	int64_t approval;      /* allowed by this approval when prepared; 0 = none */
	int approval_spent;    /* a run has used that approval */
};

/* Fill *d (zeroed before) from sql and the decision *pres / approval.
 * Returns 0, or -1 when out of memory (*d then holds nothing). */
int stmt_decision_set(struct stmt_decision *d, const char *sql, size_t len,
		      const struct policy_result *pres, int64_t approval);
void stmt_decision_clear(struct stmt_decision *d);
/* stmt_decision_set from the queue's scratch (q->pres, q->approval). */
int stmt_decision_keep(struct stmt_queue *q, struct stmt_decision *d, const char *sql,
		       size_t len);
/* The audit "query" record of one run of *d (approval: the one this run
 * uses; params: bound values as JSON or NULL). 0 = must not run. */
uint64_t stmt_decision_audit(struct session *s, const struct stmt_decision *d, int64_t approval,
			     const char *params);

/* The record of a statement the classifier could not read (rule
 * fail-closed, action deny) with the server's verdict: decision (e.g.
 * "server-rejected", NULL = "deny") and its error. A lost record is logged. */
void stmt_decision_audit_unreadable(struct session *s, const struct stmt_decision *d,
				    const char *decision, const char *error);

/* A statement allowed by an approval runs once: its first run uses the
 * approval taken when it was prepared; a later run is decided again
 * (*pres, *last_approval: the frontend's decision scratch), which uses an
 * approval waiting for it or holds it as a new request. Returns 0 to run
 * it (*run_approval = the approval the run uses), else the refusal was
 * audited (with params) and written (ops->deny): its result (> 0 or -1). */
int stmt_approved_run(struct stmt_queue *q, struct stmt_decision *d, struct policy_result *pres,
		      int64_t *last_approval, const char *params, int64_t *run_approval);
/* The same with the queue's own scratch (q->pres, q->approval). */
int stmt_approved_run_q(struct stmt_queue *q, struct stmt_decision *d, const char *params,
			int64_t *run_approval);

/* ---- streaming (stream.h) with the queue's state ---- */

/* Relay the next `total` bytes of from's input unread (a row, CopyData, a
 * large column, a continuation packet). */
static inline void stmt_stream_start(struct stmt_queue *q, enum sess_side from, size_t total)
{
	q->pass.left[from] = total;
}
/* Bytes of the message under way from `from` still to relay (0 = none:
 * the side is between messages). */
static inline size_t stmt_streaming(const struct stmt_queue *q, enum sess_side from)
{
	return q->pass.left[from];
}
/* stream_pass() of the message under way: the bytes moved (0 = wait for
 * more input); discard drops them instead. */
static inline size_t stmt_stream(struct stmt_queue *q, enum sess_side from, int discard)
{
	return stream_pass(q->s, from, &q->pass.left[from], discard);
}
/* The head of a frontend's relay loop over from's input
 * (`while (stmt_relay_next(q, from)) { read one message }`): while that side
 * may be read (the session is not closing, its reads are not paused by
 * backpressure), relay what is buffered of a message under way unread.
 * 1: none is under way, read the next message; 0: stop (closing, paused,
 * or the message under way waits for more input). */
int stmt_relay_next(struct stmt_queue *q, enum sess_side from);

#endif
