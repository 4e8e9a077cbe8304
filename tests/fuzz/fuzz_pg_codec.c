/* libFuzzer target: PostgreSQL codec parsers on arbitrary bytes.
 * The first byte picks the parser; the rest is the packet or message body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_json.h"
#include "protocols/pgsql/pg_codec.h"
#include "protocols/pgsql/pg_params.h"

/* Bind and FunctionCall values: whatever parses renders as valid JSON. */
static void bind_and_function_call(const uint8_t *b, size_t n)
{
	struct pg_bind bd;
	struct pg_values args;
	uint32_t oid;
	const struct pg_values *v = NULL;
	if (pg_parse_bind(b, n, &bd) == 0)
		v = &bd.params;
	else if (pg_parse_function_call(b, n, &oid, &args) == 0)
		v = &args;
	if (!v)
		return;
	char *json = pg_values_json(v);
	if (json && !audit_json_valid(json, strlen(json)))
		abort();
	free(json);
}

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
	case 3: bind_and_function_call(b, n); break;
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
