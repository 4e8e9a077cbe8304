/* pg_passthrough_auth: the end-to-end login of a PostgreSQL session whose
 * account is not hosted (account add ... --not-hosted), on the SSH entry.
 *
 * The SSH login already established who the engineer is and which asset
 * and account the token is for; the proxy knows no password for that
 * account, so the database checks the engineer's own. The proxy sends the
 * backend a StartupMessage naming the account's user name (the name the
 * client typed is ignored, as on every SSH channel), then relays the
 * backend's authentication requests to the client and the client's
 * answers (PasswordMessage, SASLInitialResponse, SASLResponse) to the
 * backend, untouched, until AuthenticationOk or an error. From
 * AuthenticationOk on the session goes the usual way (pg_login.c): the
 * login record, ParameterStatus, our BackendKeyData, the relay with policy
 * and audit.
 *
 * Channel binding cannot survive two TLS legs (the client would bind to
 * the proxy's certificate, the server checks its own), so
 * SCRAM-SHA-256-PLUS is struck from the server's mechanism list, and a
 * client inside the tunnel is not offered TLS when the backend leg may
 * use TLS: a client with channel_binding=prefer (libpq's and pgJDBC's
 * default) on TLS would send the "y" flag ("I could bind, you did not
 * offer it"), which a TLS server that offers -PLUS rejects as a downgrade
 * (RFC 5802 section 6). The SSH channel already encrypts the client leg.
 * A client that demands channel binding fails, in its own words.
 *
 * A cleartext or md5 password crosses the backend leg under the asset's
 * rule for a hosted secret (proxy/backend_auth.h: verify-full TLS, or
 * --allow-weak-auth yes, audited as weak-auth). md5 hashes the user name
 * with the password: the client must give the account's user name there
 * (SCRAM and cleartext do not depend on it).
 */
#ifndef SB_PG_PASSTHROUGH_AUTH_H
#define SB_PG_PASSTHROUGH_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct pg_conn;
struct session;

/* Does this session log in end to end (a preset identity from the SSH
 * entry whose account is not hosted)? */
int pg_pt_wanted(const struct session *s);

/* Answer 'N' to the client's SSLRequest instead of starting TLS? (See
 * above: an end-to-end login whose backend leg may use TLS.) */
int pg_pt_declines_tls(const struct session *s);

/* The backend's authentication request `code` (data, dlen after the code)
 * during an end-to-end login, other than AuthenticationOk: relayed to the
 * client (a SASL list without the -PLUS mechanisms), or the login fails
 * (a method that cannot be relayed, no mechanism left). May close. */
void pg_pt_backend_auth(struct pg_conn *c, uint32_t code, const uint8_t *data, size_t dlen);

/* The client's input while the backend authenticates it end to end: each
 * whole PasswordMessage-type ('p') message answering a relayed request is
 * forwarded to the backend; anything else ends the session. May close. */
void pg_pt_client_read(struct pg_conn *c);

/* The backend's ErrorResponse (body b, n) during an end-to-end login: the
 * client hears the server's own SQLSTATE and message (it is the
 * engineer's own password the server refused), the audit records
 * login_failed "backend login failed: <code> <message>", and the session
 * ends. */
void pg_pt_backend_error(struct pg_conn *c, const uint8_t *b, size_t n);

/* The SASL mechanism list `in` (n bytes: NUL-terminated names, then an
 * empty one) without the channel-binding (-PLUS) mechanisms, into out (cap
 * bytes) in the same format. Returns its length (>= 2: at least one
 * mechanism and the final NUL), 0 when no mechanism is left, -1 when `in`
 * is malformed or does not fit. Pure (fuzzed). */
int pg_pt_filter_mechanisms(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
