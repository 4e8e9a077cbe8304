/* ssh_dest: destination matching for SSH channels (see ssh_dest.h). */
#include "proxy/ssh_dest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

/* A host the bastion could have registered: 1..SSH_DEST_MAX bytes of
 * printable ASCII other than space. */
static int printable(const char *s)
{
	size_t n = strnlen(s, SSH_DEST_MAX + 1);
	if (n == 0 || n > SSH_DEST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* Copy s (printable) into out (SSH_DEST_MAX + 1 bytes) without the
 * brackets of an IPv6 literal and without one trailing dot. 0, or -1 for
 * an unbalanced bracket. */
static int normalize(const char *s, char out[SSH_DEST_MAX + 1])
{
	size_t n = strlen(s);
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return -1;
		s++;
		n -= 2;
	} else if (n > 1 && s[n - 1] == '.') {
		n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* 1 when a and b are IP literals of the same address, 0 when both are
 * literals of different ones, -1 when either is not a literal. */
static int same_address(const char *a, const char *b)
{
	unsigned char x[sizeof(struct in6_addr)], y[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	return -1;
}

int ssh_dest_allowed(const char *dest, int port, const char *asset, const char *host,
		     int asset_port)
{
	char d[SSH_DEST_MAX + 1], h[SSH_DEST_MAX + 1];
	if (!dest || !asset || !host || port <= 0 || port > 65535 || port != asset_port)
		return 0;
	if (!printable(dest))
		return 0;
	if (strcmp(dest, asset) == 0)
		return 1;
	if (!printable(host) || normalize(dest, d) != 0 || normalize(host, h) != 0)
		return 0;
	int same = same_address(d, h);
	if (same >= 0)
		return same;
	return strcasecmp(d, h) == 0;
}
