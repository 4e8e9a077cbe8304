/* ssh_dest: does an SSH direct-tcpip destination name the token's asset?
 *
 * The client's requested host and port come straight off the wire (the
 * channel-open message); the bastion must never become a general TCP
 * relay, so a channel is accepted only when the destination is the asset
 * the SSH login's token is for: its registered host with its port, or
 * its asset name with its port (`-L 33061:demo-mysql:3306`). Pure: no I/O,
 * no logging, no name resolution (a resolver answer could be steered), so
 * it is fuzzed alone (tests/fuzz/fuzz_ssh_dest.c).
 */
#ifndef SB_SSH_DEST_H
#define SB_SSH_DEST_H

/* The longest destination host taken (RFC 1035: 253 characters of a name;
 * a bracketed IPv6 literal with a zone fits too). */
#define SSH_DEST_MAX 255

/* 1 when dest:port names the asset (name `asset`, registered at
 * host:asset_port), 0 otherwise. The port must be the asset's. The host
 * matches case-insensitively, with one trailing dot of a fully qualified
 * name and the brackets of an IPv6 literal ignored; two IP literals match
 * when they are the same address ("::1" and "0:0::1"). The asset name
 * matches exactly. A destination that is empty, longer than SSH_DEST_MAX
 * or holds anything but printable ASCII other than space never matches.
 * Any argument may be NULL (no match). */
int ssh_dest_allowed(const char *dest, int port, const char *asset, const char *host,
		     int asset_port);

#endif
