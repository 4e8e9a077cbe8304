/* libFuzzer target: TNS packet framing (protocols/tns/tns_codec.c) on
 * arbitrary bytes: headers in both length forms, the CONNECT, ACCEPT,
 * REDIRECT and DATA readers, and CONNECT rebuilt around a new descriptor,
 * which must read back with that descriptor. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tns/tns_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int large = 0; large < 2; large++) {
		size_t off = 0;
		struct tns_hdr h;
		while (tns_peek_header(data + off, size - off, large, &h) == TNS_OK &&
		       h.len <= size - off) {
			const uint8_t *p = data + off;
			struct tns_accept a;
			const uint8_t *d;
			size_t n;
			uint16_t flags, rl;
			(void)tns_parse_accept(p, h.len, &a);
			(void)tns_data_payload(p, h.len, large, &d, &n, &flags);
			if (tns_parse_redirect(p, h.len, &rl, &d, &n) == 0 && d && n < rl)
				abort();
			struct tns_connect c;
			if (!large && tns_parse_connect(p, h.len, &c) == 0) {
				static uint8_t out[70000];
				static const char cd[] = "(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=x)))";
				long bl = tns_build_connect(out, sizeof out, p, h.len, &c, cd, sizeof cd - 1);
				struct tns_connect c2;
				if (bl > 0) {
					size_t first = (size_t)((out[0] << 8) | out[1]);
					if (first > (size_t)bl || tns_parse_connect(out, first, &c2) != 0 ||
					    c2.cd_len != sizeof cd - 1 || !c2.cd_inline ||
					    memcmp(out + c2.cd_off, cd, c2.cd_len) != 0)
						abort();
				}
			}
			off += h.len;
		}
	}
	return 0;
}
