/* backend_auth: see backend_auth.h. */
#include "proxy/backend_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/state.h"
#include "proxy/state_asset_auth.h"

int backend_auth_load(struct backend_auth *ba, struct session *s, char *err, size_t errlen)
{
	struct state_asset_auth *o = calloc(1, sizeof *o);
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	backend_auth_free(ba);
	int rc = state_asset_auth_get(s->px->state, s->ident.target.asset_id, o);
	if (rc != STATE_OK) {
		snprintf(err, errlen, "asset options: %s",
			 rc == STATE_NOT_FOUND ? "asset removed" : state_errmsg(s->px->state));
		free(o);
		return -1;
	}
	ba->allow_weak = o->weak_auth;
	ba->allow_native_encryption = o->native_encryption;
	if (o->server_public_key[0]) {
		ba->pinned_key = strdup(o->server_public_key);
		if (!ba->pinned_key) {
			free(o);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	free(o);
	return 0;
}

int backend_auth_verified(const struct session *s)
{
	return s->backend_tls && s->ident.target.tls == ASSET_TLS_VERIFY_FULL;
}

int backend_auth_allows(struct backend_auth *ba, int tls_on, enum asset_tls mode,
			const char *method, char *why, size_t whylen)
{
	if (tls_on && mode == ASSET_TLS_VERIFY_FULL)
		return 1;
	if (ba->allow_weak) {
		ba->weak = method;
		return 1;
	}
	snprintf(why, whylen,
		 "backend asks for %s %s; refused: the server's identity is not verified "
		 "(asset --tls %s) and the asset does not allow weak auth (--allow-weak-auth)",
		 method, tls_on ? "over unverified TLS" : "without TLS", state_tls_name(mode));
	return 0;
}

int backend_auth_weak_ok(struct backend_auth *ba, const struct session *s, const char *method,
			 char *why, size_t whylen)
{
	return backend_auth_allows(ba, s->backend_tls, s->ident.target.tls, method, why, whylen);
}

void backend_auth_audit(const struct backend_auth *ba, struct audit_event *ev)
{
	if (ba->weak) {
		ev->decision = "weak-auth";
		ev->verb = ba->weak;
	}
}

void backend_auth_free(struct backend_auth *ba)
{
	free(ba->pinned_key);
	ba->pinned_key = NULL;
	ba->weak = NULL;
}
