/* my_passthrough_auth: the end-to-end login of a MySQL / MariaDB session
 * whose account is not hosted (account add ... --not-hosted), on the SSH
 * entry.
 *
 * The SSH login established who the engineer is and which asset and
 * account the token is for; the proxy knows no password for that account,
 * so the server checks the engineer's own. A MySQL client answers a
 * nonce the server chose, so the proxy cannot greet first as it does on
 * the direct port: it connects the backend first, greets the client with
 * the backend's nonce and auth plugin (and the proxy's own version string
 * and capability offer, without TLS: the SSH channel encrypts this leg),
 * then sends the backend a HandshakeResponse41 built from the client's
 * with the account's user name in place of the one typed (the proxy's
 * capabilities, the client's auth data untouched). From there the
 * server's auth switch requests, caching_sha2_password's AuthMoreData and
 * its public key go to the client and the client's answers to the server,
 * unread, until the server's OK or ERR. The OK goes the usual way
 * (my_login.c: read-only setup for a read grant, the login record, the
 * relay with policy and audit); an ERR reaches the client in the server's
 * own words and is audited.
 *
 * caching_sha2_password full authentication (cache miss): over a plain
 * backend leg the client encrypts to the asset's pinned key (asset
 * --server-public-key: the proxy answers the client's key request with
 * it) or, where the asset allows weak auth, to the key the server sends
 * (relayed; the client XORs with the server's nonce, which it has). Over
 * a TLS backend leg the server expects the password in clear, which the
 * plain client leg never sends: the proxy answers the key request with its
 * own RSA key (my_client_rsa), decrypts the client's ciphertext and sends
 * the password inside TLS, under the same rule as mysql_clear_password:
 * verify-full TLS, or --allow-weak-auth yes (proxy/backend_auth.h, the
 * rule for a hosted secret; audited as weak-auth).
 *
 * COM_CHANGE_USER in such a session asks for a token, as everywhere: the
 * database password cannot be checked there, so it is refused.
 */
#ifndef SB_MY_PASSTHROUGH_AUTH_H
#define SB_MY_PASSTHROUGH_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct my_conn;
struct session;

/* Does this session log in end to end (a preset identity from the SSH
 * entry whose account is not hosted)? */
int my_pt_wanted(const struct session *s);

/* At accept, instead of the proxy's greeting: take the preset identity as
 * the login and connect the backend. 0 started, -1 refused (the client
 * hears why; the session ends). */
int my_pt_start(struct my_conn *c);

/* A backend packet (payload b, n) during the end-to-end login, before the
 * server's OK: its greeting (relayed as ours), an auth switch, AuthMoreData
 * or ERR. May close. */
void my_pt_backend_packet(struct my_conn *c, const uint8_t *b, size_t n);

/* The client's input during the end-to-end login: its handshake response
 * (then the backend login goes on as my_login.c does it), or its answer to
 * a relayed request (forwarded). Anything else ends the session. */
void my_pt_client_read(struct my_conn *c);

/* Build and send the backend's HandshakeResponse41 from the client's (on
 * the plain connection, or once the backend's TLS is up). */
void my_pt_send_response(struct my_conn *c);

/* Free what the end-to-end login holds (wiped). */
void my_pt_free(struct my_conn *c);

#endif
