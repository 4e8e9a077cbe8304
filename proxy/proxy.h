/* proxy: the daemon's runtime, shared by every session.
 *
 * One struct sb_proxy per process, created by main(): the event base, the
 * config snapshot, the control-plane handle, the audit log, the current
 * policy snapshot (sessions hold their own reference, so a reload never
 * changes a live session's rules), the master key and the TLS contexts.
 * What one protocol's sessions share belongs to that frontend (struct
 * protocol init/fini).
 * Sessions borrow it; nothing here is a global variable.
 */
#ifndef SB_PROXY_H
#define SB_PROXY_H

#include <stdint.h>
#include <openssl/ssl.h>

#include "proxy/config.h"
#include "lib/crypto.h"

struct event_base;
struct evdns_base;
struct event;
struct state;
struct audit_log;
struct policy;
struct session;
struct lifecycle;
struct login_guard;

struct sb_proxy {
	struct event_base *base;     /* owned */
	struct evdns_base *dns;      /* owned: async name resolution for assets */
	struct sb_config cfg;
	struct state *state;         /* owned: control plane */
	struct audit_log *audit;     /* owned */
	int audit_failing;           /* last audit write failed (on_failure applies) */
	struct policy *policy;       /* owned reference to the current snapshot */
	uint8_t master_key[SB_MASTER_KEY_LEN];
	SSL_CTX *server_tls;         /* owned; NULL when no certificate */
	SSL_CTX *backend_tls;        /* owned: require/prefer (no verification) */
	SSL_CTX *backend_tls_verify; /* owned: verify-full */

	struct session *sessions;    /* live sessions (intrusive list) */
	struct session *closing;     /* closed, waiting for the reaper */
	struct event *reaper;        /* owned: frees closing sessions next loop */
	struct login_guard *guard;   /* owned: limits before login (login_guard.h) */
	uint64_t next_session_id;
	unsigned live_count;
	struct lifecycle *lifecycle; /* owned by main: re-checks live sessions (lifecycle.h) */
};

#endif
