/* Unit tests for proxy/tlsgen: the files, their modes, the certificate's
 * key type, names, validity, and that a client pinning the certificate
 * (sslrootcert=server.crt, verify-full) accepts it for localhost and the
 * loopback addresses. */
#include "proxy/tlsgen.h"
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

static char dir[64];

/* Verify cert against a store holding only itself, for host or ip; print
 * why when the outcome is not the expected one. */
static int pinned_ok(X509 *x, const char *host, const char *ip, int expect)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0;
	if (!store || !ctx || !X509_STORE_add_cert(store, x) ||
	    !X509_STORE_CTX_init(ctx, store, x, NULL))
		goto out;
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
	if (host)
		X509_VERIFY_PARAM_set1_host(p, host, 0);
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(p, ip);
	ok = X509_verify_cert(ctx) == 1;
	if (ok != expect)
		fprintf(stderr, "verify %s: %s\n", host ? host : ip,
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sbtest-tls-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char crt[256], key[256], err[256];
	snprintf(crt, sizeof crt, "%s/var/tls/server.crt", dir);
	snprintf(key, sizeof key, "%s/var/tls/server.key", dir);
	CHECK(tlsgen_self_signed(crt, key, "bastion.example.com", err, sizeof err) == 0);

	struct stat sb;
	CHECK(stat(key, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(crt, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	char sub[256];
	snprintf(sub, sizeof sub, "%s/var/tls", dir);
	CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);

	FILE *f = fopen(crt, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	f = fopen(key, "r");
	EVP_PKEY *pk = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	CHECK(x != NULL && pk != NULL);
	if (x && pk) {
		CHECK(EVP_PKEY_is_a(pk, "EC"));
		char group[32] = "";
		size_t glen = 0;
		CHECK(EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof group, &glen));
		CHECK_STR(group, "prime256v1");
		CHECK(X509_check_private_key(x, pk) == 1);
		CHECK(X509_get_version(x) == 2);
		CHECK(X509_check_host(x, "localhost", 0, 0, NULL) == 1);
		CHECK(X509_check_host(x, "bastion.example.com", 0, 0, NULL) == 1);
		CHECK(X509_check_host(x, "evil.example.com", 0, 0, NULL) == 0);
		CHECK(X509_check_ip_asc(x, "127.0.0.1", 0) == 1);
		CHECK(X509_check_ip_asc(x, "::1", 0) == 1);
		CHECK(X509_check_ip_asc(x, "10.0.0.1", 0) == 0);
		int days = 0, secs = 0;
		CHECK(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)));
		CHECK(days == TLSGEN_DAYS); /* plus the 5 minutes of skew allowance */
		CHECK(pinned_ok(x, "localhost", NULL, 1));
		CHECK(pinned_ok(x, NULL, "127.0.0.1", 1));
		CHECK(pinned_ok(x, NULL, "::1", 1));
		CHECK(!pinned_ok(x, "other.host", NULL, 0));
	}
	X509_free(x);
	EVP_PKEY_free(pk);

	/* A second run replaces both files; names that are no DNS name stay
	 * out of the SAN (they would break the extension string). */
	CHECK(tlsgen_self_signed(crt, key, "bad,name=x", err, sizeof err) == 0);
	f = fopen(crt, "r");
	x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	CHECK(x != NULL && X509_check_host(x, "localhost", 0, 0, NULL) == 1);
	X509_free(x);
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s.tmp", key);
	CHECK(stat(tmp, &sb) != 0);

	CHECK(tlsgen_self_signed("/proc/nope/x.crt", "/proc/nope/x.key", "h", err,
				 sizeof err) == -1);
	CHECK(err[0] != '\0');

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return UNIT_DONE("tlsgen");
}
