/* ctl_common: what the sqlbastionctl verbs share (see ctl.h): messages,
 * option parsing, names, times and durations, JSON strings, the redacted
 * command line and the admin audit event (sent to the daemon over its admin
 * socket when it runs, else appended to the file). No verb logic lives here.
 */
#include "proxy/ctl.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <unistd.h>

#include "proxy/admin.h"
#include "proxy/secret.h"
#include "proxy/state.h"

/* ---- messages ---- */

static void vmsg(struct ctl *c, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vmsg(struct ctl *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "sqlbastionctl: %s: ", c->verb ? c->verb : "error");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int ctl_fail(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(c, fmt, ap);
	va_end(ap);
	return CTL_FAIL;
}

int ctl_usage(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(c, fmt, ap);
	va_end(ap);
	return CTL_USAGE;
}

struct state *ctl_state(struct ctl *c)
{
	char err[512];
	struct stat sb;
	if (c->st)
		return c->st;
	/* Only init creates it: a wrong -c must not leave new files behind. */
	if (strcmp(c->verb, "init") != 0 && stat(c->cfg.state_db, &sb) != 0 && errno == ENOENT) {
		ctl_fail(c, "state db %s does not exist; run sqlbastionctl -c %s init", c->cfg.state_db,
			 c->cfg.path);
		return NULL;
	}
	c->st = state_open(c->cfg.state_db, err, sizeof err);
	if (!c->st)
		ctl_fail(c, "state db: %s", err);
	return c->st;
}

int ctl_master_key(struct ctl *c, uint8_t key[SB_MASTER_KEY_LEN])
{
	char err[SB_PATH_MAX + 256];
	struct stat sb;
	if (stat(c->cfg.master_key, &sb) != 0 && errno == ENOENT)
		return ctl_fail(c, "no master key at %s; run sqlbastionctl -c %s init",
				c->cfg.master_key, c->cfg.path);
	if (secret_load_master_key(c->cfg.master_key, key, err, sizeof err) != 0)
		return ctl_fail(c, "%s", err);
	return CTL_OK;
}

/* ---- arguments ---- */

int ctl_args(struct ctl *c, int argc, char **argv, const struct ctl_opt *opts,
	     const char **pos, int minpos, int maxpos, int *npos)
{
	int n = 0, only_pos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			if (n == maxpos)
				return ctl_usage(c, "unexpected argument '%s'", a);
			pos[n++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const struct ctl_opt *o = opts;
		while (o && o->name && !(strlen(o->name) == nl && strncmp(o->name, a, nl) == 0))
			o++;
		if (!o || !o->name)
			return ctl_usage(c, "unknown option '%.*s'", (int)nl, a);
		if (o->has_arg) {
			if (eq) {
				*o->val = eq + 1;
			} else if (i + 1 < argc) {
				*o->val = argv[++i];
			} else {
				return ctl_usage(c, "%s needs a value", o->name);
			}
		} else {
			if (eq)
				return ctl_usage(c, "%s takes no value", o->name);
			*o->flag = 1;
		}
	}
	if (n < minpos)
		return ctl_usage(c, "missing argument");
	if (npos)
		*npos = n;
	return CTL_OK;
}

int ctl_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
			return 0;
	}
	return 1;
}

int ctl_valid_word(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int ctl_valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

int ctl_parse_long(const char *s, long lo, long hi, long *out)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int ctl_split_target(const char *s, char asset[64], char account[64])
{
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) > 63 || strlen(slash + 1) > 63)
		return -1;
	memcpy(asset, s, (size_t)(slash - s));
	asset[slash - s] = '\0';
	snprintf(account, 64, "%s", slash + 1);
	return ctl_valid_name(asset) && ctl_valid_name(account) ? 0 : -1;
}

/* ---- durations and times ---- */

int ctl_parse_duration(const char *s, int64_t *secs)
{
	const int64_t limit = 10LL * 366 * 86400;
	int64_t total = 0;
	if (!s || !*s)
		return -1;
	while (*s) {
		if (!isdigit((unsigned char)*s))
			return -1;
		int64_t n = 0;
		while (isdigit((unsigned char)*s)) {
			n = n * 10 + (*s++ - '0');
			if (n > limit)
				return -1;
		}
		int64_t unit;
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -1; /* a bare number is ambiguous: say the unit */
		}
		total += n * unit;
		if (total > limit)
			return -1;
	}
	if (total <= 0)
		return -1;
	*secs = total;
	return 0;
}

static int num(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Returns 0 exact, 1 moved to the end of a day / minute, -1 bad. */
int ctl_parse_time(const char *s, time_t now, int end, time_t *out)
{
	if (!s || !*s)
		return -1;
	if (*s == '+' || *s == '-') {
		int64_t d;
		if (ctl_parse_duration(s + 1, &d) != 0)
			return -1;
		*out = *s == '+' ? now + (time_t)d : now - (time_t)d;
		return 0;
	}
	if (*s == '@') {
		char *e;
		errno = 0;
		long long v = strtoll(s + 1, &e, 10);
		if (errno || e == s + 1 || *e || v < 0)
			return -1;
		*out = (time_t)v;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, prec = 0; /* 0 day, 1 minute, 2 second */
	if (num(&p, 4, &y) || *p++ != '-' || num(&p, 2, &mo) || *p++ != '-' || num(&p, 2, &d))
		return -1;
	if (*p == ' ' || *p == 'T' || *p == 't') {
		p++;
		if (num(&p, 2, &h) || *p++ != ':' || num(&p, 2, &mi))
			return -1;
		prec = 1;
		if (*p == ':') {
			p++;
			if (num(&p, 2, &sec))
				return -1;
			prec = 2;
			if (*p == '.') { /* fraction: ignored */
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
	}
	int zoned = 0;
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		zoned = 1;
		p++;
	} else if ((*p == '+' || *p == '-') && prec > 0) {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (num(&p, 2, &oh) || *p++ != ':' || num(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		zoned = 1;
		off = sign * (oh * 3600L + om * 60L);
	}
	if (*p)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;
	tm.tm_isdst = -1;
	struct tm check = tm;
	time_t t = zoned ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1 || tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon)
		return -1; /* 2025-02-30 and the like */
	t -= off;
	int moved = 0;
	if (end && prec == 0) {
		struct tm next = check;
		next.tm_mday++;
		next.tm_isdst = -1;
		t = (zoned ? timegm(&next) : mktime(&next)) - off;
		moved = 1;
	} else if (end && prec == 1) {
		t += 60;
		moved = 1;
	}
	*out = t;
	return moved;
}

void ctl_fmt_time(int64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t == 0 || !localtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "-");
}

void ctl_fmt_rfc3339(int64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "-");
}

void ctl_json_str(const char *s, char *buf, size_t cap)
{
	size_t o = 0;
	if (cap < 3) {
		if (cap)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (; *s && o + 8 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* Length (2..4) of the well-formed UTF-8 sequence at s[0..n) that starts
 * with a byte >= 0x80, or 0 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

void ctl_json_fput(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char ch = p[i];
		size_t k;
		if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
		} else if (ch == '\n') {
			fputs("\\n", f);
		} else if (ch == '\t') {
			fputs("\\t", f);
		} else if (ch == '\r') {
			fputs("\\r", f);
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(f, "\\u%04x", ch);
		} else if (ch >= 0x80 && (k = utf8_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, k, f);
			i += k;
			continue;
		} else if (ch >= 0x80) {
			fprintf(f, "\\u%04x", ch);
		} else {
			fputc(ch, f);
		}
		i++;
	}
	fputc('"', f);
}

/* ---- the audit record of a change ---- */

/* Characters a shell word may hold unquoted. */
static const char shell_safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789_./:,@%+=-";

/* Append w as one shell word (quoted unless safe, or force_plain). */
static void append_word(char *buf, size_t cap, size_t *o, const char *w, int force_plain)
{
	int plain = force_plain || (*w && strspn(w, shell_safe) == strlen(w));
	if (*o && *o + 1 < cap)
		buf[(*o)++] = ' ';
	if (plain) {
		for (; *w && *o + 1 < cap; w++)
			buf[(*o)++] = *w;
	} else {
		/* single quotes, ' as '\'' */
		if (*o + 1 < cap)
			buf[(*o)++] = '\'';
		for (; *w && *o + 5 < cap; w++) {
			if (*w == '\'') {
				memcpy(buf + *o, "'\\''", 4);
				*o += 4;
			} else {
				buf[(*o)++] = *w;
			}
		}
		if (*o + 1 < cap)
			buf[(*o)++] = '\'';
	}
	buf[*o] = '\0';
}

static int redacted(const char *a, const char *const *redact, int *inline_value)
{
	for (; redact && *redact; redact++) {
		size_t n = strlen(*redact);
		if (strncmp(a, *redact, n) == 0 && (a[n] == '\0' || a[n] == '=')) {
			*inline_value = a[n] == '=';
			return 1;
		}
	}
	return 0;
}

void ctl_cmdline(const char *verb, int argc, char **argv, const char *const *redact,
		 char *buf, size_t cap)
{
	/* The verb ("user add") is ours: plain, not quoted as one word. */
	size_t o = (size_t)snprintf(buf, cap, "%s", verb);
	if (o >= cap)
		o = cap - 1;
	for (int i = 0; i < argc; i++) {
		int inl = 0;
		if (redacted(argv[i], redact, &inl)) {
			char w[80];
			size_t n = strcspn(argv[i], "=");
			snprintf(w, sizeof w, "%.*s", (int)(n < 60 ? n : 60), argv[i]);
			append_word(buf, cap, &o, w, 0);
			append_word(buf, cap, &o, "<redacted>", 1);
			if (!inl && i + 1 < argc)
				i++;
			continue;
		}
		append_word(buf, cap, &o, argv[i], 0);
	}
}

struct audit_log *ctl_audit_open(struct ctl *c)
{
	char err[SB_PATH_MAX + 512];
	/* Opening the file (no lock taken yet) proves it can be written even
	 * when the daemon will write the event: a change must not be made
	 * while its record cannot be. */
	struct audit_log *log = audit_open(c->cfg.audit_jsonl, NULL, err, sizeof err);
	if (!log) {
		ctl_fail(c, "audit log: %s (no change made)", err);
		return NULL;
	}
	if (c->admin_fd < 0) {
		int fd = ctl_admin_connect(c, err, sizeof err);
		if (fd >= 0)
			c->admin_fd = fd;
	}
	return log;
}

/* Send the admin event to the daemon. 0 written by it, 1 the daemon went
 * away (write it directly), -1 the daemon could not write it (err). */
static int audit_via_daemon(struct ctl *c, const struct audit_event *ev, char *err,
			    size_t errlen)
{
	size_t cap = strlen(ev->statement) * 6 + 1024, o;
	char *req = malloc(cap), *resp = NULL, ok[16];
	if (!req) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o = (size_t)snprintf(req, cap, "{\"cmd\":\"audit\",\"verb\":");
	admin_json_put(req, cap, &o, ev->verb, strlen(ev->verb));
	if (strcmp(c->actor, c->os_user) != 0) {
		o += (size_t)snprintf(req + o, cap - o, ",\"by\":");
		admin_json_put(req, cap - 2, &o, c->actor, strlen(c->actor));
	}
	const char *keys[] = {"statement", "asset", "account", "objects"};
	const char *vals[] = {ev->statement, ev->asset, ev->account, ev->objects};
	for (size_t i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		o += (size_t)snprintf(req + o, cap - o, ",\"%s\":", keys[i]);
		admin_json_put(req, cap - 2, &o, vals[i], strlen(vals[i]));
	}
	snprintf(req + o, cap - o, "}");
	int rc = ctl_admin_roundtrip(c->admin_fd, req, &resp, err, errlen);
	free(req);
	close(c->admin_fd);
	c->admin_fd = -1;
	if (rc != 0)
		return 1;
	if (admin_json_get(resp, strlen(resp), "ok", ok, sizeof ok) == 1 &&
	    strcmp(ok, "true") == 0) {
		free(resp);
		return 0;
	}
	if (admin_json_get(resp, strlen(resp), "error", err, errlen) != 1)
		snprintf(err, errlen, "the daemon refused the audit event");
	free(resp);
	return -1;
}

int ctl_audit_write(struct ctl *c, struct audit_log *log, const char *statement,
		    const char *asset, const char *account, const char *objects, char *err,
		    size_t errlen)
{
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_ADMIN);
	ev.user = c->actor[0] ? c->actor : c->os_user;
	ev.statement = statement;
	ev.statement_len = strlen(statement);
	ev.verb = c->verb;
	ev.asset = asset;
	ev.account = account;
	ev.objects = objects;
	if (c->admin_fd >= 0) {
		int r = audit_via_daemon(c, &ev, err, errlen);
		if (r <= 0) {
			audit_close(log);
			return r;
		}
		/* the daemon is gone: nobody holds the file now */
	}
	int rc = audit_write(log, &ev, err, errlen);
	audit_close(log);
	return rc == 0 ? 0 : -1;
}

int ctl_audit_admin(struct ctl *c, struct audit_log *log, const char *statement,
		    const char *asset, const char *account, const char *objects)
{
	char err[512];
	if (ctl_audit_write(c, log, statement, asset, account, objects, err, sizeof err) != 0)
		return ctl_fail(c, "the change was made but its audit record could not be written: %s",
				err);
	return CTL_OK;
}

int ctl_parse_id(const char *s, int64_t *id)
{
	char *e;
	errno = 0;
	long long v = strtoll(s, &e, 10);
	if (errno || e == s || *e || v <= 0)
		return -1;
	*id = v;
	return 0;
}
