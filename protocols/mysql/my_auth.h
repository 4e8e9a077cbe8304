/* my_auth: the password math of MySQL / MariaDB authentication plugins,
 * both directions, as pure functions (no I/O, no state, no logging).
 *
 *   mysql_native_password  response = SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw)));
 *                          a verifier holding SHA1(SHA1(pw)) checks it without pw.
 *   caching_sha2_password  fast path: response = SHA256(pw) XOR
 *                          SHA256(SHA256(SHA256(pw)) || scramble); full path: the
 *                          password in clear over TLS, or (pw || NUL) XOR scramble
 *                          encrypted with the server's RSA public key (OAEP with
 *                          SHA-1, as MySQL's and MariaDB's clients do): encrypt
 *                          as a client, decrypt and export the public key as a
 *                          server (the proxy towards its clients).
 *
 * Buffers that held a password are wiped before returning. The caller wipes
 * its own copies. Reference: MySQL source sql/auth/sha2_password_common.cc,
 * sql/auth/password.cc. MariaDB's client_ed25519 is in my_auth_ed25519.h.
 */
#ifndef SB_MY_AUTH_H
#define SB_MY_AUTH_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define MY_NATIVE_LEN 20 /* SHA-1 */
#define MY_SHA2_LEN 32   /* SHA-256 */

/* Client side of mysql_native_password. Writes 20 bytes to out and returns
 * 20, or returns 0 (empty response) for an empty password. scramble is the
 * server's 20-byte nonce. */
size_t my_native_scramble(const char *pw, size_t pwlen, const uint8_t scramble[20],
			  uint8_t out[MY_NATIVE_LEN]);

/* Server side: is resp the right answer for the password whose
 * SHA1(SHA1(pw)) is stored? 1 yes, 0 no (constant time in the compare). */
int my_native_verify(const uint8_t stored[MY_NATIVE_LEN], const uint8_t scramble[20],
		     const uint8_t resp[MY_NATIVE_LEN]);

/* Client side of caching_sha2_password's fast path (32 bytes to out; 0 for
 * an empty password). */
size_t my_sha2_scramble(const char *pw, size_t pwlen, const uint8_t scramble[20],
			uint8_t out[MY_SHA2_LEN]);

/* Server side of the fast path against a stored SHA256(SHA256(pw)). */
int my_sha2_verify(const uint8_t stored[MY_SHA2_LEN], const uint8_t scramble[20],
		   const uint8_t resp[MY_SHA2_LEN]);

/* caching_sha2 (and sha256_password) full authentication without TLS:
 * encrypt (pw || NUL) XOR scramble (repeated) with the server's PEM public
 * key, RSA-OAEP. Returns the ciphertext length written to out, or -1 with
 * err filled (bad key, out too small). */
int my_rsa_encrypt_password(const char *pem, size_t pemlen, const char *pw, size_t pwlen,
			    const uint8_t *scramble, size_t scramble_len, uint8_t *out,
			    size_t outcap, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Server side of the same exchange. key is the proxy's RSA private key
 * (borrowed). Decrypts enc (RSA-OAEP, SHA-1), XORs it with the scramble
 * (repeated) and checks that the result ends in the NUL the client added.
 * Writes the password without that NUL to pw (NUL-terminated, pwcap
 * bytes at most) and returns its length, or -1 with err filled (no key,
 * wrong length, undecryptable, no final NUL). pw is wiped on failure; the
 * caller wipes it after use. err never holds decrypted bytes. */
int my_rsa_decrypt_password(EVP_PKEY *key, const uint8_t *enc, size_t enclen,
			    const uint8_t *scramble, size_t scramble_len, char *pw, size_t pwcap,
			    char *err, size_t errlen) __attribute__((warn_unused_result));

/* The public half of key as a PEM "PUBLIC KEY" block (SubjectPublicKeyInfo,
 * what MySQL servers send for request_public_key), NUL-terminated in out.
 * Returns its length, or -1 when out is too small or OpenSSL fails. */
int my_rsa_public_pem(EVP_PKEY *key, char *out, size_t outcap)
	__attribute__((warn_unused_result));

/* The 20-byte scramble the proxy sends: random printable ASCII without NUL
 * or '$' (some clients treat the nonce as a C string). Returns 0 or -1. */
int my_make_scramble(uint8_t out[20]) __attribute__((warn_unused_result));

#endif
