/* secret: fetch a hosted account's database password at connect time.
 *
 * Three sources, chosen per account when it is added:
 *   stored  sealed with AES-256-GCM under the master key in the state DB
 *           (the account id is authenticated data, so a blob cannot be moved
 *           to another account);
 *   file    read from a path at every connect (first line, newline trimmed);
 *   cmd     run with /bin/sh -c at every connect; its stdout's first line is
 *           the secret. A rotated secret is picked up on the next connect.
 * The secret is written into a caller buffer that the caller wipes with
 * sb_wipe() as soon as the backend login is done. Error texts never contain
 * the secret.
 */
#ifndef SB_SECRET_H
#define SB_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"

struct state;

#define SB_SECRET_MAX 1024 /* longest password accepted from any source */
#define SB_SECRET_CMD_TIMEOUT_MS 5000

/* Load the master key file: exactly 32 bytes, mode no wider than 0600.
 * Returns 0 or -1 with errbuf filled. */
int secret_load_master_key(const char *path, uint8_t key[SB_MASTER_KEY_LEN],
			   char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Fetch the password of account_id into out (NUL-terminated). Returns its
 * length, or -1 with errbuf filled. */
int secret_fetch(struct state *st, const uint8_t master_key[SB_MASTER_KEY_LEN],
		 int64_t account_id, char *out, size_t outcap, char *errbuf,
		 size_t errlen) __attribute__((warn_unused_result));

#endif
