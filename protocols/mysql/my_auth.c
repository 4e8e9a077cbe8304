/* my_auth: MySQL authentication plugin math (see my_auth.h). */
#include "protocols/mysql/my_auth.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>

#include "lib/crypto.h"

size_t my_native_scramble(const char *pw, size_t pwlen, const uint8_t scramble[20],
			  uint8_t out[MY_NATIVE_LEN])
{
	uint8_t h1[SB_SHA1_LEN], h2[SB_SHA1_LEN], cat[20 + SB_SHA1_LEN], h3[SB_SHA1_LEN];
	if (pwlen == 0)
		return 0;
	sb_sha1(pw, pwlen, h1);
	sb_sha1(h1, sizeof h1, h2);
	memcpy(cat, scramble, 20);
	memcpy(cat + 20, h2, sizeof h2);
	sb_sha1(cat, sizeof cat, h3);
	for (int i = 0; i < MY_NATIVE_LEN; i++)
		out[i] = h1[i] ^ h3[i];
	sb_wipe(h1, sizeof h1);
	sb_wipe(h2, sizeof h2);
	sb_wipe(cat, sizeof cat);
	return MY_NATIVE_LEN;
}

int my_native_verify(const uint8_t stored[MY_NATIVE_LEN], const uint8_t scramble[20],
		     const uint8_t resp[MY_NATIVE_LEN])
{
	/* SHA1(pw) = resp XOR SHA1(scramble || stored); good when SHA1 of it is stored. */
	uint8_t cat[20 + MY_NATIVE_LEN], h[SB_SHA1_LEN], cand[SB_SHA1_LEN], chk[SB_SHA1_LEN];
	memcpy(cat, scramble, 20);
	memcpy(cat + 20, stored, MY_NATIVE_LEN);
	sb_sha1(cat, sizeof cat, h);
	for (int i = 0; i < SB_SHA1_LEN; i++)
		cand[i] = resp[i] ^ h[i];
	sb_sha1(cand, sizeof cand, chk);
	int ok = sb_ct_equal(chk, stored, SB_SHA1_LEN);
	sb_wipe(cand, sizeof cand);
	return ok;
}

size_t my_sha2_scramble(const char *pw, size_t pwlen, const uint8_t scramble[20],
			uint8_t out[MY_SHA2_LEN])
{
	uint8_t h1[SB_SHA256_LEN], h2[SB_SHA256_LEN], cat[SB_SHA256_LEN + 20], h3[SB_SHA256_LEN];
	if (pwlen == 0)
		return 0;
	sb_sha256(pw, pwlen, h1);
	sb_sha256(h1, sizeof h1, h2);
	memcpy(cat, h2, sizeof h2);
	memcpy(cat + SB_SHA256_LEN, scramble, 20);
	sb_sha256(cat, sizeof cat, h3);
	for (int i = 0; i < MY_SHA2_LEN; i++)
		out[i] = h1[i] ^ h3[i];
	sb_wipe(h1, sizeof h1);
	sb_wipe(h2, sizeof h2);
	sb_wipe(cat, sizeof cat);
	return MY_SHA2_LEN;
}

int my_sha2_verify(const uint8_t stored[MY_SHA2_LEN], const uint8_t scramble[20],
		   const uint8_t resp[MY_SHA2_LEN])
{
	uint8_t cat[SB_SHA256_LEN + 20], h[SB_SHA256_LEN], cand[SB_SHA256_LEN], chk[SB_SHA256_LEN];
	memcpy(cat, stored, MY_SHA2_LEN);
	memcpy(cat + MY_SHA2_LEN, scramble, 20);
	sb_sha256(cat, sizeof cat, h);
	for (int i = 0; i < SB_SHA256_LEN; i++)
		cand[i] = resp[i] ^ h[i];
	sb_sha256(cand, sizeof cand, chk);
	int ok = sb_ct_equal(chk, stored, SB_SHA256_LEN);
	sb_wipe(cand, sizeof cand);
	return ok;
}

int my_rsa_encrypt_password(const char *pem, size_t pemlen, const char *pw, size_t pwlen,
			    const uint8_t *scramble, size_t scramble_len, uint8_t *out,
			    size_t outcap, char *err, size_t errlen)
{
	int rc = -1;
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t plain[1024];
	size_t plen = pwlen + 1, outlen = outcap;
	if (scramble_len == 0 || plen > sizeof plain) {
		snprintf(err, errlen, "password too long for RSA encryption");
		return -1;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)pemlen);
	if (bio)
		key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "server sent no usable RSA public key");
		goto done;
	}
	memcpy(plain, pw, pwlen);
	plain[pwlen] = 0;
	for (size_t i = 0; i < plen; i++)
		plain[i] ^= scramble[i % scramble_len];
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_encrypt(ctx, out, &outlen, plain, plen) <= 0) {
		snprintf(err, errlen, "RSA encryption of the password failed");
		goto done;
	}
	rc = (int)outlen;
done:
	sb_wipe(plain, sizeof plain);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

int my_rsa_decrypt_password(EVP_PKEY *key, const uint8_t *enc, size_t enclen,
			    const uint8_t *scramble, size_t scramble_len, char *pw, size_t pwcap,
			    char *err, size_t errlen)
{
	int rc = -1;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t plain[1024]; /* the modulus size bounds the plaintext: up to RSA-8192 */
	size_t plen = sizeof plain;
	if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA || scramble_len == 0 || pwcap == 0) {
		snprintf(err, errlen, "no RSA key to decrypt the token with");
		goto done;
	}
	/* An OAEP ciphertext is exactly the modulus size. */
	if (enclen != (size_t)EVP_PKEY_size(key) || enclen > sizeof plain) {
		snprintf(err, errlen, "RSA-encrypted token has %zu bytes, not %d", enclen,
			 EVP_PKEY_size(key));
		goto done;
	}
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx || EVP_PKEY_decrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0 ||
	    EVP_PKEY_decrypt(ctx, plain, &plen, enc, enclen) <= 0) {
		snprintf(err, errlen, "RSA decryption of the token failed (not OAEP with this "
				      "proxy's key)");
		goto done;
	}
	for (size_t i = 0; i < plen; i++)
		plain[i] ^= scramble[i % scramble_len];
	if (plen == 0 || plain[plen - 1] != 0) {
		/* Encrypted for another nonce (or not a password at all). */
		snprintf(err, errlen, "RSA-decrypted token does not end in NUL (another scramble?)");
		goto done;
	}
	if (plen > pwcap) {
		snprintf(err, errlen, "RSA-decrypted token too long (%zu bytes)", plen - 1);
		goto done;
	}
	memcpy(pw, plain, plen);
	rc = (int)plen - 1;
done:
	sb_wipe(plain, sizeof plain);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	if (rc < 0 && pw && pwcap)
		sb_wipe(pw, pwcap);
	return rc;
}

int my_rsa_public_pem(EVP_PKEY *key, char *out, size_t outcap)
{
	int rc = -1;
	char *p = NULL;
	BIO *bio = key ? BIO_new(BIO_s_mem()) : NULL;
	if (bio && PEM_write_bio_PUBKEY(bio, key) == 1) {
		long n = BIO_get_mem_data(bio, &p);
		if (n > 0 && p && (size_t)n < outcap) {
			memcpy(out, p, (size_t)n);
			out[n] = '\0';
			rc = (int)n;
		}
	}
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int my_make_scramble(uint8_t out[20])
{
	if (sb_random(out, 20) != 0)
		return -1;
	for (int i = 0; i < 20; i++) {
		out[i] = (uint8_t)(33 + out[i] % 94); /* '!'..'~' */
		if (out[i] == '$')
			out[i] = '%';
	}
	return 0;
}
