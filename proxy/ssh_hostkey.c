/* ssh_hostkey: make, read and describe the SSH host key (see ssh_hostkey.h). */
#include "proxy/ssh_hostkey.h"

#include <errno.h>
#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ssh_hostkey_ensure(const char *path, int *made, char *err, size_t errlen)
{
	*made = 0;
	if (access(path, F_OK) == 0)
		return 0;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	ssh_key key = NULL;
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
		snprintf(err, errlen, "cannot generate an Ed25519 key");
		return -1;
	}
	/* The private key must never exist readable by others, not even
	 * between the write and the chmod: tighten the umask around it. */
	mode_t old = umask(077);
	int rc = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path);
	umask(old);
	ssh_key_free(key);
	if (rc != SSH_OK || chmod(path, 0600) != 0) {
		snprintf(err, errlen, "cannot write %s", path);
		unlink(path);
		return -1;
	}
	*made = 1;
	return 0;
}

int ssh_hostkey_describe(const char *path, char *fp, size_t fplen, char *pub, size_t publen,
			 char *err, size_t errlen)
{
	ssh_key key = NULL, pk = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *b64 = NULL, *hex = NULL;
	int rc = -1;
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
		snprintf(err, errlen, "cannot read the SSH host key %s", path);
		return -1;
	}
	if (ssh_pki_export_privkey_to_pubkey(key, &pk) != SSH_OK ||
	    ssh_get_publickey_hash(pk, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0 ||
	    !(hex = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen)) ||
	    ssh_pki_export_pubkey_base64(pk, &b64) != SSH_OK) {
		snprintf(err, errlen, "cannot describe the SSH host key %s", path);
		goto out;
	}
	snprintf(fp, fplen, "%s", hex);
	snprintf(pub, publen, "%s %s", ssh_key_type_to_char(ssh_key_type(pk)), b64);
	rc = 0;
out:
	ssh_string_free_char(b64);
	ssh_string_free_char(hex);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(pk);
	ssh_key_free(key);
	return rc;
}

void ssh_hostkey_print(const char *path, const char *host, int port)
{
	char fp[128], pub[256], err[300];
	if (ssh_hostkey_describe(path, fp, sizeof fp, pub, sizeof pub, err, sizeof err) != 0) {
		printf("# ssh host key: %s (run sqlbastionctl init)\n", err);
		return;
	}
	printf("# ssh host key fingerprint: %s\n", fp);
	if (port == 22)
		printf("# known_hosts: %s %s\n", host, pub);
	else
		printf("# known_hosts: [%s]:%d %s\n", host, port, pub);
}
