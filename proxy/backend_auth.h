/* backend_auth: when the proxy may hand the hosted secret to a backend.
 *
 * The secret (or something an eavesdropper can replay or crack quickly)
 * goes out only to a server whose identity is proven by verify-full TLS,
 * or where the asset explicitly allows it (--allow-weak-auth yes). Strong
 * challenge-response methods (SCRAM-SHA-256; MySQL native, caching_sha2
 * fast path, client_ed25519; caching_sha2 full auth with a pinned server
 * key) are used whatever the TLS mode. Shared by both frontends; the
 * per-protocol decision of which method is weak stays in pg_login.c and
 * my_login.c. A login that relied on the asset option is audited with
 * decision "weak-auth" and verb naming the method.
 */
#ifndef SB_BACKEND_AUTH_H
#define SB_BACKEND_AUTH_H

#include <stddef.h>

#include "proxy/auth.h" /* enum asset_tls */

struct session;
struct audit_event;

struct backend_auth {
	int allow_weak;   /* asset --allow-weak-auth yes */
	char *pinned_key; /* owned: MySQL server RSA public key (PEM), NULL = none */
	const char *weak; /* static: the weak method used under allow_weak, NULL = none */
	int allow_native_encryption; /* TNS asset --native-encryption allow */
};

/* Read the asset's options for s->ident.target.asset_id. 0, or -1 with err. */
int backend_auth_load(struct backend_auth *ba, struct session *s, char *err, size_t errlen);

/* Is the backend's identity proven (TLS on, asset verify-full)? */
int backend_auth_verified(const struct session *s);

/* May the secret go out by weak `method` ("password", "md5", "trust",
 * "mysql_clear_password", ...)? 1 yes (over verify-full TLS, or allowed by
 * the asset: then remembered in ba->weak), 0 no with why filled. */
int backend_auth_weak_ok(struct backend_auth *ba, const struct session *s, const char *method,
			 char *why, size_t whylen);

/* The same rule without a session (sqlbastionctl asset check): tls_on =
 * the connection is TLS, mode = the asset's --tls. */
int backend_auth_allows(struct backend_auth *ba, int tls_on, enum asset_tls mode,
			const char *method, char *why, size_t whylen);

/* Mark the login event when a weak method was used under the asset option. */
void backend_auth_audit(const struct backend_auth *ba, struct audit_event *ev);

void backend_auth_free(struct backend_auth *ba);

#endif
