/* Unit test: audit JSON strings are lossless for arbitrary bytes. Random
 * byte strings (biased toward UTF-8 lead/continuation bytes, controls and
 * the escape characters) go through audit_json_put_str(); the result must
 * be valid JSON and audit_json_unescape() must give back exactly the input.
 * And the two strings that used to collide, the byte 0xff and the valid
 * character U+00FF, must be written differently. */
#include "audit/audit_json.h"
#include "unit.h"

#include <stdlib.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned next_byte(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	static const unsigned char pool[] = {0x00, 0x01, 0x1f, 0x7f, '"',  '\\', 'u',  'd',
					     'c',  0x80, 0xbf, 0xc2, 0xc3, 0xdc, 0xed, 0xe0,
					     0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0xc0, 0xc1};
	unsigned r = (unsigned)(rng >> 32);
	return (r & 1) ? pool[(r >> 1) % sizeof pool] : (r >> 8) & 0xff;
}

static void test_random_roundtrip(void)
{
	struct audit_buf b, d;
	audit_buf_init(&b);
	audit_buf_init(&d);
	unsigned char in[300];
	int bad = 0;
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = (size_t)(next_byte() % sizeof in);
		if (iter % 3 == 0)
			n %= 12;
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)next_byte();
		b.len = 0;
		d.len = 0;
		audit_json_put_str(&b, (const char *)in, n);
		if (b.oom || !audit_json_valid(b.p, b.len) || b.len < 2 ||
		    audit_json_unescape(b.p + 1, b.len - 2, &d) != 0 || d.len != n ||
		    (n && memcmp(d.p, in, n) != 0)) {
			if (bad++ < 5) {
				fprintf(stderr, "round trip failed for %zu bytes:", n);
				for (size_t i = 0; i < n; i++)
					fprintf(stderr, " %02x", in[i]);
				fprintf(stderr, "\n");
			}
		}
	}
	CHECK(bad == 0);
	audit_buf_free(&b);
	audit_buf_free(&d);
}

static void test_no_collision(void)
{
	struct audit_buf a, u;
	audit_buf_init(&a);
	audit_buf_init(&u);
	for (unsigned c = 0x80; c <= 0xff; c++) {
		char raw = (char)c;
		char utf8[2] = {(char)(0xC0 | c >> 6), (char)(0x80 | (c & 0x3f))};
		a.len = u.len = 0;
		audit_json_put_str(&a, &raw, 1);
		audit_json_put_str(&u, utf8, 2);
		CHECK(a.len != u.len || memcmp(a.p, u.p, a.len) != 0);
	}
	a.len = 0;
	audit_json_put_str(&a, "\xff", 1);
	CHECK_STR(audit_buf_cstr(&a), "\"\\udcff\"");
	/* the text of a lone-surrogate escape typed by a client stays text */
	a.len = u.len = 0;
	audit_json_put_str(&a, "\\udcff", 6);
	CHECK(audit_json_unescape(a.p + 1, a.len - 2, &u) == 0);
	CHECK(u.len == 6 && memcmp(u.p, "\\udcff", 6) == 0);
	audit_buf_free(&a);
	audit_buf_free(&u);
}

int main(void)
{
	test_random_roundtrip();
	test_no_collision();
	return UNIT_DONE("audit_bytes");
}
