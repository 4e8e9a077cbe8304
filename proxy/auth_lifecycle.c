/* auth_lifecycle: the failed-login lockout and the re-check of live
 * sessions (see auth.h).
 *
 * Lockout. Two counters per failed proof: (user as sent, source IP) and
 * (source IP). The first stops guessing at one user from one place without
 * letting that place lock the user out elsewhere (a per-user lock would be
 * a denial of service on any user by anyone who knows the name); the
 * second caps one source spraying many user names. A counter forgets
 * failures older than `window`; reaching its threshold locks for
 * lock_time * 2^(locks in a row - 1), at most max_lock_time. While locked,
 * attempts are refused before any proof is checked and not counted (the
 * lock does not grow while an attacker keeps knocking, and a correct token
 * learns nothing). The rows live in the state DB, so a restart keeps them;
 * the daemon audits each lock's start and end from them (proxy/lifecycle.c).
 *
 * Re-check. A live session's login is decided again by auth_check_rules()
 * itself (one code path for "may this login be here"), then a refusal is
 * named for the session_end record.
 */
#include <stdio.h>
#include <string.h>

#include "proxy/auth.h"
#include "proxy/state.h"

static int usable(const struct auth_login *in)
{
	return in->lockout && in->client_ip && *in->client_ip && !in->recheck;
}

/* The row key of the user as sent, cut to the column's size (a name that
 * long is never a real user; cut, it still counts as one row). */
static const char *user_key(const struct auth_login *in, char buf[STATE_LOCKOUT_USER_MAX])
{
	snprintf(buf, STATE_LOCKOUT_USER_MAX, "%s", in->user ? in->user : "");
	return buf;
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

int auth_lockout_check(struct state *st, const struct auth_login *in, char *reason,
		       size_t reasonlen)
{
	if (!usable(in))
		return 0;
	struct state_lockout l;
	int64_t now = (int64_t)in->now;
	char until[40];
	char ukey[STATE_LOCKOUT_USER_MAX];
	int rc = state_lockout_get(st, user_key(in, ukey), in->client_ip, &l);
	if (rc < 0)
		return -1;
	if (rc == STATE_OK && l.locked_until > now) {
		fmt_utc(l.locked_until, until, sizeof until);
		snprintf(reason, reasonlen, "locked out: user from %s until %s", in->client_ip,
			 until);
		return 1;
	}
	if (in->lockout->source_failures <= 0)
		return 0;
	rc = state_lockout_get(st, "", in->client_ip, &l);
	if (rc < 0)
		return -1;
	if (rc == STATE_OK && l.locked_until > now) {
		fmt_utc(l.locked_until, until, sizeof until);
		snprintf(reason, reasonlen, "locked out: source %s until %s", in->client_ip, until);
		return 1;
	}
	return 0;
}

static int64_t lock_length(const struct auth_lockout_conf *c, int locks)
{
	int64_t t = c->lock_time > 0 ? c->lock_time : 1;
	for (int i = 1; i < locks && t < c->max_lock_time; i++)
		t *= 2;
	if (c->max_lock_time > 0 && t > c->max_lock_time)
		t = c->max_lock_time;
	return t;
}

/* One counter: count the failure, lock at threshold. Best effort: a busy
 * DB loses a count, never refuses or admits a login by itself. */
static void count_failure(struct state *st, const struct auth_lockout_conf *c,
			  const char *user, const char *ip, int threshold, int64_t now)
{
	struct state_lockout l;
	if (threshold <= 0)
		return;
	int rc = state_lockout_get(st, user, ip, &l);
	if (rc < 0)
		return;
	if (rc == STATE_NOT_FOUND) {
		memset(&l, 0, sizeof l);
		snprintf(l.user, sizeof l.user, "%s", user);
		snprintf(l.ip, sizeof l.ip, "%s", ip);
	}
	if (l.locked_until > now)
		return; /* refused before the proof; not counted */
	if (l.failures == 0 || now - l.window_start >= c->window || now < l.window_start) {
		l.failures = 0;
		l.window_start = now;
	}
	l.failures++;
	if (l.failures >= threshold) {
		l.locks++;
		l.locked_at = now;
		l.locked_until = now + lock_length(c, l.locks);
		l.failures = 0;
		l.audited = 0;
	}
	(void)state_lockout_put(st, &l);
}

void auth_lockout_failed(struct state *st, const struct auth_login *in)
{
	if (!usable(in))
		return;
	int64_t now = (int64_t)in->now;
	char ukey[STATE_LOCKOUT_USER_MAX];
	count_failure(st, in->lockout, user_key(in, ukey), in->client_ip, in->lockout->failures, now);
	count_failure(st, in->lockout, "", in->client_ip, in->lockout->source_failures, now);
}

void auth_lockout_passed(struct state *st, const struct auth_login *in)
{
	struct state_lockout l;
	char ukey[STATE_LOCKOUT_USER_MAX];
	if (!usable(in))
		return;
	if (state_lockout_get(st, user_key(in, ukey), in->client_ip, &l) != STATE_OK)
		return;
	if (l.failures == 0 && l.locks == 0)
		return;
	l.failures = 0;
	l.locks = 0;
	(void)state_lockout_put(st, &l);
}

/* ---- re-check ---- */

/* The token row is gone: say what took it. */
static enum auth_status why_gone(struct state *st, const struct auth_target *t, char *reason,
				 size_t reasonlen)
{
	static const struct {
		enum state_entity e;
		const char *why;
	} order[] = {{STATE_ENT_USER, "user removed"},
		     {STATE_ENT_ASSET, "asset removed"},
		     {STATE_ENT_ACCOUNT, "account removed"}};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		int64_t id = order[i].e == STATE_ENT_USER	 ? t->user_id
			     : order[i].e == STATE_ENT_ASSET ? t->asset_id
							     : t->account_id;
		int r = state_entity_exists(st, order[i].e, id);
		if (r < 0) {
			snprintf(reason, reasonlen, "state db: %s", state_errmsg(st));
			return AUTH_ERROR;
		}
		if (r == 0) {
			snprintf(reason, reasonlen, "%s", order[i].why);
			return AUTH_REFUSED;
		}
	}
	snprintf(reason, reasonlen, "token removed");
	return AUTH_REFUSED;
}

enum auth_status auth_recheck(struct state *st, const struct auth_target *t,
			      const char *client_ip, time_t now, int64_t *valid_until,
			      char *reason, size_t reasonlen)
{
	struct auth_target cur;
	struct auth_login in = {.user = t->user,
				.client_ip = client_ip,
				.protocol = t->protocol,
				.now = now,
				.recheck = 1};
	enum auth_status s = auth_check_rules(st, &in, t->token_id, &cur, reason, reasonlen);
	if (s == AUTH_OK && cur.level < t->level) {
		/* Still granted, but less: the session's statements are judged
		 * at the level it logged in with, which no grant gives now. */
		snprintf(reason, reasonlen, "grant changed: %s no longer granted (now %s)",
			 policy_level_name(t->level), policy_level_name(cur.level));
		return AUTH_REFUSED;
	}
	if (s == AUTH_OK) {
		*valid_until = cur.valid_until;
		return AUTH_OK;
	}
	if (s != AUTH_REFUSED)
		return s;
	if (strcmp(reason, "bad token") == 0)
		return why_gone(st, t, reason, reasonlen);
	if (strcmp(reason, "no grant") == 0)
		snprintf(reason, reasonlen, "grant revoked");
	else if (strcmp(reason, "outside grant hours") == 0)
		snprintf(reason, reasonlen, "grant hours ended");
	return AUTH_REFUSED;
}
