/* admin: the daemon's admin socket (DESIGN.md "sessions / kill / reload").
 *
 * A UNIX stream socket at cfg.admin_socket, mode 0600 in a 0700 directory,
 * served on the daemon's event loop. The peer is identified with
 * SO_PEERCRED: only root and the daemon's own user are served, and the
 * peer's OS user name is what the audit records as the admin ("by").
 *
 * Protocol: one JSON object per line each way. Requests:
 *   {"cmd":"sessions"}
 *     -> {"ok":true,"sessions":[{"id":N,"user":..,"asset":..,"account":..,
 *        "database":..,"client":..,"protocol":..,"since":"RFC 3339",
 *        "phase":..,"statement":"(first 200 bytes)","bytes_in":N,
 *        "bytes_out":N}, ...]}
 *   {"cmd":"kill","session":N}
 *     -> {"ok":true}; the session ends with reason "killed by <os user>",
 *        which is the error of its session_end record, and an admin record
 *        (verb "kill") says who asked.
 *   {"cmd":"reload"}   -> {"ok":true,"message":..} (the same as SIGHUP)
 *   {"cmd":"audit","verb":..,"statement":..,"asset":..,"account":..,
 *    "objects":..}     -> {"ok":true,"seq":N}: an admin event written by the
 *        daemon, the single writer of the audit file, with user = the
 *        peer's OS user.
 *   Errors: {"ok":false,"error":"..."}.
 *
 * It also watches the audit writer: while writes fail with on_failure =
 * open, a WARN line every [audit] warn_interval seconds.
 *
 * The small JSON reader here (admin_json_*) serves both ends of the socket
 * (the daemon and sqlbastionctl): flat objects of strings, numbers, bools
 * and null, and arrays of such objects.
 */
#ifndef SB_ADMIN_H
#define SB_ADMIN_H

#include <stddef.h>
#include <stdint.h>

struct sb_proxy;
struct admin_server;

/* Reload policy and reopen logs (main.c's SIGHUP handler). Returns 0 and a
 * message, or -1 with the reason in msg. */
typedef int (*admin_reload_fn)(struct sb_proxy *px, char *msg, size_t msglen);

/* Bind and listen on px->cfg.admin_socket. A stale socket file (nobody
 * answers) is replaced; a live one means another daemon: error. NULL with
 * err filled. */
struct admin_server *admin_start(struct sb_proxy *px, admin_reload_fn reload,
				 char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Close every admin connection and remove the socket file. NULL is fine. */
void admin_stop(struct admin_server *a);

/* A stream socket connected to the unix socket at path (shorter than
 * sun_path; both ends call this): the fd, -1 when no socket could be made
 * (err filled), -2 when nobody answers at path (errno from connect()). */
int admin_dial(const char *path, char *err, size_t errlen);

/* ---- the JSON both ends read ---- */

/* Value of the top-level member key of the JSON object obj[0..len), as
 * text: a string is decoded (\uXXXX as UTF-8), a number, true, false
 * copied as written. 1 found (out NUL-terminated, cut to cap-1 bytes), 0
 * absent or null, -1 malformed. */
int admin_json_get(const char *obj, size_t len, const char *key, char *out,
		   size_t cap) __attribute__((warn_unused_result));

/* The next object in the array that is the value of member key: start
 * with *pos = 0; each call sets *obj and *objlen to the next element. 1 got
 * one, 0 end (or no such array), -1 malformed. */
int admin_json_array_next(const char *json, size_t len, const char *key,
			  size_t *pos, const char **obj, size_t *objlen)
	__attribute__((warn_unused_result));

/* Append s as a JSON string literal (quotes included) to out[*o..cap);
 * stops (never overflows) when out is full. */
void admin_json_put(char *out, size_t cap, size_t *o, const char *s, size_t n);

#endif
