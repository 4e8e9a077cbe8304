/* libFuzzer target for the SASL mechanism list a PostgreSQL server sends
 * (AuthenticationSASL), as the end-to-end login filters it before relaying
 * it to the client (protocols/pgsql/pg_passthrough_auth.c,
 * pg_pt_filter_mechanisms): arbitrary bytes in an exactly-sized heap copy.
 * Besides crashes it checks the promise: the output is a well-formed list
 * (names, then an empty one) with no -PLUS mechanism, each of its names was
 * in the input, and it fits the caller's buffer.
 */
#include "protocols/pgsql/pg_passthrough_auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int in_list(const uint8_t *in, size_t n, const char *name, size_t nl)
{
	for (size_t off = 0; off < n;) {
		const uint8_t *z = memchr(in + off, 0, n - off);
		if (!z)
			return 0;
		size_t ml = (size_t)(z - (in + off));
		if (ml == nl && memcmp(in + off, name, nl) == 0)
			return 1;
		off += ml + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = malloc(size ? size : 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	size_t cap = size % 2 ? 64 : 512; /* a small buffer too: "does not fit" */
	uint8_t *out = malloc(cap);
	if (!out)
		abort();
	int ol = pg_pt_filter_mechanisms(in, size, out, cap);
	if (ol < -1 || ol == 1 || ol > (int)cap)
		abort();
	if (ol >= 2) {
		if (out[ol - 1] != 0 || out[ol - 2] != 0)
			abort(); /* not terminated by an empty name */
		for (size_t off = 0; off + 1 < (size_t)ol;) {
			const uint8_t *z = memchr(out + off, 0, (size_t)ol - off);
			if (!z)
				abort();
			size_t ml = (size_t)(z - (out + off));
			if (ml == 0 || (ml > 5 && memcmp(out + off + ml - 5, "-PLUS", 5) == 0))
				abort(); /* an empty name inside, or channel binding */
			if (!in_list(in, size, (const char *)out + off, ml))
				abort(); /* a name the server did not send */
			off += ml + 1;
		}
	}
	free(out);
	free(in);
	return 0;
}
