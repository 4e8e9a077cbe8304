/* audit_files: the sequence of JSON-lines files one chain runs through.
 *
 * A chain starts in the configured file and continues across rotations:
 * sqlbastion renames a full file to "<path>.YYYYMMDDTHHMMSSZ" (UTC, with
 * "-N" added when that name is taken) and logrotate may use its own names
 * ("<path>.1", "<path>-20260101"). So the files are not ordered by name but
 * by the seq of their first record: audit_list_files() collects every
 * regular file beside the configured one whose name starts with
 * "<basename>." or "<basename>-" and whose first line ends like a chained
 * record, sorts them by that first seq, and puts the configured file last.
 * Compressed copies (.gz, .xz, .zst, .bz2), SQLite files and anything that
 * is not a record file are skipped.
 *
 * It also reads the chain head (seq and hash of the last whole record) of a
 * file, which the writer uses to continue a chain from a predecessor. It
 * never writes and never logs.
 */
#include "audit/audit.h"
#include "audit/audit_err.h"
#include "audit/audit_json.h"
#include "audit/audit_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes read back from the end of a file to find its last record ending:
 * `,"seq":<20 digits>,"hash":"<64>"}` is 102 bytes. */
#define TAIL_READ 128

int audit_file_first_seq(const char *path, uint64_t *seq)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	char hash[AUDIT_HASH_HEX + 1];
	int ret = -1;
	if (!f)
		return -1;
	ssize_t n = getline(&line, &cap, f);
	if (n > 1 && line[0] == '{' && line[n - 1] == '\n' &&
	    audit_record_tail(line, (size_t)n - 1, seq, hash) == 0)
		ret = 0;
	free(line);
	fclose(f);
	return ret;
}

int audit_file_head(int fd, off_t size, uint64_t *seq,
		    char hash[AUDIT_HASH_HEX + 1], off_t *end)
{
	char chunk[4096];
	off_t e = size;
	*end = 0;
	/* offset just past the last '\n' */
	while (e > 0) {
		size_t n = e < (off_t)sizeof chunk ? (size_t)e : sizeof chunk;
		ssize_t r = pread(fd, chunk, n, e - (off_t)n);
		if (r != (ssize_t)n)
			return -1;
		size_t i = n;
		while (i > 0 && chunk[i - 1] != '\n')
			i--;
		if (i > 0) {
			*end = e - (off_t)n + (off_t)i;
			break;
		}
		e -= (off_t)n;
	}
	if (*end == 0)
		return 1; /* no whole line */
	char tail[TAIL_READ];
	size_t n = *end - 1 < TAIL_READ ? (size_t)(*end - 1) : TAIL_READ;
	if (pread(fd, tail, n, *end - 1 - (off_t)n) != (ssize_t)n)
		return -1;
	if (audit_record_tail(tail, n, seq, hash) < 0)
		return -2;
	return 0;
}

static int skip_name(const char *name)
{
	static const char *const ext[] = {".gz", ".xz", ".zst", ".bz2", ".db",
					  "-wal", "-shm", "-journal", ".tmp"};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		size_t k = strlen(ext[i]);
		if (n >= k && strcmp(name + n - k, ext[i]) == 0)
			return 1;
	}
	return 0;
}

struct cand {
	char *path;
	uint64_t first;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

int audit_list_files(const char *jsonl_path, int include_self, char ***out,
		     size_t *nout, char *errbuf, size_t errlen)
{
	char dir[4096], base[256];
	const char *slash = strrchr(jsonl_path, '/');
	struct cand *c = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;

	*out = NULL;
	*nout = 0;
	if (slash) {
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - jsonl_path),
			 jsonl_path);
		if (!dir[0])
			snprintf(dir, sizeof dir, "/");
		snprintf(base, sizeof base, "%s", slash + 1);
	} else {
		snprintf(dir, sizeof dir, ".");
		snprintf(base, sizeof base, "%s", jsonl_path);
	}
	size_t bl = strlen(base);
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			goto done;
		audit_seterr(errbuf, errlen, "open directory %s: %s", dir,
		       strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		if (strncmp(nm, base, bl) != 0 ||
		    (nm[bl] != '.' && nm[bl] != '-') || nm[bl + 1] == '\0' ||
		    skip_name(nm))
			continue;
		char p[4096 + 256 + 2];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", dir, nm);
		uint64_t first;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode) ||
		    audit_file_first_seq(p, &first) < 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct cand *t = realloc(c, nc * sizeof *c);
			if (!t)
				goto oom;
			c = t;
			cap = nc;
		}
		c[n].path = strdup(p);
		if (!c[n].path)
			goto oom;
		c[n].first = first;
		n++;
	}
	closedir(d);
	d = NULL;
	if (n > 1)
		qsort(c, n, sizeof *c, cand_cmp);
done:;
	char **res = calloc(n + 2, sizeof *res);
	if (!res)
		goto oom;
	for (size_t i = 0; i < n; i++)
		res[i] = c[i].path;
	*nout = n;
	if (include_self) {
		res[n] = strdup(jsonl_path);
		if (!res[n]) {
			free(c);
			audit_free_list(res, n);
			audit_seterr(errbuf, errlen, "out of memory");
			return -1;
		}
		*nout = n + 1;
	}
	free(c);
	*out = res;
	return 0;
oom:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(c[i].path);
	free(c);
	audit_seterr(errbuf, errlen, "out of memory");
	return -1;
}

void audit_free_list(char **paths, size_t n)
{
	if (!paths)
		return;
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int audit_load_key(const char *path, uint8_t *key, size_t cap, size_t *len,
		   char *errbuf, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		audit_seterr(errbuf, errlen, "hmac key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		audit_seterr(errbuf, errlen, "hmac key %s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & 077) {
		close(fd);
		audit_seterr(errbuf, errlen,
		       "hmac key %s: readable by group or others (chmod 600)",
		       path);
		return -1;
	}
	ssize_t n = read(fd, key, cap);
	close(fd);
	/* 16 bytes at least: the key must not be guessable. */
	if (n < 16) {
		audit_seterr(errbuf, errlen, "hmac key %s: shorter than 16 bytes",
		       path);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}
