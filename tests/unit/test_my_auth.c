/* Unit tests for protocols/mysql/my_auth: native and caching_sha2 scramble
 * math against known answers and in both directions, RSA-OAEP password
 * encryption with a key made here, and the proxy's side of it (public key
 * export, decryption): round trip, wrong key, wrong nonce, malformed
 * ciphertexts. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/mysql/my_auth.h"
#include "lib/crypto.h"
#include "unit.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
	sb_hex(p, n, out);
}

static void test_native(void)
{
	/* Known answer: MySQL's scramble of "password" with this nonce,
	 * computed independently (python: sha1(pw) ^ sha1(nonce+sha1(sha1(pw)))). */
	const uint8_t nonce[20] = "01234567890123456789";
	uint8_t out[20], stored[20], h1[20];
	char x[41];
	CHECK(my_native_scramble("password", 8, nonce, out) == 20);
	hex(out, 20, x);
	CHECK_STR(x, "352fa47dce3067a3629e64048732064561dccb28");
	sb_sha1("password", 8, h1);
	sb_sha1(h1, 20, stored);
	CHECK(my_native_verify(stored, nonce, out) == 1);
	out[3] ^= 1;
	CHECK(my_native_verify(stored, nonce, out) == 0);
	CHECK(my_native_scramble("", 0, nonce, out) == 0);
	/* a different nonce gives a different answer, which fails */
	const uint8_t nonce2[20] = "abcdefghijabcdefghij";
	CHECK(my_native_scramble("password", 8, nonce2, out) == 20);
	CHECK(my_native_verify(stored, nonce, out) == 0);
	CHECK(my_native_verify(stored, nonce2, out) == 1);
}

static void test_sha2(void)
{
	const uint8_t nonce[20] = "01234567890123456789";
	uint8_t out[32], h1[32], stored[32];
	CHECK(my_sha2_scramble("secret", 6, nonce, out) == 32);
	sb_sha256("secret", 6, h1);
	sb_sha256(h1, 32, stored);
	CHECK(my_sha2_verify(stored, nonce, out) == 1);
	out[0] ^= 0x80;
	CHECK(my_sha2_verify(stored, nonce, out) == 0);
	CHECK(my_sha2_scramble("", 0, nonce, out) == 0);
}

/* The proxy's caching_sha2_password fast path towards clients: the token
 * verifier is SHA256(SHA256(token)) (state_token_issue), the client answers
 * XOR(SHA256(token), SHA256(SHA256(SHA256(token)) || nonce)). Known answer
 * computed independently (python hashlib), then the verifier checks it, and
 * nothing else: another nonce, another token, a flipped bit, the lookup of
 * a different verifier. */
static void test_sha2_token_fast_path(void)
{
	const char *tok = "sbt_abcdefghijklmnopqrstuvwxyz234567";
	size_t tl = strlen(tok);
	const uint8_t nonce[20] = "0123456789ABCDEFGHIJ";
	const uint8_t nonce2[20] = "0123456789ABCDEFGHIK";
	uint8_t out[32], h1[32], verifier[32], other[32];
	char x[65];
	CHECK(my_sha2_scramble(tok, tl, nonce, out) == 32);
	hex(out, 32, x);
	CHECK_STR(x, "08e65cedeaf75f4213e4f243e57cc7c695c5bd450931382397eb2aeb55b0ac03");
	sb_sha256(tok, tl, h1);
	sb_sha256(h1, 32, verifier);
	hex(verifier, 32, x);
	CHECK_STR(x, "c3e1a2dfab8f989934c0f9799233779e1af5d88b92446a7fd25f5375c5eaedf4");
	CHECK(my_sha2_verify(verifier, nonce, out) == 1);
	CHECK(my_sha2_verify(verifier, nonce2, out) == 0);
	/* the verifier of another token refuses it */
	sb_sha256("sbt_abcdefghijklmnopqrstuvwxyz234566", tl, h1);
	sb_sha256(h1, 32, other);
	CHECK(my_sha2_verify(other, nonce, out) == 0);
	for (int bit = 0; bit < 256; bit += 37) {
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(my_sha2_verify(verifier, nonce, out) == 0);
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK(my_sha2_verify(verifier, nonce, out) == 1);
	/* the verifier itself, sent as a response, is not accepted */
	CHECK(my_sha2_verify(verifier, nonce, verifier) == 0);
}

static void test_rsa(void)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	CHECK(key != NULL);
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, key);
	char *pem;
	long pemlen = BIO_get_mem_data(bio, &pem);
	const uint8_t nonce[20] = "01234567890123456789";
	uint8_t enc[512], dec[512];
	char err[128];
	int el = my_rsa_encrypt_password(pem, (size_t)pemlen, "hunter2", 7, nonce, 20, enc,
					 sizeof enc, err, sizeof err);
	CHECK(el == 256);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t dl = sizeof dec;
	CHECK(EVP_PKEY_decrypt_init(ctx) > 0);
	CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
	CHECK(EVP_PKEY_decrypt(ctx, dec, &dl, enc, (size_t)el) > 0);
	CHECK(dl == 8);
	for (size_t i = 0; i < dl; i++)
		dec[i] ^= nonce[i % 20];
	CHECK(memcmp(dec, "hunter2", 8) == 0); /* with its NUL */
	EVP_PKEY_CTX_free(ctx);
	CHECK(my_rsa_encrypt_password("not a key", 9, "x", 1, nonce, 20, enc, sizeof enc, err,
				      sizeof err) < 0);
	BIO_free(bio);
	EVP_PKEY_free(key);
}

/* The proxy as the server of caching_sha2 full authentication without TLS:
 * its PEM goes to the client, the client encrypts (my_rsa_encrypt_password
 * plays the client, as libmariadb's plugin would), the proxy decrypts. */
static void test_rsa_server_side(void)
{
	EVP_PKEY *key = EVP_RSA_gen(2048), *other = EVP_RSA_gen(2048);
	CHECK(key != NULL && other != NULL);
	char pem[2048], small[64];
	int pl = my_rsa_public_pem(key, pem, sizeof pem);
	CHECK(pl > 0 && (size_t)pl == strlen(pem));
	CHECK(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
	CHECK(strstr(pem, "PRIVATE") == NULL);
	CHECK(my_rsa_public_pem(key, small, sizeof small) == -1);
	CHECK(my_rsa_public_pem(NULL, pem, sizeof pem) == -1);
	pl = my_rsa_public_pem(key, pem, sizeof pem);

	const char *tok = "sbt_abcdefghijklmnopqrstuvwxyz234567";
	const uint8_t nonce[20] = "01234567890123456789";
	uint8_t enc[512];
	char err[160], pw[128];
	int el = my_rsa_encrypt_password(pem, (size_t)pl, tok, strlen(tok), nonce, 20, enc,
					 sizeof enc, err, sizeof err);
	CHECK(el == 256);
	/* round trip */
	int n = my_rsa_decrypt_password(key, enc, (size_t)el, nonce, 20, pw, sizeof pw, err,
					sizeof err);
	CHECK(n == (int)strlen(tok));
	CHECK_STR(pw, tok);
	/* a password longer than the nonce (the XOR repeats it) */
	const char *longpw = "a password that is longer than twenty bytes, twice over";
	el = my_rsa_encrypt_password(pem, (size_t)pl, longpw, strlen(longpw), nonce, 20, enc,
				     sizeof enc, err, sizeof err);
	CHECK(my_rsa_decrypt_password(key, enc, (size_t)el, nonce, 20, pw, sizeof pw, err,
				      sizeof err) == (int)strlen(longpw));
	CHECK_STR(pw, longpw);
	/* the output buffer is too small: refused, wiped */
	CHECK(my_rsa_decrypt_password(key, enc, (size_t)el, nonce, 20, pw, 10, err, sizeof err) ==
	      -1);
	CHECK(strstr(err, "too long") != NULL);
	CHECK(pw[0] == 0);
	el = my_rsa_encrypt_password(pem, (size_t)pl, tok, strlen(tok), nonce, 20, enc, sizeof enc,
				     err, sizeof err);
	/* another nonce (byte 36, where the NUL lands, differs): no final NUL */
	uint8_t nonce2[20];
	memcpy(nonce2, nonce, 20);
	nonce2[36 % 20] ^= 0x5a;
	CHECK(my_rsa_decrypt_password(key, enc, (size_t)el, nonce2, 20, pw, sizeof pw, err,
				      sizeof err) == -1);
	CHECK(strstr(err, "NUL") != NULL);
	/* another key */
	CHECK(my_rsa_decrypt_password(other, enc, (size_t)el, nonce, 20, pw, sizeof pw, err,
				      sizeof err) == -1);
	CHECK(strstr(err, "decryption") != NULL);
	CHECK(strstr(err, tok) == NULL);
	/* malformed: a flipped bit, short, long, empty, random, no key */
	enc[100] ^= 0x01;
	CHECK(my_rsa_decrypt_password(key, enc, (size_t)el, nonce, 20, pw, sizeof pw, err,
				      sizeof err) == -1);
	enc[100] ^= 0x01;
	CHECK(my_rsa_decrypt_password(key, enc, 255, nonce, 20, pw, sizeof pw, err, sizeof err) ==
	      -1);
	CHECK(strstr(err, "255 bytes") != NULL);
	CHECK(my_rsa_decrypt_password(key, enc, 257, nonce, 20, pw, sizeof pw, err, sizeof err) ==
	      -1);
	CHECK(my_rsa_decrypt_password(key, enc, 0, nonce, 20, pw, sizeof pw, err, sizeof err) ==
	      -1);
	uint8_t junk[256];
	CHECK(sb_random(junk, sizeof junk) == 0);
	junk[0] = 0; /* below the modulus, so only the padding check can fail */
	CHECK(my_rsa_decrypt_password(key, junk, sizeof junk, nonce, 20, pw, sizeof pw, err,
				      sizeof err) == -1);
	/* the cleartext token sent where the ciphertext belongs (a client that
	 * thinks the connection is secure): refused, not taken as a token */
	CHECK(my_rsa_decrypt_password(key, (const uint8_t *)tok, strlen(tok) + 1, nonce, 20, pw,
				      sizeof pw, err, sizeof err) == -1);
	CHECK(my_rsa_decrypt_password(NULL, enc, (size_t)el, nonce, 20, pw, sizeof pw, err,
				      sizeof err) == -1);
	/* still good after all that */
	CHECK(my_rsa_decrypt_password(key, enc, (size_t)el, nonce, 20, pw, sizeof pw, err,
				      sizeof err) == (int)strlen(tok));
	sb_wipe(pw, sizeof pw);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void test_scramble(void)
{
	uint8_t s[20];
	CHECK(my_make_scramble(s) == 0);
	int ok = 1;
	for (int i = 0; i < 20; i++)
		ok &= s[i] >= 33 && s[i] <= 126 && s[i] != '$';
	CHECK(ok);
}

int main(void)
{
	test_native();
	test_sha2();
	test_sha2_token_fast_path();
	test_rsa();
	test_rsa_server_side();
	test_scramble();
	return UNIT_DONE("test_my_auth");
}
