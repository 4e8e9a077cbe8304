/* transition: a frontend's state change, checked (see transition.h). */
#include "proxy/transition.h"

#include "proxy/session.h"

int sess_change_state(struct session *s, const struct sess_states *m, int from, int to)
{
	if (from == m->closed && to != m->closed)
		return from;
	if (to != from && to != m->closed && !(m->next[from] & SESS_TO(to))) {
		sess_log(s, LOG_ERR, "bug: illegal state change %s -> %s", m->names[from],
			 m->names[to]);
		sess_set_phase(s, m->names[m->closed]);
		sess_stop_relay(s);
		sess_close(s, "internal error: illegal state change");
		return m->closed;
	}
	sess_set_phase(s, m->names[to]);
	if (to == m->ready)
		sess_start_relay(s);
	else
		sess_stop_relay(s);
	return to;
}
