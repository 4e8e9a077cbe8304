/* pg_internal: the proxy's own queries on a session's backend connection.
 *
 * Some decisions need a fact only the server has (the name of a function
 * by OID; later the body of a user-defined routine). This module runs one
 * SQL statement on the backend *between* client messages and hands the
 * rows to a callback; the client never sees it:
 *  - it starts only when nothing of the client's is in flight
 *    (pg_quiet()), and the client is not read until it has finished;
 *  - it uses a statement and portal named after the session's secret
 *    marker, never the unnamed ones (a Query or unnamed Parse would drop
 *    the client's unnamed statement/portal), closes both, ends with Sync
 *    (inside the client's transaction block a Sync commits nothing);
 *  - every reply up to its ReadyForQuery is consumed, except asynchronous
 *    NotificationResponse / ParameterStatus, which reach the client as
 *    they would have anyway;
 *  - its text starts with PG_INTERNAL_TAG, so the server's statement log
 *    tells it apart from the client's statements (it is not in the audit
 *    log: it is the proxy's, not the user's).
 * Results are the callers' to cache (see pg_fastpath.c).
 */
#ifndef SB_PG_INTERNAL_H
#define SB_PG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct pg_conn;

#define PG_INTERNAL_TAG "/* sqlbastion:internal */"
#define PG_INTERNAL_ROWS 16 /* rows kept; more are counted and dropped */
#define PG_INTERNAL_COLS 8
/* bytes kept of one value: routine bodies (pg_routines.c) are read whole
 * up to this size; memory is only what a value needs */
#define PG_INTERNAL_CELL_MAX (1u << 20)

struct pg_internal_result {
	int ok;                /* 1: ran to completion; 0: error[] says why */
	char error[300];       /* "SQLSTATE message" */
	int n_rows, n_cols;    /* rows/columns kept */
	char *cell[PG_INTERNAL_ROWS][PG_INTERNAL_COLS]; /* NUL-terminated text; NULL = SQL NULL */
};

/* Called once, when the server has answered (ok or not). The result and
 * its cells are freed after it returns. It may close the session. */
typedef void (*pg_internal_done)(struct pg_conn *c, const struct pg_internal_result *r,
				 void *arg);

/* Optional: called for every row as it arrives (the row is r->cell[0],
 * n_cols wide, freed after the call); such rows are not kept in r. */
typedef void (*pg_internal_row)(struct pg_conn *c, const struct pg_internal_result *r, void *arg);

/* Send `sql` (which must start with PG_INTERNAL_TAG) with n text
 * parameters ($1..$n) to the backend. The caller checked pg_quiet(c).
 * `row` may be NULL (rows are kept, up to PG_INTERNAL_ROWS).
 * Returns 0 (done will be called) or -1 (out of memory; nothing sent). */
int pg_internal_run(struct pg_conn *c, const char *sql, const char *const *params, int n,
		    pg_internal_row row, pg_internal_done done, void *arg);

/* A backend message while c->internal is set. Returns 1 when consumed,
 * 0 when it is to be relayed to the client, -1 when the session was closed
 * (an unexpected reply). */
int pg_internal_backend(struct pg_conn *c, char type, const uint8_t *b, size_t n);

/* Drop an unfinished internal query (session end). */
void pg_internal_free(struct pg_conn *c);

#endif
