/* ctl_audit: "audit search", "audit verify" and "audit reindex" over the
 * configured audit files (DESIGN.md "Audit"). None writes an audit event.
 *
 * search turns --since / --until (local dates, RFC 3339, relative "-8h")
 * into UTC RFC 3339 instants before handing them to audit_search(), so
 * what the operator typed means the same here as in every other verb. The
 * index is the configured [audit] sqlite file, or "<jsonl>.idx.db" beside
 * the JSON lines when none is configured.
 *
 * verify checks the hash chain through the files given, in that order and
 * with the links between them; with no file, through the configured file's
 * rotated predecessors (found beside it, ordered by seq) and the file
 * itself, then against the index, which catches a truncated tail. With
 * [audit] hmac_key set, the chain is checked with that key. It exits 1 and
 * names the file and line of the first break.
 *
 * reindex drops the index and rebuilds it from every file of the chain.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/ctl.h"

static void index_path(const struct ctl *c, char *out, size_t cap)
{
	if (c->cfg.audit_sqlite[0])
		snprintf(out, cap, "%s", c->cfg.audit_sqlite);
	else
		snprintf(out, cap, "%s.idx.db", c->cfg.audit_jsonl);
}

int ctl_audit_search(struct ctl *c, int argc, char **argv)
{
	const char *user = NULL, *asset = NULL, *account = NULL, *session = NULL, *verb = NULL;
	const char *decision = NULL, *event = NULL, *since = NULL, *until = NULL;
	const char *grep = NULL, *limit = NULL, *entry = NULL, *pos[1];
	int json = 0;
	struct ctl_opt opts[] = {
		{"--user", 1, &user, NULL},	    {"--asset", 1, &asset, NULL},
		{"--account", 1, &account, NULL},   {"--session", 1, &session, NULL},
		{"--verb", 1, &verb, NULL},	    {"--decision", 1, &decision, NULL},
		{"--event", 1, &event, NULL},	    {"--since", 1, &since, NULL},
		{"--until", 1, &until, NULL},	    {"--grep", 1, &grep, NULL},
		{"--limit", 1, &limit, NULL},	    {"--json", 0, NULL, &json},
		{"--entry", 1, &entry, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;

	struct audit_filter f;
	char since_s[40], until_s[40], idx[SB_PATH_MAX + 16], err[1024];
	memset(&f, 0, sizeof f);
	f.user = user;
	f.asset = asset;
	f.account = account;
	f.verb = verb;
	f.decision = decision;
	f.event = event;
	f.entry = entry;
	f.grep = grep;
	if (session) {
		char *e;
		errno = 0;
		unsigned long long v = strtoull(session, &e, 10);
		if (errno || e == session || *e || v == 0)
			return ctl_usage(c, "bad --session '%s'", session);
		f.session = (uint64_t)v;
	}
	if (limit) {
		char *e;
		errno = 0;
		long v = strtol(limit, &e, 10);
		if (errno || e == limit || *e || v < 1 || v > 1000000000)
			return ctl_usage(c, "bad --limit '%s'", limit);
		f.limit = (int)v;
	}
	time_t t;
	if (since) {
		if (ctl_parse_time(since, c->now, 0, &t) < 0)
			return ctl_usage(c, "bad --since '%s' (2025-01-02, \"2025-01-02 18:00\", RFC 3339, -8h)",
					 since);
		ctl_fmt_rfc3339(t, since_s, sizeof since_s);
		f.since = since_s;
	}
	if (until) {
		int r = ctl_parse_time(until, c->now, 1, &t);
		if (r < 0)
			return ctl_usage(c, "bad --until '%s'", until);
		/* r == 1: t is the start of the next day / minute, exclusive;
		 * the search's until is inclusive to the end of its second. */
		ctl_fmt_rfc3339(r == 1 ? t - 1 : t, until_s, sizeof until_s);
		f.until = until_s;
	}
	index_path(c, idx, sizeof idx);
	int n = audit_search(c->cfg.audit_jsonl, idx, &f, json, stdout, err, sizeof err);
	if (n < 0)
		return ctl_fail(c, "%s", err);
	return CTL_OK;
}

/* The configured HMAC key, if any: 0 (keylen 0 when none) or -1 printed. */
static int load_key(struct ctl *c, uint8_t *key, size_t *keylen)
{
	char err[SB_PATH_MAX + 128];
	*keylen = 0;
	if (!c->cfg.audit_hmac_key[0])
		return 0;
	if (audit_load_key(c->cfg.audit_hmac_key, key, AUDIT_KEY_MAX, keylen, err,
			   sizeof err) != 0) {
		ctl_fail(c, "%s", err);
		return -1;
	}
	return 0;
}

int ctl_audit_verify(struct ctl *c, int argc, char **argv)
{
	const char *pos[256];
	int npos = 0;
	char err[2048], idx[SB_PATH_MAX + 16];
	uint8_t key[AUDIT_KEY_MAX];
	size_t keylen = 0, nfiles = 0;
	uint64_t records = 0, last = 0;
	int rc;
	if (ctl_args(c, argc, argv, NULL, pos, 0, 256, &npos) != CTL_OK)
		return CTL_USAGE;
	if (load_key(c, key, &keylen) < 0)
		return CTL_FAIL;
	if (npos) {
		nfiles = (size_t)npos;
		rc = audit_verify_files(pos, nfiles, keylen ? key : NULL, keylen, &records,
					&last, err, sizeof err);
	} else {
		index_path(c, idx, sizeof idx);
		rc = audit_verify_with_index(c->cfg.audit_jsonl, idx, keylen ? key : NULL, keylen,
					     &records, &nfiles, err, sizeof err);
	}
	sb_wipe(key, sizeof key);
	if (rc < 0)
		return ctl_fail(c, "%s (%llu records verified before it)", err,
				(unsigned long long)records);
	printf("ok: %llu records in %zu file%s, chain intact%s\n", (unsigned long long)records,
	       nfiles, nfiles == 1 ? "" : "s", keylen ? " (HMAC)" : "");
	/* Not a break in the chain: what a kill -9 in the middle of write(2)
	 * leaves (a statement is forwarded only after its query record is
	 * whole in the file). Said, not failed; the next writer seals it. */
	if (rc == AUDIT_VERIFY_TORN)
		fprintf(stderr, "sqlbastionctl: audit verify: warning: %s\n", err);
	return CTL_OK;
}

int ctl_audit_reindex(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char err[2048], idx[SB_PATH_MAX + 16];
	char **files = NULL;
	size_t n = 0;
	uint64_t records = 0;
	if (ctl_args(c, argc, argv, NULL, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	index_path(c, idx, sizeof idx);
	if (audit_list_files(c->cfg.audit_jsonl, 1, &files, &n, err, sizeof err) != 0)
		return ctl_fail(c, "%s", err);
	int rc = audit_index_rebuild((const char *const *)files, n, idx, &records, err,
				     sizeof err);
	audit_free_list(files, n);
	if (rc != 0)
		return ctl_fail(c, "%s", err);
	printf("%s: %llu records from %zu file%s\n", idx, (unsigned long long)records, n,
	       n == 1 ? "" : "s");
	return CTL_OK;
}
