/* ctl_check_pg: "asset check" login to a PostgreSQL asset with the proxy's
 * own backend-auth rules (see ctl_check_pg.c). */
#ifndef SB_CTL_CHECK_PG_H
#define SB_CTL_CHECK_PG_H

#include <stddef.h>

#include "proxy/state.h"
#include "proxy/state_asset_auth.h"

struct ctl;

/* Log in as user with pw, run SELECT version(). CTL_OK with out =
 * "<version> (tls on, verified; auth scram-sha-256)", or CTL_FAIL with out
 * = why (and the TLS state and method when the server got that far). */
int ctl_check_pg(struct ctl *c, const struct state_asset *a, const struct state_asset_auth *aa,
		 const char *user, const char *pw, char *out, size_t cap);

#endif
