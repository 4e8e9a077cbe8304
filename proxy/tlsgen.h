/* tlsgen: make the proxy's server certificate for a fresh install.
 *
 * `sqlbastionctl init` calls this when the configured tls_cert / tls_key do
 * not exist, so the proxy can offer TLS from the first start. The result is
 * an EC P-256 key and an X.509 v3 certificate for common_name, with
 * subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1 (plus DNS:common_name
 * when it is a host name other than localhost), valid 825 days (the CA/B
 * forum limit clients still accept for leaf certificates).
 *
 * init uses tlsgen_ca_signed: a small local CA (ca.crt + ca.key beside the
 * server certificate) signs it, so clients that verify the server trust
 * ca.crt (psql sslrootcert=ca.crt sslmode=verify-full, mariadb --ssl-ca,
 * JDBC sslrootcert / serverSslCert). Operators may instead install a
 * CA-issued tls_cert / tls_key, which init then leaves alone.
 */
#ifndef SB_TLSGEN_H
#define SB_TLSGEN_H

#include <stddef.h>

#define TLSGEN_DAYS 825
#define TLSGEN_CA_DAYS 3650

/* Write a new key (PEM, PKCS#8, mode 0600) to key_path and its self-signed
 * certificate (PEM, mode 0644) to cert_path, replacing existing files
 * atomically (write to "<path>.tmp", then rename). Missing parent
 * directories are created with mode 0700. Returns 0, or -1 with err filled. */
int tlsgen_self_signed(const char *cert_path, const char *key_path,
		       const char *common_name, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Write a new server key and certificate (as tlsgen_self_signed) issued by
 * the local CA in ca_cert / ca_key: an existing CA (both files, a CA
 * certificate matching its key) is reused; when neither file exists a new
 * one is made (EC P-256, CA:TRUE pathlen 0, TLSGEN_CA_DAYS, key mode 0600)
 * and *made_ca set to 1. One file without the other is an error. The leaf
 * never outlives the CA. Returns 0, or -1 with err filled. */
int tlsgen_ca_signed(const char *cert_path, const char *key_path, const char *ca_cert,
		     const char *ca_key, const char *common_name, int *made_ca, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* The local CA's paths for a server certificate path: "<its dir>/ca.crt"
 * and "<its dir>/ca.key". 0, or -1 when they do not fit cap. */
int tlsgen_ca_paths(const char *tls_cert, char *ca_cert, char *ca_key, size_t cap);

/* What a client should trust to verify the proxy offering tls_cert, copied
 * to out: the local CA's ca.crt when it issued tls_cert
 * (TLSGEN_ANCHOR_LOCAL_CA), else tls_cert itself when it is self-signed
 * (TLSGEN_ANCHOR_SELF_SIGNED, pinning), else "" (TLSGEN_ANCHOR_NONE: a
 * CA-issued certificate; clients use the CA the operator got it from). */
enum { TLSGEN_ANCHOR_NONE = 0, TLSGEN_ANCHOR_LOCAL_CA = 1, TLSGEN_ANCHOR_SELF_SIGNED = 2 };
int tlsgen_trust_anchor(const char *tls_cert, char *out, size_t cap);

#endif
