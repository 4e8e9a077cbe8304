/* my_syntax: what the classifier cannot read, the server may still reject
 * (issue 11 item 6, the MySQL side of pg_syntax.h).
 *
 * A COM_QUERY or COM_STMT_PREPARE refused as fail-closed because the
 * classifier could not read it (POLICY_F_UNPARSEABLE) is not answered with
 * the proxy's denial straight away: the server is asked to parse it
 * without running it, by a COM_STMT_PREPARE of the text on the session's
 * backend connection, then a COM_STMT_CLOSE of the id it returned (never
 * executed). The check starts only when no reply is owed to the client
 * (the relay holds the command until then) and the client's later
 * commands wait until it is over, so the exchange is the only thing on
 * the connection and none of it reaches the client.
 *
 * Which text is prepared. The server runs a multi-statement COM_QUERY one
 * statement at a time, each parsed from just after the previous one's ';'
 * with leading whitespace skipped (so error positions and line numbers
 * count from there). The check prepares exactly that text for the first
 * unreadable statement: from its start to the end of the COM_QUERY (the
 * server's error then names the same "near '...'" text and line as
 * direct). When other statements follow it, the statement alone (up to
 * its own ';') is prepared too, in the same pipeline: only its rejection
 * counts as "the server cannot parse it" (prepared, a parseable statement
 * followed by more text fails at the next statement, which direct would
 * run). A COM_STMT_PREPARE of the client is checked with its whole text.
 *
 * Outcomes:
 *  - rejected with a parse-time code (my_syntax_parse_error()): the
 *    server's own ERR packet goes to the client unchanged (code, SQLSTATE
 *    42000, message with position), with the sequence id of a reply to
 *    the client's command. Nothing of the command runs: in a batch, the
 *    statements before the unreadable one do not run either (direct they
 *    would). Audit: decision "server-rejected", rule "fail-closed", error
 *    = "code (SQLSTATE) message".
 *  - parsed, or refused for another reason (1295 ER_UNSUPPORTED_PS: not
 *    preparable; 1146 and other name-resolution errors: the text parsed):
 *    the client gets the fail-closed denial as before. Audit: "deny".
 * The server's "last prepared statement" (stmt_id -1) is the check's
 * (closed) statement afterwards: the relay forgets its own, so a later
 * COM_STMT_EXECUTE of -1 is answered "unknown handler" by the proxy.
 */
#ifndef SB_MY_SYNTAX_H
#define SB_MY_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/mysql/my_conn.h"

/* on_command() result: the command was consumed (a check went out) and
 * the client is not read until every reply is in (MY_HELD_REPLIES). */
#define MY_CONSUMED_HOLD 4

/* Does the decision in c->pres on the client's text (sql, len; prepare: a
 * COM_STMT_PREPARE) ask for a server-side parse check? Not for a batch
 * whose statement boundaries the classifier may not share with the server
 * (see my_syntax.c): it keeps the fail-closed denial. */
int my_syntax_wanted(const struct my_conn *c, const char *sql, size_t len, int prepare);

/* Is `code` an error the server raises while parsing, for text that could
 * never run in any state (1064 ER_PARSE_ERROR, 1149 ER_SYNTAX_ERROR)? */
int my_syntax_parse_error(uint16_t code);

/* Start the check of the client's command text (sql, len; prepare: a
 * COM_STMT_PREPARE, else a COM_QUERY), decided in c->pres. Nothing may be
 * in flight (c->pend empty). Pushes a MY_PEND_SYNTAX entry and writes the
 * check to the backend. Returns MY_CONSUMED_HOLD, or -1 (out of memory). */
int my_syntax_check(struct my_conn *c, const char *sql, size_t len, int prepare);

/* The backend's reply to the check at the head (p): reads whole packets,
 * relays none of them; when the last is in, writes the client's answer
 * and the audit record. Returns 1 when the entry is complete (the caller
 * pops it), 0 when more is to come, -1 when the session was closed. */
int my_syntax_backend(struct my_conn *c, struct my_pending *p);

/* A packet the relay read (b, n: writable, still to be relayed) of the
 * reply to the statements a rejected batch ran before its unreadable one
 * (p carries the check): unless it is an ERR (the batch ends there, as
 * direct), sets the "more results" status flag of an OK or EOF, as the
 * server does for every statement but a batch's last, and returns 1. When
 * that packet ends the reply, my_syntax_batch_err() writes the server's
 * parse error after it once it is relayed (sequence id seq + 1; returns 0
 * or -1). Returns 0 when the packet is not such a reply's. */
int my_syntax_batch_status(struct my_conn *c, struct my_pending *p, uint8_t *b, size_t n);
int my_syntax_batch_err(struct my_conn *c, struct my_pending *p, uint8_t seq);

/* Free p->chk (a check the server never answered is audited as
 * fail-closed, "not checked"). */
void my_syntax_free(struct my_conn *c, struct my_pending *p);

#endif
