/* state_int: what the files of the state module (proxy/state*.c) share and
 * nothing else may include: the connection struct, its cache of prepared
 * statements, and the small SQLite helpers every query function uses.
 *
 * state.c owns the connection, the schema and its migrations, and the
 * users / assets / accounts / grants / tokens queries; state_approvals.c
 * owns the approvals queries; state_lifecycle.c the changes after the fact
 * (disable, remove, revoke, token rules) and the lockout counters. Each
 * file keeps its SQL text to itself and caches its statements in its own
 * range of slots of struct state.
 */
#ifndef SB_STATE_INT_H
#define SB_STATE_INT_H

#include <sqlite3.h>
#include <stdio.h>

#include "proxy/state.h"

/* Statement slots: [0, STATE_Q_CORE) for state.c's queries, then
 * STATE_Q_APPROVALS for state_approvals.c's. */
#define STATE_Q_CORE 32
#define STATE_Q_APPROVALS 16
#define STATE_Q_LIFECYCLE 32 /* state_lifecycle.c: admin changes, lockouts */
#define STATE_Q_SLOTS (STATE_Q_CORE + STATE_Q_APPROVALS + STATE_Q_LIFECYCLE)
#define STATE_Q_LIFECYCLE_BASE (STATE_Q_CORE + STATE_Q_APPROVALS)

struct state {
	sqlite3 *db;                    /* owned */
	sqlite3_stmt *q[STATE_Q_SLOTS]; /* owned, prepared on first use */
	char err[512];
};

/* The statement cached in slot, prepared from sql on first use
 * (SQLITE_PREPARE_PERSISTENT), ready to bind; NULL with st->err set. */
sqlite3_stmt *state_prepared(struct state *st, int slot, const char *sql);

/* The idempotent schema step of state_lifecycle.c (users.disabled,
 * grants.max_ttl / renewable, the lockouts table): adds only what is
 * missing, so it runs on every open after the versioned migrations. */
int state_lifecycle_migrate(struct state *st);

/* STATE_ERROR with st->err = "<what>: <sqlite message>". */
int state_fail_db(struct state *st, const char *what);
/* STATE_ERROR with st->err = what. */
int state_fail_msg(struct state *st, const char *what);
/* Reset a statement and clear its bindings, for its next use. */
void state_stmt_done(sqlite3_stmt *s);
/* Run a write statement to completion: STATE_OK, STATE_EXISTS on a unique
 * conflict, STATE_ERROR otherwise. Resets s. */
int state_run_write(struct state *st, sqlite3_stmt *s, const char *what);
/* Step s expecting at most one row: STATE_OK with the row current,
 * STATE_NOT_FOUND (s reset) or STATE_ERROR (s reset). */
int state_step_one(struct state *st, sqlite3_stmt *s, const char *what);
/* A bind on s failed: reset s; STATE_ERROR with st->err = "<what>: <sqlite
 * message>". */
int state_bind_fail(struct state *st, sqlite3_stmt *s, const char *what);
/* The end of a walk over the rows of s that stopped with step result rc
 * and callback result ret: STATE_ERROR (st->err "<what>: ...") when the
 * step failed, else ret; s reset. */
int state_walk_end(struct state *st, sqlite3_stmt *s, int rc, int ret, const char *what);
/* Copy a text column into dst (cut to cap - 1 bytes; NULL reads as ""). */
void state_col_text(sqlite3_stmt *s, int i, char *dst, size_t cap);
/* Bind v (NULL as "") without copying: v must outlive the step. */
int state_bind_text(sqlite3_stmt *s, int i, const char *v);

/* The columns of a grant row (state_read_grant reads them in this order)
 * and the joins they need. */
#define STATE_GRANT_COLS \
	"g.id, g.user_id, g.account_id, u.name, a.name, ac.name, g.level, g.hours, " \
	"coalesce(g.until, 0), g.created"
#define STATE_GRANT_FROM                                  \
	" FROM grants g JOIN users u ON u.id = g.user_id" \
	" JOIN accounts ac ON ac.id = g.account_id"       \
	" JOIN assets a ON a.id = ac.asset_id"
/* Read the current row of s (STATE_GRANT_COLS) into *g: STATE_OK, or
 * STATE_ERROR for a corrupt level. */
int state_read_grant(struct state *st, sqlite3_stmt *s, struct state_grant *g);

#endif
