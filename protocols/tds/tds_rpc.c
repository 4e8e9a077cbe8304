/* tds_rpc: RPC calls and parameters, SQLBatch headers, transaction-manager
 * requests (see tds_rpc.h). */
#include "protocols/tds/tds_rpc.h"
#include <ctype.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit_json.h"
#include "protocols/tds/tds_codec.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

long tds_skip_all_headers(const uint8_t *p, size_t n)
{
	if (n < 4)
		return -1;
	uint32_t total = rd32(p);
	if (total < 4 || total > n)
		return -1;
	/* each header: its length (4), type (2), data; they fill total exactly */
	size_t at = 4;
	while (at < total) {
		if (total - at < 6)
			return -1;
		uint32_t hl = rd32(p + at);
		if (hl < 6 || hl > total - at)
			return -1;
		at += hl;
	}
	return (long)total;
}

static const char *const proc_names[] = {
	[TDS_SP_CURSOR] = "sp_cursor",
	[TDS_SP_CURSOROPEN] = "sp_cursoropen",
	[TDS_SP_CURSORPREPARE] = "sp_cursorprepare",
	[TDS_SP_CURSOREXECUTE] = "sp_cursorexecute",
	[TDS_SP_CURSORPREPEXEC] = "sp_cursorprepexec",
	[TDS_SP_CURSORUNPREPARE] = "sp_cursorunprepare",
	[TDS_SP_CURSORFETCH] = "sp_cursorfetch",
	[TDS_SP_CURSOROPTION] = "sp_cursoroption",
	[TDS_SP_CURSORCLOSE] = "sp_cursorclose",
	[TDS_SP_EXECUTESQL] = "sp_executesql",
	[TDS_SP_PREPARE] = "sp_prepare",
	[TDS_SP_EXECUTE] = "sp_execute",
	[TDS_SP_PREPEXEC] = "sp_prepexec",
	[TDS_SP_PREPEXECRPC] = "sp_prepexecrpc",
	[TDS_SP_UNPREPARE] = "sp_unprepare",
};
#define N_PROCS (sizeof proc_names / sizeof proc_names[0])

/* A name sent for a system procedure ("sp_executesql", "sys.sp_executesql",
 * "[master].[sys].[sp_executesql]"): its id; NONE otherwise. Only the
 * names SQL Server itself resolves to the system procedure count: no
 * database or schema part, or the sys schema of the current or master
 * database. */
static enum tds_proc proc_by_name(const char *name)
{
	char parts[3][130];
	int np = 0;
	const char *s = name;
	for (;;) {
		if (np == 3)
			return TDS_SP_NONE;
		size_t k = 0;
		if (*s == '[') {
			s++;
			while (*s && !(*s == ']' && s[1] != ']')) {
				if (*s == ']')
					s++;
				if (k + 1 >= sizeof parts[0])
					return TDS_SP_NONE;
				parts[np][k++] = *s++;
			}
			if (*s != ']')
				return TDS_SP_NONE;
			s++;
		} else {
			while (*s && *s != '.') {
				if (k + 1 >= sizeof parts[0])
					return TDS_SP_NONE;
				parts[np][k++] = *s++;
			}
		}
		parts[np++][k] = '\0';
		if (*s == '\0')
			break;
		if (*s != '.')
			return TDS_SP_NONE;
		s++;
	}
	const char *last = parts[np - 1];
	if (np >= 2 && parts[np - 2][0] && strcasecmp(parts[np - 2], "sys") != 0 &&
	    strcasecmp(parts[np - 2], "dbo") != 0)
		return TDS_SP_NONE;
	if (np == 3 && parts[0][0] && strcasecmp(parts[0], "master") != 0)
		return TDS_SP_NONE;
	for (size_t i = 1; i < N_PROCS; i++)
		if (proc_names[i] && strcasecmp(last, proc_names[i]) == 0)
			return (enum tds_proc)i;
	return TDS_SP_NONE;
}

const char *tds_rpc_proc_name(const struct tds_rpc_call *c)
{
	if (c->name)
		return c->name;
	return (size_t)c->proc < N_PROCS && proc_names[c->proc] ? proc_names[c->proc] : "?";
}

/* The value of a parameter of type t at p+*at: sets pa's value fields.
 * 0, or -1 malformed. */
static int param_value(const uint8_t *p, size_t n, size_t *at, struct tds_param *pa)
{
	size_t a = *at;
	const struct tds_type *t = &pa->type;
	switch (t->kind) {
	case TDS_LEN_FIXED:
		if (n - a < t->size)
			return -1;
		pa->val = p + a;
		pa->len = t->size;
		a += t->size;
		break;
	case TDS_LEN_BYTE:
		if (n - a < 1 || n - a - 1 < p[a])
			return -1;
		pa->len = p[a];
		pa->is_null = p[a] == 0;
		pa->val = p + a + 1;
		a += 1 + pa->len;
		break;
	case TDS_LEN_USHORT:
		if (n - a < 2)
			return -1;
		if (rd16(p + a) == 0xFFFF) {
			pa->is_null = 1;
			a += 2;
			break;
		}
		pa->len = rd16(p + a);
		if (n - a - 2 < pa->len)
			return -1;
		pa->val = p + a + 2;
		a += 2 + pa->len;
		break;
	case TDS_LEN_LONG:
	case TDS_LEN_VARIANT:
		if (n - a < 4)
			return -1;
		if (t->kind == TDS_LEN_LONG && rd32(p + a) == 0xFFFFFFFFu) {
			pa->is_null = 1;
			a += 4;
			break;
		}
		pa->len = rd32(p + a);
		pa->is_null = t->kind == TDS_LEN_VARIANT && pa->len == 0;
		if (n - a - 4 < pa->len)
			return -1;
		pa->val = p + a + 4;
		a += 4 + pa->len;
		break;
	case TDS_LEN_PLP: {
		if (n - a < 8)
			return -1;
		uint64_t total = rd64(p + a);
		a += 8;
		if (total == TDS_PLP_NULL) {
			pa->is_null = 1;
			break;
		}
		pa->val = p + a;
		uint64_t sum = 0;
		for (;;) {
			if (n - a < 4)
				return -1;
			uint32_t cl = rd32(p + a);
			a += 4;
			if (cl == 0)
				break;
			if (n - a < cl)
				return -1;
			a += cl;
			sum += cl;
		}
		pa->len = (size_t)(p + a - pa->val);
		pa->plp_total = sum;
		break;
	}
	}
	*at = a;
	return 0;
}

int tds_rpc_next(const uint8_t *p, size_t n, size_t *off, struct tds_rpc_call *c, int tds71,
		 char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	size_t at = *off;
	if (at >= n)
		return 0;
	if (n - at < 4) {
		snprintf(err, errlen, "RPC call truncated");
		return -1;
	}
	uint16_t nl = rd16(p + at);
	at += 2;
	if (nl == 0xFFFF) {
		c->proc = (enum tds_proc)rd16(p + at);
		at += 2;
		if (c->proc == TDS_SP_NONE || (size_t)c->proc >= N_PROCS) {
			snprintf(err, errlen, "unknown RPC procedure id %u", (unsigned)c->proc);
			return -1;
		}
	} else {
		if (nl == 0 || n - at < (size_t)nl * 2) {
			snprintf(err, errlen, "RPC procedure name out of bounds");
			return -1;
		}
		c->name = tds_utf16_to_utf8(p + at, (size_t)nl * 2, NULL);
		if (!c->name) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->proc = proc_by_name(c->name);
		at += (size_t)nl * 2;
	}
	if (n - at < 2) {
		snprintf(err, errlen, "RPC option flags truncated");
		tds_rpc_call_free(c);
		return -1;
	}
	c->flags = rd16(p + at);
	at += 2;
	size_t cap = 0;
	/* the calls' separator: 0x80 before 7.2, 0xFF after; 0xFE no-exec. All
	 * three end a call in every version: a server that takes 0x80 as a
	 * separator in a 7.4 session would otherwise run a second call whose
	 * bytes the proxy read as a 128-character parameter name. */
	(void)tds71;
	while (at < n && p[at] != 0x80 && p[at] != 0xFF && p[at] != 0xFE) {
		if (c->nparams == TDS_RPC_PARAMS_MAX) {
			snprintf(err, errlen, "more than %d RPC parameters", TDS_RPC_PARAMS_MAX);
			tds_rpc_call_free(c);
			return -1;
		}
		if (c->nparams == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct tds_param *np = realloc(c->params, nc * sizeof *np);
			if (!np) {
				snprintf(err, errlen, "out of memory");
				tds_rpc_call_free(c);
				return -1;
			}
			c->params = np;
			cap = nc;
		}
		struct tds_param *pa = &c->params[c->nparams];
		memset(pa, 0, sizeof *pa);
		size_t chars = p[at];
		if (chars > 128) { /* longer than a sysname: no server reads it as a name */
			snprintf(err, errlen, "RPC parameter name longer than 128 characters");
			tds_rpc_call_free(c);
			return -1;
		}
		if (n - at - 1 < chars * 2 + 1) {
			snprintf(err, errlen, "RPC parameter name out of bounds");
			tds_rpc_call_free(c);
			return -1;
		}
		pa->name = p + at + 1;
		pa->name_chars = chars;
		at += 1 + chars * 2;
		pa->status = p[at++];
		long tl = tds_type_parse(p + at, n - at, &pa->type, 1);
		if (tl <= 0) {
			if (at < n && p[at] == TDS_T_TVP)
				snprintf(err, errlen, "table-valued RPC parameters are not supported");
			else
				snprintf(err, errlen, "malformed type of RPC parameter %zu", c->nparams + 1);
			tds_rpc_call_free(c);
			return -1;
		}
		at += (size_t)tl;
		if (param_value(p, n, &at, pa) != 0) {
			snprintf(err, errlen, "malformed RPC parameter %zu", c->nparams + 1);
			tds_rpc_call_free(c);
			return -1;
		}
		c->nparams++;
	}
	if (at < n)
		at++; /* the batch separator */
	*off = at;
	return 1;
}

void tds_rpc_call_free(struct tds_rpc_call *c)
{
	free(c->name);
	free(c->params);
	memset(c, 0, sizeof *c);
}

int tds_rpc_sql_param(enum tds_proc proc, size_t *values)
{
	switch (proc) {
	case TDS_SP_EXECUTESQL: *values = 2; return 0;
	case TDS_SP_PREPARE: *values = SIZE_MAX; return 2;
	case TDS_SP_PREPEXEC: *values = 3; return 2;
	case TDS_SP_CURSOROPEN: *values = 6; return 1;
	case TDS_SP_CURSORPREPARE: *values = SIZE_MAX; return 2;
	case TDS_SP_CURSORPREPEXEC: *values = 8; return 3;
	case TDS_SP_EXECUTE: *values = 1; return -1;
	case TDS_SP_CURSOREXECUTE: *values = 5; return -1;
	default: *values = 0; return -1;
	}
}

static int param_named(const struct tds_param *pa, const char *want)
{
	size_t wl = strlen(want);
	if (pa->name_chars != wl)
		return 0;
	for (size_t i = 0; i < wl; i++) {
		unsigned lo = pa->name[2 * i], hi = pa->name[2 * i + 1];
		if (hi || tolower((int)lo) != tolower((unsigned char)want[i]))
			return 0;
	}
	return 1;
}

long tds_rpc_param_bound(const struct tds_rpc_call *call, size_t pos, const char *want)
{
	for (size_t i = 0; i < call->nparams; i++)
		if (i != pos && param_named(&call->params[i], want))
			return -1;
	return (long)pos;
}

uint8_t *tds_param_bytes(const struct tds_param *pa, size_t *n)
{
	*n = 0;
	if (pa->is_null)
		return NULL;
	size_t total = pa->type.kind == TDS_LEN_PLP ? (size_t)pa->plp_total : pa->len;
	uint8_t *out = malloc(total ? total : 1);
	if (!out)
		return NULL;
	if (pa->type.kind != TDS_LEN_PLP) {
		memcpy(out, pa->val, total);
	} else {
		size_t at = 0, o = 0;
		for (;;) {
			uint32_t cl = rd32(pa->val + at);
			at += 4;
			if (cl == 0)
				break;
			memcpy(out + o, pa->val + at, cl);
			at += cl;
			o += cl;
		}
	}
	*n = total;
	return out;
}

char *tds_param_text(const struct tds_param *pa, size_t *n)
{
	*n = 0;
	if (!tds_type_is_text(&pa->type) || pa->is_null)
		return NULL;
	size_t bl;
	uint8_t *b = tds_param_bytes(pa, &bl);
	if (!b)
		return NULL;
	char *out;
	if (tds_type_is_unicode(&pa->type)) {
		out = tds_utf16_to_utf8(b, bl, n);
		free(b);
		return out;
	}
	out = malloc(bl + 1);
	if (out) {
		memcpy(out, b, bl);
		out[bl] = '\0';
		*n = bl;
	}
	free(b);
	return out;
}

int tds_param_int(const struct tds_param *pa, int32_t *v)
{
	if (pa->is_null || pa->type.kind == TDS_LEN_PLP || pa->len != 4 ||
	    (pa->type.id != TDS_T_INTN && pa->type.id != TDS_T_INT4))
		return -1;
	*v = (int32_t)rd32(pa->val);
	return 0;
}

char *tds_params_json(const struct tds_rpc_call *c, size_t from)
{
	struct audit_buf b;
	audit_buf_init(&b);
	audit_buf_putc(&b, '[');
	for (size_t i = from; i < c->nparams; i++) {
		const struct tds_param *pa = &c->params[i];
		if (i > from)
			audit_buf_putc(&b, ',');
		if (pa->type.kind == TDS_LEN_PLP && !pa->is_null) {
			size_t n;
			uint8_t *v = tds_param_bytes(pa, &n);
			if (!v) {
				b.oom = 1;
				break;
			}
			struct tds_type t = pa->type;
			t.kind = TDS_LEN_USHORT;
			tds_value_json(&b, &t, v, n, 0);
			free(v);
		} else {
			tds_value_json(&b, &pa->type, pa->val, pa->len, pa->is_null);
		}
	}
	audit_buf_putc(&b, ']');
	if (!audit_buf_cstr(&b)) {
		audit_buf_free(&b);
		return NULL;
	}
	return b.p;
}

const char *tds_transmgr_text(const uint8_t *p, size_t n)
{
	if (n < 2)
		return NULL;
	switch (rd16(p)) {
	case 5: return "BEGIN TRANSACTION";
	case 7: return "COMMIT TRANSACTION";
	case 8: return "ROLLBACK TRANSACTION";
	case 9: return "SAVE TRANSACTION";
	default: return NULL; /* DTC address, propagate, promote */
	}
}
