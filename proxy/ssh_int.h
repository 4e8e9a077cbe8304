/* ssh_int: what the SSH thread (ssh_server.c) and the main loop's side
 * (ssh_entry.c) share. Not for other modules. */
#ifndef SB_SSH_INT_H
#define SB_SSH_INT_H

#include <pthread.h>
#include <stdint.h>

#include "proxy/identity.h"

enum ssh_req_kind {
	SSH_REQ_AUTH,    /* check user + token; fills who on success */
	SSH_REQ_OPEN,    /* a direct-tcpip channel to dest:port; fd goes to a session */
	SSH_REQ_REFUSED, /* audit a refused request (reason) */
	SSH_REQ_RECHECK, /* is the login still valid (token, user, grant)? ok = yes */
	SSH_REQ_CLOSED,  /* a logged-in SSH connection ended (reason): session_end */
	SSH_REQ_ADMIT,   /* a new connection from client_ip, not logged in: ok = admitted
			    by the listeners' limits (login_guard_admit) */
	SSH_REQ_LEAVE,   /* an admitted connection logged in or ended (login_guard_leave) */
};

/* One request from the SSH thread, on its stack while it waits: the main
 * loop fills the answer and sets done (under ssh_shared.lock). */
struct ssh_req {
	enum ssh_req_kind kind;
	uint64_t conn;              /* the SSH connection's session id (0 = not yet) */
	char user[64];              /* as sent */
	char token[128];            /* AUTH: as sent, wiped after */
	char client_ip[64];
	int client_port;
	char dest[256];             /* OPEN */
	int dest_port;
	int fd;                     /* OPEN: the main loop's end; taken when ok */
	char reason[200];           /* REFUSED: what was refused; answer: why */
	struct identity who;        /* AUTH answer; OPEN: the login of the connection */
	int ok;                     /* answer: 1 accepted */
	int done;
};

struct ssh_shared {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;               /* the main loop answers no more requests */
	int req_w;                  /* pipe: the thread writes struct ssh_req * */
	int stop_w;                 /* pipe: the main loop wakes the thread to stop */
	int stop_r;
};

/* Send r to the main loop and wait for its answer. 0 answered, -1 the
 * daemon is stopping (r->ok is 0). */
int ssh_ask(struct ssh_shared *sh, struct ssh_req *r);

/* The thread's body (ssh_server.c): arg is a struct ssh_thread_arg. */
struct ssh_thread_arg {
	struct ssh_shared *sh;
	const char *host_key;       /* path */
	int listen_fds[16];
	int n_listen;
	int login_timeout;          /* s for key exchange + authentication */
};
void *ssh_thread_main(void *arg);

#endif
