/* crypto: the few primitives sqlbastion needs, over OpenSSL.
 *
 * Random bytes, SHA-1/SHA-256, HMAC-SHA-256, PBKDF2-HMAC-SHA-256, base64,
 * hex, AES-256-GCM sealing of hosted secrets, constant-time compare and
 * wiping. Nothing here logs or allocates from a pool; every function returns
 * a status the caller must check.
 */
#ifndef SB_CRYPTO_H
#define SB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SB_SHA256_LEN 32
#define SB_SHA1_LEN 20
#define SB_MASTER_KEY_LEN 32
/* Sealed blob = 12-byte nonce | ciphertext | 16-byte tag (AES-256-GCM). */
#define SB_SEAL_OVERHEAD (12 + 16)

#define SB_WUR __attribute__((warn_unused_result))

/* Fill buf with n cryptographically random bytes. 0 ok, -1 failure. */
int sb_random(void *buf, size_t n) SB_WUR;

void sb_sha256(const void *data, size_t len, uint8_t out[SB_SHA256_LEN]);
void sb_sha1(const void *data, size_t len, uint8_t out[SB_SHA1_LEN]);
void sb_hmac_sha256(const void *key, size_t keylen, const void *data,
		    size_t len, uint8_t out[SB_SHA256_LEN]);
/* PBKDF2-HMAC-SHA-256 with one output block (32 bytes), as SCRAM's Hi(). */
int sb_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt,
		     size_t saltlen, int iterations,
		     uint8_t out[SB_SHA256_LEN]) SB_WUR;

/* Constant-time equality of two n-byte buffers: 1 equal, 0 not. */
int sb_ct_equal(const void *a, const void *b, size_t n);
/* Zero memory in a way the compiler will not drop. */
void sb_wipe(void *p, size_t n);

/* base64 (standard alphabet, padded). encode writes a NUL-terminated string
 * and returns its length, or -1 if out is too small (needs 4*ceil(n/3)+1).
 * decode returns the decoded length or -1 on bad input / small buffer. */
int sb_base64_encode(const void *in, size_t n, char *out, size_t outcap);
int sb_base64_decode(const char *in, size_t n, uint8_t *out, size_t outcap);

/* Lower-case hex; out needs 2n+1 bytes. */
void sb_hex(const void *in, size_t n, char *out);

/* AES-256-GCM. seal writes SB_SEAL_OVERHEAD + n bytes to out (cap checked),
 * with aad authenticated but not stored. open reverses it; -1 when the key
 * is wrong or the blob was altered. Both return the output length or -1. */
int sb_seal(const uint8_t key[SB_MASTER_KEY_LEN], const void *aad,
	    size_t aadlen, const void *plain, size_t n, uint8_t *out,
	    size_t outcap) SB_WUR;
int sb_open(const uint8_t key[SB_MASTER_KEY_LEN], const void *aad,
	    size_t aadlen, const uint8_t *blob, size_t n, uint8_t *out,
	    size_t outcap) SB_WUR;

#endif
