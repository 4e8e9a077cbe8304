/* pg_scram: SCRAM-SHA-256 (RFC 5802 / RFC 7677) message handling for
 * PostgreSQL, both as the server (to clients, against stored verifiers)
 * and as the client (to backends, with the hosted password); plus the md5
 * password hash PostgreSQL uses. Pure: no I/O, no logging, no allocation
 * beyond the caller's structs.
 *
 * Channel binding (SCRAM-SHA-256-PLUS) is not offered: gs2 flag 'p' is
 * refused, 'n' and 'y' are accepted (RFC 5802 section 6).
 */
#ifndef SB_PG_SCRAM_H
#define SB_PG_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"

#define PG_SCRAM_NONCE_B64 24 /* 18 random bytes, base64: 24 chars */
#define PG_SCRAM_MSG_MAX 1024  /* longest SCRAM message accepted (ours are < 300 bytes) */

/* ---- server side (the proxy authenticating a client) ---- */
struct pg_scram_server {
	char client_first_bare[PG_SCRAM_MSG_MAX]; /* "n=...,r=..." */
	char server_first[PG_SCRAM_MSG_MAX];      /* "r=...,s=...,i=..." */
	char nonce[PG_SCRAM_MSG_MAX];             /* client nonce + server nonce */
	char gs2_header[16];                      /* "n,," or "y,," */
	char auth_message[3 * PG_SCRAM_MSG_MAX];  /* filled by pg_scram_server_final */
	size_t auth_message_len;
};

/* Parse client-first-message (data of SASLInitialResponse) and build the
 * server-first-message into s->server_first with a fresh server nonce.
 * Returns 0 or -1 with err filled (malformed, channel binding requested). */
int pg_scram_server_first(struct pg_scram_server *s, const char *msg, size_t n,
			  const uint8_t *salt, size_t saltlen, int iterations,
			  char *err, size_t errlen) __attribute__((warn_unused_result));

/* Parse client-final-message: check channel binding "c=" matches the gs2
 * header, the nonce matches, extract the 32-byte proof, and build
 * s->auth_message. Returns 0 or -1 with err filled. */
int pg_scram_server_final(struct pg_scram_server *s, const char *msg, size_t n,
			  uint8_t proof[SB_SHA256_LEN], char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Build "v=<base64 server signature>" into out. Returns length or -1. */
int pg_scram_server_final_message(const uint8_t sig[SB_SHA256_LEN], char *out,
				  size_t cap);

/* Verifier from a password (used for tokens): StoredKey and ServerKey. */
int pg_scram_make_verifier(const char *password, size_t n, const uint8_t *salt,
			   size_t saltlen, int iterations,
			   uint8_t stored_key[SB_SHA256_LEN],
			   uint8_t server_key[SB_SHA256_LEN]) __attribute__((warn_unused_result));

/* ---- client side (the proxy logging in to a backend) ---- */
struct pg_scram_client {
	char client_first_bare[PG_SCRAM_MSG_MAX];
	char nonce[PG_SCRAM_MSG_MAX];
	uint8_t server_signature[SB_SHA256_LEN]; /* expected in server-final */
};

/* Build client-first-message "n,,n=,r=<nonce>" into out. Returns length or -1. */
int pg_scram_client_first(struct pg_scram_client *c, char *out, size_t cap);

/* Given server-first-message, compute the proof with the password and build
 * client-final-message into out. Rejects iteration counts < 4096 or
 * > 10,000,000, a nonce that does not extend ours, bad base64. Returns
 * length or -1 with err filled. */
int pg_scram_client_final(struct pg_scram_client *c, const char *password,
			  const char *server_first, size_t n, char *out, size_t cap,
			  char *err, size_t errlen) __attribute__((warn_unused_result));

/* Check server-final-message "v=..." against the expected signature.
 * Returns 0 when the server proved it knows the verifier, -1 otherwise. */
int pg_scram_client_verify(const struct pg_scram_client *c, const char *msg,
			   size_t n) __attribute__((warn_unused_result));

/* PostgreSQL md5 auth: "md5" + hex(md5(hex(md5(password + user)) + salt)),
 * NUL-terminated into out[36]. */
void pg_md5_password(const char *user, const char *password,
		     const uint8_t salt[4], char out[36]);

#endif
