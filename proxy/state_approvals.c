/* state_approvals: statements held by a `review` rule, in the approvals
 * table of the state DB (see state.h "approvals"; the table is created by
 * the schema migrations in state.c).
 *
 * A request's life: pending (made by the daemon when a statement is held)
 * -> approved or rejected (sqlbastionctl approve / reject) -> used (the
 * daemon ran it, once) ; a pending or approved request past its lifetime
 * is expired. Every transition is one UPDATE guarded by the status it
 * leaves, so concurrent writers (the daemon, sqlbastionctl, several
 * proxies on one file) cannot both make it. Requests are matched on the
 * SHA-256 of the exact statement bytes, and the bytes are compared too.
 *
 * This file does no logging and knows nothing of policy or protocols: it
 * stores what the caller says was held. Who may approve beyond "not the
 * requester" is the caller's business (sqlbastionctl needs access to the
 * state DB, which is owner-only).
 */
#include "proxy/state.h"
#include "proxy/state_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum approval_query {
	QA_FIND_PENDING,
	QA_INSERT,
	QA_COUNT_PENDING,
	QA_USE,
	QA_DECIDE,
	QA_EXPIRE,
	QA_GET,
	QA_LIST,
	QA_PURGE,
	QA_COUNT
};
_Static_assert(QA_COUNT <= STATE_Q_APPROVALS, "raise STATE_Q_APPROVALS in state_int.h");

#define APPROVAL_COLS \
	"id, user, asset, account, protocol, statement, sha256, fingerprint, rule, session," \
	" created, status, coalesce(approver, ''), coalesce(decided, 0), coalesce(used, 0)," \
	" coalesce(used_session, 0)"

static const char *const approval_sql[QA_COUNT] = {
	/* ?6 = the oldest creation time still pending */
	[QA_FIND_PENDING] = "SELECT id FROM approvals"
			    " WHERE user = ?1 AND asset = ?2 AND account = ?3 AND sha256 = ?4"
			    " AND statement = ?5 AND status = 'pending' AND created > ?6"
			    " ORDER BY id DESC LIMIT 1",
	/* ?2 = the oldest creation time still pending */
	[QA_COUNT_PENDING] = "SELECT count(*) FROM approvals"
			     " WHERE status = 'pending' AND created > ?2 AND user = ?1",
	[QA_INSERT] = "INSERT INTO approvals (user, asset, account, protocol, statement, sha256,"
		      " fingerprint, rule, session, created)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	/* ?6 = the oldest approval time still usable. The subquery picks the
	 * oldest usable approval; the outer guard re-checks the status under
	 * the write lock. */
	[QA_USE] = "UPDATE approvals SET status = 'used', used = ?7, used_session = ?8"
		   " WHERE status = 'approved' AND id = (SELECT id FROM approvals"
		   "  WHERE user = ?1 AND asset = ?2 AND account = ?3 AND sha256 = ?4"
		   "  AND statement = ?5 AND status = 'approved' AND decided > ?6"
		   "  ORDER BY id LIMIT 1)"
		   " RETURNING id",
	/* ?5 = the oldest creation time still pending; ?6 = refuse when the
	 * approver is the requester */
	[QA_DECIDE] = "UPDATE approvals SET status = ?2, approver = ?3, decided = ?4"
		      " WHERE id = ?1 AND status = 'pending' AND created > ?5"
		      " AND (?6 = 0 OR lower(user) <> lower(?3))",
	[QA_EXPIRE] = "UPDATE approvals SET status = 'expired'"
		      " WHERE (status = 'pending' AND created <= ?1)"
		      " OR (status = 'approved' AND decided <= ?2)",
	[QA_GET] = "SELECT " APPROVAL_COLS " FROM approvals WHERE id = ?1",
	[QA_LIST] = "SELECT " APPROVAL_COLS " FROM approvals"
		    " WHERE ?1 OR status = 'pending' ORDER BY id",
	/* ?1 = now - retention: a request whose last event (creation, decision
	 * or use) is older, and which can no longer change state, is deleted.
	 * Pending and approved ones past their lifetime count as expired. */
	[QA_PURGE] = "DELETE FROM approvals WHERE max(created, coalesce(decided, 0),"
		     " coalesce(used, 0)) <= ?1 AND (status IN ('expired', 'rejected', 'used')"
		     " OR (status = 'pending' AND created <= ?2)"
		     " OR (status = 'approved' AND decided <= ?3))",
};

static sqlite3_stmt *astmt(struct state *st, enum approval_query q)
{
	return state_prepared(st, STATE_Q_CORE + (int)q, approval_sql[q]);
}

static const char *const status_names[] = {"pending", "approved", "rejected", "used",
					   "expired"};

const char *state_approval_status_name(enum state_approval_status s)
{
	return (unsigned)s < 5 ? status_names[s] : "?";
}

static int status_parse(const char *s, enum state_approval_status *out)
{
	for (int i = 0; i < 5; i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum state_approval_status)i;
			return 0;
		}
	}
	return -1;
}

void state_approval_release(struct state_approval *a)
{
	free(a->statement);
	free(a->fingerprint);
	a->statement = a->fingerprint = NULL;
	a->statement_len = 0;
}

/* Read a row (APPROVAL_COLS order) into *a, status effective at now. */
static int read_approval(struct state *st, sqlite3_stmt *s, int64_t now,
			 struct state_approval *a)
{
	char status[16];
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(s, 0);
	state_col_text(s, 1, a->user, sizeof a->user);
	state_col_text(s, 2, a->asset, sizeof a->asset);
	state_col_text(s, 3, a->account, sizeof a->account);
	state_col_text(s, 4, a->protocol, sizeof a->protocol);
	const void *b = sqlite3_column_blob(s, 5);
	size_t n = (size_t)sqlite3_column_bytes(s, 5);
	const void *h = sqlite3_column_blob(s, 6);
	size_t hn = (size_t)sqlite3_column_bytes(s, 6);
	const unsigned char *fp = sqlite3_column_text(s, 7);
	state_col_text(s, 8, a->rule, sizeof a->rule);
	a->session = (uint64_t)sqlite3_column_int64(s, 9);
	a->created = sqlite3_column_int64(s, 10);
	state_col_text(s, 11, status, sizeof status);
	state_col_text(s, 12, a->approver, sizeof a->approver);
	a->decided = sqlite3_column_int64(s, 13);
	a->used = sqlite3_column_int64(s, 14);
	a->used_session = (uint64_t)sqlite3_column_int64(s, 15);
	if (status_parse(status, &a->status) != 0)
		return state_fail_msg(st, "corrupt approvals.status");
	if (!h || hn != SB_SHA256_LEN)
		return state_fail_msg(st, "corrupt approvals.sha256");
	memcpy(a->sha256, h, SB_SHA256_LEN);
	a->statement = malloc(n + 1);
	a->fingerprint = strdup(fp ? (const char *)fp : "");
	if (!a->statement || !a->fingerprint) {
		state_approval_release(a);
		return state_fail_msg(st, "out of memory");
	}
	if (n)
		memcpy(a->statement, b, n);
	a->statement[n] = '\0';
	a->statement_len = n;
	if (a->status == STATE_APPROVAL_PENDING)
		a->expires = a->created + STATE_APPROVAL_PENDING_TTL;
	else if (a->status == STATE_APPROVAL_APPROVED)
		a->expires = a->decided + STATE_APPROVAL_USE_TTL;
	if (a->expires && a->expires <= now)
		a->status = STATE_APPROVAL_EXPIRED;
	return STATE_OK;
}

/* Bind a statement's bytes as a BLOB (an empty one is a zero-length blob,
 * not NULL). */
static int bind_bytes(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	if (n > (size_t)0x7fffffff)
		return SQLITE_TOOBIG;
	return n ? sqlite3_bind_blob(s, i, p, (int)n, SQLITE_STATIC) : sqlite3_bind_zeroblob(s, i, 0);
}

int state_approval_request(struct state *st, const struct state_approval_request *rq,
			   int64_t now, int64_t *id, int *created)
{
	uint8_t sha[SB_SHA256_LEN];
	if (created)
		*created = 0;
	sb_sha256(rq->sql, rq->sql_len, sha);
	sqlite3_stmt *s = astmt(st, QA_FIND_PENDING);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, rq->user) || state_bind_text(s, 2, rq->asset) ||
	    state_bind_text(s, 3, rq->account) ||
	    sqlite3_bind_blob(s, 4, sha, sizeof sha, SQLITE_STATIC) ||
	    bind_bytes(s, 5, rq->sql, rq->sql_len) ||
	    sqlite3_bind_int64(s, 6, now - STATE_APPROVAL_PENDING_TTL))
		return state_bind_fail(st, s, "find approval request");
	int rc = state_step_one(st, s, "find approval request");
	if (rc == STATE_OK) {
		*id = sqlite3_column_int64(s, 0);
		state_stmt_done(s);
		return STATE_OK;
	}
	if (rc != STATE_NOT_FOUND)
		return rc;

	s = astmt(st, QA_COUNT_PENDING);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, rq->user) ||
	    sqlite3_bind_int64(s, 2, now - STATE_APPROVAL_PENDING_TTL))
		return state_bind_fail(st, s, "count approval requests");
	rc = state_step_one(st, s, "count approval requests");
	if (rc != STATE_OK)
		return rc == STATE_NOT_FOUND ? STATE_ERROR : rc;
	int64_t pending = sqlite3_column_int64(s, 0);
	state_stmt_done(s);
	if (pending >= STATE_APPROVAL_MAX_PENDING) {
		snprintf(st->err, sizeof st->err, "%lld approval requests of %s are pending",
			 (long long)pending, rq->user);
		return STATE_REFUSED;
	}

	s = astmt(st, QA_INSERT);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, rq->user) || state_bind_text(s, 2, rq->asset) ||
	    state_bind_text(s, 3, rq->account) || state_bind_text(s, 4, rq->protocol) ||
	    bind_bytes(s, 5, rq->sql, rq->sql_len) ||
	    sqlite3_bind_blob(s, 6, sha, sizeof sha, SQLITE_STATIC) ||
	    state_bind_text(s, 7, rq->fingerprint) || state_bind_text(s, 8, rq->rule) ||
	    sqlite3_bind_int64(s, 9, (int64_t)rq->session) || sqlite3_bind_int64(s, 10, now))
		return state_bind_fail(st, s, "store approval request");
	rc = state_run_write(st, s, "store approval request");
	if (rc != STATE_OK)
		return rc;
	*id = sqlite3_last_insert_rowid(st->db);
	if (created)
		*created = 1;
	return STATE_OK;
}

int state_approval_use(struct state *st, const char *user, const char *asset,
		       const char *account, const char *sql, size_t len, uint64_t session,
		       int64_t now, int64_t *id)
{
	uint8_t sha[SB_SHA256_LEN];
	sb_sha256(sql, len, sha);
	sqlite3_stmt *s = astmt(st, QA_USE);
	if (!s)
		return STATE_ERROR;
	if (state_bind_text(s, 1, user) || state_bind_text(s, 2, asset) ||
	    state_bind_text(s, 3, account) ||
	    sqlite3_bind_blob(s, 4, sha, sizeof sha, SQLITE_STATIC) ||
	    bind_bytes(s, 5, sql, len) ||
	    sqlite3_bind_int64(s, 6, now - STATE_APPROVAL_USE_TTL) ||
	    sqlite3_bind_int64(s, 7, now) || sqlite3_bind_int64(s, 8, (int64_t)session))
		return state_bind_fail(st, s, "use approval");
	/* RETURNING: the row comes first, the change is made when the
	 * statement runs to its end. */
	int rc = sqlite3_step(s), ret;
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
		ret = rc == SQLITE_DONE ? STATE_OK : state_fail_db(st, "use approval");
	} else {
		ret = rc == SQLITE_DONE ? STATE_NOT_FOUND : state_fail_db(st, "use approval");
	}
	state_stmt_done(s);
	return ret;
}

/* Why request id could not be decided: STATE_NOT_FOUND, STATE_REFUSED or
 * STATE_EXISTS, with the message in st->err. */
static int explain_undecided(struct state *st, int64_t id, int approve, const char *approver,
			     int64_t now)
{
	struct state_approval a;
	int rc = state_approval_get(st, id, now, &a);
	if (rc == STATE_NOT_FOUND)
		snprintf(st->err, sizeof st->err, "no approval %lld", (long long)id);
	if (rc != STATE_OK)
		return rc;
	state_approval_release(&a);
	if (a.status == STATE_APPROVAL_PENDING && approve && strcasecmp(a.user, approver) == 0) {
		snprintf(st->err, sizeof st->err,
			 "approval %lld was requested by %s: someone else must approve it",
			 (long long)id, a.user);
		return STATE_REFUSED;
	}
	if (a.status == STATE_APPROVAL_EXPIRED && !a.decided)
		snprintf(st->err, sizeof st->err,
			 "approval %lld has expired (a request waits at most %d minutes); the "
			 "statement must be sent again",
			 (long long)id, STATE_APPROVAL_PENDING_TTL / 60);
	else if (a.status == STATE_APPROVAL_EXPIRED)
		snprintf(st->err, sizeof st->err, "approval %lld was approved by %s and has expired",
			 (long long)id, a.approver);
	else if (a.status == STATE_APPROVAL_USED)
		snprintf(st->err, sizeof st->err, "approval %lld was approved by %s and is used",
			 (long long)id, a.approver);
	else if (a.status == STATE_APPROVAL_PENDING)
		snprintf(st->err, sizeof st->err, "approval %lld changed; try again", (long long)id);
	else
		snprintf(st->err, sizeof st->err, "approval %lld is already %s by %s", (long long)id,
			 state_approval_status_name(a.status), a.approver);
	return STATE_EXISTS;
}

int state_approval_decide(struct state *st, int64_t id, int approve, const char *approver,
			  int64_t now)
{
	sqlite3_stmt *s = astmt(st, QA_DECIDE);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id) ||
	    state_bind_text(s, 2, approve ? "approved" : "rejected") ||
	    state_bind_text(s, 3, approver) || sqlite3_bind_int64(s, 4, now) ||
	    sqlite3_bind_int64(s, 5, now - STATE_APPROVAL_PENDING_TTL) ||
	    sqlite3_bind_int(s, 6, approve))
		return state_bind_fail(st, s, "decide approval");
	int rc = state_run_write(st, s, "decide approval");
	if (rc != STATE_OK)
		return rc;
	if (sqlite3_changes(st->db) > 0)
		return STATE_OK;
	return explain_undecided(st, id, approve, approver, now);
}

int state_approval_expire(struct state *st, int64_t now, int *n)
{
	if (n)
		*n = 0;
	sqlite3_stmt *s = astmt(st, QA_EXPIRE);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, now - STATE_APPROVAL_PENDING_TTL) ||
	    sqlite3_bind_int64(s, 2, now - STATE_APPROVAL_USE_TTL))
		return state_bind_fail(st, s, "expire approvals");
	int rc = state_run_write(st, s, "expire approvals");
	if (rc == STATE_OK && n)
		*n = sqlite3_changes(st->db);
	return rc;
}

int state_approval_get(struct state *st, int64_t id, int64_t now, struct state_approval *out)
{
	sqlite3_stmt *s = astmt(st, QA_GET);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, id))
		return state_bind_fail(st, s, "get approval");
	int rc = state_step_one(st, s, "get approval");
	if (rc != STATE_OK)
		return rc;
	rc = read_approval(st, s, now, out);
	state_stmt_done(s);
	return rc;
}

int state_approval_list(struct state *st, int all, int64_t now,
			int (*cb)(void *ctx, const struct state_approval *a), void *ctx)
{
	sqlite3_stmt *s = astmt(st, QA_LIST);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int(s, 1, all != 0))
		return state_bind_fail(st, s, "list approvals");
	int rc, ret = STATE_OK;
	struct state_approval a;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((ret = read_approval(st, s, now, &a)) != STATE_OK)
			break;
		if (all || a.status == STATE_APPROVAL_PENDING)
			ret = cb(ctx, &a);
		state_approval_release(&a);
		if (ret != 0)
			break;
	}
	return state_walk_end(st, s, rc, ret, "list approvals");
}

int state_approval_purge(struct state *st, int64_t now, int64_t retention, int *n)
{
	if (n)
		*n = 0;
	sqlite3_stmt *s = astmt(st, QA_PURGE);
	if (!s)
		return STATE_ERROR;
	if (sqlite3_bind_int64(s, 1, now - retention) ||
	    sqlite3_bind_int64(s, 2, now - STATE_APPROVAL_PENDING_TTL) ||
	    sqlite3_bind_int64(s, 3, now - STATE_APPROVAL_USE_TTL))
		return state_bind_fail(st, s, "purge approvals");
	int rc = state_run_write(st, s, "purge approvals");
	if (rc == STATE_OK && n)
		*n = sqlite3_changes(st->db);
	return rc;
}
