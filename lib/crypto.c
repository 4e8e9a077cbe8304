/* crypto: thin, checked wrappers over OpenSSL (see crypto.h). */
#include "lib/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

int sb_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

void sb_sha256(const void *data, size_t len, uint8_t out[SB_SHA256_LEN])
{
	SHA256(data, len, out);
}

void sb_sha1(const void *data, size_t len, uint8_t out[SB_SHA1_LEN])
{
	SHA1(data, len, out);
}

void sb_hmac_sha256(const void *key, size_t keylen, const void *data,
		    size_t len, uint8_t out[SB_SHA256_LEN])
{
	unsigned int outlen = SB_SHA256_LEN;
	HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen);
}

int sb_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt,
		     size_t saltlen, int iterations, uint8_t out[SB_SHA256_LEN])
{
	return PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen,
				 iterations, EVP_sha256(), SB_SHA256_LEN,
				 out) == 1
		       ? 0
		       : -1;
}

int sb_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void sb_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int sb_base64_encode(const void *in, size_t n, char *out, size_t outcap)
{
	size_t need = 4 * ((n + 2) / 3) + 1;
	if (outcap < need)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict decoder: length a multiple of 4, padding only at the end. */
int sb_base64_decode(const char *in, size_t n, uint8_t *out, size_t outcap)
{
	size_t o = 0;
	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == n && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad)
				return -1; /* data after padding */
			v[k] = b64val(c);
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
			     ((uint32_t)v[2] << 6) | (uint32_t)v[3];
		uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8),
				    (uint8_t)w};
		size_t take = 3 - (size_t)pad;
		if (o + take > outcap)
			return -1;
		memcpy(out + o, bytes, take);
		o += take;
	}
	return (int)o;
}

void sb_hex(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = in;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int sb_seal(const uint8_t key[SB_MASTER_KEY_LEN], const void *aad,
	    size_t aadlen, const void *plain, size_t n, uint8_t *out,
	    size_t outcap)
{
	int len = 0, ok = 0;
	if (outcap < n + SB_SEAL_OVERHEAD)
		return -1;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	uint8_t *nonce = out, *ct = out + 12, *tag = out + 12 + n;
	if (sb_random(nonce, 12) != 0)
		goto done;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
		goto done;
	if (aadlen && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
		goto done;
	if (EVP_EncryptUpdate(ctx, ct, &len, plain, (int)n) != 1)
		goto done;
	if (EVP_EncryptFinal_ex(ctx, ct + len, &len) != 1)
		goto done;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto done;
	ok = 1;
done:
	EVP_CIPHER_CTX_free(ctx);
	return ok ? (int)(n + SB_SEAL_OVERHEAD) : -1;
}

int sb_open(const uint8_t key[SB_MASTER_KEY_LEN], const void *aad,
	    size_t aadlen, const uint8_t *blob, size_t n, uint8_t *out,
	    size_t outcap)
{
	int len = 0, ok = 0;
	if (n < SB_SEAL_OVERHEAD || outcap < n - SB_SEAL_OVERHEAD)
		return -1;
	size_t ctlen = n - SB_SEAL_OVERHEAD;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	const uint8_t *nonce = blob, *ct = blob + 12, *tag = blob + 12 + ctlen;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
		goto done;
	if (aadlen && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
		goto done;
	if (EVP_DecryptUpdate(ctx, out, &len, ct, (int)ctlen) != 1)
		goto done;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
				(void *)tag) != 1)
		goto done;
	if (EVP_DecryptFinal_ex(ctx, out + len, &len) != 1)
		goto done;
	ok = 1;
done:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		sb_wipe(out, ctlen);
	return ok ? (int)ctlen : -1;
}
