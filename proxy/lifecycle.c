/* lifecycle: re-check live sessions on change and on time; audit lockout
 * starts and ends (see lifecycle.h). */
#include "proxy/lifecycle.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "proxy/auth.h"
#include "lib/log.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/state.h"

/* Lockout rows idle this long (no lock, no counting) are deleted. */
#define LOCKOUT_PRUNE_IDLE (7 * 86400)
#define LOCKOUT_PRUNE_EVERY 3600

struct lifecycle {
	struct sb_proxy *px;    /* borrowed */
	struct event *tick;     /* owned: the 1 s timer */
	struct event *now_ev;   /* owned: poke, runs at the next loop turn */
	int64_t data_version;
	int have_version;
	int retry;              /* the last re-check hit a DB error: do all again */
	time_t last_prune;
};

/* Re-check the sessions: all of them (all = 1) or those whose valid_until
 * has come. */
static void recheck(struct lifecycle *lc, int all, time_t now)
{
	struct sb_proxy *px = lc->px;
	struct session *s, *next;
	char reason[200];
	int checked = 0, ended = 0;
	int64_t t0 = sess_now_us();
	lc->retry = 0;
	for (s = px->sessions; s; s = next) {
		next = s->next; /* sess_end may move s to px->closing */
		if (!s->ident.logged_in || s->closing || s->close_after_flush)
			continue;
		if (!all && s->ident.target.valid_until > (int64_t)now)
			continue;
		int64_t vu = INT64_MAX;
		checked++;
		enum auth_status r = auth_recheck(px->state, &s->ident.target, s->ident.client_ip, now, &vu,
						  reason, sizeof reason);
		if (r == AUTH_OK) {
			s->ident.target.valid_until = vu;
		} else if (r == AUTH_REFUSED) {
			sess_log(s, LOG_INFO, "access ended: %s", reason);
			sess_end(s, reason);
			ended++;
		} else {
			/* A busy DB must neither end sessions nor forget to look
			 * again: the next tick re-checks everything. */
			sb_log(LOG_WARN, "lifecycle: re-check of session %llu failed: %s",
			       (unsigned long long)s->id, reason);
			lc->retry = 1;
		}
	}
	if (checked)
		sb_log(LOG_DEBUG, "lifecycle: re-checked %d sessions in %lld us, ended %d", checked,
		       (long long)(sess_now_us() - t0), ended);
}

struct lock_audit {
	struct sb_proxy *px;
	int64_t now;
	int n;
	struct state_lockout rows[32];
};

static int collect_lock(void *ctx, const struct state_lockout *l)
{
	struct lock_audit *la = ctx;
	la->rows[la->n++] = *l;
	return la->n == (int)(sizeof la->rows / sizeof la->rows[0]); /* the rest next tick */
}

static void fmt_utc(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm))
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, cap, "@%lld", (long long)t);
}

/* One audit record per lockout start and per end, written by the daemon
 * (the audit file's single writer), from the rows auth left behind. */
static void audit_lockouts(struct lifecycle *lc, time_t now)
{
	struct sb_proxy *px = lc->px;
	struct lock_audit la = {.px = px, .now = now};
	if (!px->audit || state_lockout_pending(px->state, now, collect_lock, &la) < 0)
		return;
	for (int i = 0; i < la.n; i++) {
		const struct state_lockout *l = &la.rows[i];
		int start = l->audited == 0;
		char stmt[400], until[40], objects[160];
		fmt_utc(l->locked_until, until, sizeof until);
		char who[200];
		if (l->user[0])
			snprintf(who, sizeof who, "user %s from %s", l->user, l->ip);
		else
			snprintf(who, sizeof who, "source %s (every user)", l->ip);
		if (start)
			snprintf(stmt, sizeof stmt, "lockout start: %s until %s (lock %d in a row)",
				 who, until, l->locks);
		else
			snprintf(stmt, sizeof stmt, "lockout end: %s (locked until %s)", who, until);
		snprintf(objects, sizeof objects, "%s %s", l->user[0] ? "user+source" : "source",
			 l->ip);
		struct audit_event ev;
		char err[300];
		audit_event_init(&ev, AUDIT_ADMIN);
		ev.user = l->user[0] ? l->user : NULL;
		ev.client = l->ip;
		ev.verb = start ? "lockout start" : "lockout end";
		ev.statement = stmt;
		ev.statement_len = strlen(stmt);
		ev.objects = objects;
		if (audit_write(px->audit, &ev, err, sizeof err) != 0) {
			sb_log(LOG_WARN, "lifecycle: lockout audit not written: %s", err);
			return; /* try again next tick */
		}
		sb_log(LOG_INFO, "%s", stmt);
		/* An end already due when the start is first seen (a short lock)
		 * is written next tick. */
		if (state_lockout_mark(px->state, l->user, l->ip, start ? 1 : 2) != STATE_OK)
			sb_log(LOG_WARN, "lifecycle: lockout not marked: %s", state_errmsg(px->state));
	}
}

static void run(struct lifecycle *lc, int poked)
{
	struct sb_proxy *px = lc->px;
	time_t now = time(NULL);
	int64_t v = 0;
	int changed = poked || lc->retry;
	if (state_data_version(px->state, &v) == 0) {
		if (!lc->have_version || v != lc->data_version)
			changed = 1;
		lc->data_version = v;
		lc->have_version = 1;
	}
	recheck(lc, changed, now);
	audit_lockouts(lc, now);
	if (now - lc->last_prune >= LOCKOUT_PRUNE_EVERY) {
		lc->last_prune = now;
		if (state_lockout_prune(px->state, now, LOCKOUT_PRUNE_IDLE) != STATE_OK)
			sb_log(LOG_WARN, "lifecycle: prune lockouts: %s", state_errmsg(px->state));
	}
}

static void on_tick(evutil_socket_t fd, short what, void *ctx)
{
	run(ctx, 0);
}

static void on_poke(evutil_socket_t fd, short what, void *ctx)
{
	run(ctx, 1);
}

struct lifecycle *lifecycle_start(struct sb_proxy *px)
{
	struct lifecycle *lc = calloc(1, sizeof *lc);
	if (!lc)
		return NULL;
	lc->px = px;
	lc->last_prune = 0;
	lc->tick = event_new(px->base, -1, EV_PERSIST, on_tick, lc);
	lc->now_ev = event_new(px->base, -1, 0, on_poke, lc);
	struct timeval tv = {.tv_sec = LIFECYCLE_TICK_MS / 1000,
			     .tv_usec = (LIFECYCLE_TICK_MS % 1000) * 1000};
	if (!lc->tick || !lc->now_ev || event_add(lc->tick, &tv) != 0) {
		lifecycle_stop(lc);
		return NULL;
	}
	return lc;
}

void lifecycle_poke(struct lifecycle *lc)
{
	if (lc) /* a no-op when already active */
		event_active(lc->now_ev, EV_TIMEOUT, 0);
}

void lifecycle_stop(struct lifecycle *lc)
{
	if (!lc)
		return;
	if (lc->tick)
		event_free(lc->tick);
	if (lc->now_ev)
		event_free(lc->now_ev);
	free(lc);
}
