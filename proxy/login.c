/* login: checks, identity hand-over and the one login tail (see login.h). */
#include "proxy/login.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "proxy/identity.h"
#include "proxy/login_guard.h"
#include "proxy/proxy.h"
#include "proxy/secret.h"
#include "proxy/session.h"
#include "proxy/state.h"

int login_set_user(struct login *l, const char *user)
{
	snprintf(l->user, sizeof l->user, "%s", user ? user : "");
	l->user_set = 1;
	return user && strlen(user) >= sizeof l->user ? -1 : 0;
}

/* The login rules' input for this session and user. */
static struct auth_login login_input(struct session *s, const struct login *l)
{
	struct auth_login in = {.user = l->user,
				.client_ip = s->ident.client_ip,
				.protocol = s->proto->name,
				.now = time(NULL),
				.live_sessions = sess_count_user,
				.live_sessions_ctx = s->px,
				.lockout = &s->px->cfg.lockout};
	return in;
}

enum auth_status login_check_token(struct session *s, struct login *l, const char *token,
				   size_t len, char *reason, size_t reasonlen)
{
	struct auth_login in = login_input(s, l);
	return auth_check_token(s->px->state, &in, token, len, &s->ident.target, reason,
				reasonlen);
}

enum auth_status login_check_token_only(struct session *s, struct login *l, const char *token,
					size_t len, char *reason, size_t reasonlen)
{
	struct auth_login in = login_input(s, l);
	char owner[SB_NAME_MAX];
	enum auth_status st = auth_check_token_only(s->px->state, &in, token, len,
						    &s->ident.target, owner, sizeof owner,
						    reason, reasonlen);
	if (owner[0])
		(void)login_set_user(l, owner);
	return st;
}

int login_scram_params(struct session *s, const struct login *l,
		       uint8_t salt[SB_SCRAM_SALT_LEN], int *iterations)
{
	return auth_scram_params(s->px->state, l->user, salt, iterations);
}

enum auth_status login_check_scram(struct session *s, struct login *l,
				   const char *auth_message, size_t auth_message_len,
				   const uint8_t proof[SB_SHA256_LEN],
				   uint8_t server_signature[SB_SHA256_LEN], char *reason,
				   size_t reasonlen)
{
	struct auth_login in = login_input(s, l);
	return auth_check_scram(s->px->state, &in, auth_message, auth_message_len, proof,
				server_signature, &s->ident.target, reason, reasonlen);
}

struct verifier_walk {
	int (*match)(void *ctx, const uint8_t native[SB_SHA1_LEN],
		     const uint8_t sha2[SB_SHA256_LEN]);
	void *ctx;
	int found;
	int64_t token_id;
};

static int verifier_try(void *ctx, const struct state_token_verifier *v)
{
	struct verifier_walk *w = ctx;
	if (!w->match(w->ctx, v->mysql_native, v->mysql_sha2))
		return 0;
	w->found = 1;
	w->token_id = v->id;
	return 1;
}

/* A miss (unknown user, wrong token, locked out): counted now unless a
 * later step will check the token itself. */
static enum auth_status verifier_miss(struct state *st, const struct auth_login *in,
				      int more_steps, int *no_match, const char *why,
				      int count, char *reason, size_t reasonlen)
{
	*no_match = 1;
	snprintf(reason, reasonlen, "%s", why);
	if (!more_steps && count)
		auth_lockout_failed(st, in);
	return AUTH_REFUSED;
}

enum auth_status login_check_verifiers(struct session *s, struct login *l,
				       int (*match)(void *ctx,
						    const uint8_t native[SB_SHA1_LEN],
						    const uint8_t sha2[SB_SHA256_LEN]),
				       void *ctx, int more_steps, int *no_match, char *reason,
				       size_t reasonlen)
{
	struct state *st = s->px->state;
	struct auth_login in = login_input(s, l);
	struct state_user u;
	char locked[160] = "";
	*no_match = 0;
	int lk = auth_lockout_check(st, &in, locked, sizeof locked);
	if (lk < 0) {
		snprintf(reason, reasonlen, "state database error");
		return AUTH_ERROR;
	}
	int rc = state_user_get(st, l->user, &u);
	/* A locked-out login takes the path of a wrong token, so the client
	 * cannot tell the two apart (a lock is not counted again). */
	if (rc == STATE_NOT_FOUND)
		return verifier_miss(st, &in, more_steps, no_match, lk > 0 ? locked : "unknown user",
				     lk == 0, reason, reasonlen);
	if (lk > 0 && rc == STATE_OK)
		return verifier_miss(st, &in, more_steps, no_match, locked, 0, reason, reasonlen);
	if (rc != STATE_OK) {
		snprintf(reason, reasonlen, "state database error");
		return AUTH_ERROR;
	}
	struct verifier_walk w = {.match = match, .ctx = ctx};
	int64_t now = (int64_t)time(NULL);
	if (state_token_verifiers(st, u.id, now - STATE_SCRAM_WINDOW, now, verifier_try, &w) < 0) {
		snprintf(reason, reasonlen, "state database error");
		return AUTH_ERROR;
	}
	if (!w.found)
		return verifier_miss(st, &in, more_steps, no_match, "bad token", 1, reason,
				     reasonlen);
	return auth_check_rules(st, &in, w.token_id, &s->ident.target, reason, reasonlen);
}

int login_set_identity(struct session *s, struct login *l, const struct identity *who)
{
	if (!who->logged_in || strcmp(who->protocol ? who->protocol : "", s->proto->name) != 0 ||
	    strcmp(who->target.protocol, s->proto->name) != 0)
		return -1;
	(void)login_set_user(l, who->target.user);
	s->ident.target = who->target;
	snprintf(s->ident.database, sizeof s->ident.database, "%s", who->database);
	s->ident.logged_in = 1;
	return 0;
}

int login_preset(struct session *s, struct login *l)
{
	if (!s->preset)
		return 0;
	char db[sizeof s->ident.database];
	snprintf(db, sizeof db, "%s", s->ident.database);
	if (login_set_identity(s, l, s->preset) != 0) {
		login_refuse(s, l, "the SSH login's asset is not of this protocol");
		return -1;
	}
	if (db[0])
		snprintf(s->ident.database, sizeof s->ident.database, "%s", db);
	return login_checked(s, l, AUTH_OK, "") == 0 ? 1 : -1;
}

void login_audit_failed(struct session *s, const struct login *l, const char *reason)
{
	struct audit_event ev = {.type = AUDIT_LOGIN_FAILED,
				 .user = l->user_set ? l->user : NULL,
				 .error = reason,
				 .verb = l->verb,
				 .params = l->client_info,
				 .rows = -1,
				 .duration_us = -1};
	sess_audit_record(s, &ev);
	s->ident.logged_in = 0;
}

/* The session is already ending: a second refusal would say it twice. */
static int ending(const struct session *s)
{
	return s->closing || s->close_after_flush;
}

void login_refuse(struct session *s, const struct login *l, const char *reason)
{
	if (ending(s))
		return;
	login_audit_failed(s, l, reason);
	s->proto->login_refused(s, s->pstate, LOGIN_REFUSE_AUTH, reason);
}

void login_backend_failed(struct session *s, const struct login *l, const char *why)
{
	if (ending(s))
		return;
	char reason[300];
	snprintf(reason, sizeof reason, "backend login failed: %s", why);
	sess_log(s, LOG_WARN, "%s", reason);
	login_audit_failed(s, l, reason);
	s->proto->login_refused(s, s->pstate, LOGIN_REFUSE_BACKEND, reason);
}

int login_checked(struct session *s, struct login *l, enum auth_status st, const char *reason)
{
	if (st == AUTH_OK) {
		s->ident.logged_in = 1;
		return 0;
	}
	if (st == AUTH_ERROR)
		sess_log(s, LOG_ERR, "login check failed: %s", reason);
	login_refuse(s, l, reason[0] ? reason : "internal error");
	return -1;
}

static int login_connect_backend(struct session *s, struct login *l);

/* A good token for a not-hosted account on a path that cannot carry the
 * engineer's own database password. */
static void login_refuse_not_hosted(struct session *s, const struct login *l)
{
	if (ending(s))
		return;
	char reason[300];
	snprintf(reason, sizeof reason,
		 "account %.64s/%.64s is not hosted: its database password can only be given "
		 "through the SSH entry",
		 s->ident.target.asset, s->ident.target.account);
	login_audit_failed(s, l, reason);
	s->proto->login_refused(s, s->pstate, LOGIN_REFUSE_NOT_HOSTED, reason);
}

int login_start_backend(struct session *s, struct login *l)
{
	char err[256];
	login_wipe_secret(l);
	if (!s->ident.target.hosted) {
		if (!l->end_to_end) {
			login_refuse_not_hosted(s, l);
			return -1;
		}
		return login_connect_backend(s, l);
	}
	l->secret = calloc(1, SB_SECRET_MAX);
	if (!l->secret) {
		login_refuse(s, l, "out of memory");
		return -1;
	}
	if (secret_fetch(s->px->state, s->px->master_key, s->ident.target.account_id, l->secret,
			 SB_SECRET_MAX, err, sizeof err) < 0) {
		char reason[320];
		snprintf(reason, sizeof reason, "hosted secret unavailable: %s", err);
		sess_log(s, LOG_ERR, "%s", reason);
		login_refuse(s, l, reason);
		return -1;
	}
	return login_connect_backend(s, l);
}

/* Load what the asset lets a secret go out by and connect the backend. */
static int login_connect_backend(struct session *s, struct login *l)
{
	char err[256];
	if (backend_auth_load(&l->bauth, s, err, sizeof err) != 0) {
		sess_log(s, LOG_ERR, "%s", err);
		login_refuse(s, l, err);
		return -1;
	}
	if (sess_backend_connect(s, s->ident.target.host, s->ident.target.port) != 0) {
		login_refuse(s, l, "cannot start backend connection");
		return -1;
	}
	return 0;
}

int login_complete(struct session *s, struct login *l, const char *detail)
{
	login_wipe_secret(l);
	struct audit_event ev = {.type = AUDIT_LOGIN, .rows = -1, .duration_us = -1,
				 .verb = l->verb, .params = l->client_info};
	if (!l->verb)
		backend_auth_audit(&l->bauth, &ev);
	if (sess_audit(s, &ev) != 0) {
		s->ident.logged_in = 0;
		s->proto->login_refused(s, s->pstate, LOGIN_REFUSE_AUDIT,
					l->verb ? "audit unavailable at change user"
						: "audit unavailable at login");
		return -1;
	}
	s->login_audited = 1;
	sess_set_timer(s, s->px->cfg.idle_timeout);
	const struct auth_target *t = &s->ident.target;
	if (l->verb)
		sess_log(s, LOG_INFO, "%s: %s on %s as %s (level %s%s)", l->verb, t->user, t->asset,
			 t->db_username, policy_level_name(t->level), detail ? detail : "");
	else
		sess_log(s, LOG_INFO, "logged in to %s as %s (level %s%s)", t->asset,
			 t->db_username, policy_level_name(t->level), detail ? detail : "");
	return 0;
}

void login_relay_early(struct session *s)
{
	if (s->closing || s->close_after_flush)
		return;
	if (evbuffer_get_length(sess_input(s, SESS_BACKEND)))
		s->proto->dispatch(s, s->pstate, SESS_BACKEND, SESS_EV_READ);
	if (!s->closing && evbuffer_get_length(sess_input(s, SESS_CLIENT)))
		s->proto->dispatch(s, s->pstate, SESS_CLIENT, SESS_EV_READ);
}

void login_wipe_secret(struct login *l)
{
	if (l->secret) {
		sb_wipe(l->secret, SB_SECRET_MAX);
		free(l->secret);
		l->secret = NULL;
	}
}

void login_free(struct login *l)
{
	login_wipe_secret(l);
	backend_auth_free(&l->bauth);
}

int login_allow_check(struct session *s)
{
	return login_guard_login_check(s->px, s->ident.client_ip);
}

int login_allow_expensive(struct session *s)
{
	return login_guard_expensive(s->px, s->ident.client_ip);
}
