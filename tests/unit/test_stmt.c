/* Unit tests for proxy/stmt: the reply queue every frontend shares. One
 * query_end per statement, never twice: popping writes it, stmt_end_all()
 * (the session ending) writes every one left with the given error and a
 * later pop writes nothing more; release sees each entry once; caps; the
 * stored decision and an approval that runs once.
 *
 * The session functions stmt.c calls are stubbed here: they record what
 * the audit would have been asked to write. */
#include "proxy/session.h"
#include "proxy/decide.h"
#include "proxy/stmt.h"
#include "unit.h"

#include <stdarg.h>
#include <stdlib.h>

/* ---- stubs of the core the module calls ---- */

static struct {
	uint64_t query_id;
	int64_t rows;
	char error[64];
} ends[32];
static int n_ends, n_audits, n_evaluates;
static enum policy_action next_action;

void sess_query_end(struct session *s, uint64_t query_id, int64_t start_us, int64_t rows,
		    const char *error)
{
	(void)s;
	(void)start_us;
	if (!query_id || n_ends >= 32)
		return;
	ends[n_ends].query_id = query_id;
	ends[n_ends].rows = rows;
	snprintf(ends[n_ends].error, sizeof ends[n_ends].error, "%s", error ? error : "");
	n_ends++;
}

int64_t sess_now_us(void)
{
	return 1000;
}

int64_t sess_evaluate(struct session *s, enum policy_dialect dialect, const char *sql, size_t len,
		      struct policy_result *out)
{
	(void)s;
	(void)dialect;
	(void)sql;
	(void)len;
	n_evaluates++;
	out->action = next_action;
	snprintf(out->message, sizeof out->message, "held");
	return 77;
}

uint64_t sess_audit_statement(struct session *s, const struct sess_stmt_info *st)
{
	(void)s;
	(void)st;
	return (uint64_t)++n_audits;
}

void sess_log(struct session *s, enum log_level lvl, const char *fmt, ...)
{
	(void)s;
	(void)lvl;
	(void)fmt;
}

/* stream.c: moves up to 10 bytes a call while the "socket" has them. */
static size_t stream_buffered;
size_t stream_pass(struct session *s, enum sess_side from, size_t *left, int discard)
{
	(void)s;
	(void)from;
	(void)discard;
	size_t n = *left < stream_buffered ? *left : stream_buffered;
	if (n > 10)
		n = 10;
	*left -= n;
	stream_buffered -= n;
	return n;
}

/* The queue's decision scratch is a policy_result (policy/policy.c). */
void policy_result_init(struct policy_result *r)
{
	memset(r, 0, sizeof *r);
}

void policy_result_free(struct policy_result *r)
{
	(void)r;
}

/* ---- a frontend ---- */

struct entry {
	struct stmt_pending hd;
	int tag;
};

static int released[16], n_released, denied;
static char last_release_error[64];

static void release(void *conn, void *e, const char *error)
{
	(void)conn;
	struct entry *x = e;
	if (n_released < 16)
		released[n_released++] = x->tag;
	snprintf(last_release_error, sizeof last_release_error, "%s", error ? error : "");
}

static int deny(void *conn, const struct policy_result *pres)
{
	(void)conn;
	(void)pres;
	denied++;
	return 1;
}

static const struct stmt_ops ops = {
	.dialect = POLICY_DIALECT_PG,
	.entry_size = sizeof(struct entry),
	.max_pending = 3,
	.release = release,
	.deny = deny,
};

static void test_queue(void)
{
	struct session s;
	memset(&s, 0, sizeof s);
	struct stmt_queue q;
	stmt_queue_init(&q, &s, &ops, NULL);
	CHECK(s.pending == &q);
	CHECK(stmt_head(&q) == NULL && stmt_count(&q) == 0);
	for (int i = 1; i <= 3; i++) {
		struct entry *e = stmt_push(&q);
		CHECK(e != NULL && e->hd.seq == (uint64_t)i && e->hd.rows == -1);
		e->tag = i;
		e->hd.query_id = (uint64_t)(10 + i);
	}
	CHECK(stmt_queue_full(&q) != NULL);
	struct entry *h = stmt_head(&q);
	stmt_add_rows(&h->hd, 2);
	stmt_add_rows(&h->hd, 3);
	stmt_set_error(&h->hd, "%s %d", "first", 1);
	stmt_set_error(&h->hd, "second");
	stmt_pop(&q, "unused: the entry has its own error");
	CHECK(n_ends == 1 && ends[0].query_id == 11 && ends[0].rows == 5);
	CHECK_STR(ends[0].error, "first 1");
	CHECK(n_released == 1 && released[0] == 1);
	CHECK(stmt_queue_full(&q) == NULL);
	CHECK(((struct entry *)stmt_at(&q, 1))->tag == 3 && stmt_at(&q, 2) == NULL);

	/* the session ends: both records now, with the error, once */
	stmt_end_all(&q, STMT_NO_REPLY_SESSION_ENDED);
	CHECK(n_ends == 3 && ends[1].query_id == 12 && ends[2].query_id == 13);
	CHECK_STR(ends[2].error, STMT_NO_REPLY_SESSION_ENDED);
	CHECK(n_released == 1); /* the entries stay until the frontend frees them */
	stmt_end_all(&q, "again");
	CHECK(n_ends == 3);
	stmt_queue_free(&q);
	CHECK(n_ends == 3); /* nothing written twice */
	CHECK(n_released == 3 && released[1] == 2 && released[2] == 3);
	CHECK_STR(last_release_error, STMT_NO_REPLY_SESSION_ENDED);
	CHECK(s.pending == NULL && stmt_count(&q) == 0);

	/* local bytes cap */
	stmt_queue_init(&q, &s, &ops, NULL);
	q.local_bytes = STMT_LOCAL_BYTES_MAX;
	CHECK(stmt_queue_full(&q) != NULL);
	q.local_bytes = 0;
	struct entry *e = stmt_push(&q);
	e->tag = 9;
	stmt_drop_tail(&q); /* undone: no release, no record */
	CHECK(stmt_count(&q) == 0 && n_released == 3);
	stmt_queue_free(&q);
}

static void test_decision(void)
{
	struct session s;
	memset(&s, 0, sizeof s);
	struct stmt_queue q;
	stmt_queue_init(&q, &s, &ops, NULL);
	struct policy_result pres;
	memset(&pres, 0, sizeof pres);
	pres.action = POLICY_ALLOW;
	snprintf(pres.rule, sizeof pres.rule, "review-writes");
	snprintf(pres.verb, sizeof pres.verb, "DELETE");

	char current[8];
	stmt_remember(current, sizeof current, "DELETE FROM t", 13);
	CHECK_STR(current, "DELETE ");

	struct stmt_decision d;
	memset(&d, 0, sizeof d);
	CHECK(stmt_decision_set(&d, "DELETE FROM t", 13, &pres, 5) == 0);
	CHECK_STR(d.sql, "DELETE FROM t");
	CHECK(d.sql_len == 13 && d.approval == 5 && d.action == POLICY_ALLOW);
	CHECK_STR(d.rule, "review-writes");
	CHECK_STR(d.objects, "");

	/* the first run uses the approval taken when prepared */
	int64_t last = 0, run = 0;
	CHECK(stmt_approved_run(&q, &d, &pres, &last, NULL, &run) == 0);
	CHECK(run == 5 && n_evaluates == 0 && d.approval_spent);
	/* a second run is decided again: allowed by a new approval ... */
	next_action = POLICY_ALLOW;
	CHECK(stmt_approved_run(&q, &d, &pres, &last, NULL, &run) == 0);
	CHECK(run == 77 && last == 77 && n_evaluates == 1 && denied == 0);
	/* ... or held: audited and refused through the frontend */
	next_action = POLICY_REVIEW;
	int audits = n_audits;
	CHECK(stmt_approved_run(&q, &d, &pres, &last, "[1]", &run) == 1);
	CHECK(denied == 1 && n_audits == audits + 1);

	/* a statement without an approval just runs, undecided again */
	struct stmt_decision plain;
	memset(&plain, 0, sizeof plain);
	CHECK(stmt_decision_set(&plain, "SELECT 1", 8, &pres, 0) == 0);
	CHECK(stmt_approved_run(&q, &plain, &pres, &last, NULL, &run) == 0);
	CHECK(run == 0 && n_evaluates == 2);
	stmt_decision_clear(&plain);
	stmt_decision_clear(&d);
	CHECK(d.sql == NULL && d.sql_len == 0);
	stmt_queue_free(&q);
}

/* The decision scratch the queue owns for its frontend. */
static void test_scratch(void)
{
	struct session s;
	struct stmt_queue q;
	memset(&s, 0, sizeof s);
	stmt_queue_init(&q, &s, &ops, NULL);
	CHECK(strcmp(stmt_current(&q), "") == 0);
	stmt_note(&q, "SELECT 1", 8);
	CHECK(strcmp(stmt_current(&q), "SELECT 1") == 0);
	char big[400];
	memset(big, 'x', sizeof big);
	stmt_note(&q, big, sizeof big);
	CHECK(strlen(stmt_current(&q)) == STMT_CURRENT_MAX - 1);

	next_action = POLICY_REVIEW;
	int evals = n_evaluates, audits = n_audits;
	stmt_decide(&q, "DROP TABLE t", 12);
	CHECK(q.pres.action == POLICY_REVIEW && q.approval == 77 && n_evaluates == evals + 1);
	CHECK(stmt_audit_decided(&q, "DROP TABLE t", 12, NULL) == (uint64_t)audits + 1);
	struct stmt_decision d;
	memset(&d, 0, sizeof d);
	CHECK(stmt_decision_keep(&q, &d, "DROP TABLE t", 12) == 0);
	CHECK(d.approval == 77 && d.action == POLICY_REVIEW && strcmp(d.sql, "DROP TABLE t") == 0);
	int64_t run;
	CHECK(stmt_approved_run_q(&q, &d, NULL, &run) == 0 && run == 77); /* first run */
	stmt_decision_clear(&d);

	CHECK(stmt_streaming(&q, SESS_BACKEND) == 0);
	stmt_stream_start(&q, SESS_BACKEND, 42);
	CHECK(stmt_streaming(&q, SESS_BACKEND) == 42 && stmt_streaming(&q, SESS_CLIENT) == 0);

	/* the relay loop's head: the message under way first, as far as it came */
	CHECK(stmt_relay_next(&q, SESS_CLIENT) == 1); /* nothing streamed from the client */
	stream_buffered = 30;
	CHECK(stmt_relay_next(&q, SESS_BACKEND) == 0); /* 30 of 42 moved: wait */
	CHECK(stmt_streaming(&q, SESS_BACKEND) == 12);
	stream_buffered = 100;
	CHECK(stmt_relay_next(&q, SESS_BACKEND) == 1); /* done: the next message */
	CHECK(stmt_streaming(&q, SESS_BACKEND) == 0 && stream_buffered == 88);
	s.backend_paused = 1;
	CHECK(stmt_relay_next(&q, SESS_BACKEND) == 0); /* backpressure stops the loop */
	s.backend_paused = 0;
	s.closing = 1;
	CHECK(stmt_relay_next(&q, SESS_CLIENT) == 0);
	s.closing = 0;
	stmt_queue_free(&q);
	stmt_queue_free(&q); /* a second free does nothing */
}

int main(void)
{
	test_queue();
	test_decision();
	test_scratch();
	return UNIT_DONE("test_stmt");
}
