/* policy/lex_uspace: Unicode whitespace (UTF-8) the T-SQL and Oracle
 * tokenizers skip like a blank (see lex_uspace.c for why). */
#ifndef SB_POLICY_LEX_USPACE_H
#define SB_POLICY_LEX_USPACE_H

#include <stddef.h>

/* Bytes of the Unicode whitespace character at p (before end), 0 if none. */
size_t lex_uspace(const char *p, const char *end);

#endif
