/* Unit tests for proxy/crypto: known-answer vectors and round trips. */
#include "lib/crypto.h"
#include "unit.h"

int main(void)
{
	uint8_t h[32];
	char hex[65];
	sb_sha256("abc", 3, h);
	sb_hex(h, 32, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	/* RFC 7677 example: Hi("pencil", salt, 4096) */
	uint8_t salt[16];
	int sl = sb_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt);
	CHECK(sl == 16);
	uint8_t salted[32];
	CHECK(sb_pbkdf2_sha256("pencil", 6, salt, 16, 4096, salted) == 0);
	uint8_t ck[32], sk[32];
	sb_hmac_sha256(salted, 32, "Client Key", 10, ck);
	sb_sha256(ck, 32, sk);
	char b64[64];
	sb_base64_encode(sk, 32, b64, sizeof b64);
	CHECK_STR(b64, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");

	/* base64 rejects junk and misplaced padding */
	uint8_t out[8];
	CHECK(sb_base64_decode("ab=c", 4, out, sizeof out) < 0);
	CHECK(sb_base64_decode("abc", 3, out, sizeof out) < 0);
	CHECK(sb_base64_decode("YQ==", 4, out, sizeof out) == 1 && out[0] == 'a');

	/* AES-256-GCM: round trip, wrong aad and tampering fail */
	uint8_t key[32] = {1, 2, 3};
	uint8_t blob[64], plain[64];
	int n = sb_seal(key, "acct:7", 6, "s3cret", 6, blob, sizeof blob);
	CHECK(n == 6 + SB_SEAL_OVERHEAD);
	CHECK(sb_open(key, "acct:7", 6, blob, (size_t)n, plain, sizeof plain) == 6);
	CHECK(memcmp(plain, "s3cret", 6) == 0);
	CHECK(sb_open(key, "acct:8", 6, blob, (size_t)n, plain, sizeof plain) < 0);
	blob[14] ^= 1;
	CHECK(sb_open(key, "acct:7", 6, blob, (size_t)n, plain, sizeof plain) < 0);

	CHECK(sb_ct_equal("abc", "abc", 3) == 1);
	CHECK(sb_ct_equal("abc", "abd", 3) == 0);
	return UNIT_DONE("crypto");
}
