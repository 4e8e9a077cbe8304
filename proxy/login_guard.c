/* login_guard: limits before login, with clock, log and audit (see
 * login_guard.h). */
#include "proxy/login_guard.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "proxy/proxy.h"
#include "proxy/srclimit.h"

struct login_guard {
	struct srclimit *sl;
	struct event *tick;
	uint64_t refused_global, refused_source; /* since the last log line */
	uint64_t refused_expensive, refused_logins;
	time_t last_log;
};

static int64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The key a source is counted under: the IPv4 address, or the /64 prefix
 * of an IPv6 one (one host usually holds a whole /64, so counting single
 * IPv6 addresses would let it open 2^64 "sources"). out holds 64 bytes. */
static const char *source_key(const char *ip, char out[64])
{
	struct in6_addr a6;
	if (!strchr(ip, ':') || inet_pton(AF_INET6, ip, &a6) != 1)
		return ip;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (!inet_ntop(AF_INET, &a6.s6_addr[12], out, 64))
			return ip;
		return out;
	}
	memset(&a6.s6_addr[8], 0, 8);
	if (!inet_ntop(AF_INET6, &a6, out, 48))
		return ip;
	strcat(out, "/64");
	return out;
}

struct summary_ctx {
	struct sb_proxy *px;
	int64_t now;
};

/* One audit record standing for n login_failed records of ip that were not
 * written one by one. */
static void write_summary(void *ctx, const char *ip, uint64_t n, int64_t since)
{
	struct summary_ctx *c = ctx;
	char msg[256], err[256];
	snprintf(msg, sizeof msg,
		 "%" PRIu64 " more failed logins from %s in the last %" PRId64
		 " s (over failed_login_records_per_source a second; not recorded one by one)",
		 n, ip, c->now - since);
	struct audit_event ev;
	audit_event_init(&ev, AUDIT_LOGIN_FAILED);
	ev.client = ip;
	ev.error = msg;
	if (!c->px->audit || audit_write(c->px->audit, &ev, err, sizeof err) != 0)
		sb_log(LOG_WARN, "audit record lost: %s", msg);
}

static void log_refusals(struct sb_proxy *px, int force)
{
	struct login_guard *g = px->guard;
	time_t now = time(NULL);
	if (!force && now - g->last_log < LOGIN_GUARD_LOG_INTERVAL)
		return;
	if (g->refused_global || g->refused_source)
		sb_log(LOG_WARN,
		       "refused %" PRIu64 " connections over max_unauthenticated (%u) and %" PRIu64
		       " over max_unauthenticated_per_source (%u) in the last %lld s",
		       g->refused_global, px->cfg.max_unauthenticated, g->refused_source,
		       px->cfg.max_unauthenticated_per_source, (long long)(now - g->last_log));
	if (g->refused_expensive)
		sb_log(LOG_WARN,
		       "refused %" PRIu64 " logins over expensive_logins_per_source (%u/s) in the last %lld s",
		       g->refused_expensive, px->cfg.expensive_logins_per_source,
		       (long long)(now - g->last_log));
	if (g->refused_logins)
		sb_log(LOG_WARN,
		       "refused %" PRIu64 " logins over logins_per_source (%u/s) in the last %lld s",
		       g->refused_logins, px->cfg.logins_per_source, (long long)(now - g->last_log));
	g->refused_global = g->refused_source = g->refused_expensive = g->refused_logins = 0;
	g->last_log = now;
}

static void tick_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct sb_proxy *px = ctx;
	struct summary_ctx sc = {.px = px, .now = mono_s()};
	srclimit_failed_flush(px->guard->sl, sc.now, write_summary, &sc);
	srclimit_gc(px->guard->sl, sc.now);
	log_refusals(px, 0);
}

int login_guard_start(struct sb_proxy *px)
{
	uint64_t seed = 0;
	if (sb_random(&seed, sizeof seed) != 0)
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)px;
	struct login_guard *g = calloc(1, sizeof *g);
	if (!g)
		return -1;
	g->sl = srclimit_new(seed);
	g->tick = event_new(px->base, -1, EV_PERSIST, tick_cb, px);
	struct timeval tv = {.tv_sec = 1};
	if (!g->sl || !g->tick || event_add(g->tick, &tv) != 0) {
		if (g->tick)
			event_free(g->tick);
		srclimit_free(g->sl);
		free(g);
		return -1;
	}
	g->last_log = 0; /* the first refusal is logged at once */
	px->guard = g;
	return 0;
}

void login_guard_stop(struct sb_proxy *px)
{
	struct login_guard *g = px->guard;
	if (!g)
		return;
	struct summary_ctx sc = {.px = px, .now = INT64_MAX};
	srclimit_failed_flush(g->sl, sc.now, write_summary, &sc);
	log_refusals(px, 1);
	event_free(g->tick);
	srclimit_free(g->sl);
	free(g);
	px->guard = NULL;
}

int login_guard_admit(struct sb_proxy *px, const char *ip)
{
	char keybuf[64];
	ip = source_key(ip, keybuf);
	struct login_guard *g = px->guard;
	if (!g)
		return 0;
	enum srclimit_verdict v = srclimit_unauth_enter(g->sl, ip, px->cfg.max_unauthenticated,
						       px->cfg.max_unauthenticated_per_source);
	if (v == SRCLIMIT_OK)
		return 0;
	if (v == SRCLIMIT_GLOBAL_FULL)
		g->refused_global++;
	else
		g->refused_source++;
	log_refusals(px, 0);
	return -1;
}

void login_guard_leave(struct sb_proxy *px, const char *ip)
{
	char keybuf[64];
	ip = source_key(ip, keybuf);
	if (px->guard)
		srclimit_unauth_leave(px->guard->sl, ip);
}

int login_guard_failed_login(struct sb_proxy *px, const char *ip)
{
	char keybuf[64];
	ip = source_key(ip, keybuf);
	if (!px->guard)
		return 1;
	return srclimit_failed_login(px->guard->sl, ip, mono_s(),
				     px->cfg.failed_login_records_per_source);
}

int login_guard_expensive(struct sb_proxy *px, const char *ip)
{
	char keybuf[64];
	ip = source_key(ip, keybuf);
	if (!px->guard)
		return 1;
	if (srclimit_rate(px->guard->sl, ip, SRCLIMIT_RSA, mono_ms(),
			  px->cfg.expensive_logins_per_source))
		return 1;
	px->guard->refused_expensive++;
	log_refusals(px, 0);
	return 0;
}

int login_guard_login_check(struct sb_proxy *px, const char *ip)
{
	char keybuf[64];
	ip = source_key(ip, keybuf);
	if (!px->guard)
		return 1;
	if (srclimit_rate(px->guard->sl, ip, SRCLIMIT_LOGIN, mono_ms(), px->cfg.logins_per_source))
		return 1;
	px->guard->refused_logins++;
	log_refusals(px, 0);
	return 0;
}
