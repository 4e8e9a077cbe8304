/* ctl_approvals: "approvals [--json] [--all]", "approve ID", "reject ID":
 * the administrator's side of the review workflow (README "Policy").
 *
 * A statement matched by a `review` rule is not run: the daemon stores it
 * as a pending request in the state DB (state_approvals.c) and tells the
 * client its id. approvals lists the requests; approve lets the requester
 * run that exact statement once on that asset and account; reject refuses
 * it. A request waits STATE_APPROVAL_PENDING_TTL for a decision, and an
 * approval must be used within STATE_APPROVAL_USE_TTL.
 *
 * Who decides: see approver(). Nobody approves their own request (the
 * names are compared; the state layer checks again in the same UPDATE that
 * records the decision). Each decision is an admin audit event, like every
 * other change sqlbastionctl makes; listing changes nothing but marking
 * requests past their lifetime as expired, and is not audited.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proxy/ctl.h"
#include "proxy/state.h"

/* Bytes of a statement shown in the table form (--json shows it whole). */
#define APPROVALS_STMT_COLS 60

/* The approver's name. sqlbastionctl's own identity is the OS user of its
 * effective uid (c->os_user, as in every admin event). Run through sudo
 * that is root, which names nobody: so when we are root and SUDO_USER
 * names an existing non-root account, that account is the approver
 * recorded and checked against the requester. SUDO_USER comes from the
 * environment and could be forged, but only by someone already root, who
 * could as well edit the state DB; the self-approval check refuses when
 * either name is the requester's. */
static void approver(const struct ctl *c, char *out, size_t cap)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw;
	snprintf(out, cap, "%s", c->os_user);
	if (geteuid() == 0 && sudo && *sudo && strlen(sudo) < SB_NAME_MAX &&
	    (pw = getpwnam(sudo)) != NULL && pw->pw_uid != 0)
		snprintf(out, cap, "%s", sudo);
}

/* "45s", "12m", "1h05m", "3d04h". */
static void fmt_age(int64_t secs, char *buf, size_t cap)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, cap, "%llds", (long long)secs);
	else if (secs < 3600)
		snprintf(buf, cap, "%lldm", (long long)(secs / 60));
	else if (secs < 86400)
		snprintf(buf, cap, "%lldh%02lldm", (long long)(secs / 3600),
			 (long long)(secs % 3600 / 60));
	else
		snprintf(buf, cap, "%lldd%02lldh", (long long)(secs / 86400),
			 (long long)(secs % 86400 / 3600));
}

/* The statement on one line for the table: runs of white space become one
 * space, other control bytes '?', cut to APPROVALS_STMT_COLS characters
 * (never inside a UTF-8 sequence) with "..." when longer. */
static void one_line(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0, chars = 0, i = 0;
	int space = 0;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	for (; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (isspace(ch)) {
			space = 1;
			continue;
		}
		int lead = (ch & 0xC0) != 0x80; /* not a UTF-8 continuation byte */
		if (lead && chars + space >= APPROVALS_STMT_COLS) {
			snprintf(out + o, cap - o, "...");
			return;
		}
		if (o + 8 >= cap)
			break;
		if (space) {
			out[o++] = ' ';
			chars++;
			space = 0;
		}
		out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
		chars += lead;
	}
	out[o] = '\0';
}

/* ,"key":"<RFC 3339>" or ,"key":null */
static void json_time(const char *key, int64_t t)
{
	char when[48];
	ctl_json_time(t, when, sizeof when);
	printf(",\"%s\":%s", key, when);
}

static void json_text(const char *key, const char *s)
{
	printf(",\"%s\":", key);
	ctl_json_fput(stdout, s, strlen(s));
}

struct list_ctx {
	int64_t now;
	int json;
	int n;
};

static int print_approval(void *ctx, const struct state_approval *a)
{
	struct list_ctx *lc = ctx;
	char hex[2 * SB_SHA256_LEN + 1];
	lc->n++;
	if (lc->json) {
		sb_hex(a->sha256, sizeof a->sha256, hex);
		printf("{\"id\":%lld,\"status\":\"%s\"", (long long)a->id,
		       state_approval_status_name(a->status));
		json_text("user", a->user);
		json_text("asset", a->asset);
		json_text("account", a->account);
		json_text("protocol", a->protocol);
		json_text("rule", a->rule);
		printf(",\"session\":%llu", (unsigned long long)a->session);
		json_time("created", a->created);
		printf(",\"age_seconds\":%lld", (long long)(lc->now - a->created));
		json_time("expires", a->expires);
		if (a->approver[0])
			json_text("approver", a->approver);
		else
			printf(",\"approver\":null");
		json_time("decided", a->decided);
		json_time("used", a->used);
		if (a->used_session)
			printf(",\"used_session\":%llu", (unsigned long long)a->used_session);
		else
			printf(",\"used_session\":null");
		printf(",\"sha256\":\"%s\"", hex);
		json_text("fingerprint", a->fingerprint);
		printf(",\"statement\":");
		ctl_json_fput(stdout, a->statement, a->statement_len);
		printf("}\n");
		return 0;
	}
	char age[32], target[2 * SB_NAME_MAX + 2], text[APPROVALS_STMT_COLS * 4 + 8];
	fmt_age(lc->now - a->created, age, sizeof age);
	snprintf(target, sizeof target, "%s/%s", a->asset, a->account);
	one_line(a->statement, a->statement_len, text, sizeof text);
	printf("%-6lld %-7s %-8s %-16s %-24s %-18s %s\n", (long long)a->id, age,
	       state_approval_status_name(a->status), a->user, target, a->rule, text);
	return 0;
}

int ctl_approvals(struct ctl *c, int argc, char **argv)
{
	struct state *st;
	int json = 0, all = 0;
	struct ctl_opt opts[] = {
		{"--json", 0, NULL, &json},
		{"--all", 0, NULL, &all},
		{NULL, 0, NULL, NULL},
	};
	int rc = ctl_list_open(c, argc, argv, opts, &st);
	if (rc != CTL_OK)
		return rc;
	/* Store `expired` where it is due (the listing computes it anyway, so
	 * a busy database is no reason to fail). */
	if (state_approval_expire(st, c->now, NULL) != STATE_OK)
		fprintf(stderr, "sqlbastionctl: %s: (expired requests not marked: %s)\n", c->verb,
			state_errmsg(st));
	struct list_ctx lc = {.now = c->now, .json = json};
	if (!json)
		printf("%-6s %-7s %-8s %-16s %-24s %-18s %s\n", "ID", "AGE", "STATUS", "USER",
		       "ASSET/ACCOUNT", "RULE", "STATEMENT");
	if (state_approval_list(st, all, c->now, print_approval, &lc) != STATE_OK)
		return ctl_db_fail(c, st, NULL);
	if (!json && lc.n == 0)
		printf("# no %s; held statements appear here (sqlbastionctl approvals --all: every "
		       "request)\n",
		       all ? "approval requests" : "pending approval requests");
	return CTL_OK;
}

/* approve (approve = 1) or reject request ID. */
static int decide(struct ctl *c, int argc, char **argv, int approve)
{
	const char *pos[1];
	char who[SB_NAME_MAX], target[2 * SB_NAME_MAX + 2];
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	int64_t id;
	if (ctl_parse_id(pos[0], &id) != 0)
		return ctl_usage(c, "bad approval id '%s'", pos[0]);
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	approver(c, who, sizeof who);
	if (state_approval_expire(st, c->now, NULL) != STATE_OK)
		return ctl_db_fail(c, st, NULL);

	struct state_approval a;
	int r = state_approval_get(st, id, c->now, &a);
	if (r != STATE_OK)
		return ctl_state_fail(c, st, NULL, r, STATE_NOT_FOUND, "no approval %lld",
				      (long long)id);
	state_approval_release(&a);
	if (approve && a.status == STATE_APPROVAL_PENDING &&
	    (strcasecmp(a.user, who) == 0 || strcasecmp(a.user, c->os_user) == 0))
		return ctl_fail(c,
				"approval %lld was requested by %s: someone else must approve it "
				"(no self-approval)",
				(long long)id, a.user);

	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	/* Checks everything again (status, lifetime, requester) in the UPDATE
	 * that records the decision. */
	if (state_approval_decide(st, id, approve, who, c->now) != STATE_OK)
		return ctl_db_fail(c, st, log);
	snprintf(target, sizeof target, "%s/%s", a.asset, a.account);
	if (approve)
		printf("approval %lld approved: %s may run it once on %s within %d minutes "
		       "(rule %s)\n",
		       (long long)id, a.user, target, STATE_APPROVAL_USE_TTL / 60, a.rule);
	else
		printf("approval %lld rejected: %s's statement on %s will not run (rule %s)\n",
		       (long long)id, a.user, target, a.rule);
	return ctl_record(c, log, argc, argv, NULL, a.asset, a.account,
			  "approval:%lld,user:%s,rule:%s,approver:%s", (long long)id, a.user, a.rule,
			  who);
}

int ctl_approve(struct ctl *c, int argc, char **argv)
{
	return decide(c, argc, argv, 1);
}

int ctl_reject(struct ctl *c, int argc, char **argv)
{
	return decide(c, argc, argv, 0);
}
