/* state_asset_auth: per-asset options for how the proxy logs in to the
 * backend with the hosted credential (issue: hosted credentials must not
 * be handed to a fake or on-path server).
 *
 *   weak_auth          the asset allows login methods that reveal the secret
 *                      (or a replayable / quickly crackable hash of it) to a
 *                      server whose identity is not proven by verify-full TLS:
 *                      PostgreSQL password / md5 / trust, MySQL
 *                      mysql_clear_password and caching_sha2 full auth to a
 *                      key the server itself sends. Every login that relied on
 *                      it says so in its audit record.
 *   native_encryption  TNS: 1 = a session whose Oracle native network
 *                      encryption or checksumming hides its statements is
 *                      allowed, with connection-level audit only (0: refused).
 *   server_public_key  MySQL: the server's RSA public key (PEM) for
 *                      caching_sha2_password full authentication without
 *                      TLS, pinned by the administrator ("" = none).
 *
 * The options live in three columns of the assets table, added by
 * state_asset_auth_migrate() when missing (idempotent, separate from the
 * numbered schema migrations in state.c).
 */
#ifndef SB_STATE_ASSET_AUTH_H
#define SB_STATE_ASSET_AUTH_H

#include <stdint.h>

struct state;

#define STATE_PUBKEY_MAX 4096 /* a PEM RSA-8192 public key fits */

struct state_asset_auth {
	int weak_auth;                       /* 1 = --allow-weak-auth yes */
	char server_public_key[STATE_PUBKEY_MAX]; /* PEM, NUL-terminated; "" = none */
	int native_encryption;               /* 1 = --native-encryption allow (TNS) */
};

/* Add the columns when the assets table lacks them. STATE_OK or
 * STATE_ERROR (state_errmsg). Safe to run at every open, by several
 * processes at once. */
int state_asset_auth_migrate(struct state *st) __attribute__((warn_unused_result));

/* The options of asset asset_id (zeroed when the asset has none set).
 * STATE_OK, STATE_NOT_FOUND or STATE_ERROR. */
int state_asset_auth_get(struct state *st, int64_t asset_id, struct state_asset_auth *out)
	__attribute__((warn_unused_result));

/* Set the options of asset `name`. STATE_OK, STATE_NOT_FOUND or STATE_ERROR. */
int state_asset_auth_set(struct state *st, const char *name, const struct state_asset_auth *in)
	__attribute__((warn_unused_result));

#endif
