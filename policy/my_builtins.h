/* my_builtins: which MySQL/MariaDB function names are the server's own.
 *
 * An unqualified name the server resolves to a built-in never runs a
 * stored function, so the proxy does not ask the catalog about it
 * (protocols/mysql/my_routines.c). MariaDB resolves "native" functions
 * (concat, sleep, json_extract, ...) in every spelling, and the grammar's
 * functions (count, now, substring, if, ...) only when written as a bare
 * word followed directly by '(': `count`(x) or `count (x)` (without
 * IGNORE_SPACE) calls a stored function named count.
 */
#ifndef SB_POLICY_MY_BUILTINS_H
#define SB_POLICY_MY_BUILTINS_H

#include <stddef.h>

/* 1 when len bytes of name (any case) call a built-in; plain: the call was
 * written as an unquoted word directly followed by '('. */
int my_builtin_function(const char *name, size_t len, int plain);

/* 1 when len bytes of name (any case) are a word that, unquoted and
 * followed by '(', never calls a stored function (RETURN, IF, WHILE, ...). */
int my_reserved_word(const char *name, size_t len);

/* The i-th name of the native (grammar_list 0), grammar (1) or reserved
 * (2) list, NULL past the end. */
const char *my_builtin_name(int grammar_list, size_t i);

#endif
