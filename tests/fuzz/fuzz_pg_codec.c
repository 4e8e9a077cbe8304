/* libFuzzer target: PostgreSQL codec parsers on arbitrary bytes.
 * The first byte picks the parser; the rest is the packet or message body. */
#include <stddef.h>
#include <stdint.h>

#include "protocols/pgsql/pg_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *b = data + 1;
	size_t n = size - 1;
	const char *s1, *s2;
	size_t l;
	uint32_t u1, u2;
	const uint8_t *p;
	char kind, err[160];
	switch (data[0] % 10) {
	case 0: {
		struct pg_startup su;
		(void)pg_parse_startup(b, n, &su, err, sizeof err);
		break;
	}
	case 1: (void)pg_parse_query(b, n, &s1, &l); break;
	case 2: (void)pg_parse_parse(b, n, &s1, &s2, &l); break;
	case 3: (void)pg_parse_bind_names(b, n, &s1, &s2); break;
	case 4: (void)pg_parse_execute(b, n, &s1); break;
	case 5: (void)pg_parse_target(b, n, &kind, &s1); break;
	case 6: (void)pg_parse_auth(b, n, &u1, &p, &l); break;
	case 7: (void)pg_parse_sasl_initial(b, n, &s1, &p, &l); break;
	case 8: (void)pg_command_rows(b, n); break;
	case 9:
		(void)pg_error_field(b, n, 'M', &s1, &l);
		(void)pg_parse_backend_key(b, n, &u1, &u2);
		break;
	}
	return 0;
}
