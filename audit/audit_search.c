/* audit_search: filtered queries over the SQLite audit index.
 *
 * audit_search() brings the index up to date (audit_index_sync), then
 * selects the records matching every filter given and prints them in seq
 * order, as raw JSON lines or as one readable line each:
 *   <ts> <event> session=<n> user=<u> asset=<a> decision=<d> rule=<r> <text>
 * where <text> is the statement (or "error=<error>" when there is none),
 * cut to 200 characters. Absent values print as "-". Control characters,
 * C1 controls and invalid UTF-8 are shown escaped, so a record can never
 * drive the operator's terminal.
 *
 * Filters: exact match on user, asset, account, verb, decision, event,
 * entry and session; grep is a substring of the statement, case-insensitive for
 * ASCII letters; since/until compare the UTC ts: "YYYY-MM-DD", an optional
 * " HH:MM" or "THH:MM", ":SS", ".fraction" and, for RFC 3339, "Z" or
 * "+HH:MM"/"-HH:MM" (converted to UTC; without one the time is UTC). since
 * is inclusive from the start of the instant given; until is inclusive to
 * its end ("2026-11-22" includes that whole day). limit keeps the LAST
 * limit matches (the newest), still printed oldest first.
 *
 * It does not verify the chain (audit_verify does) and never logs.
 */
#include "audit/audit.h"
#include "audit/audit_err.h"
#include "audit/audit_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define SEARCH_TEXT_MAX 200 /* characters of statement in a readable line */
#define SEARCH_FIELD_MAX 100 /* characters of other fields */

/* ---- time filters ---- */

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Turn a user's time into the UTC prefix the stored ts is compared with,
 * as precise as what was given: "2026-11-22", "2026-11-22T16:04",
 * "2026-11-22T16:04:05", "2026-11-22T16:04:05.12". 0 ok, -1 bad input. */
static int norm_time(const char *in, char *out, size_t outlen)
{
	const char *p = in;
	struct tm tm;
	int prec = 0; /* 0 date, 1 minute, 2 second, 3 fraction */
	int off_min = 0, v;
	char frac[7] = "";
	size_t nfrac = 0;

	memset(&tm, 0, sizeof tm);
	if (digits(&p, 4, &v) < 0 || *p++ != '-')
		return -1;
	tm.tm_year = v - 1900;
	if (digits(&p, 2, &v) < 0 || *p++ != '-' || v < 1 || v > 12)
		return -1;
	tm.tm_mon = v - 1;
	if (digits(&p, 2, &v) < 0 || v < 1 || v > 31)
		return -1;
	tm.tm_mday = v;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &tm.tm_hour) < 0 || *p++ != ':' ||
		    digits(&p, 2, &tm.tm_min) < 0 || tm.tm_hour > 23 ||
		    tm.tm_min > 59)
			return -1;
		prec = 1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &tm.tm_sec) < 0 || tm.tm_sec > 60)
				return -1;
			prec = 2;
			if (*p == '.') {
				p++;
				while (*p >= '0' && *p <= '9') {
					if (nfrac < 6)
						frac[nfrac++] = *p;
					p++;
				}
				if (nfrac == 0)
					return -1;
				frac[nfrac] = '\0';
				prec = 3;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (digits(&p, 2, &oh) < 0 || *p++ != ':' ||
			    digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
				return -1;
			off_min = sign * (oh * 60 + om);
		}
	}
	if (*p != '\0')
		return -1;

	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	t -= (time_t)off_min * 60;
	struct tm u;
	if (!gmtime_r(&t, &u))
		return -1;
	int n;
	switch (prec) {
	case 0:
		n = snprintf(out, outlen, "%04d-%02d-%02d", u.tm_year + 1900,
			     u.tm_mon + 1, u.tm_mday);
		break;
	case 1:
		n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d",
			     u.tm_year + 1900, u.tm_mon + 1, u.tm_mday,
			     u.tm_hour, u.tm_min);
		break;
	default:
		n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%s%s",
			     u.tm_year + 1900, u.tm_mon + 1, u.tm_mday,
			     u.tm_hour, u.tm_min, u.tm_sec, nfrac ? "." : "",
			     frac);
	}
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* ---- readable output ---- */

/* Print s[0..n) to out with controls and bad bytes escaped, stopping after
 * max characters with "...". */
static void print_clean(FILE *out, const unsigned char *s, size_t n,
			size_t max)
{
	size_t chars = 0, i = 0;
	while (i < n) {
		if (chars == max) {
			fputs("...", out);
			return;
		}
		unsigned c = s[i];
		size_t k = 1;
		if (c >= 0x80) {
			k = audit_utf8_len(s + i, n - i);
			if (k == 0) {
				fprintf(out, "\\x%02x", c);
				i++;
				chars++;
				continue;
			}
			/* C1 controls U+0080..U+009F, line/paragraph
			 * separators and bidi controls U+2028..U+202E,
			 * U+2066..U+2069 (they reorder what is shown) */
			if (k == 2 && c == 0xC2 && s[i + 1] < 0xA0) {
				fprintf(out, "\\u%04x", s[i + 1]);
			} else if (k == 3 && c == 0xE2 &&
				   ((s[i + 1] == 0x80 && s[i + 2] >= 0xA8 &&
				     s[i + 2] <= 0xAE) ||
				    (s[i + 1] == 0x81 && s[i + 2] >= 0xA6 &&
				     s[i + 2] <= 0xA9))) {
				fprintf(out, "\\u20%02x",
					(s[i + 1] & 0x3f) << 6 |
						(s[i + 2] & 0x3f));
			} else {
				fwrite(s + i, 1, k, out);
			}
		} else if (c == '\n') {
			fputs("\\n", out);
		} else if (c == '\r') {
			fputs("\\r", out);
		} else if (c == '\t') {
			fputs("\\t", out);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\x%02x", c);
		} else {
			fputc((int)c, out);
		}
		i += k;
		chars++;
	}
}

static void print_col(FILE *out, sqlite3_stmt *st, int col, size_t max)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	if (!s) {
		fputc('-', out);
		return;
	}
	print_clean(out, s, (size_t)sqlite3_column_bytes(st, col), max);
}

/* Columns selected, in this order. */
enum { C_LINE, C_TS, C_EVENT, C_SESSION, C_USER, C_ASSET, C_DECISION,
       C_RULE, C_STATEMENT, C_ERROR };

static void print_readable(FILE *out, sqlite3_stmt *st)
{
	print_col(out, st, C_TS, SEARCH_FIELD_MAX);
	fputc(' ', out);
	print_col(out, st, C_EVENT, SEARCH_FIELD_MAX);
	fputs(" session=", out);
	print_col(out, st, C_SESSION, SEARCH_FIELD_MAX);
	fputs(" user=", out);
	print_col(out, st, C_USER, SEARCH_FIELD_MAX);
	fputs(" asset=", out);
	print_col(out, st, C_ASSET, SEARCH_FIELD_MAX);
	fputs(" decision=", out);
	print_col(out, st, C_DECISION, SEARCH_FIELD_MAX);
	fputs(" rule=", out);
	print_col(out, st, C_RULE, SEARCH_FIELD_MAX);
	if (sqlite3_column_type(st, C_STATEMENT) != SQLITE_NULL) {
		fputc(' ', out);
		print_col(out, st, C_STATEMENT, SEARCH_TEXT_MAX);
	} else if (sqlite3_column_type(st, C_ERROR) != SQLITE_NULL) {
		fputs(" error=", out);
		print_col(out, st, C_ERROR, SEARCH_TEXT_MAX);
	}
	fputc('\n', out);
}

/* ---- query ---- */

int audit_search(const char *jsonl_path, const char *sqlite_path,
		 const struct audit_filter *f, int json, void *out_FILE,
		 char *errbuf, size_t errlen)
{
	static const struct audit_filter none;
	FILE *out = out_FILE ? out_FILE : stdout;
	struct audit_buf sql;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char since[40], until[40];
	int ret = -1, rc, bind = 0, count = 0;

	audit_buf_init(&sql);
	if (!f)
		f = &none;
	if (f->since && norm_time(f->since, since, sizeof since) < 0) {
		audit_seterr(errbuf, errlen, "bad since time \"%s\"", f->since);
		goto fail;
	}
	if (f->until && norm_time(f->until, until, sizeof until) < 0) {
		audit_seterr(errbuf, errlen, "bad until time \"%s\"", f->until);
		goto fail;
	}
	if (audit_index_sync(jsonl_path, sqlite_path, errbuf, errlen) < 0)
		goto fail;
	if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		goto fail_db;
	sqlite3_busy_timeout(db, 10000);

	/* fixed fragments and bound values only: no filter text in the SQL */
	const char *cols = "line, ts, event, session, user, asset, decision, "
			   "rule, statement, error";
	audit_buf_puts(&sql, "SELECT ");
	audit_buf_puts(&sql, cols);
	audit_buf_puts(&sql, ", seq FROM records WHERE 1");
	if (f->user)
		audit_buf_puts(&sql, " AND user = ?");
	if (f->asset)
		audit_buf_puts(&sql, " AND asset = ?");
	if (f->account)
		audit_buf_puts(&sql, " AND account = ?");
	if (f->verb)
		audit_buf_puts(&sql, " AND verb = ?");
	if (f->decision)
		audit_buf_puts(&sql, " AND decision = ?");
	if (f->event)
		audit_buf_puts(&sql, " AND event = ?");
	if (f->entry)
		audit_buf_puts(&sql, " AND entry = ?");
	if (f->session)
		audit_buf_puts(&sql, " AND session = ?");
	if (f->grep)
		audit_buf_puts(&sql,
			       " AND instr(lower(statement), lower(?)) > 0");
	if (f->since)
		audit_buf_puts(&sql, " AND ts >= ?");
	if (f->until)
		audit_buf_puts(&sql, " AND substr(ts, 1, ?) <= ?");
	if (f->limit > 0) {
		/* the newest limit matches, printed oldest first */
		audit_buf_puts(&sql, " ORDER BY seq DESC LIMIT ?");
		struct audit_buf wrap;
		audit_buf_init(&wrap);
		audit_buf_puts(&wrap, "SELECT ");
		audit_buf_puts(&wrap, cols);
		audit_buf_puts(&wrap, " FROM (");
		audit_buf_put(&wrap, sql.p, sql.len);
		audit_buf_puts(&wrap, ") ORDER BY seq");
		audit_buf_free(&sql);
		sql = wrap;
	} else {
		audit_buf_puts(&sql, " ORDER BY seq");
	}
	if (!audit_buf_cstr(&sql)) {
		audit_seterr(errbuf, errlen, "out of memory");
		goto fail;
	}
	if (sqlite3_prepare_v2(db, sql.p, -1, &st, NULL) != SQLITE_OK)
		goto fail_db;
	const char *texts[] = {f->user,     f->asset, f->account,
			       f->verb,     f->decision, f->event, f->entry};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (texts[i])
			sqlite3_bind_text(st, ++bind, texts[i], -1,
					  SQLITE_STATIC);
	if (f->session)
		sqlite3_bind_int64(st, ++bind, (sqlite3_int64)f->session);
	if (f->grep)
		sqlite3_bind_text(st, ++bind, f->grep, -1, SQLITE_STATIC);
	if (f->since)
		sqlite3_bind_text(st, ++bind, since, -1, SQLITE_STATIC);
	if (f->until) {
		sqlite3_bind_int(st, ++bind, (int)strlen(until));
		sqlite3_bind_text(st, ++bind, until, -1, SQLITE_STATIC);
	}
	if (f->limit > 0)
		sqlite3_bind_int(st, ++bind, f->limit);

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		count++;
		if (json) {
			fwrite(sqlite3_column_text(st, C_LINE), 1,
			       (size_t)sqlite3_column_bytes(st, C_LINE), out);
			fputc('\n', out);
		} else {
			print_readable(out, st);
		}
	}
	if (rc != SQLITE_DONE)
		goto fail_db;
	ret = count;
	goto out;
fail_db:
	audit_seterr(errbuf, errlen, "index %s: %s", sqlite_path,
	       db ? sqlite3_errmsg(db) : "cannot open");
fail:
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	audit_buf_free(&sql);
	return ret;
}
