/* pg_routines: what a called PostgreSQL routine does, from the server's
 * catalog, for the policy (policy_request.routine).
 *
 * `SELECT my_fn('DROP TABLE t')` runs whatever my_fn's body does. For every
 * name a statement calls (outside pg_catalog), the proxy asks pg_proc for
 * every routine of that name in any schema (overloads and search_path are
 * not resolved: if any candidate is dangerous the call is), with its
 * language, SECURITY DEFINER, volatility and body, in one internal query
 * per statement (pg_internal.c) for all names it does not know. The policy
 * classifies sql/plpgsql bodies with the statement classifier; any other
 * language, or a body it cannot read whole, is dynamic.
 *
 * Caching and freshness. Another session can CREATE OR REPLACE a routine
 * at any time and the proxy cannot see it, so the facts of user routines
 * are used for the one decision they were fetched for and then dropped: a
 * statement calling a user routine costs one catalog round trip. Names
 * with no user routine but a pg_catalog one (count, sum, now, lower: what
 * OLTP statements call) are kept for the session, at most PG_RT_KEEP of
 * them, and forgotten after any statement of this session that may have
 * created a routine (DDL, dynamic SQL, ROLLBACK/ABORT, two-phase commit
 * verbs). Names that exist nowhere are not kept. Statements that call no
 * function never consult this module.
 *
 * Lookups run only when nothing is in flight: a statement that needs one
 * holds the client until the server has answered what was sent before.
 * Where it cannot wait (an extended-protocol block not ended by Sync, an
 * aborted transaction, lookups failed), an unknown routine is dynamic.
 */
#ifndef SB_PG_ROUTINES_H
#define SB_PG_ROUTINES_H

#include <stddef.h>

#include "policy/policy.h"

struct pg_conn;

#define PG_RT_KEEP 256 /* names kept for the session */

/* Install the policy callback on the session. Returns -1 out of memory. */
int pg_routines_init(struct pg_conn *c);
void pg_routines_free(struct pg_conn *c);

/* Around the decision of a client Query/Parse: _begin lets the callback
 * ask for look-ups (when the proxy can wait for one); _end sees the
 * result. _end returns 0 when the decision in *res is final (facts used
 * for it are dropped), 1 when the client message must be held (a look-up
 * runs, or waits for quiet) and decided again, -1 out of memory. */
void pg_routines_begin(struct pg_conn *c);
int pg_routines_end(struct pg_conn *c, const struct policy_result *res);

/* A statement with this decision was forwarded: forget kept names if it
 * may create or replace routines. */
void pg_routines_forwarded(struct pg_conn *c, const struct policy_result *res);

#endif
