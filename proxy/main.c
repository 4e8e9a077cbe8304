/* sqlbastion: the proxy daemon.
 *
 *   sqlbastion -c FILE                 run in the foreground
 *   sqlbastion -c FILE --check         validate config, policy, keys; exit
 *   sqlbastion --check-policy FILE     validate a rule file; exit
 *
 * main() builds the runtime (struct sb_proxy), binds the listeners and the
 * admin socket (proxy/admin.h) and runs the event loop. SIGHUP reloads the policy and reopens the logs; SIGINT and
 * SIGTERM stop the listeners and close every session.
 */
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "policy/policy.h"
#include "proxy/admin.h"
#include "proxy/config.h"
#include "proxy/lifecycle.h"
#include "proxy/auth.h"
#include "proxy/listener.h"
#include "proxy/login_guard.h"
#include "lib/log.h"
#include "proxy/proxy.h"
#include "proxy/secret.h"
#include "proxy/session.h"
#include "proxy/ssh_entry.h"
#include "proxy/state.h"
#include "proxy/tls.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: sqlbastion -c FILE [--check] [-v]\n"
		   "       sqlbastion --check-policy FILE\n");
}

static int check_policy_file(const char *path)
{
	struct policy_error perr = {0};
	struct policy *p = policy_load(path, &perr);
	if (!p) {
		if (perr.line > 0)
			fprintf(stderr, "%s:%d: %s\n", perr.file, perr.line, perr.message);
		else
			fprintf(stderr, "%s: %s\n", perr.file[0] ? perr.file : path, perr.message);
		return 1;
	}
	printf("%s: %zu rules ok\n", path, policy_rule_count(p));
	policy_unref(p);
	return 0;
}

static struct policy *load_policy(const struct sb_config *cfg, char *err, size_t errlen)
{
	struct policy_error perr = {0};
	struct policy *p = policy_load(cfg->policy[0] ? cfg->policy : NULL, &perr);
	if (!p) {
		if (perr.line > 0)
			snprintf(err, errlen, "%s:%d: %s", perr.file, perr.line, perr.message);
		else
			snprintf(err, errlen, "%s: %s", perr.file[0] ? perr.file : cfg->policy,
				 perr.message);
	}
	return p;
}

/* SIGHUP and the admin socket's reload: reopen the logs (logrotate), load
 * the policy again. 0 with msg, or -1 with msg saying what failed. */
static int reload_runtime(struct sb_proxy *px, char *msg, size_t msglen)
{
	char err[600];
	if (log_open(px->cfg.log) != 0)
		sb_log(LOG_ERR, "reload: cannot reopen log %s: %s", px->cfg.log, strerror(errno));
	if (px->audit && audit_reopen(px->audit, err, sizeof err) != 0)
		sb_log(LOG_ERR, "reload: cannot reopen audit log: %s", err);
	struct policy *p = load_policy(&px->cfg, err, sizeof err);
	if (!p) {
		sb_log(LOG_ERR, "reload: policy not changed: %s", err);
		snprintf(msg, msglen, "policy not changed: %s", err);
		return -1;
	}
	policy_unref(px->policy);
	px->policy = p;
	snprintf(msg, msglen, "policy %s loaded (%zu rules); new sessions use it",
		 px->cfg.policy[0] ? px->cfg.policy : "(none)", policy_rule_count(p));
	sb_log(LOG_INFO, "reload: %s", msg);
	return 0;
}

static void on_sighup(evutil_socket_t sig, short what, void *ctx)
{
	char msg[800];
	(void)reload_runtime(ctx, msg, sizeof msg);
}

/* Deferred audit records (query_end) reach the file within this period
 * even when no other record pushes them out. */
#define AUDIT_FLUSH_MS 100

static void on_audit_flush(evutil_socket_t fd, short what, void *ctx)
{
	struct sb_proxy *px = ctx;
	char err[256];
	if (px->audit && audit_pending(px->audit) && audit_flush(px->audit, err, sizeof err) != 0)
		sb_log(LOG_WARN, "audit: deferred records not written yet: %s", err);
}

/* Expired and decided approval requests older than approval_retention are
 * deleted this often, so the table stays bounded. */
#define MAINTENANCE_S 60

static void on_maintenance(evutil_socket_t fd, short what, void *ctx)
{
	struct sb_proxy *px = ctx;
	int n = 0;
	time_t now = time(NULL);
	if (state_approval_expire(px->state, now, NULL) != STATE_OK ||
	    state_approval_purge(px->state, now, px->cfg.approval_retention, &n) != STATE_OK)
		sb_log(LOG_WARN, "approvals: cleanup failed: %s", state_errmsg(px->state));
	else if (n > 0)
		sb_log(LOG_INFO, "approvals: deleted %d requests older than approval_retention (%d s)",
		       n, px->cfg.approval_retention);
}

/* Process hardening at start, before any secret is loaded:
 *  - no core dumps (RLIMIT_CORE 0 and not dumpable: the master key, the
 *    RSA key, SCRAM keys and hosted secrets live in this memory; not
 *    dumpable also keeps other processes of the same uid from ptrace and
 *    /proc/PID/mem);
 *  - the open-files limit raised to its hard limit: every client and
 *    backend connection is a descriptor. */
static void harden_process(void)
{
	struct rlimit rl = {0, 0};
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		fprintf(stderr, "sqlbastion: cannot disable core dumps: %s\n", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fprintf(stderr, "sqlbastion: cannot clear the dumpable flag: %s\n", strerror(errno));
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void on_stop(evutil_socket_t sig, short what, void *ctx)
{
	struct sb_proxy *px = ctx;
	sb_log(LOG_INFO, "signal %d: shutting down", (int)sig);
	event_base_loopbreak(px->base);
}

/* Everything --check validates, and the daemon needs, in one place. */
static int build_runtime(struct sb_proxy *px, int check_only, char *err, size_t errlen)
{
	char e[512];
	if (secret_load_master_key(px->cfg.master_key, px->master_key, e, sizeof e) != 0) {
		snprintf(err, errlen, "master key: %s (run 'sqlbastionctl -c %s init')", e,
			 px->cfg.path);
		return -1;
	}
	px->state = state_open(px->cfg.state_db, e, sizeof e);
	if (!px->state) {
		snprintf(err, errlen, "state db %s: %s", px->cfg.state_db, e);
		return -1;
	}
	auth_set_unknown_user_key(px->master_key, sizeof px->master_key);
	px->policy = load_policy(&px->cfg, err, errlen);
	if (!px->policy)
		return -1;
	struct stat st;
	if (stat(px->cfg.tls_cert, &st) == 0) {
		px->server_tls = tls_server_ctx_new(px->cfg.tls_cert, px->cfg.tls_key, e, sizeof e);
		if (!px->server_tls) {
			snprintf(err, errlen, "tls: %s", e);
			return -1;
		}
	} else if (px->cfg.require_tls) {
		snprintf(err, errlen, "require_tls = yes but tls_cert %s is missing", px->cfg.tls_cert);
		return -1;
	}
	px->backend_tls = tls_backend_ctx_new(0, NULL, e, sizeof e);
	px->backend_tls_verify = tls_backend_ctx_new(1, px->cfg.backend_ca, e, sizeof e);
	if (!px->backend_tls || !px->backend_tls_verify) {
		snprintf(err, errlen, "backend tls: %s", e);
		return -1;
	}
	if (check_only)
		return 0;
	/* What each served protocol's sessions share (the MySQL frontend's
	 * RSA key, ...): made once per start, before any session. */
	if (protocol_init_all(&px->cfg, err, errlen) != 0)
		return -1;
	/* The daemon is the audit file's single writer (audit.h "Writers"). */
	uint8_t key[AUDIT_KEY_MAX];
	struct audit_options ao = {.exclusive = 1,
				   .rotate_size = px->cfg.audit_rotate_size,
				   .syslog = px->cfg.audit_syslog[0] ? px->cfg.audit_syslog : NULL};
	if (px->cfg.audit_hmac_key[0]) {
		if (audit_load_key(px->cfg.audit_hmac_key, key, sizeof key, &ao.hmac_key_len, e,
				   sizeof e) != 0) {
			snprintf(err, errlen, "audit: %s", e);
			return -1;
		}
		ao.hmac_key = key;
	}
	px->audit = audit_open_opts(px->cfg.audit_jsonl, &ao, e, sizeof e);
	sb_wipe(key, sizeof key);
	if (!px->audit) {
		snprintf(err, errlen, "audit: %s", e);
		return -1;
	}
	return 0;
}

static void free_runtime(struct sb_proxy *px)
{
	if (px->audit)
		audit_close(px->audit);
	if (px->state)
		state_close(px->state);
	if (px->policy)
		policy_unref(px->policy);
	if (px->server_tls)
		SSL_CTX_free(px->server_tls);
	if (px->backend_tls)
		SSL_CTX_free(px->backend_tls);
	if (px->backend_tls_verify)
		SSL_CTX_free(px->backend_tls_verify);
	protocol_fini_all();
	sb_wipe(px->master_key, sizeof px->master_key);
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	int check = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf = argv[++i];
		} else if (strcmp(argv[i], "--check") == 0) {
			check = 1;
		} else if (strcmp(argv[i], "--check-policy") == 0 && i + 1 < argc) {
			return check_policy_file(argv[++i]);
		} else if (strcmp(argv[i], "-v") == 0) {
			log_set_level(LOG_DEBUG);
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!conf) {
		usage(stderr);
		return 2;
	}

	static struct sb_proxy px; /* large (config paths); lives for the process */
	char err[1024];
	if (!check)
		harden_process();
	if (config_load(conf, &px.cfg, err, sizeof err) != 0) {
		fprintf(stderr, "sqlbastion: %s\n", err);
		return 1;
	}
	if (!check && log_open(px.cfg.log) != 0) {
		fprintf(stderr, "sqlbastion: cannot open log %s: %s\n", px.cfg.log, strerror(errno));
		return 1;
	}
	if (build_runtime(&px, check, err, sizeof err) != 0) {
		fprintf(stderr, "sqlbastion: %s\n", err);
		if (!check)
			sb_log(LOG_ERR, "startup failed: %s", err);
		free_runtime(&px);
		return 1;
	}
	if (check) {
		printf("%s: ok (%d listen addresses, %zu policy rules)\n", px.cfg.path,
		       px.cfg.n_listen, policy_rule_count(px.policy));
		free_runtime(&px);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	/* The changelist lets session.c's write_now() arm and disarm a write
	 * event within one loop turn without any epoll_ctl. */
	struct event_config *ecfg = event_config_new();
	if (ecfg) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		px.base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	px.dns = px.base ? evdns_base_new(px.base, EVDNS_BASE_INITIALIZE_NAMESERVERS) : NULL;
	if (!px.dns && px.base) /* no resolv.conf: numeric hosts still work */
		px.dns = evdns_base_new(px.base, 0);
	if (!px.base || !px.dns) {
		fprintf(stderr, "sqlbastion: cannot create event loop\n");
		return 1;
	}
	if (login_guard_start(&px) != 0) {
		fprintf(stderr, "sqlbastion: out of memory\n");
		return 1;
	}
	struct listener_set *ls = listener_start(&px, err, sizeof err);
	if (!ls) {
		fprintf(stderr, "sqlbastion: %s\n", err);
		sb_log(LOG_ERR, "startup failed: %s", err);
		return 1;
	}
	struct ssh_entry *sshe = ssh_entry_start(&px, err, sizeof err);
	if (!sshe && err[0]) {
		fprintf(stderr, "sqlbastion: %s\n", err);
		sb_log(LOG_ERR, "startup failed: %s", err);
		listener_stop(ls);
		return 1;
	}
	struct admin_server *admin = admin_start(&px, reload_runtime, err, sizeof err);
	if (!admin) {
		fprintf(stderr, "sqlbastion: %s\n", err);
		sb_log(LOG_ERR, "startup failed: %s", err);
		listener_stop(ls);
		return 1;
	}
	struct event *ev_hup = evsignal_new(px.base, SIGHUP, on_sighup, &px);
	struct event *ev_int = evsignal_new(px.base, SIGINT, on_stop, &px);
	struct event *ev_term = evsignal_new(px.base, SIGTERM, on_stop, &px);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_term, NULL);
	struct event *ev_flush = event_new(px.base, -1, EV_PERSIST, on_audit_flush, &px);
	struct timeval flush_tv = {.tv_sec = 0, .tv_usec = AUDIT_FLUSH_MS * 1000};
	if (!ev_flush || event_add(ev_flush, &flush_tv) != 0) {
		fprintf(stderr, "sqlbastion: cannot create the audit flush timer\n");
		return 1;
	}
	px.lifecycle = lifecycle_start(&px);
	if (!px.lifecycle) {
		fprintf(stderr, "sqlbastion: cannot create the session re-check timer\n");
		return 1;
	}
	struct event *ev_maint = event_new(px.base, -1, EV_PERSIST, on_maintenance, &px);
	struct timeval maint_tv = {.tv_sec = MAINTENANCE_S};
	if (!ev_maint || event_add(ev_maint, &maint_tv) != 0) {
		fprintf(stderr, "sqlbastion: cannot create the maintenance timer\n");
		return 1;
	}
	on_maintenance(-1, 0, &px);
	struct rlimit core, files;
	getrlimit(RLIMIT_CORE, &core);
	getrlimit(RLIMIT_NOFILE, &files);
	sb_log(LOG_INFO, "process: dumpable=%d core_limit=%llu open_files=%llu/%llu",
	       prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), (unsigned long long)core.rlim_cur,
	       (unsigned long long)files.rlim_cur, (unsigned long long)files.rlim_max);
	sb_log(LOG_INFO, "sqlbastion started (config %s, policy %s, %zu rules)", px.cfg.path,
	       px.cfg.policy[0] ? px.cfg.policy : "(none)", policy_rule_count(px.policy));

	event_base_dispatch(px.base);

	admin_stop(admin);
	ssh_entry_stop(sshe);
	lifecycle_stop(px.lifecycle);
	px.lifecycle = NULL;
	listener_stop(ls);
	sess_free_all(&px);
	event_free(ev_hup);
	event_free(ev_int);
	event_free(ev_term);
	event_free(ev_flush);
	event_free(ev_maint);
	login_guard_stop(&px);
	evdns_base_free(px.dns, 0);
	event_base_free(px.base);
	free_runtime(&px);
	sb_log(LOG_INFO, "sqlbastion stopped");
	return 0;
}
