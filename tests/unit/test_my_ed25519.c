/* Unit tests for protocols/mysql/my_auth_ed25519: MariaDB client_ed25519
 * signatures.
 *
 *   - RFC 8032 section 7.1 TEST 1, 2, 3 and 1024 (data/ed25519_rfc8032.txt):
 *     the 32-byte seed given as the "password" reproduces the standard
 *     public key and signature;
 *   - interop: for random seeds and messages, OpenSSL's own Ed25519
 *     (EVP_PKEY_ED25519) derives the same public key from the seed and
 *     verifies our signature, and refuses it once a bit is flipped;
 *   - passwords that are not 32 bytes (MariaDB's case): the public key is
 *     the one MariaDB 10.11 stores for `IDENTIFIED VIA ed25519 USING
 *     PASSWORD(...)` (read from mysql.global_priv), and OpenSSL verifies the
 *     signature under it.
 * Run from tests/unit (as `make unit` does) so data/ is found.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/mysql/my_auth_ed25519.h"
#include "lib/crypto.h"
#include "unit.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s) / 2;
	if (strcmp(s, "-") == 0)
		return 0;
	if (n > cap)
		return (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return (size_t)-1;
		out[i] = (uint8_t)v;
	}
	return n;
}

/* OpenSSL's verdict on sig over msg under the raw public key pub. */
static int openssl_verify(const uint8_t pub[32], const uint8_t *msg, size_t msglen,
			  const uint8_t sig[64])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = pk && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
		 EVP_DigestVerify(md, sig, 64, msg, msglen) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return ok;
}

static void test_rfc8032_vectors(void)
{
	FILE *f = fopen("data/ed25519_rfc8032.txt", "r");
	CHECK(f != NULL);
	if (!f)
		return;
	static char line[8192];
	int cases = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char name[32], sk_h[80], pk_h[80], sig_h[160];
		static char msg_h[4096];
		if (sscanf(line, "%31s %79s %79s %4095s %159s", name, sk_h, pk_h, msg_h, sig_h) != 5) {
			CHECK(!"malformed line in data/ed25519_rfc8032.txt");
			continue;
		}
		uint8_t sk[32], pk[32], want[64], sig[64], pub[32];
		static uint8_t msg[2048];
		size_t ml = unhex(msg_h, msg, sizeof msg);
		CHECK(unhex(sk_h, sk, sizeof sk) == 32 && unhex(pk_h, pk, sizeof pk) == 32 &&
		      unhex(sig_h, want, sizeof want) == 64 && ml != (size_t)-1);
		CHECK(my_ed25519_sign(sk, 32, msg, ml, sig, pub) == 0);
		if (memcmp(pub, pk, 32) != 0 || memcmp(sig, want, 64) != 0) {
			fprintf(stderr, "%s: public key or signature differs from RFC 8032\n", name);
			CHECK(0);
		} else {
			CHECK(1);
		}
		CHECK(openssl_verify(pub, msg, ml, sig));
		if (strcmp(name, "TEST_1024") == 0)
			CHECK(ml == 1023);
		cases++;
	}
	fclose(f);
	CHECK(cases == 4);
	/* NULL message pointer with length 0 is the empty message (TEST 1) */
	uint8_t sk[32], sig[64], sig2[64];
	CHECK(unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", sk, 32) == 32);
	CHECK(my_ed25519_sign(sk, 32, NULL, 0, sig, NULL) == 0);
	CHECK(my_ed25519_sign(sk, 32, (const uint8_t *)"", 0, sig2, NULL) == 0);
	CHECK(memcmp(sig, sig2, 64) == 0);
}

/* Our signature under a random 32-byte seed, checked by OpenSSL's Ed25519
 * alone: it derives the public key from the seed itself (not from ours) and
 * verifies. Proves the curve arithmetic independently of the vectors. */
static void test_openssl_interop(void)
{
	for (int i = 0; i < 24; i++) {
		uint8_t seed[32], msg[64], sig[64], pub[32], ossl_pub[32];
		size_t ml = (size_t)(i * 7) % sizeof msg, pl = sizeof ossl_pub;
		CHECK(sb_random(seed, sizeof seed) == 0 && sb_random(msg, sizeof msg) == 0);
		if (i == 0)
			memset(seed, 0, sizeof seed);
		if (i == 1)
			memset(seed, 0xff, sizeof seed);
		EVP_PKEY *sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
		CHECK(sk != NULL && EVP_PKEY_get_raw_public_key(sk, ossl_pub, &pl) == 1 && pl == 32);
		EVP_PKEY_free(sk);
		CHECK(my_ed25519_sign(seed, 32, msg, ml, sig, pub) == 0);
		CHECK(memcmp(pub, ossl_pub, 32) == 0);
		CHECK(openssl_verify(ossl_pub, msg, ml, sig));
		/* a flipped bit in R, in S or in the message: refused */
		sig[i % 32] ^= 0x01;
		CHECK(!openssl_verify(ossl_pub, msg, ml, sig));
		sig[i % 32] ^= 0x01;
		sig[32 + i % 31] ^= 0x10;
		CHECK(!openssl_verify(ossl_pub, msg, ml, sig));
		sig[32 + i % 31] ^= 0x10;
		if (ml) {
			msg[0] ^= 0x80;
			CHECK(!openssl_verify(ossl_pub, msg, ml, sig));
		}
	}
}

/* MariaDB's case: a password of any length in place of the seed. The
 * public keys are what MariaDB 10.11 stored for CREATE USER ... IDENTIFIED
 * VIA ed25519 USING PASSWORD('<pw>') (mysql.global_priv authentication_string,
 * base64 without padding). */
static void test_mariadb_passwords(void)
{
	static const struct {
		const char *pw, *pub_b64;
	} known[] = {
		{"secret", "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY"},
		{"sqlbastion hosted pw, longer than thirty-two bytes",
		 "RsTul9NkG7scKZT72xfEAe3uZjGS7IwG4AxoH6eQhJA"},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		uint8_t nonce[32], sig[64], pub[32];
		char b64[64];
		CHECK(sb_random(nonce, sizeof nonce) == 0);
		CHECK(my_ed25519_sign(known[i].pw, strlen(known[i].pw), nonce, sizeof nonce, sig,
				      pub) == 0);
		CHECK(sb_base64_encode(pub, 32, b64, sizeof b64) == 44);
		b64[43] = '\0'; /* MariaDB leaves out the '=' */
		CHECK_STR(b64, known[i].pub_b64);
		CHECK(openssl_verify(pub, nonce, sizeof nonce, sig));
		/* deterministic: the same nonce gives the same signature */
		uint8_t sig2[64];
		CHECK(my_ed25519_sign(known[i].pw, strlen(known[i].pw), nonce, sizeof nonce, sig2,
				      NULL) == 0);
		CHECK(memcmp(sig, sig2, 64) == 0);
		/* another password: another key, which does not verify */
		CHECK(my_ed25519_sign("Secret", 6, nonce, sizeof nonce, sig2, NULL) == 0);
		CHECK(!openssl_verify(pub, nonce, sizeof nonce, sig2));
	}
	/* the empty password still signs (MariaDB's client does the same) */
	uint8_t nonce[32] = {0}, sig[64], pub[32];
	CHECK(my_ed25519_sign("", 0, nonce, sizeof nonce, sig, pub) == 0);
	CHECK(openssl_verify(pub, nonce, sizeof nonce, sig));
}

int main(void)
{
	test_rfc8032_vectors();
	test_openssl_interop();
	test_mariadb_passwords();
	return UNIT_DONE("test_my_ed25519");
}
