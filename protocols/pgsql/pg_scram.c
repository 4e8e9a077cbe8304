/* pg_scram: SCRAM-SHA-256 message parsing and proof computation for the
 * PostgreSQL SASL exchange (RFC 5802, RFC 7677), plus PostgreSQL's md5
 * password hash (see pg_scram.h for the interface).
 *
 * The server half parses the client's SASLInitialResponse and SASLResponse
 * data, answers with server-first, and hands the caller the client proof and
 * the AuthMessage; checking the proof against StoredKey and signing with
 * ServerKey are the caller's (it owns the verifier). The client half logs in
 * to a backend with a known password and checks the backend's signature.
 * Every message is a (pointer, length) pair that need not be NUL-terminated;
 * nothing is read past the length, a message with a NUL byte or of
 * PG_SCRAM_MSG_MAX bytes or more is refused, and the grammar is RFC 5802
 * section 7 with its fixed attribute order. This file does no I/O, no
 * logging and no allocation; it does not speak the surrounding protocol
 * messages (AuthenticationSASL*, SASLInitialResponse), nor channel binding
 * (SCRAM-SHA-256-PLUS is never offered, so gs2 flag 'p' is refused).
 */
#include "protocols/pgsql/pg_scram.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define NONCE_RAW 18 /* random bytes in each side's nonce */
#define ITER_MIN 4096 /* the RFC 7677 minimum, PostgreSQL's default */
#define ITER_MAX 10000000 /* ~seconds of PBKDF2: caps what a backend can make us burn */

/* One comma-separated piece of a message, borrowed from the caller's buffer. */
struct field {
	const char *s;
	size_t len;
};

/* Cursor over a message: the message is fields separated by ','; "a,,b,"
 * yields "a", "", "b", "" and then end. */
struct scan {
	const char *p, *end;
	int done;
};

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

static void scan_init(struct scan *sc, const char *msg, size_t n)
{
	sc->p = msg;
	sc->end = msg + n;
	sc->done = 0;
}

/* Next field, consuming the ',' after it. 0, or -1 when no field is left. */
static int next_field(struct scan *sc, struct field *f)
{
	if (sc->done)
		return -1;
	const char *comma = memchr(sc->p, ',', (size_t)(sc->end - sc->p));
	f->s = sc->p;
	if (comma) {
		f->len = (size_t)(comma - sc->p);
		sc->p = comma + 1;
	} else {
		f->len = (size_t)(sc->end - sc->p);
		sc->p = sc->end;
		sc->done = 1;
	}
	return 0;
}

/* Is f the attribute "<name>=value"? Fills val with the value (may be empty). */
static int is_attr(const struct field *f, char name, struct field *val)
{
	if (f->len < 2 || f->s[0] != name || f->s[1] != '=')
		return 0;
	val->s = f->s + 2;
	val->len = f->len - 2;
	return 1;
}

/* RFC 5802 section 7: attr-val = ALPHA "=" value, value = 1*value-char.
 * Commas and NULs cannot occur (split / refused up front). */
static int is_extension(const struct field *f)
{
	char c = f->len ? f->s[0] : 0;
	return f->len >= 3 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) &&
	       f->s[1] == '=';
}

/* RFC 5802 section 7: printable = %x21-2B / %x2D-7E (no ','); 1*. */
static int is_printable(const struct field *f)
{
	if (f->len == 0)
		return 0;
	for (size_t i = 0; i < f->len; i++) {
		unsigned char c = (unsigned char)f->s[i];
		if (c < 0x21 || c > 0x7e || c == ',')
			return 0;
	}
	return 1;
}

/* saslname: '=' only as "=2C" or "=3D" (RFC 5802 section 5.1). Empty is
 * allowed although the RFC says 1*: libpq sends "n=," because PostgreSQL
 * takes the user from the startup packet and ignores this one. */
static int is_saslname(const struct field *f)
{
	for (size_t i = 0; i < f->len; i++) {
		if (f->s[i] != '=')
			continue;
		if (f->len - i < 3 ||
		    !((f->s[i + 1] == '2' && f->s[i + 2] == 'C') ||
		      (f->s[i + 1] == '3' && f->s[i + 2] == 'D')))
			return 0;
		i += 2;
	}
	return 1;
}

/* Common bounds on an incoming message: present, shorter than
 * PG_SCRAM_MSG_MAX (so it and a NUL fit our buffers), no NUL inside. */
static int check_msg(const char *msg, size_t n, char *err, size_t errlen)
{
	if (!msg || n == 0) {
		set_err(err, errlen, "malformed SCRAM message (empty)");
		return -1;
	}
	if (n >= PG_SCRAM_MSG_MAX) {
		set_err(err, errlen, "malformed SCRAM message (too long)");
		return -1;
	}
	if (memchr(msg, '\0', n)) {
		set_err(err, errlen, "malformed SCRAM message (NUL byte)");
		return -1;
	}
	return 0;
}

/* Append [s, s+len) at *pos in buf of cap bytes, keeping a NUL after it. */
static int append(char *buf, size_t cap, size_t *pos, const char *s, size_t len)
{
	if (len >= cap - *pos)
		return -1;
	memcpy(buf + *pos, s, len);
	*pos += len;
	buf[*pos] = '\0';
	return 0;
}

static int append_str(char *buf, size_t cap, size_t *pos, const char *s)
{
	return append(buf, cap, pos, s, strlen(s));
}

/* A fresh nonce: NONCE_RAW random bytes, base64 (PG_SCRAM_NONCE_B64 chars of
 * [A-Za-z0-9+/], no padding for 18 bytes, so printable and comma-free). */
static int make_nonce(char out[PG_SCRAM_NONCE_B64 + 1])
{
	uint8_t raw[NONCE_RAW];
	if (sb_random(raw, sizeof raw) != 0)
		return -1;
	int len = sb_base64_encode(raw, sizeof raw, out, PG_SCRAM_NONCE_B64 + 1);
	sb_wipe(raw, sizeof raw);
	return len == PG_SCRAM_NONCE_B64 ? 0 : -1;
}

/* SaltedPassword, ClientKey, StoredKey, ServerKey (RFC 5802 section 3).
 * The password is used as raw bytes, not SASLprep'd (RFC 4013): PostgreSQL
 * does the same when the password is ASCII-only (SASLprep is then the
 * identity for printable ASCII) or is not valid UTF-8 / fails SASLprep, and
 * every server and client that interoperates with it follows suit. A
 * non-ASCII password that SASLprep would change (e.g. non-NFKC, mapped
 * spaces) gives a different key than PostgreSQL; passwords hosted here are
 * expected to be ASCII. */
/* PBKDF2 with 4096+ iterations costs milliseconds; a proxy logs in to the
 * same backend with the same password and salt again and again (as
 * PgBouncer does, we keep the derived keys). Keyed by SHA-256 of the
 * password, so a rotated secret misses and is derived afresh. The keys are
 * password-equivalent for SCRAM: they live only in this process's memory
 * and are wiped on eviction. The daemon is single-threaded. */
#define SCRAM_CACHE_SLOTS 64 /* distinct hosted accounts in active use */
#define SCRAM_CACHE_SALT_MAX 64

struct scram_cache_slot {
	int used;
	uint8_t pw_hash[SB_SHA256_LEN];
	uint8_t salt[SCRAM_CACHE_SALT_MAX];
	size_t saltlen;
	int iterations;
	uint8_t client_key[SB_SHA256_LEN], stored_key[SB_SHA256_LEN], server_key[SB_SHA256_LEN];
};

static struct scram_cache_slot scram_cache[SCRAM_CACHE_SLOTS];
static unsigned scram_cache_next;

static struct scram_cache_slot *scram_cache_find(const uint8_t pw_hash[SB_SHA256_LEN],
						 const uint8_t *salt, size_t saltlen,
						 int iterations)
{
	for (int i = 0; i < SCRAM_CACHE_SLOTS; i++) {
		struct scram_cache_slot *e = &scram_cache[i];
		if (e->used && e->iterations == iterations && e->saltlen == saltlen &&
		    memcmp(e->salt, salt, saltlen) == 0 &&
		    sb_ct_equal(e->pw_hash, pw_hash, SB_SHA256_LEN))
			return e;
	}
	return NULL;
}

static int derive_keys(const char *password, size_t n, const uint8_t *salt,
		       size_t saltlen, int iterations,
		       uint8_t client_key[SB_SHA256_LEN],
		       uint8_t stored_key[SB_SHA256_LEN],
		       uint8_t server_key[SB_SHA256_LEN])
{
	uint8_t salted[SB_SHA256_LEN], pw_hash[SB_SHA256_LEN];
	if (!password || !salt || saltlen == 0 || iterations < 1)
		return -1;
	sb_sha256(password, n, pw_hash);
	struct scram_cache_slot *hit = saltlen <= SCRAM_CACHE_SALT_MAX
					       ? scram_cache_find(pw_hash, salt, saltlen, iterations)
					       : NULL;
	if (hit) {
		memcpy(client_key, hit->client_key, SB_SHA256_LEN);
		memcpy(stored_key, hit->stored_key, SB_SHA256_LEN);
		memcpy(server_key, hit->server_key, SB_SHA256_LEN);
		sb_wipe(pw_hash, sizeof pw_hash);
		return 0;
	}
	if (sb_pbkdf2_sha256(password, n, salt, saltlen, iterations, salted) != 0) {
		sb_wipe(salted, sizeof salted);
		return -1;
	}
	sb_hmac_sha256(salted, sizeof salted, "Client Key", 10, client_key);
	sb_sha256(client_key, SB_SHA256_LEN, stored_key);
	sb_hmac_sha256(salted, sizeof salted, "Server Key", 10, server_key);
	sb_wipe(salted, sizeof salted);
	if (saltlen <= SCRAM_CACHE_SALT_MAX) {
		struct scram_cache_slot *e = &scram_cache[scram_cache_next++ % SCRAM_CACHE_SLOTS];
		sb_wipe(e, sizeof *e);
		e->used = 1;
		memcpy(e->pw_hash, pw_hash, sizeof pw_hash);
		memcpy(e->salt, salt, saltlen);
		e->saltlen = saltlen;
		e->iterations = iterations;
		memcpy(e->client_key, client_key, SB_SHA256_LEN);
		memcpy(e->stored_key, stored_key, SB_SHA256_LEN);
		memcpy(e->server_key, server_key, SB_SHA256_LEN);
	}
	sb_wipe(pw_hash, sizeof pw_hash);
	return 0;
}

/* ---------------------------------------------------------------- server */

int pg_scram_server_first(struct pg_scram_server *s, const char *msg, size_t n,
			  const uint8_t *salt, size_t saltlen, int iterations,
			  char *err, size_t errlen)
{
	struct scan sc;
	struct field flag, authz, f, user, cnonce;
	char snonce[PG_SCRAM_NONCE_B64 + 1];
	char salt64[PG_SCRAM_MSG_MAX];
	const char *bare;
	int len;

	if (!s)
		return -1;
	memset(s, 0, sizeof *s);
	if (!salt || saltlen == 0 || iterations < 1) {
		set_err(err, errlen, "invalid SCRAM verifier");
		return -1;
	}
	if (check_msg(msg, n, err, errlen) != 0)
		goto fail_quiet;
	scan_init(&sc, msg, n);

	/* gs2-header = gs2-cbind-flag "," [ authzid ] "," (RFC 5802 s7) */
	if (next_field(&sc, &flag) != 0 || flag.len == 0)
		goto malformed;
	if (flag.len >= 2 && flag.s[0] == 'p' && flag.s[1] == '=') {
		set_err(err, errlen,
			"client requires SCRAM channel binding, which is not supported");
		goto fail_quiet;
	}
	if (flag.len != 1 || (flag.s[0] != 'n' && flag.s[0] != 'y'))
		goto malformed;
	/* 'y': the client could bind but thinks we cannot. We never offer
	 * SCRAM-SHA-256-PLUS, so that is true and no downgrade happened. */
	if (next_field(&sc, &authz) != 0 || sc.done)
		goto malformed;
	if (authz.len != 0) {
		/* PostgreSQL refuses any authzid; the role is the startup one. */
		int is_a = authz.len >= 2 && authz.s[0] == 'a' && authz.s[1] == '=';
		set_err(err, errlen,
			is_a ? "SCRAM authorization identity is not supported"
			     : "malformed SCRAM client-first-message (gs2 header)");
		goto fail_quiet;
	}
	memcpy(s->gs2_header, flag.s, 1);
	memcpy(s->gs2_header + 1, ",,", 3);

	/* client-first-message-bare = [reserved-mext ","] username "," nonce
	 * ["," extensions] */
	bare = sc.p;
	if (next_field(&sc, &f) != 0)
		goto malformed;
	if (f.len >= 2 && f.s[0] == 'm' && f.s[1] == '=') {
		set_err(err, errlen, "SCRAM mandatory extensions are not supported");
		goto fail_quiet;
	}
	if (!is_attr(&f, 'n', &user) || !is_saslname(&user) || sc.done)
		goto malformed;
	if (next_field(&sc, &f) != 0 || !is_attr(&f, 'r', &cnonce) ||
	    !is_printable(&cnonce))
		goto malformed;
	/* Optional extensions: PostgreSQL ignores them, so do we, but they
	 * must be well-formed. */
	while (next_field(&sc, &f) == 0)
		if (!is_extension(&f))
			goto malformed;
	memcpy(s->client_first_bare, bare, (size_t)(sc.end - bare));
	s->client_first_bare[sc.end - bare] = '\0';

	if (cnonce.len + PG_SCRAM_NONCE_B64 >= sizeof s->nonce)
		goto malformed;
	if (make_nonce(snonce) != 0) {
		set_err(err, errlen, "could not generate SCRAM nonce");
		goto fail_quiet;
	}
	memcpy(s->nonce, cnonce.s, cnonce.len);
	memcpy(s->nonce + cnonce.len, snonce, PG_SCRAM_NONCE_B64 + 1);

	if (sb_base64_encode(salt, saltlen, salt64, sizeof salt64) < 0) {
		set_err(err, errlen, "invalid SCRAM verifier (salt too long)");
		goto fail_quiet;
	}
	len = snprintf(s->server_first, sizeof s->server_first, "r=%s,s=%s,i=%d",
			   s->nonce, salt64, iterations);
	if (len < 0 || (size_t)len >= sizeof s->server_first) {
		set_err(err, errlen, "SCRAM server-first-message too long");
		goto fail_quiet;
	}
	return 0;

malformed:
	set_err(err, errlen, "malformed SCRAM client-first-message");
fail_quiet:
	memset(s, 0, sizeof *s);
	return -1;
}

int pg_scram_server_final(struct pg_scram_server *s, const char *msg, size_t n,
			  uint8_t proof[SB_SHA256_LEN], char *err, size_t errlen)
{
	struct scan sc;
	struct field f, val, proof64 = {0};
	char cbind[sizeof s->gs2_header * 2];
	uint8_t p[SB_SHA256_LEN + 3];
	size_t without_proof = 0, pos = 0;

	if (!s || !proof)
		return -1;
	memset(proof, 0, SB_SHA256_LEN);
	s->auth_message[0] = '\0';
	s->auth_message_len = 0;
	if (s->nonce[0] == '\0' || s->gs2_header[0] == '\0' ||
	    s->server_first[0] == '\0') {
		set_err(err, errlen, "SCRAM client-final-message out of sequence");
		return -1;
	}
	if (check_msg(msg, n, err, errlen) != 0)
		return -1;
	scan_init(&sc, msg, n);

	/* client-final-message = channel-binding "," nonce ["," extensions]
	 * "," proof. With flag 'n'/'y' there is no cbind-data, so c= is
	 * exactly base64(gs2-header): "biws" or "eSws" (RFC 5802 s7). */
	if (next_field(&sc, &f) != 0 || !is_attr(&f, 'c', &val) || sc.done)
		goto malformed;
	if (sb_base64_encode(s->gs2_header, strlen(s->gs2_header), cbind,
			     sizeof cbind) < 0)
		goto malformed;
	if (val.len != strlen(cbind) || memcmp(val.s, cbind, val.len) != 0) {
		set_err(err, errlen, "SCRAM channel binding check failed");
		return -1;
	}
	if (next_field(&sc, &f) != 0 || !is_attr(&f, 'r', &val) || sc.done)
		goto malformed;
	if (val.len != strlen(s->nonce) || memcmp(val.s, s->nonce, val.len) != 0) {
		set_err(err, errlen, "SCRAM nonce does not match");
		return -1;
	}
	/* Extensions (ignored, as PostgreSQL does), then the proof, last. */
	while (next_field(&sc, &f) == 0) {
		if (is_attr(&f, 'p', &proof64)) {
			if (!sc.done)
				goto malformed; /* garbage after the proof */
			without_proof = (size_t)(f.s - msg) - 1; /* drop the ',' */
			break;
		}
		if (!is_extension(&f))
			goto malformed;
	}
	if (!proof64.s)
		goto malformed;
	if (proof64.len != 44 ||
	    sb_base64_decode(proof64.s, proof64.len, p, sizeof p) != SB_SHA256_LEN) {
		set_err(err, errlen, "malformed SCRAM proof");
		return -1;
	}

	/* AuthMessage = client-first-message-bare "," server-first-message ","
	 * client-final-message-without-proof (RFC 5802 section 3). */
	if (append_str(s->auth_message, sizeof s->auth_message, &pos,
		       s->client_first_bare) != 0 ||
	    append(s->auth_message, sizeof s->auth_message, &pos, ",", 1) != 0 ||
	    append_str(s->auth_message, sizeof s->auth_message, &pos,
		       s->server_first) != 0 ||
	    append(s->auth_message, sizeof s->auth_message, &pos, ",", 1) != 0 ||
	    append(s->auth_message, sizeof s->auth_message, &pos, msg,
		   without_proof) != 0) {
		s->auth_message[0] = '\0';
		goto malformed;
	}
	s->auth_message_len = pos;
	memcpy(proof, p, SB_SHA256_LEN);
	return 0;

malformed:
	set_err(err, errlen, "malformed SCRAM client-final-message");
	return -1;
}

int pg_scram_server_final_message(const uint8_t sig[SB_SHA256_LEN], char *out,
				  size_t cap)
{
	char b64[45];
	if (!sig || !out || cap < 3 + 44)
		return -1;
	if (sb_base64_encode(sig, SB_SHA256_LEN, b64, sizeof b64) != 44)
		return -1;
	memcpy(out, "v=", 2);
	memcpy(out + 2, b64, 45);
	return 2 + 44;
}

int pg_scram_make_verifier(const char *password, size_t n, const uint8_t *salt,
			   size_t saltlen, int iterations,
			   uint8_t stored_key[SB_SHA256_LEN],
			   uint8_t server_key[SB_SHA256_LEN])
{
	uint8_t client_key[SB_SHA256_LEN];
	if (!stored_key || !server_key)
		return -1;
	int rc = derive_keys(password, n, salt, saltlen, iterations, client_key,
			     stored_key, server_key);
	sb_wipe(client_key, sizeof client_key);
	if (rc != 0) {
		sb_wipe(stored_key, SB_SHA256_LEN);
		sb_wipe(server_key, SB_SHA256_LEN);
	}
	return rc;
}

/* ---------------------------------------------------------------- client */

/* An all-zero server_signature means "not computed": client_first clears it
 * and only a successful client_final sets it (an HMAC output of zero has
 * probability 2^-256), so verify cannot pass out of sequence. */
static int sig_unset(const uint8_t sig[SB_SHA256_LEN])
{
	uint8_t acc = 0;
	for (size_t i = 0; i < SB_SHA256_LEN; i++)
		acc |= sig[i];
	return acc == 0;
}

int pg_scram_client_first(struct pg_scram_client *c, char *out, size_t cap)
{
	char nonce[PG_SCRAM_NONCE_B64 + 1];
	size_t pos = 0;

	if (!c || !out)
		return -1;
	memset(c, 0, sizeof *c);
	if (make_nonce(nonce) != 0)
		return -1;
	/* Empty n=: PostgreSQL ignores the SCRAM user name (libpq sends none). */
	memcpy(c->nonce, nonce, sizeof nonce);
	snprintf(c->client_first_bare, sizeof c->client_first_bare, "n=,r=%s", nonce);
	if (cap == 0 || append(out, cap, &pos, "n,,", 3) != 0 ||
	    append_str(out, cap, &pos, c->client_first_bare) != 0) {
		memset(c, 0, sizeof *c);
		return -1;
	}
	return (int)pos;
}

/* i = posit-number = %x31-39 *DIGIT (RFC 5802 s7), within our bounds. */
static int parse_iterations(const struct field *f, int *out)
{
	long v = 0;
	if (f->len == 0 || f->len > 8 || f->s[0] < '1' || f->s[0] > '9')
		return -1;
	for (size_t i = 0; i < f->len; i++) {
		if (f->s[i] < '0' || f->s[i] > '9')
			return -1;
		v = v * 10 + (f->s[i] - '0');
	}
	if (v < ITER_MIN || v > ITER_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

int pg_scram_client_final(struct pg_scram_client *c, const char *password,
			  const char *server_first, size_t n, char *out, size_t cap,
			  char *err, size_t errlen)
{
	struct scan sc;
	struct field f, rnonce, salt64, iter;
	uint8_t salt[PG_SCRAM_MSG_MAX];
	uint8_t client_key[SB_SHA256_LEN], stored_key[SB_SHA256_LEN],
		server_key[SB_SHA256_LEN], client_sig[SB_SHA256_LEN],
		proof[SB_SHA256_LEN];
	char auth[3 * PG_SCRAM_MSG_MAX];
	char proof64[45];
	size_t pos = 0, apos = 0, ourlen;
	int saltlen, iterations = 0, rc = -1;

	if (!c)
		return -1;
	memset(c->server_signature, 0, sizeof c->server_signature);
	if (!password || !out || cap == 0) {
		set_err(err, errlen, "invalid arguments");
		return -1;
	}
	out[0] = '\0';
	ourlen = strnlen(c->nonce, sizeof c->nonce);
	if (ourlen == 0 || ourlen == sizeof c->nonce) {
		set_err(err, errlen, "SCRAM server-first-message out of sequence");
		return -1;
	}
	if (check_msg(server_first, n, err, errlen) != 0)
		return -1;
	scan_init(&sc, server_first, n);

	/* server-first-message = [reserved-mext ","] nonce "," salt ","
	 * iteration-count ["," extensions]. Like libpq we accept no
	 * extensions: PostgreSQL sends none. */
	if (next_field(&sc, &f) != 0)
		goto malformed;
	if (f.len >= 2 && f.s[0] == 'm' && f.s[1] == '=') {
		set_err(err, errlen, "SCRAM mandatory extensions are not supported");
		return -1;
	}
	if (!is_attr(&f, 'r', &rnonce) || !is_printable(&rnonce) || sc.done)
		goto malformed;
	if (rnonce.len <= ourlen || memcmp(rnonce.s, c->nonce, ourlen) != 0) {
		set_err(err, errlen, "SCRAM server nonce does not extend ours");
		return -1;
	}
	if (next_field(&sc, &f) != 0 || !is_attr(&f, 's', &salt64) || sc.done)
		goto malformed;
	saltlen = sb_base64_decode(salt64.s, salt64.len, salt, sizeof salt);
	if (saltlen <= 0) {
		set_err(err, errlen, "malformed SCRAM salt");
		return -1;
	}
	if (next_field(&sc, &f) != 0 || !is_attr(&f, 'i', &iter))
		goto malformed;
	if (!sc.done) {
		set_err(err, errlen,
			"malformed SCRAM server-first-message (garbage at end)");
		return -1;
	}
	if (parse_iterations(&iter, &iterations) != 0) {
		set_err(err, errlen, "SCRAM iteration count out of range");
		return -1;
	}

	/* client-final-message-without-proof into out, AuthMessage into auth. */
	if (append(out, cap, &pos, "c=biws,r=", 9) != 0 ||
	    append(out, cap, &pos, rnonce.s, rnonce.len) != 0)
		goto toolong;
	if (append_str(auth, sizeof auth, &apos, c->client_first_bare) != 0 ||
	    append(auth, sizeof auth, &apos, ",", 1) != 0 ||
	    append(auth, sizeof auth, &apos, server_first, n) != 0 ||
	    append(auth, sizeof auth, &apos, ",", 1) != 0 ||
	    append(auth, sizeof auth, &apos, out, pos) != 0)
		goto toolong;

	if (derive_keys(password, strlen(password), salt, (size_t)saltlen,
			iterations, client_key, stored_key, server_key) != 0) {
		set_err(err, errlen, "SCRAM key derivation failed");
		goto done;
	}
	sb_hmac_sha256(stored_key, sizeof stored_key, auth, apos, client_sig);
	for (size_t i = 0; i < SB_SHA256_LEN; i++)
		proof[i] = client_key[i] ^ client_sig[i];
	if (sb_base64_encode(proof, sizeof proof, proof64, sizeof proof64) != 44 ||
	    append(out, cap, &pos, ",p=", 3) != 0 ||
	    append(out, cap, &pos, proof64, 44) != 0)
		goto toolong;
	sb_hmac_sha256(server_key, sizeof server_key, auth, apos,
		       c->server_signature);
	rc = (int)pos;
	goto done;

malformed:
	set_err(err, errlen, "malformed SCRAM server-first-message");
	goto done;
toolong:
	set_err(err, errlen, "SCRAM client-final-message does not fit");
done:
	if (rc < 0) {
		out[0] = '\0';
		memset(c->server_signature, 0, sizeof c->server_signature);
	}
	sb_wipe(client_key, sizeof client_key);
	sb_wipe(stored_key, sizeof stored_key);
	sb_wipe(server_key, sizeof server_key);
	sb_wipe(client_sig, sizeof client_sig);
	sb_wipe(proof, sizeof proof);
	sb_wipe(proof64, sizeof proof64);
	return rc;
}

int pg_scram_client_verify(const struct pg_scram_client *c, const char *msg,
			   size_t n)
{
	uint8_t sig[SB_SHA256_LEN + 3];

	if (!c || sig_unset(c->server_signature))
		return -1;
	if (check_msg(msg, n, NULL, 0) != 0)
		return -1;
	/* server-final-message = (server-error / verifier) ["," extensions];
	 * "e=<error>" is a failure, and like libpq we take no extensions. */
	if (n != 2 + 44 || msg[0] != 'v' || msg[1] != '=')
		return -1;
	if (sb_base64_decode(msg + 2, 44, sig, sizeof sig) != SB_SHA256_LEN)
		return -1;
	return sb_ct_equal(sig, c->server_signature, SB_SHA256_LEN) ? 0 : -1;
}

/* ------------------------------------------------------------------- md5 */

/* md5 of the concatenation a || b into hex (33 bytes). 0 or -1. */
static int md5_hex2(const void *a, size_t alen, const void *b, size_t blen,
		    char hex[33])
{
	uint8_t d[16];
	unsigned int dlen = 0;
	int ok = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    EVP_DigestUpdate(ctx, b, blen) == 1 &&
	    EVP_DigestFinal_ex(ctx, d, &dlen) == 1 && dlen == sizeof d)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	if (ok)
		sb_hex(d, sizeof d, hex);
	sb_wipe(d, sizeof d);
	return ok ? 0 : -1;
}

/* PostgreSQL (src/common/md5_common.c pg_md5_encrypt, used twice): the
 * stored form is "md5" + md5hex(password || user); the wire response to
 * AuthenticationMD5Password is "md5" + md5hex(md5hex(password || user) ||
 * salt). If MD5 is unavailable (FIPS provider) out is the empty string,
 * which matches no valid response. */
void pg_md5_password(const char *user, const char *password,
		     const uint8_t salt[4], char out[36])
{
	char inner[33];
	if (!out)
		return;
	out[0] = '\0';
	if (!user || !password || !salt)
		return;
	if (md5_hex2(password, strlen(password), user, strlen(user), inner) == 0 &&
	    md5_hex2(inner, 32, salt, 4, out + 3) == 0)
		memcpy(out, "md5", 3);
	else
		out[0] = '\0';
	sb_wipe(inner, sizeof inner);
}
