/* ctl_asset_auth: see ctl_asset_auth.h. */
#include "proxy/ctl_asset_auth.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "proxy/ctl.h"

/* Read a PEM RSA public key from path into out (NUL-terminated). 0, or
 * -1 with why. */
static int read_public_key(const char *path, char *out, size_t cap, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why, whylen, "cannot read %s", path);
		return -1;
	}
	size_t n = fread(out, 1, cap - 1, f);
	int big = !feof(f);
	fclose(f);
	if (big) {
		snprintf(why, whylen, "%s is larger than %zu bytes", path, cap - 1);
		return -1;
	}
	out[n] = '\0';
	if (strlen(out) != n) {
		snprintf(why, whylen, "%s is not a PEM file", path);
		return -1;
	}
	BIO *bio = BIO_new_mem_buf(out, (int)n);
	EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	int ok = k && EVP_PKEY_base_id(k) == EVP_PKEY_RSA;
	EVP_PKEY_free(k);
	BIO_free(bio);
	if (!ok) {
		snprintf(why, whylen,
			 "%s is not an RSA public key in PEM (\"-----BEGIN PUBLIC KEY-----\"; "
			 "the server's caching_sha2_password_public_key_path file)",
			 path);
		return -1;
	}
	return 0;
}

int ctl_asset_auth_parse(struct ctl *c, const char *protocol, const char *allow_weak,
			 const char *key_file, struct state_asset_auth *o)
{
	if (allow_weak) {
		if (strcmp(allow_weak, "yes") == 0)
			o->weak_auth = 1;
		else if (strcmp(allow_weak, "no") == 0)
			o->weak_auth = 0;
		else
			return ctl_usage(c, "%s must be yes or no", CTL_OPT_ALLOW_WEAK_AUTH);
	}
	if (key_file) {
		char why[300];
		if (strcmp(protocol, "mysql") != 0)
			return ctl_usage(c, "%s is for mysql assets", CTL_OPT_SERVER_PUBLIC_KEY);
		if (strcmp(key_file, "none") == 0)
			o->server_public_key[0] = '\0';
		else if (read_public_key(key_file, o->server_public_key,
					 sizeof o->server_public_key, why, sizeof why) != 0)
			return ctl_usage(c, "%s: %s", CTL_OPT_SERVER_PUBLIC_KEY, why);
	}
	return CTL_OK;
}

int ctl_asset_native_parse(struct ctl *c, const char *protocol, const char *value,
			   struct state_asset_auth *o)
{
	if (!value)
		return CTL_OK;
	if (strcmp(protocol, "tns") != 0)
		return ctl_usage(c, "%s is for tns assets", CTL_OPT_NATIVE_ENCRYPTION);
	if (strcmp(value, "allow") == 0)
		o->native_encryption = 1;
	else if (strcmp(value, "refuse") == 0)
		o->native_encryption = 0;
	else
		return ctl_usage(c, "%s must be refuse or allow", CTL_OPT_NATIVE_ENCRYPTION);
	return CTL_OK;
}

const char *ctl_asset_auth_describe(const struct state_asset_auth *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s", o->weak_auth ? "weak auth allowed" : "strong auth only",
		 o->server_public_key[0] ? ", server key pinned" : "",
		 o->native_encryption ? ", native encryption allowed" : "");
	return buf;
}
