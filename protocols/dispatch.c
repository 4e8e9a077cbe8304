/* protocols/dispatch: the one event router every frontend uses.
 *
 * A frontend is a login state machine followed by a relay. This routes the
 * core's session events by the frontend's stage (struct protocol stage):
 * input to the login or to the relay, a drained output to the relay, the
 * session timer to the login or, once ready, to the idle timeout, and the
 * rest (connect, TLS, errors) to the login's event handler. Knows no
 * protocol. */
#include "protocols/protocol.h"

#include "proxy/session.h"

void protocol_dispatch(struct session *s, void *state, enum sess_side side, enum sess_event ev)
{
	const struct protocol *p = s->proto;
	enum protocol_stage stage = p->stage(state);
	switch (ev) {
	case SESS_EV_READ:
		if (stage == PROTOCOL_READY)
			p->relay_read(s, state, side);
		else if (stage == PROTOCOL_LOGIN)
			p->login_read(s, state, side);
		return;
	case SESS_EV_FLUSHED:
		if (stage == PROTOCOL_READY && p->relay_flushed)
			p->relay_flushed(s, state);
		return;
	case SESS_EV_TIMEOUT:
		if (stage == PROTOCOL_READY) {
			sess_close(s, "idle timeout");
			return;
		}
		break;
	default:
		break;
	}
	p->login_event(s, state, side, ev);
}
