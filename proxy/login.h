/* login: the core's login services, shared by every frontend.
 *
 * A frontend reads its protocol's login exchange and asks this module to
 * check what the client proved (a token in clear, a SCRAM proof, a scramble
 * against the token verifiers) or takes an identity another entry path
 * already authenticated (login_set_identity: an SSH channel, the web
 * console, no second password check). From there one tail serves every
 * protocol: a refusal is audited as login_failed with its reason while the
 * client hears only its protocol's generic answer (struct protocol
 * login_refused); an accepted login fetches the hosted secret, loads what
 * the asset allows it to go out by and connects the backend; the login
 * record; the relay of bytes that arrived early. The login timers and the
 * backend's errors during the login are the shared router's
 * (protocols/dispatch.c), which calls login_backend_failed.
 *
 * Frontends never touch the state DB, the master key or the secret code:
 * they go through here. The hosted secret lives in struct login (owned by
 * the frontend's connection, wiped by login_wipe_secret/login_free) only
 * while the backend login needs it.
 */
#ifndef SB_LOGIN_H
#define SB_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/auth.h"
#include "proxy/backend_auth.h"
#include "lib/crypto.h"
#include "protocols/protocol.h"

struct session;
struct identity;

/* One login of one session (a frontend embeds it; zeroed = empty). */
struct login {
	char user[SB_NAME_MAX];   /* the bastion user as the client sent it (audit "user") */
	int user_set;             /* user was given (else the audit's user is null) */
	const char *verb;         /* static: audit verb of this login, NULL or "change_user" */
	char *secret;             /* owned, wiped: hosted password, NUL-terminated, in
				     SB_SECRET_MAX bytes made by login_start_backend,
				     while the backend login needs it; NULL otherwise */
	struct backend_auth bauth; /* what the asset lets the secret go out by */
	const char *client_info;   /* borrowed, NULL = none: what the client said of itself
				      (TNS CID: program, host, OS user) as a JSON object,
				      written as the login and login_failed records' params */
	/* Set by the frontend before login_start_backend when the client
	 * authenticates to the database itself, end to end (a not-hosted
	 * account on the SSH entry; TNS always): no secret is fetched. A
	 * not-hosted account without it is refused (LOGIN_REFUSE_NOT_HOSTED). */
	int end_to_end;
};

/* What a client hears when its account is not hosted and its path cannot
 * carry its own database password (LOGIN_REFUSE_NOT_HOSTED). */
#define LOGIN_NOT_HOSTED_MESSAGE                                                  \
	"sqlbastion: this account is not hosted: connect through the SSH entry and " \
	"give the database password there"

/* Copy the user name as the client sent it into l->user. 0, or -1 when it
 * does not fit (l->user then holds the truncated name for the audit). */
int login_set_user(struct login *l, const char *user);

/* ---- checking what the client proved (auth.h rules apply to each) ---- */

/* A token in clear (PostgreSQL password, mysql_clear_password, caching_sha2
 * full authentication). On AUTH_OK the session's identity target is set.
 * Else reason says why (for the audit only). */
enum auth_status login_check_token(struct session *s, struct login *l, const char *token,
				   size_t len, char *reason, size_t reasonlen)
	__attribute__((warn_unused_result));

/* A token that is the whole proof and names its own user (TNS: the token
 * is the SERVICE_NAME; the protocol carries no bastion user). l->user is
 * set to the token's owner once the token is found (the audit's user).
 * AUTH_OK sets the identity target; else reason says why (audit only). */
enum auth_status login_check_token_only(struct session *s, struct login *l, const char *token,
					size_t len, char *reason, size_t reasonlen)
	__attribute__((warn_unused_result));

/* SCRAM-SHA-256 step 1: salt and iterations for l->user (a fake but stable
 * salt for an unknown user). 0, or -1 on a state DB error. */
int login_scram_params(struct session *s, const struct login *l,
		       uint8_t salt[SB_SCRAM_SALT_LEN], int *iterations)
	__attribute__((warn_unused_result));

/* SCRAM-SHA-256 step 2: the client's proof over auth_message. On AUTH_OK
 * the identity target is set and server_signature filled. */
enum auth_status login_check_scram(struct session *s, struct login *l,
				   const char *auth_message, size_t auth_message_len,
				   const uint8_t proof[SB_SHA256_LEN],
				   uint8_t server_signature[SB_SHA256_LEN], char *reason,
				   size_t reasonlen) __attribute__((warn_unused_result));

/* A challenge-response that can only be checked against each of the
 * user's token verifiers (MySQL native and caching_sha2 fast path): match
 * is called with each verifier's SHA1(SHA1(token)) and SHA256(SHA256(token))
 * and returns 1 on a match. Lockout applies first: a locked-out login looks
 * like a wrong token. With more_steps set (the protocol can still ask for
 * the token itself), a miss counts no failure and sets *no_match: the next
 * step's check counts it. Returns AUTH_OK (identity target set), AUTH_REFUSED
 * ("unknown user", "bad token", a lock, a later rule), AUTH_ERROR. */
enum auth_status login_check_verifiers(struct session *s, struct login *l,
				       int (*match)(void *ctx,
						    const uint8_t native[SB_SHA1_LEN],
						    const uint8_t sha2[SB_SHA256_LEN]),
				       void *ctx, int more_steps, int *no_match, char *reason,
				       size_t reasonlen) __attribute__((warn_unused_result));

/* An identity another entry path authenticated (its target filled by that
 * path's own checks): the session takes it as its login, with no second
 * password check. Copies the target and the database. 0, or -1 when the
 * identity is not logged in or is for another protocol. */
int login_set_identity(struct session *s, struct login *l, const struct identity *who)
	__attribute__((warn_unused_result));

/* The session came with an identity another entry path established
 * (sess_new_preset: an SSH channel). Call where the frontend would ask
 * for the client's proof: returns 0 when there is none (check the proof as
 * usual); 1 when the preset was taken as this login, with no password
 * asked and any the client sends ignored (the session is logged in: go on
 * as after a good check, i.e. the connect state and login_start_backend);
 * -1 when it was refused (audited; the session is ending). The database
 * the client asked for is kept. */
int login_preset(struct session *s, struct login *l) __attribute__((warn_unused_result));

/* ---- the daemon's defences (login_guard.h) for the session's source ---- */

/* What the client is told is why when a defence refuses its login. */
#define LOGIN_TOO_MANY "too many logins from this address; try again later"

/* A credential check is about to run (state DB reads, HMACs): 1 go ahead,
 * 0 refuse the login (over logins_per_source a second). */
int login_allow_check(struct session *s) __attribute__((warn_unused_result));

/* An expensive login step (RSA decryption) is about to run: 1 go ahead, 0
 * refuse the login (over expensive_logins_per_source). */
int login_allow_expensive(struct session *s) __attribute__((warn_unused_result));

/* ---- the tail ---- */

/* After a check: AUTH_OK marks the session logged in and returns 0 (the
 * frontend enters its connect state and calls login_start_backend);
 * otherwise the login is refused with the reason (an AUTH_ERROR is logged
 * too) and -1 returned. */
int login_checked(struct session *s, struct login *l, enum auth_status st, const char *reason);

/* Fetch the hosted secret into l->secret, load the asset's backend auth
 * options and connect the backend (SESS_EV_CONNECTED follows). A failure
 * refuses the login. A not-hosted account (target.hosted = 0) connects with
 * no secret when l->end_to_end is set and is refused otherwise. Returns 0 started, -1 refused. The frontend is in
 * its connect state already (a refusal moves it on). */
int login_start_backend(struct session *s, struct login *l);

/* Audit login_failed (user as sent, l->verb, reason); the session is no
 * longer logged in. Tells the client nothing: for a frontend that words
 * the refusal itself (a malformed startup, TLS required, the server's own
 * error relayed). */
void login_audit_failed(struct session *s, const struct login *l, const char *reason);

/* Refuse the login: login_audit_failed, then the protocol's generic refusal
 * (LOGIN_REFUSE_AUTH) and the session ends once it is out. Nothing when the
 * session is already ending. */
void login_refuse(struct session *s, const struct login *l, const char *reason);

/* The hosted account's login failed: "backend login failed: <why>" is
 * logged and audited, the client hears LOGIN_REFUSE_BACKEND. Nothing when
 * the session is already ending. */
void login_backend_failed(struct session *s, const struct login *l, const char *why);

/* The backend let the hosted account in: write the login record (verb
 * l->verb; a first login is marked weak-auth per l->bauth, a change_user
 * logs in to nothing new), wipe the secret, arm the idle timer
 * and log "<what> <detail>" ("logged in to A as U (level L<detail>)").
 * Returns 0; -1 when the record could not be written and on_failure =
 * close: the client heard LOGIN_REFUSE_AUDIT and the session ends. */
int login_complete(struct session *s, struct login *l, const char *detail)
	__attribute__((warn_unused_result));

/* The session became ready: what the backend or the client sent early is
 * relayed now (the frontend's READ handling, backend first). */
void login_relay_early(struct session *s);

/* Wipe and free the secret (once the backend login no longer needs it). */
void login_wipe_secret(struct login *l);

/* Free what l owns (secret wiped). */
void login_free(struct login *l);

#endif
