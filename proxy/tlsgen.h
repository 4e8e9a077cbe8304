/* tlsgen: make a self-signed server certificate for a fresh install.
 *
 * `sqlbastionctl init` calls this when the configured tls_cert / tls_key do
 * not exist, so the proxy can offer TLS from the first start. The result is
 * an EC P-256 key and an X.509 v3 certificate for common_name, with
 * subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1 (plus DNS:common_name
 * when it is a host name other than localhost), valid 825 days (the CA/B
 * forum limit clients still accept for leaf certificates). Operators replace
 * both files with CA-issued ones for production; clients can pin this one
 * (sslrootcert=server.crt, sslmode=verify-full).
 */
#ifndef SB_TLSGEN_H
#define SB_TLSGEN_H

#include <stddef.h>

#define TLSGEN_DAYS 825

/* Write a new key (PEM, PKCS#8, mode 0600) to key_path and its self-signed
 * certificate (PEM, mode 0644) to cert_path, replacing existing files
 * atomically (write to "<path>.tmp", then rename). Missing parent
 * directories are created with mode 0700. Returns 0, or -1 with err filled. */
int tlsgen_self_signed(const char *cert_path, const char *key_path,
		       const char *common_name, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
