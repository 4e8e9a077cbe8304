/* config: INI reader for sqlbastion.conf (see config.h).
 *
 * Syntax: "[section]", "key = value", comments start with ';' or '#' at the
 * start of a line or after whitespace. Values may not be quoted; a value
 * ends at an inline comment. */
#include "proxy/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(char *errbuf, size_t errlen, const char *file, int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *errbuf, size_t errlen, const char *file, int line,
		const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(errbuf, errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(errbuf, errlen, "%s: %s", file, msg);
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Cut an inline comment: ';' or '#' preceded by whitespace. */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == ';' || *p == '#') &&
		    (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

void config_resolve(const struct sb_config *cfg, const char *p, char *out,
		    size_t cap)
{
	if (p[0] == '/' || p[0] == '\0' || strcmp(p, "-") == 0)
		snprintf(out, cap, "%s", p);
	else
		snprintf(out, cap, "%s/%s", cfg->dir, p);
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

/* "100M", "1G", "4096", "0": bytes with an optional K/M/G (powers of 1024). */
static int parse_size(const char *v, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || v[0] == '-')
		return -1;
	unsigned long long mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1ULL << 10;
	else if (*end == 'M' || *end == 'm')
		mult = 1ULL << 20;
	else if (*end == 'G' || *end == 'g')
		mult = 1ULL << 30;
	if (mult != 1)
		end++;
	if ((*end == 'B' || *end == 'b') && mult != 1)
		end++;
	if (*end || n > (1ULL << 50) / mult)
		return -1;
	*out = n * mult;
	return 0;
}

/* "host:port", "[v6]:port" or ":port" (all interfaces: 0.0.0.0). */
static int parse_addr(const char *v, struct sb_listen_addr *a)
{
	const char *colon;
	long port;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (!close || close[1] != ':')
			return -1;
		size_t n = (size_t)(close - v - 1);
		if (n == 0 || n >= sizeof a->host)
			return -1;
		memcpy(a->host, v + 1, n);
		a->host[n] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			return -1;
		size_t n = (size_t)(colon - v);
		if (n >= sizeof a->host)
			return -1;
		memcpy(a->host, v, n);
		a->host[n] = '\0';
		if (n == 0)
			strcpy(a->host, "0.0.0.0");
	}
	if (parse_int(colon + 1, 1, 65535, &port) != 0)
		return -1;
	a->port = (int)port;
	return 0;
}

static int is_protocol(const char *s)
{
	return strcmp(s, "postgres") == 0 || strcmp(s, "mysql") == 0 ||
	       strcmp(s, "tds") == 0 || strcmp(s, "tns") == 0 || strcmp(s, "ssh") == 0;
}

static void set_defaults(struct sb_config *c)
{
	config_resolve(c, "var/state.db", c->state_db, sizeof c->state_db);
	config_resolve(c, "var/master.key", c->master_key, sizeof c->master_key);
	config_resolve(c, "var/sqlbastion.sock", c->admin_socket,
		       sizeof c->admin_socket);
	config_resolve(c, "var/tls/server.crt", c->tls_cert, sizeof c->tls_cert);
	config_resolve(c, "var/tls/server.key", c->tls_key, sizeof c->tls_key);
	config_resolve(c, "var/ssh/host_ed25519", c->ssh_host_key, sizeof c->ssh_host_key);
	config_resolve(c, "var/audit/audit.jsonl", c->audit_jsonl,
		       sizeof c->audit_jsonl);
	strcpy(c->log, "-");
	strcpy(c->pg_auth, "scram");
	c->audit_on_failure = AUDIT_FAIL_CLOSE;
	c->audit_warn_interval = 10;
	c->connect_timeout = 10;
	c->login_timeout = 30;
	c->idle_timeout = 0;
	c->max_message = 64u << 20;
	c->lockout.failures = 5;
	c->lockout.source_failures = 50;
	c->lockout.window = 900;
	c->lockout.lock_time = 1800;
	c->lockout.max_lock_time = 86400;
	c->max_unauthenticated = 1024;
	c->max_unauthenticated_per_source = 32;
	c->failed_login_records_per_source = 10;
	c->expensive_logins_per_source = 20;
	c->logins_per_source = 1000;
	c->approval_retention = 7 * 86400;
}

/* One key of [sqlbastion] / [audit] / [limits]. Returns 0, 1 unknown key,
 * -1 bad value (msg filled). */
static int set_key(struct sb_config *c, const char *sect, const char *k,
		   const char *v, char *msg, size_t msglen)
{
	struct {
		const char *sect, *key;
		char *dst;
	} paths[] = {
		{"sqlbastion", "state_db", c->state_db},
		{"sqlbastion", "master_key", c->master_key},
		{"sqlbastion", "admin_socket", c->admin_socket},
		{"sqlbastion", "policy", c->policy},
		{"sqlbastion", "tls_cert", c->tls_cert},
		{"sqlbastion", "tls_key", c->tls_key},
		{"sqlbastion", "ssh_host_key", c->ssh_host_key},
		{"sqlbastion", "backend_ca", c->backend_ca},
		{"sqlbastion", "log", c->log},
		{"audit", "jsonl", c->audit_jsonl},
		{"audit", "sqlite", c->audit_sqlite},
		{"audit", "hmac_key", c->audit_hmac_key},
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (strcmp(sect, paths[i].sect) == 0 &&
		    strcmp(k, paths[i].key) == 0) {
			config_resolve(c, v, paths[i].dst, SB_PATH_MAX);
			return 0;
		}
	}
	long n;
	if (strcmp(sect, "sqlbastion") == 0 && strcmp(k, "pg_auth") == 0) {
		if (strcmp(v, "scram") && strcmp(v, "password")) {
			snprintf(msg, msglen, "pg_auth must be scram or password, not '%s'", v);
			return -1;
		}
		snprintf(c->pg_auth, sizeof c->pg_auth, "%s", v);
		return 0;
	}
	if (strcmp(sect, "sqlbastion") == 0 && strcmp(k, "require_tls") == 0) {
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
			c->require_tls = 1;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
			c->require_tls = 0;
		else {
			snprintf(msg, msglen, "require_tls must be yes or no, not '%s'", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(sect, "audit") == 0 && strcmp(k, "on_failure") == 0) {
		if (strcmp(v, "close") == 0)
			c->audit_on_failure = AUDIT_FAIL_CLOSE;
		else if (strcmp(v, "open") == 0)
			c->audit_on_failure = AUDIT_FAIL_OPEN;
		else {
			snprintf(msg, msglen, "on_failure must be close or open, not '%s'", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(sect, "audit") == 0 && strcmp(k, "rotate_size") == 0) {
		if (parse_size(v, &c->audit_rotate_size) != 0 ||
		    (c->audit_rotate_size != 0 && c->audit_rotate_size < 4096)) {
			snprintf(msg, msglen,
				 "rotate_size must be 0 (off) or bytes from 4096, with an optional K, M or G: '%s'",
				 v);
			return -1;
		}
		return 0;
	}
	if (strcmp(sect, "audit") == 0 && strcmp(k, "syslog") == 0) {
		if (strncmp(v, "udp:", 4) != 0 && strncmp(v, "unix:", 5) != 0) {
			snprintf(msg, msglen, "syslog must be unix:PATH or udp:HOST:PORT, not '%s'", v);
			return -1;
		}
		if (strncmp(v, "unix:", 5) == 0 && v[5] != '/') {
			char abs[SB_PATH_MAX];
			config_resolve(c, v + 5, abs, sizeof abs);
			snprintf(c->audit_syslog, sizeof c->audit_syslog, "unix:%s", abs);
		} else {
			snprintf(c->audit_syslog, sizeof c->audit_syslog, "%s", v);
		}
		return 0;
	}
	if (strcmp(sect, "audit") == 0 && strcmp(k, "warn_interval") == 0) {
		if (parse_int(v, 1, 86400, &n) != 0) {
			snprintf(msg, msglen, "warn_interval must be seconds from 1 to 86400");
			return -1;
		}
		c->audit_warn_interval = (int)n;
		return 0;
	}
	if (strcmp(sect, "limits") == 0) {
		struct {
			const char *key;
			int *dst;
			long lo, hi;
		} ints[] = {
			{"connect_timeout", &c->connect_timeout, 1, 3600},
			{"login_timeout", &c->login_timeout, 1, 3600},
			{"idle_timeout", &c->idle_timeout, 0, 86400 * 30},
			{"lockout_failures", &c->lockout.failures, 0, 1000},
			{"lockout_source_failures", &c->lockout.source_failures, 0, 100000},
			{"lockout_window", &c->lockout.window, 1, 86400 * 30},
			{"lockout_time", &c->lockout.lock_time, 1, 86400 * 30},
			{"lockout_max_time", &c->lockout.max_lock_time, 1, 86400 * 366},
			{"approval_retention", &c->approval_retention, 60, 86400 * 3650},
		};
		for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
			if (strcmp(k, ints[i].key) == 0) {
				if (parse_int(v, ints[i].lo, ints[i].hi, &n) != 0) {
					snprintf(msg, msglen, "%s must be a number from %ld to %ld",
						 k, ints[i].lo, ints[i].hi);
					return -1;
				}
				*ints[i].dst = (int)n;
				return 0;
			}
		}
		struct {
			const char *key;
			unsigned *dst;
		} counts[] = {
			{"max_unauthenticated", &c->max_unauthenticated},
			{"max_unauthenticated_per_source", &c->max_unauthenticated_per_source},
			{"failed_login_records_per_source", &c->failed_login_records_per_source},
			{"expensive_logins_per_source", &c->expensive_logins_per_source},
			{"logins_per_source", &c->logins_per_source},
		};
		for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
			if (strcmp(k, counts[i].key) == 0) {
				if (parse_int(v, 0, 1000000, &n) != 0) {
					snprintf(msg, msglen, "%s must be a number from 0 (no limit) to 1000000", k);
					return -1;
				}
				*counts[i].dst = (unsigned)n;
				return 0;
			}
		}
		if (strcmp(k, "max_message") == 0) {
			/* 1 KiB .. 1 GiB; PostgreSQL's own limit is 1 GiB. */
			if (parse_int(v, 1024, 1L << 30, &n) != 0) {
				snprintf(msg, msglen, "max_message must be bytes from 1024 to 1073741824");
				return -1;
			}
			c->max_message = (size_t)n;
			return 0;
		}
	}
	return 1;
}

int config_load(const char *path, struct sb_config *out, char *errbuf,
		size_t errlen)
{
	memset(out, 0, sizeof *out);
	char abs[PATH_MAX];
	if (!realpath(path, abs))
		return fail(errbuf, errlen, path, 0, "cannot open: %s", strerror(errno));
	snprintf(out->path, sizeof out->path, "%s", abs);
	snprintf(out->dir, sizeof out->dir, "%s", abs);
	char *slash = strrchr(out->dir, '/');
	if (slash == out->dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	set_defaults(out);

	FILE *f = fopen(abs, "r");
	if (!f)
		return fail(errbuf, errlen, path, 0, "cannot open: %s", strerror(errno));
	char buf[8192], sect[64] = "";
	int line = 0, rc = 0;
	while (fgets(buf, sizeof buf, f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			rc = fail(errbuf, errlen, path, line, "line too long");
			break;
		}
		cut_comment(buf);
		char *s = trim(buf);
		if (*s == '\0')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1] != '\0') {
				rc = fail(errbuf, errlen, path, line, "bad section header");
				break;
			}
			*e = '\0';
			snprintf(sect, sizeof sect, "%s", trim(s + 1));
			if (strcmp(sect, "sqlbastion") && strcmp(sect, "listeners") &&
			    strcmp(sect, "audit") && strcmp(sect, "limits")) {
				rc = fail(errbuf, errlen, path, line,
					  "unknown section [%s] (expected sqlbastion, listeners, audit, limits)",
					  sect);
				break;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = fail(errbuf, errlen, path, line, "expected 'key = value'");
			break;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		if (!*sect) {
			rc = fail(errbuf, errlen, path, line, "'%s' outside any section", k);
			break;
		}
		if (strcmp(sect, "listeners") == 0) {
			if (!is_protocol(k)) {
				rc = fail(errbuf, errlen, path, line,
					  "unknown protocol '%s' (expected postgres, mysql, tds, tns, ssh)", k);
				break;
			}
			/* "addr[, addr...]" */
			char *save = NULL;
			for (char *a = strtok_r(v, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
				a = trim(a);
				if (out->n_listen == SB_MAX_LISTENERS) {
					rc = fail(errbuf, errlen, path, line,
						  "more than %d listen addresses", SB_MAX_LISTENERS);
					break;
				}
				struct sb_listen_addr *la = &out->listen[out->n_listen];
				if (parse_addr(a, la) != 0) {
					rc = fail(errbuf, errlen, path, line,
						  "bad address '%s' (expected host:port)", a);
					break;
				}
				snprintf(la->protocol, sizeof la->protocol, "%s", k);
				la->line = line;
				out->n_listen++;
			}
			if (rc)
				break;
			continue;
		}
		if (*v == '\0') {
			rc = fail(errbuf, errlen, path, line, "'%s' has no value", k);
			break;
		}
		char msg[256];
		int r = set_key(out, sect, k, v, msg, sizeof msg);
		if (r == 1) {
			rc = fail(errbuf, errlen, path, line, "unknown key '%s' in [%s]", k, sect);
			break;
		}
		if (r < 0) {
			rc = fail(errbuf, errlen, path, line, "%s", msg);
			break;
		}
	}
	fclose(f);
	return rc;
}
