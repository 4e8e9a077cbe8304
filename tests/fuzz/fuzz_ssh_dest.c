/* libFuzzer target for proxy/ssh_dest: the SSH channel destination (host
 * and port as the client sent them in its direct-tcpip open) matched
 * against an asset's name and registered host:port.
 *
 * Input: two bytes of destination port, two of asset port, then the
 * destination, the asset name and the asset's host, split at 0xff bytes.
 * Each string is an exactly-sized heap copy, so a read past it is an
 * AddressSanitizer report. Besides crashes it checks what the matching
 * promises: never a match on another port, a destination that is no
 * printable host never matches, the asset's own name and host always do,
 * and the answer does not depend on letter case of a host.
 */
#include "proxy/ssh_dest.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const uint8_t *p, size_t n)
{
	char *m = malloc(n + 1);
	if (!m)
		abort();
	memcpy(m, p, n);
	m[n] = '\0';
	return m;
}

static int printable_host(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SSH_DEST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	int port = (data[0] << 8) | data[1];
	int aport = (data[2] << 8) | data[3];
	const uint8_t *p = data + 4, *end = data + size;
	const uint8_t *parts[3];
	size_t lens[3];
	for (int i = 0; i < 3; i++) {
		const uint8_t *z = memchr(p, 0xff, (size_t)(end - p));
		parts[i] = p;
		lens[i] = (size_t)((z ? z : end) - p);
		p = z ? z + 1 : end;
	}
	/* strings stop at a NUL, as libssh hands them over */
	char *dest = dup_str(parts[0], strnlen((const char *)parts[0], lens[0]));
	char *asset = dup_str(parts[1], strnlen((const char *)parts[1], lens[1]));
	char *host = dup_str(parts[2], strnlen((const char *)parts[2], lens[2]));

	int ok = ssh_dest_allowed(dest, port, asset, host, aport);
	if (ok != 0 && ok != 1)
		abort();
	if (ok && (port != aport || port <= 0 || port > 65535))
		abort(); /* another port */
	if (ok && !printable_host(dest))
		abort(); /* an unprintable or overlong destination */
	if (ssh_dest_allowed(dest, port, asset, host, aport) != ok)
		abort(); /* not deterministic */
	if (aport > 0 && aport <= 65535) {
		if (printable_host(asset) && !ssh_dest_allowed(asset, aport, asset, host, aport))
			abort(); /* the asset's own name */
		if (printable_host(host) && host[0] != '[' &&
		    !ssh_dest_allowed(host, aport, asset, host, aport))
			abort(); /* the registered host */
	}
	/* case of a host name does not matter (the asset name's does) */
	if (strcmp(dest, asset) != 0) {
		char *up = dup_str((const uint8_t *)dest, strlen(dest));
		for (char *c = up; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		if (strcmp(up, asset) != 0 && ssh_dest_allowed(up, port, asset, host, aport) != ok)
			abort();
		free(up);
	}
	free(dest);
	free(asset);
	free(host);
	return 0;
}
