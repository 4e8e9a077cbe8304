/* config: read sqlbastion.conf (INI) into an immutable snapshot.
 *
 * Sections [sqlbastion], [listeners], [audit], [limits]. Relative paths are
 * resolved against the directory of the config file, so a whole instance can
 * live in one folder. Errors name file, line and problem. Unknown keys are
 * errors (a typo must not silently disable a control).
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stddef.h>

#include "audit/audit.h"
#include "lib/fsutil.h" /* SB_PATH_MAX */
#include "proxy/auth.h"

#define SB_MAX_LISTENERS 16 /* addresses across all protocols; plenty for one host */

struct sb_listen_addr {
	char protocol[16]; /* "postgres", "mysql", "tds", "tns", "ssh" (the SSH entry) */
	char host[256];    /* numeric or name; "[::1]" brackets removed */
	int port;
	int line;          /* config line, for messages */
};

struct sb_config {
	char path[SB_PATH_MAX];  /* the file itself, absolute */
	char dir[SB_PATH_MAX];   /* its directory */

	/* [sqlbastion] */
	char state_db[SB_PATH_MAX];
	char master_key[SB_PATH_MAX];
	char admin_socket[SB_PATH_MAX];
	char policy[SB_PATH_MAX];    /* "" = no rules file */
	char tls_cert[SB_PATH_MAX];
	char tls_key[SB_PATH_MAX];
	char ssh_host_key[SB_PATH_MAX]; /* Ed25519 host key of the ssh listener (made by init) */
	char backend_ca[SB_PATH_MAX]; /* CA bundle for assets with tls=verify-full; "" = system store */
	char log[SB_PATH_MAX];       /* "-" = stderr */
	char pg_auth[16];            /* "scram" (default) or "password" (cleartext, TLS only) */
	int require_tls;             /* 1 = refuse plaintext clients (default 0) */

	/* [listeners] */
	struct sb_listen_addr listen[SB_MAX_LISTENERS];
	int n_listen;

	/* [audit] */
	char audit_jsonl[SB_PATH_MAX];
	char audit_sqlite[SB_PATH_MAX]; /* "" = no index */
	enum audit_on_failure audit_on_failure;
	unsigned long long audit_rotate_size; /* bytes; 0 = no size rotation (default 0) */
	char audit_hmac_key[SB_PATH_MAX];    /* key file; "" = plain SHA-256 chain */
	char audit_syslog[SB_PATH_MAX];      /* "unix:PATH" | "udp:HOST:PORT"; "" = off */
	int audit_warn_interval;             /* on_failure=open: WARN at most every N s (default 10) */

	/* [limits] (seconds / bytes) */
	int connect_timeout;   /* backend TCP+TLS connect, default 10 */
	int login_timeout;     /* whole login, client side, default 30 */
	int idle_timeout;      /* 0 = none */
	size_t max_message;    /* largest client message buffered, default 64 MiB */
	struct auth_lockout_conf lockout; /* lockout_* keys (auth.h) */
	/* Before login (proxy/login_guard.h); 0 = no limit. */
	unsigned max_unauthenticated;            /* connections not logged in, default 1024 */
	unsigned max_unauthenticated_per_source; /* ... from one IP, default 32 */
	unsigned failed_login_records_per_source; /* login_failed records / s / IP, default 10 */
	unsigned expensive_logins_per_source;     /* RSA decryptions / s / IP, default 20 */
	unsigned logins_per_source;               /* credential checks / s / IP, default 1000 */
	int approval_retention; /* seconds an expired/decided approval request is kept, default 7 days */
};

/* Parse the file at path. Returns 0, or -1 with errbuf "FILE:LINE: problem". */
int config_load(const char *path, struct sb_config *out, char *errbuf,
		size_t errlen) __attribute__((warn_unused_result));

/* Resolve p against the config's directory into out (unchanged if absolute). */
void config_resolve(const struct sb_config *cfg, const char *p, char *out, size_t cap);

#endif
