/* fsutil: small file-system helpers shared by the daemon, sqlbastionctl and
 * the audit writer. */
#ifndef SB_FSUTIL_H
#define SB_FSUTIL_H

#include <stddef.h>

/* Longest path the project handles (config paths, audit files, sockets
 * are checked against it). */
#define SB_PATH_MAX 4096

/* Create the missing directories above `path` (not path itself), each new
 * one mode 0700, like `mkdir -p $(dirname path)`. Returns 0, or -1 with err
 * naming the directory that could not be made. */
int sb_mkdir_parents(const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
