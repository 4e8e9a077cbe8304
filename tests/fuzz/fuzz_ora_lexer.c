/* libFuzzer target: the Oracle tokenizer on its own, then the whole Oracle
 * classification and decision.
 *
 * The first byte chooses the grant level (bit 0 read, bit 1 operate); the
 * rest is the text. Checks, on top of crashes and sanitizer reports: every
 * token lies inside the input, the tokenizer always moves forward and ends
 * (EOF or ERROR), quoted tokens end with their closing character; then
 * policy_evaluate under the guard policy keeps its result invariants
 * (NUL-terminated strings inside their buffers, unparseable text denied),
 * and whatever the text, the text followed by a line ";DROP TABLE t" is
 * never allowed (a trailing statement cannot be hidden by what precedes it).
 *
 * Build from the repository root:
 *   clang -fsanitize=fuzzer,address -I. tests/fuzz/fuzz_ora_lexer.c policy/[a-z]*.c \
 *       $(pkg-config --cflags --libs libpcre2-8)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/lexer.h"
#include "policy/policy.h"

#define FUZZ_DIALECT POLICY_DIALECT_ORACLE
#define FUZZ_INIT oral_init
#define FUZZ_NEXT oral_next
#include "tests/fuzz/fuzz_dialect.h"
