/* policy/lex_uspace: Unicode whitespace in UTF-8 text, for the T-SQL and
 * Oracle tokenizers.
 *
 * Why: SQL Server and Oracle receive text as UTF-16 (TDS) or in the
 * session's character set (TNS) and the frontends hand it to the policy as
 * UTF-8. Whether a server treats U+00A0 or U+3000 between two words as
 * whitespace is not documented precisely; reading them as whitespace
 * splits words where a server might not, which only makes the classifier
 * see more keywords than the server does (the safe side): "DROP<nbsp>TABLE"
 * is read as DROP TABLE, never as one harmless word. */
#include "policy/lex_uspace.h"

size_t lex_uspace(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = (size_t)(end - p);

	if (n >= 2 && u[0] == 0xc2 && (u[1] == 0x85 || u[1] == 0xa0))
		return 2; /* U+0085 NEL, U+00A0 NBSP */
	if (n < 3)
		return 0;
	if (u[0] == 0xe1 && ((u[1] == 0x9a && u[2] == 0x80) || (u[1] == 0xa0 && u[2] == 0x8e)))
		return 3; /* U+1680, U+180E */
	if (u[0] == 0xe2 && u[1] == 0x80 &&
	    ((u[2] >= 0x80 && u[2] <= 0x8d) || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf))
		return 3; /* U+2000..U+200D, U+2028, U+2029, U+202F */
	if (u[0] == 0xe2 && u[1] == 0x81 && (u[2] == 0x9f || u[2] == 0xa0))
		return 3; /* U+205F, U+2060 */
	if (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80)
		return 3; /* U+3000 */
	if (u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf)
		return 3; /* U+FEFF */
	return 0;
}
