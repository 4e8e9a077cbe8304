/* tds_types: TYPE_INFO parsing and parameter values as JSON (see tds_types.h). */
#include "protocols/tds/tds_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_json.h"
#include "audit/audit_value.h"
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

static int fixed_size(uint8_t id)
{
	switch (id) {
	case 0x1F: return 0; /* NULL */
	case 0x30: case 0x32: return 1; /* INT1, BIT */
	case 0x34: return 2; /* INT2 */
	case 0x38: case 0x3A: case 0x3B: case 0x7A: return 4; /* INT4, DATETIM4, FLT4, MONEY4 */
	case 0x3C: case 0x3D: case 0x3E: case 0x7F: return 8; /* MONEY, DATETIME, FLT8, INT8 */
	default: return -1;
	}
}

/* B_VARCHAR (1-byte character count) or US_VARCHAR (2-byte) at p+*at. */
static int skip_varchar(const uint8_t *p, size_t n, size_t *at, int wide)
{
	size_t hl = wide ? 2 : 1;
	if (n - *at < hl)
		return 0;
	size_t chars = wide ? rd16(p + *at) : p[*at];
	if (n - *at - hl < chars * 2)
		return 0;
	*at += hl + chars * 2;
	return 1;
}

long tds_type_parse(const uint8_t *p, size_t n, struct tds_type *t, int param)
{
	memset(t, 0, sizeof *t);
	if (n < 1)
		return 0;
	t->id = p[0];
	int fs = fixed_size(t->id);
	if (fs >= 0) {
		t->kind = TDS_LEN_FIXED;
		t->size = (uint32_t)fs;
		return 1;
	}
	switch (t->id) {
	case 0x24: case 0x26: case 0x68: case 0x6D: case 0x6E: case 0x6F: /* GUID, INTN, BITN, FLTN, MONEYN, DATETIMN */
	case 0x2F: case 0x27: case 0x2D: case 0x25: /* legacy CHAR, VARCHAR, BINARY, VARBINARY */
		if (n < 2)
			return 0;
		t->kind = TDS_LEN_BYTE;
		t->size = p[1];
		return 2;
	case 0x37: case 0x3F: case 0x6A: case 0x6C: /* DECIMAL, NUMERIC (N) */
		if (n < 4)
			return 0;
		t->kind = TDS_LEN_BYTE;
		t->size = p[1];
		t->prec = p[2];
		t->scale = p[3];
		return 4;
	case 0x28: /* DATEN */
		t->kind = TDS_LEN_BYTE;
		t->size = 3;
		return 1;
	case 0x29: case 0x2A: case 0x2B: /* TIMEN, DATETIME2N, DATETIMEOFFSETN */
		if (n < 2)
			return 0;
		t->kind = TDS_LEN_BYTE;
		t->scale = p[1];
		if (t->scale > 7)
			return -1;
		return 2;
	case 0xA5: case 0xAD: /* BIGVARBINARY, BIGBINARY */
	case 0xA7: case 0xAF: case 0xE7: case 0xEF: { /* BIGVARCHAR, BIGCHAR, NVARCHAR, NCHAR */
		int coll = t->id != 0xA5 && t->id != 0xAD;
		size_t need = 3 + (coll ? 5 : 0);
		if (n < need)
			return 0;
		t->size = rd16(p + 1);
		t->kind = t->size == 0xFFFF && (t->id == 0xA5 || t->id == 0xA7 || t->id == 0xE7)
				  ? TDS_LEN_PLP
				  : TDS_LEN_USHORT;
		if (coll) {
			t->has_collation = 1;
			memcpy(t->collation, p + 3, 5);
		}
		return (long)need;
	}
	case 0x22: case 0x23: case 0x63: { /* IMAGE, TEXT, NTEXT */
		int coll = t->id != 0x22;
		size_t need = 5 + (coll ? 5 : 0);
		if (n < need)
			return 0;
		t->kind = TDS_LEN_LONG;
		t->size = rd32(p + 1);
		if (coll) {
			t->has_collation = 1;
			memcpy(t->collation, p + 5, 5);
		}
		return (long)need;
	}
	case 0x62: /* SSVARIANT */
		if (n < 5)
			return 0;
		t->kind = TDS_LEN_VARIANT;
		t->size = rd32(p + 1);
		return 5;
	case 0xF1: { /* XML */
		if (n < 2)
			return 0;
		size_t at = 2;
		if (p[1] && (!skip_varchar(p, n, &at, 0) || !skip_varchar(p, n, &at, 0) ||
			     !skip_varchar(p, n, &at, 1)))
			return 0;
		t->kind = TDS_LEN_PLP;
		return (long)at;
	}
	case 0xF0: { /* UDT */
		size_t at = 1;
		if (!param) {
			if (n < 3)
				return 0;
			t->size = rd16(p + 1);
			at = 3;
		}
		for (int i = 0; i < 3; i++)
			if (!skip_varchar(p, n, &at, 0))
				return 0;
		if (!param && !skip_varchar(p, n, &at, 1))
			return 0;
		t->kind = TDS_LEN_PLP;
		return (long)at;
	}
	default:
		return -1; /* TVP (0xF3) and anything unknown */
	}
}

int tds_type_is_text(const struct tds_type *t)
{
	switch (t->id) {
	case 0xA7: case 0xAF: case 0xE7: case 0xEF: case 0x23: case 0x63: case 0x2F: case 0x27:
		return 1;
	default:
		return 0;
	}
}

int tds_type_is_unicode(const struct tds_type *t)
{
	return t->id == 0xE7 || t->id == 0xEF || t->id == 0x63;
}

/* ---- values as JSON ---- */

static void put_num(struct audit_buf *b, const char *s)
{
	audit_buf_puts(b, s);
}

static int64_t sint(const uint8_t *p, size_t n)
{
	switch (n) {
	case 1: return p[0];
	case 2: return (int16_t)rd16(p);
	case 4: return (int32_t)rd32(p);
	default: return (int64_t)rd64(p);
	}
}

/* days since 1970-01-01 → y-m-d (H. Hinnant's civil_from_days) */
static void civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

#define DAYS_0001_TO_1970 719162
#define DAYS_1900_TO_1970 25567

static int put_date(char *o, size_t cap, int64_t days_since_1970)
{
	int y;
	unsigned m, d;
	civil(days_since_1970, &y, &m, &d);
	return snprintf(o, cap, "%04d-%02u-%02u", y, m, d);
}

/* time of day from 10^-scale second units */
static int put_time(char *o, size_t cap, uint64_t units, unsigned scale)
{
	uint64_t div = 1;
	for (unsigned i = 0; i < scale; i++)
		div *= 10;
	uint64_t secs = units / div, frac = units % div;
	int w = snprintf(o, cap, "%02u:%02u:%02u", (unsigned)(secs / 3600 % 24),
			 (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
	if (scale && w > 0 && (size_t)w < cap)
		w += snprintf(o + w, cap - (size_t)w, ".%0*llu", (int)scale, (unsigned long long)frac);
	return w;
}

static uint64_t uint_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void put_decimal(struct audit_buf *b, const uint8_t *v, size_t n, unsigned scale)
{
	if (n < 2 || n > 17) {
		audit_value_hex(b, "0x", v, n, TDS_PARAM_SHOW_MAX);
		return;
	}
	unsigned __int128 x = 0;
	for (size_t i = n; i-- > 1;)
		x = x << 8 | v[i];
	char digits[64];
	size_t k = 0;
	do {
		digits[k++] = (char)('0' + (int)(x % 10));
		x /= 10;
	} while (x && k < sizeof digits);
	while (k <= scale && k < sizeof digits)
		digits[k++] = '0';
	char out[80];
	size_t o = 0;
	out[o++] = '"';
	if (v[0] == 0)
		out[o++] = '-';
	for (size_t i = k; i-- > 0;) {
		out[o++] = digits[i];
		if (i == scale && scale)
			out[o++] = '.';
	}
	out[o++] = '"';
	audit_buf_put(b, out, o);
}

static void put_guid(struct audit_buf *b, const uint8_t *g)
{
	char s[48];
	snprintf(s, sizeof s,
		 "\"%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X\"", g[3],
		 g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
		 g[14], g[15]);
	audit_buf_puts(b, s);
}

static void put_datetime(struct audit_buf *b, const struct tds_type *t, const uint8_t *v, size_t n)
{
	char s[80];
	int w = 0;
	s[w++] = '"';
	if ((t->id == 0x3D || t->id == 0x6F) && n == 8) {
		int64_t days = (int32_t)rd32(v);
		uint64_t ticks = rd32(v + 4); /* 1/300 s */
		w += put_date(s + w, sizeof s - (size_t)w, days - DAYS_1900_TO_1970);
		s[w++] = 'T';
		w += put_time(s + w, sizeof s - (size_t)w, ticks * 10 / 3, 3);
	} else if ((t->id == 0x3A || t->id == 0x6F) && n == 4) {
		w += put_date(s + w, sizeof s - (size_t)w, (int64_t)rd16(v) - DAYS_1900_TO_1970);
		s[w++] = 'T';
		w += put_time(s + w, sizeof s - (size_t)w, (uint64_t)rd16(v + 2) * 60, 0);
	} else if (t->id == 0x28 && n == 3) {
		w += put_date(s + w, sizeof s - (size_t)w, (int64_t)uint_le(v, 3) - DAYS_0001_TO_1970);
	} else if (t->id != 0x29 && t->id != 0x2A && t->id != 0x2B) {
		audit_value_hex(b, "0x", v, n, TDS_PARAM_SHOW_MAX); /* a length its type does not have */
		return;
	} else {
		size_t tl = t->scale <= 2 ? 3 : t->scale <= 4 ? 4 : 5;
		size_t need = tl + (t->id == 0x2A || t->id == 0x2B ? 3 : 0) + (t->id == 0x2B ? 2 : 0);
		if (n != need) {
			audit_value_hex(b, "0x", v, n, TDS_PARAM_SHOW_MAX);
			return;
		}
		if (t->id != 0x29) {
			w += put_date(s + w, sizeof s - (size_t)w,
				      (int64_t)uint_le(v + tl, 3) - DAYS_0001_TO_1970);
			s[w++] = 'T';
		}
		w += put_time(s + w, sizeof s - (size_t)w, uint_le(v, tl), t->scale);
		if (t->id == 0x2B) {
			int off = (int16_t)rd16(v + tl + 3);
			w += snprintf(s + w, sizeof s - (size_t)w, "%c%02d:%02d", off < 0 ? '-' : '+',
				      abs(off) / 60, abs(off) % 60);
		}
	}
	s[w++] = '"';
	audit_buf_put(b, s, (size_t)w);
}

void tds_value_json(struct audit_buf *b, const struct tds_type *t, const uint8_t *v, size_t n,
		    int is_null)
{
	char num[64];
	if (is_null || t->id == 0x1F) {
		audit_buf_puts(b, "null");
		return;
	}
	switch (t->id) {
	case 0x30: case 0x34: case 0x38: case 0x7F: case 0x26:
		if (n == 1 || n == 2 || n == 4 || n == 8) {
			snprintf(num, sizeof num, "%lld", (long long)(n == 1 ? (int64_t)v[0] : sint(v, n)));
			put_num(b, num);
			return;
		}
		break;
	case 0x32: case 0x68:
		if (n == 1) {
			put_num(b, v[0] ? "1" : "0");
			return;
		}
		break;
	case 0x3B: case 0x3E: case 0x6D:
		if (n == 4 || n == 8) {
			double d;
			if (n == 4) {
				uint32_t u = rd32(v);
				float f;
				memcpy(&f, &u, 4);
				d = f;
			} else {
				uint64_t u = rd64(v);
				memcpy(&d, &u, 8);
			}
			if (d != d || d - d != 0) /* NaN, inf: not JSON numbers */
				snprintf(num, sizeof num, "\"%g\"", d);
			else
				snprintf(num, sizeof num, "%.17g", d);
			put_num(b, num);
			return;
		}
		break;
	case 0x3C: case 0x7A: case 0x6E:
		if (n == 4 || n == 8) {
			int64_t m = n == 4 ? (int32_t)rd32(v) : (int64_t)((uint64_t)rd32(v) << 32 | rd32(v + 4));
			uint64_t a = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
			snprintf(num, sizeof num, "\"%s%llu.%04llu\"", m < 0 ? "-" : "",
				 (unsigned long long)(a / 10000), (unsigned long long)(a % 10000));
			put_num(b, num);
			return;
		}
		break;
	case 0x37: case 0x3F: case 0x6A: case 0x6C:
		put_decimal(b, v, n, t->scale);
		return;
	case 0x24:
		if (n == 16) {
			put_guid(b, v);
			return;
		}
		break;
	case 0x3A: case 0x3D: case 0x6F: case 0x28: case 0x29: case 0x2A: case 0x2B:
		put_datetime(b, t, v, n);
		return;
	default:
		break;
	}
	if (tds_type_is_text(t)) {
		if (tds_type_is_unicode(t)) {
			size_t ol;
			/* only what is shown is converted */
			size_t cut = n > 4 * TDS_PARAM_SHOW_MAX ? 4 * TDS_PARAM_SHOW_MAX : n;
			char *u = tds_utf16_to_utf8(v, cut, &ol);
			if (!u) {
				b->oom = 1;
				return;
			}
			audit_value_text(b, u, ol, TDS_PARAM_SHOW_MAX, cut < n, n);
			free(u);
		} else {
			audit_value_text(b, (const char *)v, n, TDS_PARAM_SHOW_MAX, 0, n);
		}
		return;
	}
	audit_value_hex(b, "0x", v, n, TDS_PARAM_SHOW_MAX);
}
