/* ssh_hostkey: the SSH entry's Ed25519 host key ([sqlbastion] ssh_host_key).
 *
 * sqlbastionctl init makes it when absent (mode 0600, its directory 0700);
 * the daemon loads it for the ssh listener; init and token issue print its
 * SHA256 fingerprint and a known_hosts line so engineers can verify the
 * bastion before typing a token into ssh.
 */
#ifndef SB_SSH_HOSTKEY_H
#define SB_SSH_HOSTKEY_H

#include <stddef.h>

/* Make an Ed25519 key at path unless a file is there. *made = 1 when it
 * was made. 0, or -1 with err filled. */
int ssh_hostkey_ensure(const char *path, int *made, char *err, size_t errlen);

/* The public half of the key at path: fp gets "SHA256:base64" and pub
 * "ssh-ed25519 BASE64". 0, or -1 with err filled (missing, unreadable). */
int ssh_hostkey_describe(const char *path, char *fp, size_t fplen, char *pub, size_t publen,
			 char *err, size_t errlen);

/* Print the fingerprint and a known_hosts line for host:port to stdout
 * ("[host]:port ssh-ed25519 ..."; port 22 is written bare). Prints a hint
 * instead when the key cannot be read. */
void ssh_hostkey_print(const char *path, const char *host, int port);

#endif
