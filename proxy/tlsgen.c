/* tlsgen: self-signed EC P-256 certificate with the OpenSSL 3 API
 * (see tlsgen.h).
 *
 * The certificate is a leaf (CA:FALSE, digitalSignature, serverAuth) with a
 * 128-bit random serial, subject and issuer "CN=<name>, O=sqlbastion",
 * subject/authority key identifiers, and the subjectAltName list clients
 * match host names against. Files are written beside their final path and
 * renamed into place, the key never readable by anyone but the owner.
 * No logging; OpenSSL's error queue is turned into the error text.
 */
#include "proxy/tlsgen.h"
#include "proxy/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int ssl_fail(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	snprintf(err, errlen, "%s: %s", what, buf);
	return -1;
}

/* A name fit for DNS: in a SAN and in the config string we build, so
 * nothing but letters, digits, '-' and '.'; and not an IP address. */
static int is_dns_name(const char *s)
{
	size_t n = strlen(s);
	int alpha = 0;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			alpha = 1;
		else if (!(c >= '0' && c <= '9') && c != '-' && c != '.')
			return 0;
	}
	return alpha;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, char *err,
		   size_t errlen)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	if (!ext)
		return ssl_fail(err, errlen, "certificate extension");
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : ssl_fail(err, errlen, "certificate extension");
}

static X509 *make_cert(EVP_PKEY *pkey, const char *cn, char *err, size_t errlen)
{
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	uint8_t serial[16];
	if (!x) {
		ssl_fail(err, errlen, "X509_new");
		return NULL;
	}
	if (RAND_bytes(serial, sizeof serial) != 1) {
		ssl_fail(err, errlen, "random serial");
		goto fail;
	}
	serial[0] &= 0x7f; /* positive, RFC 5280 4.1.2.2 */
	serial[0] |= 0x01; /* and never zero-led, so always 16 bytes */
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (!X509_set_version(x, 2) || !bn ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) /* tolerate clock skew */ ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), TLSGEN_DAYS, 0, NULL) ||
	    !X509_set_pubkey(x, pkey)) {
		ssl_fail(err, errlen, "certificate fields");
		goto fail;
	}
	X509_NAME *name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"sqlbastion", -1, -1, 0) ||
	    !X509_set_issuer_name(x, name)) {
		ssl_fail(err, errlen, "certificate name");
		goto fail;
	}

	char san[512] = "DNS:localhost,IP:127.0.0.1,IP:::1";
	if (strcmp(cn, "localhost") != 0 && is_dns_name(cn) &&
	    strlen(san) + strlen(cn) + 6 < sizeof san) {
		strcat(san, ",DNS:");
		strcat(san, cn);
	}
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err, errlen) ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature", err, errlen) ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err, errlen) ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err, errlen) ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err, errlen) ||
	    add_ext(x, &ctx, NID_subject_alt_name, san, err, errlen))
		goto fail;
	if (!X509_sign(x, pkey, EVP_sha256())) {
		ssl_fail(err, errlen, "sign certificate");
		goto fail;
	}
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Write PEM to "<path>.tmp" with mode, flushed to disk. 0 or -1. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x,
		     char *err, size_t errlen)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(err, errlen, "path too long: %s", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || fchmod(fd, mode) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	int ok = pkey ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
		      : PEM_write_X509(f, x);
	if (!ok) {
		ssl_fail(err, errlen, tmp);
		fclose(f);
		goto fail;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}

static int rename_into_place(const char *path, char *err, size_t errlen)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int tlsgen_self_signed(const char *cert_path, const char *key_path,
		       const char *common_name, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int rc = -1;
	if (!common_name || !*common_name)
		common_name = "localhost";
	if (sb_mkdir_parents(cert_path, err, errlen) != 0 ||
	    sb_mkdir_parents(key_path, err, errlen) != 0)
		return -1;
	pkey = EVP_EC_gen("P-256");
	if (!pkey) {
		ssl_fail(err, errlen, "EC P-256 key generation");
		goto out;
	}
	x = make_cert(pkey, common_name, err, errlen);
	if (!x)
		goto out;
	if (write_pem(key_path, 0600, pkey, NULL, err, errlen) != 0)
		goto out;
	if (write_pem(cert_path, 0644, NULL, x, err, errlen) != 0) {
		char tmp[4200];
		snprintf(tmp, sizeof tmp, "%s.tmp", key_path);
		unlink(tmp);
		goto out;
	}
	if (rename_into_place(key_path, err, errlen) != 0 ||
	    rename_into_place(cert_path, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
