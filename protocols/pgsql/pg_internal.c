/* pg_internal: the proxy's own queries on the backend (see pg_internal.h). */
#include "protocols/pgsql/pg_internal.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/pgsql/pg_codec.h"
#include "protocols/pgsql/pg_conn.h"
#include "proxy/session.h"

struct pg_internal {
	char name[96];          /* statement and portal name */
	pg_internal_row row;
	pg_internal_done done;
	void *arg;
	struct pg_internal_result res;
};

static void result_clear(struct pg_internal_result *r)
{
	for (int i = 0; i < r->n_rows; i++)
		for (int j = 0; j < r->n_cols; j++)
			free(r->cell[i][j]);
	memset(r, 0, sizeof *r);
}

int pg_internal_run(struct pg_conn *c, const char *sql, const char *const *params, int n,
		    pg_internal_row row, pg_internal_done done, void *arg)
{
	struct pg_internal *q = calloc(1, sizeof *q);
	if (!q)
		return -1;
	snprintf(q->name, sizeof q->name, "%s_i%llu", c->marker,
		 (unsigned long long)++c->internal_count);
	q->row = row;
	q->done = done;
	q->arg = arg;
	q->res.ok = 1;
	struct evbuffer *out = sess_output(c->s, SESS_BACKEND);
	if (pg_put_parse(out, q->name, sql) != 0 ||
	    pg_put_bind_text(out, q->name, q->name, params, n) != 0 ||
	    pg_put_execute(out, q->name) != 0 || pg_put_close(out, 'P', q->name) != 0 ||
	    pg_put_close(out, 'S', q->name) != 0 || pg_put_sync(out) != 0) {
		free(q);
		return -1;
	}
	c->internal = q;
	return 0;
}

/* DataRow: keep up to PG_INTERNAL_ROWS rows of PG_INTERNAL_COLS text values. */
static int keep_row(struct pg_internal_result *r, const uint8_t *b, size_t n)
{
	struct wire_reader rd;
	uint16_t cols;
	wire_reader_init(&rd, b, n);
	if (pg_get_u16(&rd, &cols) != 0)
		return -1;
	if (r->n_rows == PG_INTERNAL_ROWS)
		return 0;
	int row = r->n_rows++;
	int keep = cols < PG_INTERNAL_COLS ? cols : PG_INTERNAL_COLS;
	if (keep > r->n_cols) {
		for (int i = 0; i < row; i++) /* earlier rows: NULL in the new columns */
			for (int j = r->n_cols; j < keep; j++)
				r->cell[i][j] = NULL;
		r->n_cols = keep;
	}
	for (int j = 0; j < r->n_cols; j++) {
		uint32_t len;
		const uint8_t *v;
		r->cell[row][j] = NULL;
		if (j >= keep)
			continue;
		if (pg_get_u32(&rd, &len) != 0)
			return -1;
		if (len == 0xffffffffu)
			continue;
		if (wire_get_bytes(&rd, len, &v) != 0)
			return -1;
		size_t k = len < PG_INTERNAL_CELL_MAX ? len : PG_INTERNAL_CELL_MAX;
		char *s = malloc(k + 1);
		if (!s)
			return -1;
		memcpy(s, v, k);
		s[k] = '\0';
		r->cell[row][j] = s;
	}
	return 0;
}

int pg_internal_backend(struct pg_conn *c, char type, const uint8_t *b, size_t n)
{
	struct pg_internal *q = c->internal;
	switch (type) {
	case '1':
	case '2':
	case '3':
	case 'C':
	case 'N': /* a notice of ours: not the client's */
		return 1;
	case 'D':
		if (keep_row(&q->res, b, n) != 0) {
			sess_close(c->s, "invalid DataRow from backend (internal query)");
			return -1;
		}
		if (q->row) {
			q->row(c, &q->res, q->arg);
			result_clear(&q->res);
			q->res.ok = 1;
		}
		return 1;
	case 'E':
		if (q->res.ok) {
			const char *code = "", *msg = "";
			size_t ml = 0;
			(void)pg_error_field(b, n, 'C', &code, NULL);
			(void)pg_error_field(b, n, 'M', &msg, &ml);
			q->res.ok = 0;
			snprintf(q->res.error, sizeof q->res.error, "%s %.*s", code,
				 (int)(ml > 250 ? 250 : ml), msg);
		}
		return 1;
	case 'A': /* LISTEN/NOTIFY: the client's, whenever it comes */
		return 0;
	case 'S':
		pg_note_parameter(c, b, n);
		return 0;
	case 'Z': {
		c->tx_status = n ? (char)b[0] : c->tx_status;
		c->internal = NULL;
		if (!q->res.ok)
			sess_log(c->s, LOG_WARN, "internal query failed: %s", q->res.error);
		q->done(c, &q->res, q->arg);
		result_clear(&q->res);
		free(q);
		return 1;
	}
	default:
		sess_log(c->s, LOG_ERR, "unexpected backend message '%c' during an internal query",
			 type);
		sess_close(c->s, "backend reply out of order (internal query)");
		return -1;
	}
}

void pg_internal_free(struct pg_conn *c)
{
	if (!c->internal)
		return;
	result_clear(&c->internal->res);
	free(c->internal);
	c->internal = NULL;
}
