/* my_mode: what the MySQL relay must know about the session's lexing state
 * (sql_mode NO_BACKSLASH_ESCAPES / ANSI_QUOTES, character_set_client) and
 * how it learns it from the server.
 *
 * The relay never guesses: a statement whose tokens could depend on that
 * state is classified only once the server has told the state (the probe
 * below, answered after everything in flight), and a statement that could
 * change it makes the state unknown again until the next probe. These
 * helpers are pure functions over bytes; the relay does the holding.
 */
#ifndef SB_MY_MODE_H
#define SB_MY_MODE_H

#include <stddef.h>
#include <stdint.h>

/* The proxy's own query, run on the backend when the state is needed and
 * unknown; its reply is consumed, never relayed (audited as a statement of
 * the session, so the server's log and the audit agree). */
#define MY_MODE_PROBE_SQL "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client"

/* 1 when how the server splits len bytes of SQL into tokens can depend on
 * sql_mode or character_set_client: a backslash (escapes, and the trail
 * byte of SJIS/BIG5/GBK/GB18030 characters), a double quote (ANSI_QUOTES),
 * or a backtick right after a byte >= 0x80 (a trail byte too). Text without
 * any of these reads the same under every state the server can be in. */
int my_text_lex_dependent(const uint8_t *sql, size_t len);

/* 1 when running the text could change the session's sql_mode or
 * character_set_client: it contains, in any case, "set" (SET, SET NAMES,
 * SET CHARACTER SET, SET STATEMENT, RESET, ...), "exec" (EXECUTE of a
 * prepared SET, EXECUTE IMMEDIATE), "call" (routines) or "binlog" (BINLOG
 * events carry a sql_mode). Deliberately broad: a false hit only costs a
 * probe before the next text that depends on the state. */
int my_text_may_change_mode(const uint8_t *sql, size_t len);

/* Parse the probe's result row (two length-encoded strings). On success
 * sets *mode to POLICY_MY_* bits (POLICY_MY_MODE_KNOWN included) and the
 * character set name into cs (NUL-terminated, cut to cap - 1). Returns 0,
 * or -1 when the row is malformed or a value is NULL. */
int my_mode_parse_row(const uint8_t *b, size_t n, unsigned *mode, char *cs, size_t cap);

#endif
