/* tlsgen: the proxy's EC P-256 server certificate, self-signed or issued
 * by a local CA, with the OpenSSL 3 API (see tlsgen.h).
 *
 * The server certificate is a leaf (CA:FALSE, digitalSignature, serverAuth) with a
 * 128-bit random serial, subject and issuer "CN=<name>, O=sqlbastion",
 * subject/authority key identifiers, and the subjectAltName list clients
 * match host names against; the issuer is itself or the local CA
 * ("CN=sqlbastion local CA <random>", CA:TRUE pathlen 0, keyCertSign). Files are written beside their final path and
 * renamed into place, the key never readable by anyone but the owner.
 * No logging; OpenSSL's error queue is turned into the error text.
 */
#include "proxy/tlsgen.h"
#include "lib/fsutil.h"

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

/* A new certificate for pkey named cn. ca_x/ca_key NULL: a self-signed
 * leaf. ca_x set: a leaf issued (and signed) by that CA. is_ca: the local
 * CA itself (self-signed, CA:TRUE, pathlen 0). NULL with err filled on
 * failure. */
static X509 *make_cert(EVP_PKEY *pkey, const char *cn, X509 *ca_x, EVP_PKEY *ca_key, int is_ca,
		       char *err, size_t errlen)
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
	    !X509_time_adj_ex(X509_getm_notAfter(x), is_ca ? TLSGEN_CA_DAYS : TLSGEN_DAYS, 0,
			      NULL) ||
	    !X509_set_pubkey(x, pkey)) {
		ssl_fail(err, errlen, "certificate fields");
		goto fail;
	}
	/* A leaf must not outlive its CA: clients would reject the chain. */
	if (ca_x && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca_x)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca_x))) {
		ssl_fail(err, errlen, "certificate validity");
		goto fail;
	}
	X509_NAME *name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"sqlbastion", -1, -1, 0) ||
	    !X509_set_issuer_name(x, ca_x ? X509_get_subject_name(ca_x) : name)) {
		ssl_fail(err, errlen, "certificate name");
		goto fail;
	}

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca_x ? ca_x : x, x, NULL, NULL, 0);
	if (is_ca) {
		if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err,
			    errlen) ||
		    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", err, errlen) ||
		    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err, errlen) ||
		    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err, errlen))
			goto fail;
	} else {
		char san[512] = "DNS:localhost,IP:127.0.0.1,IP:::1";
		if (strcmp(cn, "localhost") != 0 && is_dns_name(cn) &&
		    strlen(san) + strlen(cn) + 6 < sizeof san) {
			strcat(san, ",DNS:");
			strcat(san, cn);
		}
		if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err, errlen) ||
		    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature", err, errlen) ||
		    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err, errlen) ||
		    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err, errlen) ||
		    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err, errlen) ||
		    add_ext(x, &ctx, NID_subject_alt_name, san, err, errlen))
			goto fail;
	}
	if (!X509_sign(x, ca_key ? ca_key : pkey, EVP_sha256())) {
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

/* Key then certificate, each written beside its path and renamed into
 * place. 0 or -1 with err filled (no ".tmp" file left behind). */
static int write_pair(const char *cert_path, const char *key_path, EVP_PKEY *pkey, X509 *x,
		      char *err, size_t errlen)
{
	if (write_pem(key_path, 0600, pkey, NULL, err, errlen) != 0)
		return -1;
	if (write_pem(cert_path, 0644, NULL, x, err, errlen) != 0) {
		char tmp[4200];
		snprintf(tmp, sizeof tmp, "%s.tmp", key_path);
		unlink(tmp);
		return -1;
	}
	if (rename_into_place(key_path, err, errlen) != 0)
		return -1;
	return rename_into_place(cert_path, err, errlen);
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
	x = make_cert(pkey, common_name, NULL, NULL, 0, err, errlen);
	if (!x)
		goto out;
	rc = write_pair(cert_path, key_path, pkey, x, err, errlen);
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

static int file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* Read an existing local CA: both files, the key matching, the certificate
 * a CA. 0 with *x and *pkey (caller frees), or -1 with err filled. */
static int load_ca(const char *ca_cert, const char *ca_key, X509 **x, EVP_PKEY **pkey,
		   char *err, size_t errlen)
{
	*x = NULL;
	*pkey = NULL;
	FILE *f = fopen(ca_cert, "r");
	if (f) {
		*x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!*x) {
		snprintf(err, errlen, "cannot read the CA certificate %s", ca_cert);
		goto fail;
	}
	f = fopen(ca_key, "r");
	if (f) {
		*pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!*pkey) {
		snprintf(err, errlen, "cannot read the CA key %s", ca_key);
		goto fail;
	}
	if (X509_check_private_key(*x, *pkey) != 1 || X509_check_ca(*x) == 0) {
		snprintf(err, errlen, "%s is not a CA certificate matching %s", ca_cert, ca_key);
		goto fail;
	}
	ERR_clear_error();
	return 0;
fail:
	ERR_clear_error();
	X509_free(*x);
	EVP_PKEY_free(*pkey);
	*x = NULL;
	*pkey = NULL;
	return -1;
}

int tlsgen_ca_signed(const char *cert_path, const char *key_path, const char *ca_cert,
		     const char *ca_key, const char *common_name, int *made_ca, char *err,
		     size_t errlen)
{
	EVP_PKEY *pkey = NULL, *ca_pkey = NULL;
	X509 *x = NULL, *ca_x = NULL;
	int rc = -1;
	*made_ca = 0;
	if (!common_name || !*common_name)
		common_name = "localhost";
	if (sb_mkdir_parents(cert_path, err, errlen) != 0 ||
	    sb_mkdir_parents(key_path, err, errlen) != 0 ||
	    sb_mkdir_parents(ca_cert, err, errlen) != 0 ||
	    sb_mkdir_parents(ca_key, err, errlen) != 0)
		return -1;
	int have_crt = file_exists(ca_cert), have_key = file_exists(ca_key);
	if (have_crt != have_key) {
		snprintf(err, errlen, "%s exists but %s does not; remove it or provide both",
			 have_crt ? ca_cert : ca_key, have_crt ? ca_key : ca_cert);
		return -1;
	}
	if (have_crt) {
		if (load_ca(ca_cert, ca_key, &ca_x, &ca_pkey, err, errlen) != 0)
			return -1;
	} else {
		/* A distinct name per CA: two bastions' CAs must not be confused
		 * by a client that trusts both. */
		uint8_t r[4];
		char cn[96];
		if (RAND_bytes(r, sizeof r) != 1)
			return ssl_fail(err, errlen, "random CA name");
		snprintf(cn, sizeof cn, "sqlbastion local CA %02x%02x%02x%02x", r[0], r[1], r[2],
			 r[3]);
		ca_pkey = EVP_EC_gen("P-256");
		if (!ca_pkey) {
			ssl_fail(err, errlen, "EC P-256 key generation");
			goto out;
		}
		ca_x = make_cert(ca_pkey, cn, NULL, NULL, 1, err, errlen);
		if (!ca_x || write_pair(ca_cert, ca_key, ca_pkey, ca_x, err, errlen) != 0)
			goto out;
		*made_ca = 1;
	}
	pkey = EVP_EC_gen("P-256");
	if (!pkey) {
		ssl_fail(err, errlen, "EC P-256 key generation");
		goto out;
	}
	x = make_cert(pkey, common_name, ca_x, ca_pkey, 0, err, errlen);
	if (!x)
		goto out;
	rc = write_pair(cert_path, key_path, pkey, x, err, errlen);
out:
	X509_free(x);
	X509_free(ca_x);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(ca_pkey);
	return rc;
}

int tlsgen_ca_paths(const char *tls_cert, char *ca_cert, char *ca_key, size_t cap)
{
	const char *slash = strrchr(tls_cert, '/');
	int dlen = slash ? (int)(slash - tls_cert) : 1;
	const char *dir = slash ? tls_cert : ".";
	if (snprintf(ca_cert, cap, "%.*s/ca.crt", dlen, dir) >= (int)cap ||
	    snprintf(ca_key, cap, "%.*s/ca.key", dlen, dir) >= (int)cap)
		return -1;
	return 0;
}

int tlsgen_trust_anchor(const char *tls_cert, char *out, size_t cap)
{
	char ca_cert[4200], ca_key[4200];
	if (tlsgen_ca_paths(tls_cert, ca_cert, ca_key, sizeof ca_cert) == 0 &&
	    file_exists(ca_cert)) {
		/* Only if it really issued the certificate the proxy offers. */
		FILE *f = fopen(ca_cert, "r"), *g = fopen(tls_cert, "r");
		X509 *ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
		X509 *leaf = g ? PEM_read_X509(g, NULL, NULL, NULL) : NULL;
		int issued = ca && leaf && X509_check_issued(ca, leaf) == X509_V_OK;
		if (f)
			fclose(f);
		if (g)
			fclose(g);
		X509_free(ca);
		X509_free(leaf);
		ERR_clear_error();
		if (issued && snprintf(out, cap, "%s", ca_cert) < (int)cap)
			return TLSGEN_ANCHOR_LOCAL_CA;
	}
	FILE *f = fopen(tls_cert, "r");
	X509 *leaf = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	/* Not X509_check_issued: a self-signed leaf lacks keyCertSign. */
	int self = leaf &&
		   X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) == 0 &&
		   X509_verify(leaf, X509_get0_pubkey(leaf)) == 1;
	X509_free(leaf);
	ERR_clear_error();
	if (self && snprintf(out, cap, "%s", tls_cert) < (int)cap)
		return TLSGEN_ANCHOR_SELF_SIGNED;
	out[0] = '\0';
	return TLSGEN_ANCHOR_NONE;
}
