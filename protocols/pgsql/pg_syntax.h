/* pg_syntax: what the classifier cannot read, the server may still reject.
 *
 * A Query or Parse refused as fail-closed because the classifier could not
 * read it (POLICY_F_UNPARSEABLE) is not answered with the proxy's denial
 * straight away: the server is asked to parse it without running it, with
 * a Parse of the client's exact text (so error positions are the ones the
 * client would get direct) under a statement name of the proxy's
 * (<marker>_syn<N>), then a Close of that name, then the usual denial
 * (Bind to the marker + Sync for a Query; a Parse of the marker under the
 * client's name for a Parse), all in one pipeline:
 *  - the server rejects the Parse: its ErrorResponse is relayed unchanged
 *    as the reply to the client's message; the server skips the Close and
 *    the denial up to the Sync, so the transaction effect is the server's
 *    own (a transaction block is aborted, an extended block skips to Sync).
 *    Audit: decision "server-rejected", rule "fail-closed", error = the
 *    server's "SQLSTATE message".
 *  - the server parses it (ParseComplete, CloseComplete are swallowed):
 *    the denial follows as before. Audit: decision "deny", rule
 *    "fail-closed". A multi-statement Query the server can parse fails the
 *    single-statement Parse with "cannot insert multiple commands" (raised
 *    by exec_parse_message after the whole batch was parsed): that too is
 *    "the server can parse it", and the client gets the fail-closed denial.
 * Nothing is ever bound or executed: the Parse creates at most a statement
 * the very next message closes.
 */
#ifndef SB_PG_SYNTAX_H
#define SB_PG_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/pgsql/pg_conn.h"

/* Does the decision in c->pres ask for a server-side parse check? */
int pg_syntax_wanted(const struct pg_conn *c);

/* Start the check for a Query (kind PG_PEND_DENIED_SIMPLE; name NULL,
 * parse_tail NULL) or a Parse (kind PG_PEND_DENIED_PARSE; name = the
 * client's statement name, parse_tail/tail_len = the client's Parse body
 * after the name: text, NUL, parameter types). The decision is taken from
 * c->pres. Returns 0 (the client's message is consumed) or -1 (out of
 * memory). */
int pg_syntax_check(struct pg_conn *c, enum pg_pending_kind kind, const char *name,
		    const char *sql, size_t len, const uint8_t *parse_tail, size_t tail_len);

enum pg_syntax_reply {
	PG_SYN_NOT_MINE = 0,  /* not an answer to a check: handle as usual */
	PG_SYN_CONSUMED = 1,  /* swallowed (or replaced) */
	PG_SYN_RELAY = 2,     /* the server's rejection: relay it; the entry failed */
};

/* A backend message while the head pending entry is p. */
enum pg_syntax_reply pg_syntax_backend(struct pg_conn *c, struct pg_pending *p, char type,
				       const uint8_t *b, size_t n);

/* Free p->chk (audits a check the server never answered as fail-closed). */
void pg_syntax_free(struct pg_conn *c, struct pg_pending *p);

#endif
