/* protocols/dispatch: the one event router every frontend uses.
 *
 * A frontend is a login state machine followed by a relay. This routes the
 * core's session events by the frontend's stage (struct protocol stage):
 * input to the login or to the relay, a drained output to the relay; the
 * login timers and the backend's failures during the login (audited by the
 * core's login tail, proxy/login.h); connect and TLS completions to the
 * frontend's next step. Knows no protocol: a frontend supplies only what
 * is its own (how to go on, what to tell the client). */
#include "protocols/protocol.h"

#include <event2/buffer.h>

#include "proxy/login.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

/* The session timer fired. */
static void on_timer(struct session *s, void *state, enum protocol_stage stage)
{
	const struct protocol *p = s->proto;
	switch (stage) {
	case PROTOCOL_READY:
		sess_close(s, "idle timeout");
		return;
	case PROTOCOL_CLIENT_LOGIN:
		sess_close(s, "login timed out");
		return;
	case PROTOCOL_BACKEND_LOGIN:
		login_backend_failed(s, p->login(state), "timed out connecting to the backend");
		return;
	case PROTOCOL_SIDE_JOB:
		if (p->side_job_over)
			p->side_job_over(s, state);
		return;
	case PROTOCOL_CLOSED:
		return;
	}
}

/* The backend connection failed or closed (s->backend_error). */
static void on_backend_error(struct session *s, void *state, enum protocol_stage stage)
{
	const struct protocol *p = s->proto;
	if (stage == PROTOCOL_BACKEND_LOGIN)
		login_backend_failed(s, p->login(state), s->backend_error);
	else if (stage == PROTOCOL_READY)
		p->backend_lost(s, state);
	else if (stage == PROTOCOL_SIDE_JOB && p->side_job_over)
		p->side_job_over(s, state);
}

void protocol_dispatch(struct session *s, void *state, enum sess_side side, enum sess_event ev)
{
	const struct protocol *p = s->proto;
	enum protocol_stage stage = p->stage(state);
	switch (ev) {
	case SESS_EV_READ:
		if (stage == PROTOCOL_READY)
			p->relay_read(s, state, side);
		else if (stage != PROTOCOL_CLOSED)
			p->login_read(s, state, side);
		return;
	case SESS_EV_FLUSHED:
		if (stage == PROTOCOL_READY && p->relay_flushed)
			p->relay_flushed(s, state);
		return;
	case SESS_EV_TIMEOUT:
		on_timer(s, state, stage);
		return;
	case SESS_EV_CONNECTED:
		sess_set_timer(s, s->px->cfg.login_timeout);
		p->backend_ready(s, state, 0);
		return;
	case SESS_EV_TLS_READY:
		if (side == SESS_CLIENT) {
			if (p->client_tls_ready(s, state) &&
			    evbuffer_get_length(sess_input(s, SESS_CLIENT)))
				p->login_read(s, state, SESS_CLIENT);
		} else if (stage == PROTOCOL_BACKEND_LOGIN) {
			sess_set_timer(s, s->px->cfg.login_timeout);
			p->backend_ready(s, state, 1);
		}
		return;
	case SESS_EV_ERROR:
		on_backend_error(s, state, stage);
		return;
	}
}
