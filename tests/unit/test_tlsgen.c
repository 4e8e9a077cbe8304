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
#include <unistd.h>

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

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return x;
}

/* Verify leaf against a store holding only ca, as a client with
 * sslrootcert=ca.crt and verify-full does, for host or ip. */
static int chain_ok(X509 *ca, X509 *leaf, const char *host, const char *ip)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0;
	if (!store || !ctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, NULL))
		goto out;
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
	if (host)
		X509_VERIFY_PARAM_set1_host(p, host, 0);
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(p, ip);
	ok = X509_verify_cert(ctx) == 1;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/* The local CA: made once (key 0600), reused by a second issue, trusted
 * for the leaf's names only; a foreign CA is not; half a CA is refused;
 * tlsgen_trust_anchor names the right file in each setup. */
static void test_ca_signed(void)
{
	char crt[256], key[256], ca[256], cakey[256], err[512], out[512];
	snprintf(crt, sizeof crt, "%s/ca/tls/server.crt", dir);
	snprintf(key, sizeof key, "%s/ca/tls/server.key", dir);
	CHECK(tlsgen_ca_paths(crt, ca, cakey, sizeof ca) == 0);
	char want[300];
	snprintf(want, sizeof want, "%s/ca/tls/ca.crt", dir);
	CHECK_STR(ca, want);
	snprintf(want, sizeof want, "%s/ca/tls/ca.key", dir);
	CHECK_STR(cakey, want);

	int made = 0;
	CHECK(tlsgen_ca_signed(crt, key, ca, cakey, "bastion.example.com", &made, err,
			       sizeof err) == 0);
	CHECK(made == 1);
	struct stat sb;
	CHECK(stat(cakey, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(key, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(ca, &sb) == 0 && (sb.st_mode & 0777) == 0644);

	X509 *cax = read_cert(ca), *leaf = read_cert(crt);
	CHECK(cax && leaf);
	if (cax && leaf) {
		CHECK(X509_check_ca(cax) != 0);
		CHECK(X509_check_ca(leaf) == 0);
		CHECK(X509_check_issued(cax, leaf) == X509_V_OK);
		CHECK(X509_check_issued(leaf, leaf) != X509_V_OK);
		CHECK(chain_ok(cax, leaf, "localhost", NULL));
		CHECK(chain_ok(cax, leaf, "bastion.example.com", NULL));
		CHECK(chain_ok(cax, leaf, NULL, "127.0.0.1"));
		CHECK(chain_ok(cax, leaf, NULL, "::1"));
		CHECK(!chain_ok(cax, leaf, "evil.example.com", NULL));
		CHECK(!chain_ok(cax, leaf, NULL, "10.1.2.3"));
		/* The CA certificate itself must not pass as a server. */
		CHECK(!chain_ok(cax, cax, "localhost", NULL));
		CHECK(ASN1_TIME_compare(X509_get0_notAfter(leaf), X509_get0_notAfter(cax)) <= 0);
	}
	CHECK(tlsgen_trust_anchor(crt, out, sizeof out) == TLSGEN_ANCHOR_LOCAL_CA);
	CHECK_STR(out, ca);

	/* A second issue (server files removed to renew) reuses the CA. */
	CHECK(tlsgen_ca_signed(crt, key, ca, cakey, "localhost", &made, err, sizeof err) == 0);
	CHECK(made == 0);
	X509 *cax2 = read_cert(ca), *leaf2 = read_cert(crt);
	CHECK(cax2 && leaf2 && cax && X509_cmp(cax, cax2) == 0);
	if (cax && leaf2)
		CHECK(chain_ok(cax, leaf2, "localhost", NULL));
	if (leaf && leaf2)
		CHECK(X509_cmp(leaf, leaf2) != 0);

	/* Another instance's CA does not vouch for this server. */
	char crt3[256], key3[256], ca3[256], cakey3[256];
	snprintf(crt3, sizeof crt3, "%s/other/server.crt", dir);
	snprintf(key3, sizeof key3, "%s/other/server.key", dir);
	CHECK(tlsgen_ca_paths(crt3, ca3, cakey3, sizeof ca3) == 0);
	CHECK(tlsgen_ca_signed(crt3, key3, ca3, cakey3, "localhost", &made, err, sizeof err) == 0);
	X509 *other = read_cert(ca3);
	CHECK(other && cax && X509_NAME_cmp(X509_get_subject_name(other),
					    X509_get_subject_name(cax)) != 0);
	if (other && leaf2)
		CHECK(!chain_ok(other, leaf2, "localhost", NULL));
	/* ...nor is it named as this server's anchor if copied beside it. */
	char cmd[700];
	snprintf(cmd, sizeof cmd, "cp %s %s", ca3, ca);
	CHECK(system(cmd) == 0);
	CHECK(tlsgen_trust_anchor(crt, out, sizeof out) == TLSGEN_ANCHOR_NONE);
	CHECK_STR(out, "");

	/* Half a CA, or a key not matching, is refused before anything is written. */
	unlink(cakey3);
	CHECK(tlsgen_ca_signed(crt3, key3, ca3, cakey3, "localhost", &made, err, sizeof err) == -1);
	CHECK(strstr(err, "exists but") != NULL);
	CHECK(tlsgen_ca_signed(crt, key, ca, cakey, "localhost", &made, err, sizeof err) == -1);
	CHECK(strstr(err, "not a CA certificate matching") != NULL);

	/* A self-signed server certificate is its own anchor (pinning). */
	char crt4[256], key4[256];
	snprintf(crt4, sizeof crt4, "%s/self/server.crt", dir);
	snprintf(key4, sizeof key4, "%s/self/server.key", dir);
	CHECK(tlsgen_self_signed(crt4, key4, "localhost", err, sizeof err) == 0);
	CHECK(tlsgen_trust_anchor(crt4, out, sizeof out) == TLSGEN_ANCHOR_SELF_SIGNED);
	CHECK_STR(out, crt4);
	CHECK(tlsgen_trust_anchor("/nonexistent/server.crt", out, sizeof out) ==
	      TLSGEN_ANCHOR_NONE);

	X509_free(cax);
	X509_free(leaf);
	X509_free(cax2);
	X509_free(leaf2);
	X509_free(other);
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

	test_ca_signed();

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return UNIT_DONE("tlsgen");
}
