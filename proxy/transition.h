/* transition: the one check every frontend's state machine makes on a change.
 *
 * A frontend names its states and lists, for each, the states it may go
 * to; sess_change_state() applies one change the same way for every
 * protocol: staying is always allowed and every state may close; the
 * closed state is final (a late event of a closing session may still ask
 * for another state: ignored); any other change is a bug in that frontend,
 * logged, and its session is closed rather than relayed in a state nobody
 * planned for. The phase in log lines and listings follows the state, and
 * the core's fast relay runs in the frontend's query phase only.
 */
#ifndef SB_TRANSITION_H
#define SB_TRANSITION_H

struct session;

/* Bit of state st in a `next` mask. */
#define SESS_TO(st) (1u << (st))

struct sess_states {
	const char *const *names; /* per state: its phase name (sess_set_phase) */
	const unsigned *next;     /* per state: SESS_TO() of each legal next state */
	int ready;                /* the query phase: sess_start_relay(); others stop it */
	int closed;               /* the final state */
};

/* The state after asking to go from `from` to `to` under m: to when the
 * change is legal; from when from is the closed state; else the closed
 * state (the bug is logged and the session closed). */
int sess_change_state(struct session *s, const struct sess_states *m, int from, int to);

#endif
