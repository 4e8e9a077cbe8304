/* my_routines: what a called MySQL/MariaDB stored routine does, from the
 * server's catalog, for the policy (policy_request.routine).
 *
 * `CALL p()` and `SELECT f()` run whatever the routine's body does. For
 * every procedure a statement CALLs and every function it calls that the
 * server does not resolve to a built-in (policy/my_builtins.h), the proxy
 * reads information_schema.ROUTINES (schema, type, SQL_DATA_ACCESS,
 * SECURITY_TYPE, sql_mode, body) in one internal query per round for all
 * names it does not know, tagged MY_RT_TAG and never relayed nor audited.
 * The policy classifies the body with the statement classifier (under the
 * routine's own sql_mode, its names resolving in its schema); a routine not
 * found, whose body the account may not see (NULL), larger than
 * MY_RT_BODY_MAX, created under sql_mode ORACLE, or a look-up that failed,
 * is dynamic. Calls inside a body are looked up in the next round (at most
 * MY_RT_ROUNDS per client command; policy.c bounds the nesting).
 *
 * Freshness. Another session can DROP and CREATE a routine at any time,
 * unseen by this one, so facts serve the one decision they were fetched
 * for (like pg_routines.c): each statement calling a stored routine costs
 * one catalog round trip, and statements calling none never consult this
 * module. Nothing is kept across statements, so no DDL or USE can make a
 * kept fact stale.
 *
 * Look-ups run only when nothing is in flight on the backend (MySQL is
 * strictly request/response): the client's command is held until the
 * server has answered everything before it, then until the look-up's
 * reply has been read. A look-up answered by an ERR leaves its names
 * unknown (the call is dynamic, refused where dynamic is); a malformed
 * reply ends the session.
 */
#ifndef SB_MY_ROUTINES_H
#define SB_MY_ROUTINES_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

struct my_conn;
struct my_pending;

#define MY_RT_TAG "/* sqlbastion:internal */"
#define MY_RT_BODY_MAX 65536 /* bytes of a body the proxy reads */
#define MY_RT_NAMES_MAX 32   /* names per look-up */
#define MY_RT_ROUNDS 4       /* look-ups per client command */

/* Install the policy callback on the session. Returns -1 out of memory. */
int my_routines_init(struct my_conn *c);
void my_routines_free(struct my_conn *c);

/* Around one decision of a client command that may wait for a look-up
 * (COM_QUERY, COM_STMT_PREPARE): _begin lets the callback ask for names;
 * _end sees the result. _end returns 0 when the decision in *res is final
 * (its facts are dropped), 1 when the command must be held and decided
 * again once nothing is in flight, 2 when a look-up must be sent now
 * (my_routines_lookup_sql), -1 out of memory. Decisions not wrapped by
 * these see every unknown routine as dynamic. */
void my_routines_begin(struct my_conn *c);
int my_routines_end(struct my_conn *c, const struct policy_result *res);

/* The look-up for the names _end returned 2 for: a COM_QUERY payload
 * (command byte first) in *sql (owned by the caller), or -1 out of memory. */
int my_routines_lookup_sql(struct my_conn *c, uint8_t **sql, size_t *len);

/* One packet of the look-up's reply (a result set, or ERR). Returns 0
 * (*done = 1 on its last packet), -1 when the reply is malformed. */
int my_routines_packet(struct my_conn *c, struct my_pending *p, const uint8_t *b, size_t n,
		       int *done);

/* 1 when the last final decision called a routine whose body may change
 * sql_mode or the character set (SET ..., CALL, EXECUTE: see
 * my_text_may_change_mode), or one it could not read. */
int my_routines_mode_risk(const struct my_conn *c);

#endif
