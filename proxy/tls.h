/* tls: OpenSSL contexts for both roles.
 *
 * Server role (clients → proxy): the configured certificate and key, TLS 1.2
 * minimum. Backend role (proxy → database): one context without
 * verification (asset tls = prefer/require, as libpq's sslmode=require) and
 * one that verifies the chain against backend_ca or the system store
 * (verify-full; the host name/IP is checked per connection in session.c).
 */
#ifndef SB_TLS_H
#define SB_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

SSL_CTX *tls_server_ctx_new(const char *cert, const char *key, char *err, size_t errlen);
SSL_CTX *tls_backend_ctx_new(int verify, const char *ca_file, char *err, size_t errlen);

#endif
