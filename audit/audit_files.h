/* audit_files: internal helpers of audit/ for the files of one chain (see
 * audit_files.c). Nothing outside audit/ includes this. */
#ifndef SB_AUDIT_FILES_H
#define SB_AUDIT_FILES_H

#include <stdint.h>
#include <sys/types.h>

#include "audit/audit_json.h"

/* seq of the first record of the file at path: 0 ok, -1 when the file
 * cannot be read or its first line is not a chained record. */
int audit_file_first_seq(const char *path, uint64_t *seq) AUDIT_WUR;

/* Chain head of the open file fd (size bytes): seq and hash of the last
 * whole record; *end is the offset just past its newline. 0 ok, 1 the file
 * holds no whole line, -2 its last line is not a chained record, -1 I/O
 * error (errno set). */
int audit_file_head(int fd, off_t size, uint64_t *seq,
		    char hash[AUDIT_HASH_HEX + 1], off_t *end) AUDIT_WUR;

#endif
