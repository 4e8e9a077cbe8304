/* libFuzzer target: MySQL/MariaDB codec parsers on arbitrary bytes, the
 * packets a hostile client or server could send. The first byte picks the
 * parser; the rest is the packet payload. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocols/mysql/my_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const uint8_t *b = data + 2;
	size_t n = size - 2;
	char err[160], state[MY_SQLSTATE_LEN + 1];
	const char *s;
	const uint8_t *p;
	size_t l;
	uint16_t code;
	uint64_t count;
	switch (data[0] % 9) {
	case 0: {
		struct my_handshake h;
		(void)my_parse_handshake(b, n, &h, err, sizeof err);
		break;
	}
	case 1: {
		struct my_hs_response r;
		(void)my_parse_hs_response(b, n, &r, err, sizeof err);
		break;
	}
	case 2: {
		struct my_ok ok;
		(void)my_parse_ok(b, n, &ok);
		(void)my_is_eof(b, n, data[1] & 1);
		break;
	}
	case 3: (void)my_parse_err(b, n, &code, state, &s, &l); break;
	case 4: (void)my_parse_auth_switch(b, n, &s, &p, &l); break;
	case 5: (void)my_parse_column_count(b, n, &count); break;
	case 6: {
		struct my_prepare_ok po;
		(void)my_parse_prepare_ok(b, n, &po);
		break;
	}
	default: {
		/* COM_STMT_EXECUTE with up to 16 parameters whose types may or may
		 * not be known yet (as on the first execute). */
		uint16_t nparams = data[1] & 15, types[16];
		int known = data[1] >> 7;
		uint8_t long_data[2] = {0, 0};
		memset(types, 0, sizeof types);
		struct my_execute ex;
		struct my_buf json;
		my_buf_init(&json);
		(void)my_parse_execute(b, n, nparams, types, &known, long_data, &ex, &json, err,
				       sizeof err);
		my_buf_free(&json);
		break;
	}
	}
	return 0;
}
