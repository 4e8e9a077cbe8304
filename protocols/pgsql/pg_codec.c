/* pg_codec: PostgreSQL v3 message parsing and building (see pg_codec.h). */
#include "protocols/pgsql/pg_codec.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_get_u16(struct wire_reader *r, uint16_t *v)
{
	if (r->n - r->off < 2)
		return -1;
	*v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return 0;
}

int pg_get_u32(struct wire_reader *r, uint32_t *v)
{
	if (r->n - r->off < 4)
		return -1;
	const uint8_t *p = r->p + r->off;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	r->off += 4;
	return 0;
}

int pg_parse_startup(const uint8_t *pkt, size_t len, struct pg_startup *out, char *err,
		     size_t errlen)
{
	struct wire_reader r;
	uint32_t plen;
	memset(out, 0, sizeof *out);
	wire_reader_init(&r, pkt, len);
	if (pg_get_u32(&r, &plen) != 0 || plen != len || len < 8) {
		snprintf(err, errlen, "invalid startup packet length");
		return -1;
	}
	if (len > PG_STARTUP_MAX) {
		snprintf(err, errlen, "startup packet too long (%zu bytes)", len);
		return -1;
	}
	if (pg_get_u32(&r, &out->code) != 0)
		return -1;
	switch (out->code) {
	case PG_SSL_REQUEST:
	case PG_GSSENC_REQUEST:
		if (len != 8) {
			snprintf(err, errlen, "invalid SSL/GSS request length");
			return -1;
		}
		return 0;
	case PG_CANCEL_REQUEST:
		if (len != 16 || pg_get_u32(&r, &out->cancel_pid) != 0 ||
		    pg_get_u32(&r, &out->cancel_key) != 0) {
			snprintf(err, errlen, "invalid cancel request length");
			return -1;
		}
		return 0;
	case PG_PROTO_V3:
		break;
	default:
		snprintf(err, errlen, "unsupported frontend protocol %u.%u", out->code >> 16,
			 out->code & 0xffff);
		return -1;
	}
	/* name\0value\0 ... \0 */
	for (;;) {
		const char *name, *value;
		size_t nlen;
		if (wire_get_cstr(&r, &name, &nlen) != 0) {
			snprintf(err, errlen, "invalid startup packet layout: expected terminator");
			return -1;
		}
		if (nlen == 0)
			break;
		if (wire_get_cstr(&r, &value, NULL) != 0) {
			snprintf(err, errlen, "invalid startup packet layout: missing value for %.40s",
				 name);
			return -1;
		}
		if (strcmp(name, "user") == 0) {
			out->user = value;
		} else if (strcmp(name, "database") == 0) {
			out->database = value;
		} else {
			if (out->n_params == PG_STARTUP_PARAMS_MAX) {
				snprintf(err, errlen, "too many startup parameters");
				return -1;
			}
			out->params[out->n_params].name = name;
			out->params[out->n_params].value = value;
			out->n_params++;
		}
	}
	if (r.off != r.n) {
		snprintf(err, errlen, "invalid startup packet layout: data after terminator");
		return -1;
	}
	if (!out->user || !*out->user) {
		snprintf(err, errlen, "no PostgreSQL user name specified in startup packet");
		return -1;
	}
	return 0;
}

int pg_parse_query(const uint8_t *b, size_t n, const char **sql, size_t *len)
{
	struct wire_reader r;
	wire_reader_init(&r, b, n);
	if (wire_get_cstr(&r, sql, len) != 0 || r.off != n)
		return -1;
	return 0;
}

int pg_parse_parse(const uint8_t *b, size_t n, const char **name, const char **sql,
		   size_t *sqllen)
{
	struct wire_reader r;
	uint16_t nparams;
	const uint8_t *types;
	wire_reader_init(&r, b, n);
	if (wire_get_cstr(&r, name, NULL) != 0 || wire_get_cstr(&r, sql, sqllen) != 0 ||
	    pg_get_u16(&r, &nparams) != 0 || wire_get_bytes(&r, (size_t)nparams * 4, &types) != 0 ||
	    r.off != n)
		return -1;
	return 0;
}

/* Format codes and values at r; the count of formats must be 0, 1 or the
 * count of values, as the server requires. */
static int get_values(struct wire_reader *r, struct pg_values *v)
{
	if (pg_get_u16(r, &v->n_formats) != 0 ||
	    wire_get_bytes(r, (size_t)v->n_formats * 2, &v->formats) != 0 || pg_get_u16(r, &v->n) != 0)
		return -1;
	if (v->n_formats > 1 && v->n_formats != v->n)
		return -1;
	size_t start = r->off;
	for (uint16_t i = 0; i < v->n; i++) {
		uint32_t len;
		const uint8_t *p;
		if (pg_get_u32(r, &len) != 0)
			return -1;
		if (len != 0xFFFFFFFFu && (len > INT32_MAX || wire_get_bytes(r, len, &p) != 0))
			return -1;
	}
	v->data = r->p + start;
	v->data_len = r->off - start;
	return 0;
}

void pg_values_next(const struct pg_values *v, size_t *off, uint16_t i, const uint8_t **val,
		    int32_t *len, int *binary)
{
	const uint8_t *p = v->data + *off;
	uint32_t l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	*off += 4;
	*val = v->data + *off;
	*len = l == 0xFFFFFFFFu ? -1 : (int32_t)l;
	if (*len > 0)
		*off += (size_t)*len;
	const uint8_t *f = v->n_formats == 0 ? NULL
			   : v->n_formats == 1 ? v->formats
					       : v->formats + (size_t)i * 2;
	*binary = f && (f[0] << 8 | f[1]) == 1;
}

int pg_parse_bind(const uint8_t *b, size_t n, struct pg_bind *out)
{
	struct wire_reader r;
	uint16_t nres;
	const uint8_t *res;
	wire_reader_init(&r, b, n);
	if (wire_get_cstr(&r, &out->portal, NULL) != 0 || wire_get_cstr(&r, &out->stmt, NULL) != 0 ||
	    get_values(&r, &out->params) != 0 || pg_get_u16(&r, &nres) != 0 ||
	    wire_get_bytes(&r, (size_t)nres * 2, &res) != 0 || r.off != n)
		return -1;
	return 0;
}

int pg_parse_function_call(const uint8_t *b, size_t n, uint32_t *oid, struct pg_values *args)
{
	struct wire_reader r;
	uint16_t result_format;
	wire_reader_init(&r, b, n);
	if (pg_get_u32(&r, oid) != 0 || get_values(&r, args) != 0 ||
	    pg_get_u16(&r, &result_format) != 0 || r.off != n)
		return -1;
	return 0;
}

int pg_parse_execute(const uint8_t *b, size_t n, const char **portal)
{
	struct wire_reader r;
	uint32_t maxrows;
	wire_reader_init(&r, b, n);
	if (wire_get_cstr(&r, portal, NULL) != 0 || pg_get_u32(&r, &maxrows) != 0 || r.off != n)
		return -1;
	return 0;
}

int pg_parse_target(const uint8_t *b, size_t n, char *kind, const char **name)
{
	struct wire_reader r;
	uint8_t k;
	wire_reader_init(&r, b, n);
	if (wire_get_u8(&r, &k) != 0 || (k != 'S' && k != 'P') || wire_get_cstr(&r, name, NULL) != 0 ||
	    r.off != n)
		return -1;
	*kind = (char)k;
	return 0;
}

int pg_parse_auth(const uint8_t *b, size_t n, uint32_t *code, const uint8_t **data,
		  size_t *dlen)
{
	struct wire_reader r;
	wire_reader_init(&r, b, n);
	if (pg_get_u32(&r, code) != 0)
		return -1;
	*data = b + 4;
	*dlen = n - 4;
	return 0;
}

int pg_parse_sasl_initial(const uint8_t *b, size_t n, const char **mech, const uint8_t **data,
			  size_t *dlen)
{
	struct wire_reader r;
	uint32_t len;
	wire_reader_init(&r, b, n);
	if (wire_get_cstr(&r, mech, NULL) != 0 || pg_get_u32(&r, &len) != 0)
		return -1;
	if (len == 0xffffffffu) {
		*data = NULL;
		*dlen = 0;
		return r.off == n ? 0 : -1;
	}
	if (wire_get_bytes(&r, len, data) != 0 || r.off != n)
		return -1;
	*dlen = len;
	return 0;
}

int pg_parse_password(const uint8_t *b, size_t n, const char **pw, size_t *len)
{
	struct wire_reader r;
	wire_reader_init(&r, b, n);
	if (wire_get_cstr(&r, pw, len) != 0 || r.off != n)
		return -1;
	return 0;
}

/* Tags: "SELECT 5", "INSERT 0 5", "UPDATE 3", "DELETE 1", "COPY 9",
 * "MOVE 2", "FETCH 2", "MERGE 1"; others ("CREATE TABLE") have no count. */
int64_t pg_command_rows(const uint8_t *b, size_t n)
{
	const uint8_t *nul = memchr(b, 0, n);
	size_t len = nul ? (size_t)(nul - b) : n;
	size_t i = len;
	while (i > 0 && b[i - 1] >= '0' && b[i - 1] <= '9')
		i--;
	if (i == len || i == 0 || b[i - 1] != ' ')
		return -1;
	static const char *const counted[] = {"SELECT", "INSERT", "UPDATE", "DELETE",
					      "COPY", "MOVE", "FETCH", "MERGE"};
	int ok = 0;
	for (size_t k = 0; k < sizeof counted / sizeof counted[0]; k++) {
		size_t kl = strlen(counted[k]);
		if (len > kl && memcmp(b, counted[k], kl) == 0 && b[kl] == ' ')
			ok = 1;
	}
	if (!ok)
		return -1;
	int64_t v = 0;
	for (size_t k = i; k < len && v < (INT64_MAX / 10); k++)
		v = v * 10 + (b[k] - '0');
	return v;
}

int pg_error_field(const uint8_t *b, size_t n, char code, const char **val, size_t *len)
{
	struct wire_reader r;
	wire_reader_init(&r, b, n);
	for (;;) {
		uint8_t f;
		const char *s;
		size_t sl;
		if (wire_get_u8(&r, &f) != 0 || f == 0)
			return -1;
		if (wire_get_cstr(&r, &s, &sl) != 0)
			return -1;
		if (f == (uint8_t)code) {
			*val = s;
			if (len)
				*len = sl;
			return 0;
		}
	}
}

int pg_parse_backend_key(const uint8_t *b, size_t n, uint32_t *pid, uint32_t *key)
{
	struct wire_reader r;
	wire_reader_init(&r, b, n);
	if (pg_get_u32(&r, pid) != 0 || pg_get_u32(&r, key) != 0 || r.off != n)
		return -1;
	return 0;
}

/* ---- builders ---- */

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Header for a typed message with a body of n bytes. */
static int put_header(struct evbuffer *out, char type, size_t n)
{
	uint8_t h[5];
	h[0] = (uint8_t)type;
	be32(h + 1, (uint32_t)(n + 4));
	return evbuffer_add(out, h, 5);
}

int pg_put_error(struct evbuffer *out, const char *severity, const char *sqlstate,
		 const char *msg)
{
	size_t n = 1 + strlen(severity) + 1 + 1 + strlen(severity) + 1 + 1 + strlen(sqlstate) + 1 +
		   1 + strlen(msg) + 1 + 1;
	if (put_header(out, 'E', n) != 0)
		return -1;
	int rc = 0;
	rc |= evbuffer_add(out, "S", 1) | evbuffer_add(out, severity, strlen(severity) + 1);
	rc |= evbuffer_add(out, "V", 1) | evbuffer_add(out, severity, strlen(severity) + 1);
	rc |= evbuffer_add(out, "C", 1) | evbuffer_add(out, sqlstate, strlen(sqlstate) + 1);
	rc |= evbuffer_add(out, "M", 1) | evbuffer_add(out, msg, strlen(msg) + 1);
	rc |= evbuffer_add(out, "", 1);
	return rc ? -1 : 0;
}

int pg_put_auth(struct evbuffer *out, uint32_t code, const void *data, size_t n)
{
	uint8_t c[4];
	be32(c, code);
	if (put_header(out, 'R', 4 + n) != 0 || evbuffer_add(out, c, 4) != 0)
		return -1;
	return n ? evbuffer_add(out, data, n) : 0;
}

int pg_put_auth_sasl(struct evbuffer *out, const char *mechanism)
{
	/* mechanism list: each NUL-terminated, then an empty string */
	char buf[64];
	size_t ml = strlen(mechanism);
	if (ml + 2 > sizeof buf)
		return -1;
	memcpy(buf, mechanism, ml + 1);
	buf[ml + 1] = '\0';
	return pg_put_auth(out, PG_AUTH_SASL, buf, ml + 2);
}

int pg_put_ready(struct evbuffer *out, char status)
{
	if (put_header(out, 'Z', 1) != 0)
		return -1;
	return evbuffer_add(out, &status, 1);
}

int pg_put_backend_key(struct evbuffer *out, uint32_t pid, uint32_t key)
{
	uint8_t b[8];
	be32(b, pid);
	be32(b + 4, key);
	if (put_header(out, 'K', 8) != 0)
		return -1;
	return evbuffer_add(out, b, 8);
}

int pg_put_startup(struct evbuffer *out, const char *user, const char *database,
		   const struct pg_param *params, int n)
{
	size_t len = 4 + 4 + 5 + strlen(user) + 1 + 1;
	if (database && *database)
		len += 9 + strlen(database) + 1;
	for (int i = 0; i < n; i++)
		len += strlen(params[i].name) + 1 + strlen(params[i].value) + 1;
	if (len > PG_STARTUP_MAX)
		return -1;
	uint8_t h[8];
	be32(h, (uint32_t)len);
	be32(h + 4, PG_PROTO_V3);
	int rc = evbuffer_add(out, h, 8);
	rc |= evbuffer_add(out, "user", 5) | evbuffer_add(out, user, strlen(user) + 1);
	if (database && *database)
		rc |= evbuffer_add(out, "database", 9) |
		      evbuffer_add(out, database, strlen(database) + 1);
	for (int i = 0; i < n; i++)
		rc |= evbuffer_add(out, params[i].name, strlen(params[i].name) + 1) |
		      evbuffer_add(out, params[i].value, strlen(params[i].value) + 1);
	rc |= evbuffer_add(out, "", 1);
	return rc ? -1 : 0;
}

int pg_put_request_code(struct evbuffer *out, uint32_t code)
{
	uint8_t b[8];
	be32(b, 8);
	be32(b + 4, code);
	return evbuffer_add(out, b, 8);
}

int pg_put_cancel(struct evbuffer *out, uint32_t pid, uint32_t key)
{
	uint8_t b[16];
	be32(b, 16);
	be32(b + 4, PG_CANCEL_REQUEST);
	be32(b + 8, pid);
	be32(b + 12, key);
	return evbuffer_add(out, b, 16);
}

int pg_put_password(struct evbuffer *out, const char *pw)
{
	size_t n = strlen(pw) + 1;
	if (put_header(out, 'p', n) != 0)
		return -1;
	return evbuffer_add(out, pw, n);
}

int pg_put_sasl_initial(struct evbuffer *out, const char *mech, const void *data, size_t n)
{
	size_t ml = strlen(mech) + 1;
	uint8_t l[4];
	be32(l, (uint32_t)n);
	if (put_header(out, 'p', ml + 4 + n) != 0)
		return -1;
	int rc = evbuffer_add(out, mech, ml) | evbuffer_add(out, l, 4);
	if (n)
		rc |= evbuffer_add(out, data, n);
	return rc ? -1 : 0;
}

int pg_put_sasl_response(struct evbuffer *out, const void *data, size_t n)
{
	if (put_header(out, 'p', n) != 0)
		return -1;
	return evbuffer_add(out, data, n);
}

int pg_put_bind_to(struct evbuffer *out, const char *stmt)
{
	/* portal "" | stmt | 0 param formats | 0 params | 0 result formats */
	size_t sl = strlen(stmt) + 1;
	static const uint8_t tail[6] = {0, 0, 0, 0, 0, 0};
	if (put_header(out, 'B', 1 + sl + 6) != 0)
		return -1;
	int rc = evbuffer_add(out, "", 1) | evbuffer_add(out, stmt, sl) | evbuffer_add(out, tail, 6);
	return rc ? -1 : 0;
}

int pg_put_sync(struct evbuffer *out)
{
	return put_header(out, 'S', 0);
}

int pg_put_terminate(struct evbuffer *out)
{
	return put_header(out, 'X', 0);
}

int pg_put_parse(struct evbuffer *out, const char *name, const char *sql)
{
	size_t nl = strlen(name) + 1, sl = strlen(sql) + 1;
	static const uint8_t none[2] = {0, 0};
	if (put_header(out, 'P', nl + sl + 2) != 0)
		return -1;
	int rc = evbuffer_add(out, name, nl) | evbuffer_add(out, sql, sl) | evbuffer_add(out, none, 2);
	return rc ? -1 : 0;
}

int pg_put_bind_text(struct evbuffer *out, const char *portal, const char *stmt,
		     const char *const *values, int n)
{
	size_t pl = strlen(portal) + 1, sl = strlen(stmt) + 1, len = pl + sl + 2 + 2 + 2;
	for (int i = 0; i < n; i++)
		len += 4 + strlen(values[i]);
	uint8_t u16[2] = {0, 0};
	if (put_header(out, 'B', len) != 0)
		return -1;
	int rc = evbuffer_add(out, portal, pl) | evbuffer_add(out, stmt, sl) |
		 evbuffer_add(out, u16, 2); /* no format codes: all text */
	u16[0] = (uint8_t)(n >> 8);
	u16[1] = (uint8_t)n;
	rc |= evbuffer_add(out, u16, 2);
	for (int i = 0; i < n; i++) {
		uint8_t l[4];
		size_t vl = strlen(values[i]);
		be32(l, (uint32_t)vl);
		rc |= evbuffer_add(out, l, 4) | evbuffer_add(out, values[i], vl);
	}
	u16[0] = u16[1] = 0;
	rc |= evbuffer_add(out, u16, 2); /* result columns: all text */
	return rc ? -1 : 0;
}

int pg_put_execute(struct evbuffer *out, const char *portal)
{
	size_t pl = strlen(portal) + 1;
	static const uint8_t all[4] = {0, 0, 0, 0};
	if (put_header(out, 'E', pl + 4) != 0)
		return -1;
	return (evbuffer_add(out, portal, pl) | evbuffer_add(out, all, 4)) ? -1 : 0;
}

int pg_put_close(struct evbuffer *out, char kind, const char *name)
{
	size_t nl = strlen(name) + 1;
	if (put_header(out, 'C', 1 + nl) != 0)
		return -1;
	return (evbuffer_add(out, &kind, 1) | evbuffer_add(out, name, nl)) ? -1 : 0;
}
