/* ctl_asset_auth: the sqlbastionctl asset options for the backend login
 * with the hosted credential (state_asset_auth.h):
 *   --allow-weak-auth yes|no   let the secret go out as a cleartext or md5
 *                              password, to a server-sent RSA key, or accept
 *                              a login without authentication, when the
 *                              server's identity is not proven by verify-full
 *   --server-public-key FILE   MySQL: pin the server's RSA public key (PEM)
 *                              for caching_sha2_password full authentication
 *                              ("none" removes it)
 *   --native-encryption refuse|allow   TNS: a session whose Oracle native
 *                              network encryption/checksumming hides its
 *                              statements is refused (default) or allowed with
 *                              connection-level audit only
 * For "asset add" and "asset set": parse and validate first, apply after.
 */
#ifndef SB_CTL_ASSET_AUTH_H
#define SB_CTL_ASSET_AUTH_H

#include <stddef.h>

#include "proxy/state_asset_auth.h"

struct ctl;

/* Option names, for the verbs' option tables. */
#define CTL_OPT_ALLOW_WEAK_AUTH "--allow-weak-auth"
#define CTL_OPT_SERVER_PUBLIC_KEY "--server-public-key"
#define CTL_OPT_NATIVE_ENCRYPTION "--native-encryption"

/* Update *o from the option values given (NULL = not given; o keeps its
 * value). protocol is the asset's. CTL_OK, or CTL_USAGE with a message. */
int ctl_asset_auth_parse(struct ctl *c, const char *protocol, const char *allow_weak,
			 const char *key_file, struct state_asset_auth *o)
	__attribute__((warn_unused_result));

/* --native-encryption refuse|allow into *o (value NULL: unchanged); only
 * for tns assets. CTL_OK, or CTL_USAGE with a message. */
int ctl_asset_native_parse(struct ctl *c, const char *protocol, const char *value,
			   struct state_asset_auth *o) __attribute__((warn_unused_result));

/* Short description for messages: "weak auth allowed, server key pinned". */
const char *ctl_asset_auth_describe(const struct state_asset_auth *o, char *buf, size_t cap);

#endif
