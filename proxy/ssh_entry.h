/* ssh_entry: the SSH-tunnel entry ([listeners] ssh = ADDRESS:PORT).
 *
 * One thread (ssh_server.c) owns all libssh work, with its own poll loop,
 * so key exchanges and packet crypto never stall the libevent loop that
 * serves sessions; the main loop never calls libssh. The thread asks the
 * main loop (this module, through a pipe; it waits for the answer) to:
 *   - check an SSH login: user = bastion user, password or
 *     keyboard-interactive answer = an O&M token, by the same core checks
 *     as a database login (auth_check_token: expiry, revocation, source
 *     CIDR, grant hours, session limit, lockout), audited as login /
 *     login_failed with "entry":"ssh" and the SSH peer as client;
 *   - open a direct-tcpip channel: the destination must be the token's
 *     asset (its registered host:port, or its name with its port), else
 *     refused (administratively prohibited) and audited; an accepted one
 *     becomes a session of the asset's frontend on one end of a socketpair
 *     (sess_new_preset), logged in as the SSH login without a password;
 *   - audit a refused request (a session channel: shell, exec, ...).
 */
#ifndef SB_SSH_ENTRY_H
#define SB_SSH_ENTRY_H

#include <stddef.h>

struct sb_proxy;
struct ssh_entry;

/* Load the host key, bind every ssh listener and start the thread.
 * Returns the entry, or NULL: with err empty when no ssh listener is
 * configured, else with err filled (the daemon does not start). */
struct ssh_entry *ssh_entry_start(struct sb_proxy *px, char *err, size_t errlen);

/* Stop the thread (every SSH connection ends) and free. NULL is fine. */
void ssh_entry_stop(struct ssh_entry *e);

#endif
