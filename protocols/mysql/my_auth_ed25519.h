/* my_auth_ed25519: the client side of MariaDB's client_ed25519 authentication
 * (server plugin auth_ed25519), as one pure function.
 *
 * The server sends a 32-byte random nonce; the client answers with an
 * Ed25519 signature (RFC 8032 section 5.1.6) of that nonce. MariaDB derives
 * the key from the password the way RFC 8032 derives it from the 32-byte
 * seed, except that the password, of any length, takes the seed's place:
 *
 *   az = SHA-512(password); s = clamp(az[0..31]); prefix = az[32..63]
 *   A  = [s]B (the public key the server stores, base64, in mysql.global_priv)
 *   r  = SHA-512(prefix || nonce) mod L;  R = [r]B
 *   k  = SHA-512(R || A || nonce) mod L;  S = (r + k * s) mod L
 *   response = R || S (64 bytes)
 *
 * So a 32-byte seed given as the password yields the standard RFC 8032
 * signature, which is how the unit test checks it; OpenSSL's EVP Ed25519
 * cannot be used because it insists on a 32-byte seed.
 *
 * The curve arithmetic uses OpenSSL BIGNUM (extended twisted Edwards
 * coordinates, one complete addition formula, double-and-always-add). It
 * runs only at backend login, a few milliseconds per signature, and is not
 * hardened against timing side channels beyond doing the same operations
 * for every scalar bit (BIGNUM arithmetic itself is not constant time).
 * Every buffer and number derived from the password is wiped before
 * returning. Reference: RFC 8032 sections 5.1 to 5.1.6; MariaDB
 * plugin/auth_ed25519.
 */
#ifndef SB_MY_AUTH_ED25519_H
#define SB_MY_AUTH_ED25519_H

#include <stddef.h>
#include <stdint.h>

#define MY_ED25519_NONCE_LEN 32 /* what auth_ed25519 sends */
#define MY_ED25519_SIG_LEN 64   /* R || S */
#define MY_ED25519_PUB_LEN 32   /* encoded A */

/* Sign msg (msglen bytes) with the key derived from pw (pwlen bytes, any
 * length, 0 included). Writes the 64-byte signature to sig and, when pub is
 * not NULL, the 32-byte encoded public key to pub. Returns 0, or -1 when
 * OpenSSL fails (out of memory); sig is zeroed then. */
int my_ed25519_sign(const void *pw, size_t pwlen, const uint8_t *msg, size_t msglen,
		    uint8_t sig[MY_ED25519_SIG_LEN], uint8_t *pub)
	__attribute__((warn_unused_result));

#endif
