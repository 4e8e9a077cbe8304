/* auth: token proofs and login rules (see auth.h).
 *
 * Three ways in, one set of rules: a SCRAM-SHA-256 proof is tried against
 * each of the user's recent tokens, a cleartext token is found by its
 * SHA-256, and the MySQL native-password path (in its frontend) finds the
 * token itself; all three end in auth_check_rules(), which reads the token,
 * user, account and asset in one query and the grants in a second.
 *
 * Every comparison of secret material goes through sb_ct_equal(). Refusal
 * reasons are for the audit log; frontends send clients a generic message.
 *
 * tokens.last_used is written at most once a minute per token (the value
 * read by the rules query tells whether it is due), so a burst of logins
 * costs no write each, and a failure to write it (the DB busy past the 5 s
 * timeout) never refuses a login.
 *
 * Not here: the SCRAM message syntax (protocols/pgsql/pg_scram.c), counting
 * live sessions (the caller's callback), logging.
 */
#include "proxy/auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/state.h"

#define TOUCH_INTERVAL 60 /* seconds between last_used writes of one token */

/* ---- the fake salt for unknown users ---- */

static pthread_once_t fake_once = PTHREAD_ONCE_INIT;
static uint8_t fake_key[32];
static int fake_key_ok;

static void fake_key_init(void)
{
	fake_key_ok = sb_random(fake_key, sizeof fake_key) == 0;
}

void auth_set_unknown_user_key(const uint8_t *master_key, size_t len)
{
	static const char info[] = "sqlbastion unknown-user scram salt v1\x01";
	pthread_once(&fake_once, fake_key_init); /* so it cannot overwrite this later */
	/* HKDF-Expand (RFC 5869), one block, with the master key as the PRK
	 * (it is 32 random bytes): stable across restarts, independent of
	 * every other use of the master key. */
	sb_hmac_sha256(master_key, len, info, sizeof info - 1, fake_key);
	fake_key_ok = 1;
}

/* Deterministic per key and name, unpredictable without the key: the same
 * unknown name gets the same salt twice, as a real user would, and across
 * restarts once auth_set_unknown_user_key() was called. */
static int fake_salt(const char *user, uint8_t salt[SB_SCRAM_SALT_LEN])
{
	uint8_t mac[SB_SHA256_LEN];
	pthread_once(&fake_once, fake_key_init);
	if (!fake_key_ok)
		return -1;
	sb_hmac_sha256(fake_key, sizeof fake_key, user, strlen(user), mac);
	memcpy(salt, mac, SB_SCRAM_SALT_LEN);
	return 0;
}

int auth_scram_params(struct state *st, const char *user,
		      uint8_t salt[SB_SCRAM_SALT_LEN], int *iterations)
{
	struct state_user u;
	int rc = state_user_get(st, user, &u);
	*iterations = SB_SCRAM_ITERATIONS;
	if (rc == STATE_OK) {
		memcpy(salt, u.scram_salt, SB_SCRAM_SALT_LEN);
		return 0;
	}
	if (rc == STATE_NOT_FOUND)
		return fake_salt(user, salt);
	return -1;
}

/* ---- SCRAM ---- */

struct scram_walk {
	const char *auth_message;
	size_t auth_message_len;
	const uint8_t *proof;
	int found;
	int64_t token_id;
	uint8_t server_key[SB_SHA256_LEN];
};

/* RFC 5802 section 3: ClientSignature = HMAC(StoredKey, AuthMessage);
 * ClientKey = ClientProof XOR ClientSignature; the proof is good when
 * H(ClientKey) equals StoredKey. */
static int scram_try(void *ctx, const struct state_token_verifier *v)
{
	struct scram_walk *w = ctx;
	uint8_t sig[SB_SHA256_LEN], key[SB_SHA256_LEN], h[SB_SHA256_LEN];
	sb_hmac_sha256(v->stored_key, sizeof v->stored_key, w->auth_message,
		       w->auth_message_len, sig);
	for (int i = 0; i < SB_SHA256_LEN; i++)
		key[i] = w->proof[i] ^ sig[i];
	sb_sha256(key, sizeof key, h);
	int match = sb_ct_equal(h, v->stored_key, SB_SHA256_LEN);
	sb_wipe(key, sizeof key);
	if (!match)
		return 0;
	w->found = 1;
	w->token_id = v->id;
	memcpy(w->server_key, v->server_key, SB_SHA256_LEN);
	return 1; /* stop */
}

static enum auth_status refuse(char *reason, size_t reasonlen, const char *why)
{
	snprintf(reason, reasonlen, "%s", why);
	return AUTH_REFUSED;
}

/* A wrong proof (unknown user, bad token): it counts towards a lockout. */
static enum auth_status refuse_proof(struct state *st, const struct auth_login *in,
				     char *reason, size_t reasonlen, const char *why)
{
	auth_lockout_failed(st, in);
	return refuse(reason, reasonlen, why);
}

static enum auth_status state_error(struct state *st, char *reason, size_t reasonlen)
{
	snprintf(reason, reasonlen, "state db: %s", state_errmsg(st));
	return AUTH_ERROR;
}

enum auth_status auth_check_scram(struct state *st, const struct auth_login *in,
				  const char *auth_message, size_t auth_message_len,
				  const uint8_t client_proof[SB_SHA256_LEN],
				  uint8_t server_signature[SB_SHA256_LEN],
				  struct auth_target *out, char *reason, size_t reasonlen)
{
	struct state_user u;
	memset(out, 0, sizeof *out);
	int lk = auth_lockout_check(st, in, reason, reasonlen);
	if (lk != 0)
		return lk > 0 ? AUTH_REFUSED : state_error(st, reason, reasonlen);
	int rc = state_user_get(st, in->user, &u);
	if (rc == STATE_NOT_FOUND)
		return refuse_proof(st, in, reason, reasonlen, "unknown user");
	if (rc != STATE_OK)
		return state_error(st, reason, reasonlen);

	struct scram_walk w = {
		.auth_message = auth_message,
		.auth_message_len = auth_message_len,
		.proof = client_proof,
	};
	int64_t now = (int64_t)in->now;
	rc = state_token_verifiers(st, u.id, now - STATE_SCRAM_WINDOW, now, scram_try, &w);
	if (rc < 0) {
		sb_wipe(&w, sizeof w);
		return state_error(st, reason, reasonlen);
	}
	if (!w.found)
		return refuse_proof(st, in, reason, reasonlen, "bad token");

	enum auth_status s = auth_check_rules(st, in, w.token_id, out, reason, reasonlen);
	if (s == AUTH_OK)
		sb_hmac_sha256(w.server_key, sizeof w.server_key, auth_message,
			       auth_message_len, server_signature);
	sb_wipe(&w, sizeof w);
	return s;
}

/* ---- cleartext ---- */

enum auth_status auth_check_token(struct state *st, const struct auth_login *in,
				  const char *token, size_t token_len,
				  struct auth_target *out, char *reason, size_t reasonlen)
{
	struct state_user u;
	uint8_t hash[SB_SHA256_LEN];
	int64_t id, user_id;
	memset(out, 0, sizeof *out);
	int lk = auth_lockout_check(st, in, reason, reasonlen);
	if (lk != 0)
		return lk > 0 ? AUTH_REFUSED : state_error(st, reason, reasonlen);
	int rc = state_user_get(st, in->user, &u);
	if (rc == STATE_NOT_FOUND)
		return refuse_proof(st, in, reason, reasonlen, "unknown user");
	if (rc != STATE_OK)
		return state_error(st, reason, reasonlen);

	state_token_lookup_hash(token, token_len, hash);
	rc = state_token_by_sha256(st, hash, &id, &user_id);
	sb_wipe(hash, sizeof hash);
	if (rc < 0)
		return state_error(st, reason, reasonlen);
	/* A token of another user is as bad as no token: say nothing more. */
	if (rc == STATE_NOT_FOUND || user_id != u.id)
		return refuse_proof(st, in, reason, reasonlen, "bad token");
	return auth_check_rules(st, in, id, out, reason, reasonlen);
}

/* The lockout row of a login that names no user (a token alone, TNS):
 * not a valid user name (ctl_valid_name allows no parentheses or spaces), so it never
 * shares a row with a real user. */
#define AUTH_NO_USER_KEY "(token only)"

enum auth_status auth_check_token_only(struct state *st, const struct auth_login *in,
				       const char *token, size_t token_len,
				       struct auth_target *out, char *owner, size_t ownerlen,
				       char *reason, size_t reasonlen)
{
	uint8_t hash[SB_SHA256_LEN];
	int64_t id, user_id;
	struct state_login l;
	struct auth_login anon = *in;
	anon.user = AUTH_NO_USER_KEY;
	memset(out, 0, sizeof *out);
	if (ownerlen)
		owner[0] = '\0';
	int lk = auth_lockout_check(st, &anon, reason, reasonlen);
	if (lk != 0)
		return lk > 0 ? AUTH_REFUSED : state_error(st, reason, reasonlen);
	state_token_lookup_hash(token, token_len, hash);
	int rc = state_token_by_sha256(st, hash, &id, &user_id);
	sb_wipe(hash, sizeof hash);
	if (rc < 0)
		return state_error(st, reason, reasonlen);
	if (rc == STATE_NOT_FOUND)
		return refuse_proof(st, &anon, reason, reasonlen, "bad token");
	rc = state_login_get(st, id, &l);
	if (rc == STATE_NOT_FOUND)
		return refuse_proof(st, &anon, reason, reasonlen, "bad token");
	if (rc != STATE_OK)
		return state_error(st, reason, reasonlen);
	snprintf(owner, ownerlen, "%s", l.user.name);
	struct auth_login named = *in;
	named.user = l.user.name;
	return auth_check_rules(st, &named, id, out, reason, reasonlen);
}

/* ---- the rules ---- */

struct grant_walk {
	time_t now;
	int any;           /* grants seen */
	int live_until;    /* ... of which not past `until` */
	int best;          /* strongest valid level, -1 = none */
	int64_t valid_until; /* earliest time a grant's answer may change by itself */
};

static int grant_try(void *ctx, const struct state_grant *g)
{
	struct grant_walk *w = ctx;
	w->any++;
	if (g->until != 0 && g->until <= (int64_t)w->now)
		return 0;
	w->live_until++;
	if (g->until != 0 && g->until < w->valid_until)
		w->valid_until = g->until;
	if (g->hours[0]) {
		/* hours are minutes: look again at the next minute */
		int64_t next = (int64_t)w->now - (int64_t)w->now % 60 + 60;
		if (next < w->valid_until)
			w->valid_until = next;
	}
	if (auth_hours_match(g->hours, w->now) != 1)
		return 0; /* outside the hours, or a bad range: fail closed */
	if ((int)g->level > w->best)
		w->best = (int)g->level;
	return 0;
}

static void fill_target(const struct state_login *l, struct auth_target *out)
{
	out->token_id = l->token.id;
	out->user_id = l->user.id;
	snprintf(out->user, sizeof out->user, "%s", l->user.name);
	out->asset_id = l->asset.id;
	snprintf(out->asset, sizeof out->asset, "%s", l->asset.name);
	snprintf(out->protocol, sizeof out->protocol, "%s", l->asset.protocol);
	snprintf(out->host, sizeof out->host, "%s", l->asset.host);
	out->port = l->asset.port;
	out->tls = l->asset.tls;
	snprintf(out->service, sizeof out->service, "%s", l->asset.service);
	out->account_id = l->account.id;
	snprintf(out->account, sizeof out->account, "%s", l->account.name);
	snprintf(out->db_username, sizeof out->db_username, "%s", l->account.username);
	out->hosted = l->account.kind != STATE_SECRET_NONE;
	out->max_sessions = l->user.max_sessions;
}

/* On a refusal after the token is known, *out holds the identity fields
 * (user, asset, account...) for the audit record; level is meaningless. */
enum auth_status auth_check_rules(struct state *st, const struct auth_login *in,
				  int64_t token_id, struct auth_target *out,
				  char *reason, size_t reasonlen)
{
	struct state_login l;
	memset(out, 0, sizeof *out);
	int rc = state_login_get(st, token_id, &l);
	if (rc == STATE_NOT_FOUND)
		return refuse(reason, reasonlen, "bad token");
	if (rc != STATE_OK)
		return state_error(st, reason, reasonlen);
	if (!in->user || strcmp(in->user, l.user.name) != 0)
		return refuse(reason, reasonlen, "bad token");
	fill_target(&l, out);

	int64_t now = (int64_t)in->now;
	if (l.token.revoked_at != 0)
		return refuse(reason, reasonlen, "token revoked");
	if (l.token.expires <= now)
		return refuse(reason, reasonlen, "token expired");
	int disabled = 0;
	rc = state_user_disabled(st, l.user.id, &disabled);
	if (rc < 0)
		return state_error(st, reason, reasonlen);
	if (disabled)
		return refuse(reason, reasonlen, "user disabled");
	if (!in->protocol || (strcmp(in->protocol, AUTH_ANY_PROTOCOL) != 0 &&
			      strcmp(l.asset.protocol, in->protocol) != 0)) {
		snprintf(reason, reasonlen, "asset protocol %s does not match listener %s",
			 l.asset.protocol, in->protocol ? in->protocol : "(none)");
		return AUTH_REFUSED;
	}

	const char *ip = in->client_ip && *in->client_ip ? in->client_ip : NULL;
	int m = auth_cidr_match(l.user.sources, ip ? ip : ""); /* no ip: only "" passes */
	if (m < 0)
		return refuse(reason, reasonlen, "bad source list for user");
	if (m == 0) {
		snprintf(reason, reasonlen, "source %s not allowed", ip ? ip : "(unknown)");
		return AUTH_REFUSED;
	}

	struct grant_walk gw = {.now = in->now, .best = -1, .valid_until = INT64_MAX};
	rc = state_grant_list(st, l.user.id, l.account.id, grant_try, &gw);
	if (rc < 0)
		return state_error(st, reason, reasonlen);
	if (gw.best < 0) {
		if (gw.any == 0)
			return refuse(reason, reasonlen, "no grant");
		if (gw.live_until == 0)
			return refuse(reason, reasonlen, "grant expired");
		return refuse(reason, reasonlen, "outside grant hours");
	}
	out->level = (enum policy_level)gw.best;
	out->valid_until = l.token.expires < gw.valid_until ? l.token.expires : gw.valid_until;

	if (l.user.max_sessions > 0 && in->live_sessions && !in->recheck) {
		int live = in->live_sessions(in->live_sessions_ctx, l.user.name);
		if (live < 0) {
			snprintf(reason, reasonlen, "cannot count live sessions");
			return AUTH_ERROR;
		}
		if (live >= l.user.max_sessions) {
			snprintf(reason, reasonlen, "session limit %d reached",
				 l.user.max_sessions);
			return AUTH_REFUSED;
		}
	}

	if (in->recheck)
		goto ok;
	auth_lockout_passed(st, in);
	if (l.token.last_used == 0 || now - l.token.last_used >= TOUCH_INTERVAL ||
	    now < l.token.last_used)
		state_token_touch(st, l.token.id, now); /* best effort */
ok:
	if (reasonlen)
		reason[0] = '\0';
	return AUTH_OK;
}

/* ---- CIDR lists ---- */

struct addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t b[16];
};

/* Parse an address; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4 and
 * *mapped is set so a prefix length can be adjusted. A zone ("%eth0") is
 * dropped. 0 or -1. */
static int parse_addr(const char *s, size_t n, struct addr *a, int *mapped)
{
	char buf[INET6_ADDRSTRLEN + 16];
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *pct = strchr(buf, '%');
	if (pct)
		*pct = '\0';
	*mapped = 0;
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, buf, a->b) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a->b) != 1)
		return -1;
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a->b, v4mapped, 12) == 0) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		a->family = AF_INET;
		*mapped = 1;
		return 0;
	}
	a->family = AF_INET6;
	return 0;
}

static int prefix_match(const struct addr *net, int bits, const struct addr *ip)
{
	if (net->family != ip->family)
		return 0;
	int full = bits / 8, rest = bits % 8;
	if (memcmp(net->b, ip->b, (size_t)full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((net->b[full] & mask) != (ip->b[full] & mask))
			return 0;
	}
	return 1;
}

/* One "addr[/len]" entry. Returns 1 match, 0 no, -1 malformed. ip may be
 * NULL (only validate). */
static int cidr_entry(const char *s, size_t n, const struct addr *ip)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	struct addr net;
	int mapped;
	if (parse_addr(s, alen, &net, &mapped) != 0)
		return -1;
	int max = net.family == AF_INET ? 32 : 128;
	int bits = mapped ? 128 : max;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = n - alen - 1;
		if (plen == 0 || plen > 3)
			return -1;
		bits = 0;
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)p[i]))
				return -1;
			bits = bits * 10 + (p[i] - '0');
		}
	}
	if (mapped) {
		/* ::ffff:10.0.0.0/104 is 10.0.0.0/8 */
		if (bits < 96 || bits > 128)
			return -1;
		bits -= 96;
	} else if (bits > max) {
		return -1;
	}
	return ip ? prefix_match(&net, bits, ip) : 0;
}

int auth_cidr_match(const char *cidr_list, const char *ip)
{
	struct addr a;
	int mapped, have_ip = 0, any_entry = 0, hit = 0;
	if (ip && *ip && parse_addr(ip, strlen(ip), &a, &mapped) == 0)
		have_ip = 1;
	const char *p = cidr_list ? cidr_list : "";
	/* Check every entry, so a bad list is reported as bad whatever the
	 * address, rather than only when no earlier entry matched. */
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		int r = cidr_entry(p, (size_t)(e - p), have_ip ? &a : NULL);
		if (r < 0)
			return -1;
		any_entry = 1;
		hit |= r;
		p = e;
	}
	if (!any_entry)
		return 1;
	return hit;
}

/* ---- hours ---- */

/* "HH:MM" at s (exactly 5 chars) to minutes; 24:00 allowed as an end. */
static int parse_hhmm(const char *s, int allow_24)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0');
	int m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (!allow_24 || m != 0)))
		return -1;
	return h * 60 + m;
}

int auth_hours_match(const char *hours, time_t now)
{
	if (!hours || !*hours)
		return 1;
	if (strlen(hours) != 11 || hours[5] != '-')
		return -1;
	int from = parse_hhmm(hours, 0), to = parse_hhmm(hours + 6, 1);
	if (from < 0 || to < 0 || from == to)
		return -1; /* an empty or ambiguous range: say 00:00-24:00 for all day */
	struct tm tm;
	if (!localtime_r(&now, &tm))
		return -1;
	int m = tm.tm_hour * 60 + tm.tm_min;
	if (from < to)
		return m >= from && m < to;
	return m >= from || m < to; /* wraps past midnight */
}
