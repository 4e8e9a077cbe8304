/* policy/policy: loaded policies and the decision (see policy.h).
 *
 * A struct policy is the parsed rule set plus a reference count; it never
 * changes after policy_load, so sessions on different threads may evaluate
 * against it at once and a reload simply swaps in a new one. The decision
 * for each statement follows the order in policy.h: fail-closed for text
 * that cannot be read, then the grant level, then the first matching rule.
 * A rule may still escalate a forced denial to `kill`, never relax it.
 * MySQL text is read under the sql_mode the server confirmed when the
 * caller knows it (req->mysql_mode); otherwise text whose tokens depend on
 * it (a backslash in a quoted token) is also read as NO_BACKSLASH_ESCAPES /
 * ANSI_QUOTES would read it, and the strongest verdict wins.
 *
 * This file reads the rule file (and nothing else) and never logs.
 */
#include "policy/policy.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/classify.h"
#include "policy/my_builtins.h"
#include "policy/rules.h"

/* Largest rule file read: a policy is text written by people. */
#define POLICY_FILE_MAX (16u << 20)

/* What the `read` grant level refuses. */
#define READ_DENIED                                                          \
	(POLICY_F_WRITES | POLICY_F_DDL | POLICY_F_DYNAMIC | POLICY_F_FILE_ACCESS | \
	 POLICY_F_RW_SWITCH | POLICY_F_PRIVILEGE | POLICY_F_SERVER_ADMIN)

struct policy {
	atomic_int refs;
	struct rules_set *rules; /* owned; NULL for an empty policy */
};

/* policy_result.work */
/* How deep function bodies are read (a body that creates a function whose
 * body ...): deeper ones are refused as unparseable. */
#define BODY_DEPTH 3

struct policy_work {
	struct cls_names names;
	void *match_data;          /* pcre2 match data, made when a regex rule exists */
	struct policy_result *alt; /* MySQL: result of an alternative reading */
	/* function bodies read as SQL, one result and text buffer per nesting */
	struct policy_result *body[BODY_DEPTH];
	char *body_text[BODY_DEPTH];
	size_t body_cap[BODY_DEPTH];
	unsigned routines_missing; /* policy_result.routines_missing, all depths */
};

struct policy *policy_load_text(const char *name, const char *text, size_t len,
				struct policy_error *err)
{
	struct policy *p = calloc(1, sizeof *p);

	memset(err, 0, sizeof *err);
	if (!p) {
		snprintf(err->file, sizeof err->file, "%s", name ? name : "");
		snprintf(err->message, sizeof err->message, "out of memory");
		return NULL;
	}
	atomic_init(&p->refs, 1);
	if (text && len && rules_parse(name, text, len, &p->rules, err) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

struct policy *policy_load(const char *path, struct policy_error *err)
{
	memset(err, 0, sizeof *err);
	if (!path || !*path)
		return policy_load_text("", NULL, 0, err);

	snprintf(err->file, sizeof err->file, "%s", path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err->message, sizeof err->message, "cannot open: %s",
			 strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			char *g = cap <= POLICY_FILE_MAX * 2 ? realloc(buf, cap) : NULL;
			if (!g) {
				snprintf(err->message, sizeof err->message,
					 "file too large or out of memory");
				goto fail;
			}
			buf = g;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
		if (len > POLICY_FILE_MAX) {
			snprintf(err->message, sizeof err->message,
				 "file larger than %u bytes", POLICY_FILE_MAX);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err->message, sizeof err->message, "read error: %s",
			 strerror(errno));
		goto fail;
	}
	fclose(f);
	struct policy *p = policy_load_text(path, buf, len, err);
	free(buf);
	return p;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

struct policy *policy_ref(struct policy *p)
{
	if (p)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void policy_unref(struct policy *p)
{
	if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	rules_free(p->rules);
	free(p);
}

size_t policy_rule_count(const struct policy *p)
{
	return p ? rules_count(p->rules) : 0;
}

void policy_result_init(struct policy_result *r)
{
	memset(r, 0, sizeof *r);
}

void policy_result_free(struct policy_result *r)
{
	struct policy_work *w = r->work;
	if (w) {
		free(w->names.buf);
		if (w->match_data)
			rules_match_data_free(w->match_data);
		if (w->alt) {
			free(w->alt->fingerprint);
			free(w->alt->objects);
			free(w->alt);
		}
		for (int i = 0; i < BODY_DEPTH; i++) {
			if (w->body[i]) {
				free(w->body[i]->fingerprint);
				free(w->body[i]->objects);
				free(w->body[i]);
			}
			free(w->body_text[i]);
		}
		free(w);
	}
	free(r->fingerprint);
	free(r->objects);
	memset(r, 0, sizeof *r);
}

/* strlcpy: copy what fits, always NUL-terminated */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void set_message(struct policy_result *out)
{
	out->message[0] = '\0';
	if (out->action == POLICY_DENY || out->action == POLICY_KILL)
		snprintf(out->message, sizeof out->message,
			 "sqlbastion: blocked by rule '%s'", out->rule);
	else if (out->action == POLICY_REVIEW)
		snprintf(out->message, sizeof out->message,
			 "sqlbastion: held for review by rule '%s'", out->rule);
}

/* Make sure the result's strings exist, so that every return leaves
 * NUL-terminated text behind. Returns -1 when out of memory. */
static int result_strings(struct policy_result *out)
{
	if (!out->fingerprint) {
		out->fingerprint = malloc(64);
		out->fingerprint_cap = out->fingerprint ? 64 : 0;
	}
	if (!out->objects) {
		out->objects = malloc(64);
		out->objects_cap = out->objects ? 64 : 0;
	}
	if (out->fingerprint)
		out->fingerprint[0] = '\0';
	if (out->objects)
		out->objects[0] = '\0';
	return out->fingerprint && out->objects ? 0 : -1;
}

/* Classify and decide the whole text once, into out (action, rule, verb,
 * flags, statement count, fingerprint, objects). partial: stop before the
 * first statement that cannot be read (an alternative reading of MySQL
 * text, see policy_evaluate). Returns -1 on an internal error. */
/* May this statement change the session's sql_mode or character set for
 * the statements after it? (A SET STATEMENT ... FOR is classified by its
 * inner statement: its settings end with it. Stored routines run under
 * the sql_mode they were created with and the caller's is restored.) */
static int may_change_lexing(const char *verb)
{
	static const char *const words[] = {"SET", "EXECUTE", "CALL", "BINLOG", "BEGIN"};
	if (!verb[0])
		return 1;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i]);
		if (strncmp(verb, words[i], n) == 0 && (verb[n] == '\0' || verb[n] == ' '))
			return 1;
	}
	return 0;
}

static int run(const struct policy *p, const struct policy_request *req,
	       const struct cls_opts *opts, struct policy_result *out,
	       struct policy_work *w, int partial, int *ambiguous, int depth);

static int forced(struct policy_result *out, unsigned flags)
{
	out->action = POLICY_DENY;
	snprintf(out->rule, sizeof out->rule, "fail-closed");
	out->flags |= flags;
	set_message(out);
	return -1;
}

/* Does the statement end or cancel only sessions of this user (see
 * policy_request.owns_session)? A target the classifier could not map to a
 * session id is nobody's. */
static int kills_own_only(const struct policy_request *req, const struct cls_stmt *st)
{
	if (st->kill.unmapped || st->kill.n == 0 || !req->owns_session)
		return 0;
	if (st->flags & POLICY_F_DDL)
		return 0; /* CREATE VIEW/RULE ... AS SELECT pg_terminate_backend(n): runs later */
	enum policy_session_id how = POLICY_SESSION_BACKEND_ID;
	int query;
	uint64_t id;
	if (req->dialect == POLICY_DIALECT_MYSQL &&
	    cls_kill_plain_form(req->sql, req->sql_len, &query, &id))
		how = POLICY_SESSION_PROXY_ID; /* the frontend maps it */
	for (unsigned i = 0; i < st->kill.n; i++)
		if (req->owns_session(req->owns_ctx, st->kill.ids[i], how) != 1)
			return 0;
	return 1;
}

int policy_mysql_kill_plain(const char *sql, size_t len, int *query, uint64_t *id)
{
	return cls_kill_plain_form(sql, len, query, id);
}

unsigned long policy_mysql_version(const char *s, int *mariadb)
{
	return cls_mysql_version(s, mariadb);
}

/* Decide one statement. Returns -1 when a rule could not be evaluated. */
static int decide(const struct policy *p, const struct policy_request *req,
		  const struct cls_stmt *st, struct policy_result *out,
		  struct policy_work *w, enum policy_action *action,
		  const char **rule)
{
	*action = POLICY_ALLOW;
	*rule = "";
	if (st->flags & POLICY_F_UNPARSEABLE) {
		*action = POLICY_DENY;
		*rule = "fail-closed";
	} else if (req->level == POLICY_LEVEL_READ && (st->flags & READ_DENIED)) {
		*action = POLICY_DENY;
		*rule = "grant-level:read";
	} else if ((st->flags & POLICY_F_ENDS_SESSION) && req->level < POLICY_LEVEL_OPERATE &&
		   !kills_own_only(req, st)) {
		/* every bastion user of an account is the same database user:
		 * the server would let one end the others' sessions */
		*action = POLICY_DENY;
		*rule = "grant-level:operate";
	}
	if (!p || !p->rules)
		return 0;
	if (rules_have_regex(p->rules) && !w->match_data &&
	    !(w->match_data = rules_match_data_new()))
		return -1;

	struct rules_input in = {req, st, out->fingerprint + st->fp_start,
				 st->fp_len, w->match_data, -1};
	enum policy_action ra;
	const char *rn;
	int m = rules_decide(p->rules, &in, &ra, &rn);
	if (m < 0)
		return -1;
	if (m > 0 && (*action == POLICY_ALLOW || ra > *action)) {
		*action = ra;
		*rule = rn;
	}
	return 0;
}

/* Does a body mention the word EXECUTE anywhere (PL/pgSQL `EXECUTE`,
 * `RETURN QUERY EXECUTE`, `OPEN c FOR EXECUTE`, SQL EXECUTE of a prepared
 * statement)? Read as a word, case-insensitively, also inside strings and
 * comments: over-flagging a body is the safe side. */
static int mentions_execute(const char *t, size_t n)
{
	static const char w[] = "execute";
	for (size_t i = 0; i + 7 <= n; i++) {
		size_t k = 0;
		while (k < 7 && (t[i + k] | 0x20) == w[k])
			k++;
		if (k < 7)
			continue;
		unsigned char before = i ? (unsigned char)t[i - 1] : ' ';
		unsigned char after = i + 7 < n ? (unsigned char)t[i + 7] : ' ';
		int wb = !(before == '_' || before >= 0x80 || (unsigned)((before | 0x20) - 'a') < 26u ||
			   (unsigned)(before - '0') < 10u);
		int wa = !(after == '_' || after >= 0x80 || (unsigned)((after | 0x20) - 'a') < 26u ||
			   (unsigned)(after - '0') < 10u);
		if (wb && wa)
			return 1;
	}
	return 0;
}

/* Read the text of a routine body (len bytes) as SQL, at nesting depth,
 * and fold its strongest decision into *a / *rule and its flags into
 * *flags. Fragments of procedural code that are not SQL do not count as
 * unparseable. Returns -1 on an internal error. */
static int body_text_decide(const struct policy *p, const struct policy_request *req,
			    const struct cls_opts *opts, const char *text, size_t len,
			    struct policy_work *w, int depth, enum policy_action *a,
			    const char **rule, unsigned *flags, const struct policy_routine *d,
			    int batch)
{
	if (depth >= BODY_DEPTH) {
		*a = POLICY_DENY;
		*rule = "fail-closed";
		*flags |= POLICY_F_UNPARSEABLE;
		return 0;
	}
	if (!w->body[depth] && !(w->body[depth] = calloc(1, sizeof *w->body[depth])))
		return -1;
	struct policy_request breq = *req;
	breq.sql = text;
	breq.sql_len = len;
	breq.owns_session = NULL; /* who it would end is decided when it runs */
	struct cls_opts bo = *opts;
	bo.body_mode = !batch; /* a batch (T-SQL EXEC 'text') is top-level text */
	bo.std_strings = opts->mysql ? opts->std_strings : 1;
	if (opts->mysql && d) {
		/* a stored routine's body: read as the server runs it, under
		 * its own sql_mode, in UTF-8, its names resolving in its schema */
		if (d->mysql_mode & POLICY_MY_MODE_KNOWN) {
			bo.std_strings = (d->mysql_mode & POLICY_MY_NO_BACKSLASH) != 0;
			bo.ansi_quotes = (d->mysql_mode & POLICY_MY_ANSI_QUOTES) != 0;
		}
		bo.enc = lex_my_encoding_from_name("utf8mb4");
		bo.database = breq.database = d->schema;
		bo.database_unknown = breq.database_unknown = 0;
	}
	struct policy_result *r = w->body[depth];
	int amb;
	if (result_strings(r) < 0 || run(p, &breq, &bo, r, w, 0, &amb, depth + 1) < 0)
		return -1;
	*flags |= batch ? r->flags : r->flags & ~POLICY_F_UNPARSEABLE;
	if (!opts->mysql && mentions_execute(text, len))
		*flags |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
	if (r->action > *a) {
		*a = r->action;
		*rule = r->rule;
	}
	return 0;
}

/* A CREATE FUNCTION/PROCEDURE body runs whenever the function is called:
 * read it as SQL (block words of PL/pgSQL split statements) and let its
 * strongest statement decide the CREATE too. Returns -1 on an internal
 * error. */
static int body_decide(const struct policy *p, const struct policy_request *req,
		       const struct cls_opts *opts, const struct cls_stmt *st,
		       struct policy_work *w, int depth, enum policy_action *a,
		       const char **rule, unsigned *flags)
{
	if (depth >= BODY_DEPTH)
		return body_text_decide(p, req, opts, "", 0, w, depth, a, rule, flags, NULL, 0);
	if (w->body_cap[depth] < st->body_len + 1) {
		char *nb = realloc(w->body_text[depth], st->body_len + 1);
		if (!nb)
			return -1;
		w->body_text[depth] = nb;
		w->body_cap[depth] = st->body_len + 1;
	}
	struct lex_token t = {.kind = LEX_STRING, .flavor = st->body_flavor, .uesc = '\\',
			      .s = st->body, .len = st->body_len};
	size_t n = lex_string_value(&t, w->body_text[depth], w->body_cap[depth]);
	return body_text_decide(p, req, opts, w->body_text[depth], n, w, depth, a, rule, flags,
				NULL, st->body_batch);
}

/* A names entry of a called routine (classify.h: 'f', MySQL 'q' and 'p'). */
static int is_call(char type)
{
	return type == 'f' || type == 'q' || type == 'p';
}

/* The routines a statement calls (policy_request.routine): fold what their
 * catalog entries say into *flags (before the rules see the statement) and
 * their bodies' strongest decision into *a / *rule. The statement's names
 * are copied first: reading a body reuses the names buffer. Returns -1 on
 * an internal error. */
static int routines_decide(const struct policy *p, const struct policy_request *req,
			   const struct cls_opts *opts, const struct cls_stmt *st,
			   struct policy_work *w, int depth, enum policy_action *a,
			   char *rule, size_t rule_cap, unsigned *flags)
{
	int any = 0;
	for (size_t i = 0; i < st->names_len; i += strlen(st->names + i) + 1)
		if (is_call(st->names[i]))
			any = 1;
	if (!any) {
		if (st->call) /* a CALL whose procedure was not seen */
			*flags |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
		return 0;
	}
	char *names = malloc(st->names_len);
	if (!names)
		return -1;
	memcpy(names, st->names, st->names_len);
	size_t len = st->names_len;
	int rc = 0;
	for (size_t i = 0; i < len && rc == 0; i += strlen(names + i) + 1) {
		if (!is_call(names[i]))
			continue;
		const struct policy_routine *defs = NULL;
		const char *nm = names + i + 1;
		size_t nl = strlen(nm);
		char q[2 * 130 + 2];
		if (opts->mysql) {
			int qualified = memchr(nm, CLS_NAME_SEP, nl) != NULL;
			if (!qualified && names[i] != 'p' &&
			    (my_builtin_function(nm, nl, names[i] == 'f') ||
			     (names[i] == 'f' && my_reserved_word(nm, nl))))
				continue; /* the server's own function, or syntax */
			size_t dl = req->database ? strlen(req->database) : 0;
			if (!qualified && dl && !req->database_unknown && dl + nl + 1 < sizeof q) {
				/* resolves in the current database (the routine's own in a body) */
				memcpy(q, req->database, dl);
				q[dl] = CLS_NAME_SEP;
				memcpy(q + dl + 1, nm, nl);
				nl += dl + 1;
				nm = q;
			}
		}
		int n = req->routine(req->routine_ctx, nm, nl, &defs);
		if (n == POLICY_ROUTINE_PENDING)
			w->routines_missing++;
		if (n < 0) {
			*flags |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
			continue;
		}
		for (int k = 0; k < n && rc == 0; k++) {
			const struct policy_routine *d = &defs[k];
			int readable = d->body && d->language &&
				       (strcmp(d->language, "sql") == 0 ||
					(!opts->mysql && strcmp(d->language, "plpgsql") == 0));
			if (!readable) {
				*flags |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
				continue;
			}
			enum policy_action ba = POLICY_ALLOW;
			const char *brule = "";
			rc = body_text_decide(p, req, opts, d->body, d->body_len, w, depth, &ba,
					      &brule, flags, d, 0);
			if (ba > *a) {
				*a = ba;
				copy_str(rule, rule_cap, brule); /* the body's result is reused */
			}
		}
	}
	free(names);
	return rc;
}

static int run(const struct policy *p, const struct policy_request *req,
	       const struct cls_opts *opts, struct policy_result *out,
	       struct policy_work *w, int partial, int *ambiguous, int depth)
{
	struct cls_batch b;
	struct cls_stmt st;
	int best = -1, rc, bad = 0;

	out->action = POLICY_ALLOW;
	out->rule[0] = out->verb[0] = '\0';
	out->flags = 0;
	out->n_statements = 0;
	if (depth == 0 && !partial)
		out->unreadable_start = out->unreadable_end = 0;
	out->state_change_at = 0;
	cls_begin(&b, req->sql, req->sql ? req->sql_len : 0, opts, out, &w->names);
	while ((rc = cls_next(&b, &st)) > 0) {
		enum policy_action a;
		const char *rule;
		if (partial && (st.flags & POLICY_F_UNPARSEABLE))
			break;
		if (depth > 0 && opts->body_mode)
			st.flags &= ~POLICY_F_UNPARSEABLE; /* a fragment of procedural code */
		if (depth == 0 && !partial) {
			/* the first unreadable statement ends where the next begins */
			if (bad == 1 && st.text_start > out->unreadable_start) {
				out->unreadable_end = st.text_start - 1; /* its ';' */
				bad = 2;
			}
			if (!bad && (st.flags & POLICY_F_UNPARSEABLE)) {
				out->unreadable_start = st.text_start;
				out->unreadable_end = st.text_end ? st.text_end
							 : req->sql ? req->sql_len : 0;
				bad = st.text_end ? 2 : 1;
			}
		}
		out->n_statements++;
		/* a SET in a trigger or routine body runs later, not here */
		if (!out->state_change_at && !st.deferred && may_change_lexing(st.verb))
			out->state_change_at = out->n_statements;
		/* what called routines do counts before the rules see the call */
		enum policy_action ra = POLICY_ALLOW;
		char rrule[64] = "";
		if (req->routine && routines_decide(p, req, opts, &st, w, depth, &ra, rrule,
						    sizeof rrule, &st.flags) < 0)
			return -1;
		out->flags |= st.flags;
		if (decide(p, req, &st, out, w, &a, &rule) < 0)
			return -1;
		if (ra > a) {
			a = ra;
			rule = rrule;
		}
		if (st.body && body_decide(p, req, opts, &st, w, depth, &a, &rule, &out->flags) < 0)
			return -1;
		if ((int)a > best) {
			best = (int)a;
			out->action = a;
			copy_str(out->rule, sizeof out->rule, rule);
			copy_str(out->verb, sizeof out->verb, st.verb);
		}
	}
	*ambiguous = b.lx.ambiguous | (b.lx.versioned << 1);
	return rc < 0 ? -1 : 0;
}

int policy_evaluate(const struct policy *p, const struct policy_request *req,
		    struct policy_result *out)
{
	out->action = POLICY_ALLOW;
	out->rule[0] = out->verb[0] = out->message[0] = '\0';
	out->flags = 0;
	out->n_statements = 0;
	out->state_change_at = 0;
	out->use_seen = 0;
	out->use_db[0] = '\0';
	out->routines_missing = 0;
	if (result_strings(out) < 0)
		return forced(out, 0);

	struct policy_work *w = out->work;
	if (!w && !(w = out->work = calloc(1, sizeof *w)))
		return forced(out, 0);
	w->routines_missing = 0;

	struct cls_opts opts = {.std_strings = !req->std_strings_off,
				.enc = lex_encoding_from_name(req->client_encoding),
				.routines = req->routine != NULL, .dialect = req->dialect};
	int ambiguous = 0;
	if (req->dialect == POLICY_DIALECT_MYSQL) {
		/* MySQL's defaults: backslash escapes on, "x" is a string */
		opts = (struct cls_opts){.std_strings = 0, .mysql = 1,
					 .enc = lex_my_encoding_from_name(req->client_encoding),
					 .server_version = req->server_version,
					 .server_mariadb = req->server_mariadb,
					 .database = req->database,
					 .database_unknown = req->database_unknown,
					 .routines = req->routine != NULL};
		if (req->mysql_mode & POLICY_MY_MODE_KNOWN) {
			opts.std_strings = (req->mysql_mode & POLICY_MY_NO_BACKSLASH) != 0;
			opts.ansi_quotes = (req->mysql_mode & POLICY_MY_ANSI_QUOTES) != 0;
		}
	}
	opts.plain_path = req->plain_classify; /* tests only */
	if (run(p, req, &opts, out, w, 0, &ambiguous, 0) < 0)
		return forced(out, 0);
	int versioned = ambiguous >> 1;
	ambiguous &= 1;

	/* The session's sql_mode is not known here. When it could move token
	 * boundaries, also read the text as the server would under
	 * NO_BACKSLASH_ESCAPES and/or ANSI_QUOTES, and keep the strongest
	 * verdict. Only statements that those modes can parse count: text they
	 * cannot read would be refused by such a server. */
	if (req->dialect == POLICY_DIALECT_MYSQL && (ambiguous || versioned)) {
		if (!w->alt && !(w->alt = calloc(1, sizeof *w->alt)))
			return forced(out, 0);
		/* readings: m bit 0 NO_BACKSLASH_ESCAPES, bit 1 ANSI_QUOTES (when
		 * ambiguous); bit 2 versioned comments skipped, as a server older
		 * than their version does (when versioned) */
		for (int m = 1; m < 8; m++) {
			if ((!ambiguous && (m & 3)) || (!versioned && (m & 4)))
				continue;
			struct cls_opts alt = {.std_strings = m & 1, .enc = opts.enc, .mysql = 1,
					       .ansi_quotes = (m >> 1) & 1,
					       .skip_versioned = (m >> 2) & 1,
					       .server_version = req->server_version,
					       .server_mariadb = req->server_mariadb,
					       .database = req->database,
					       .database_unknown = req->database_unknown,
					       .routines = req->routine != NULL};
			if (req->mysql_mode & POLICY_MY_MODE_KNOWN) {
				/* the server told its sql_mode: that one reading only */
				if (m & 3)
					continue;
				alt.std_strings = opts.std_strings;
				alt.ansi_quotes = opts.ansi_quotes;
			}
			alt.plain_path = opts.plain_path;
			int amb;
			if (result_strings(w->alt) < 0 || run(p, req, &alt, w->alt, w, 1, &amb, 0) < 0)
				return forced(out, 0);
			out->flags |= w->alt->flags;
			/* a reading that sees another USE: the database is unknown */
			if (w->alt->use_seen &&
			    (!out->use_seen || strcmp(w->alt->use_db, out->use_db) != 0))
				out->use_seen = 2;
			if (w->alt->n_statements > out->n_statements)
				out->n_statements = w->alt->n_statements;
			if (w->alt->state_change_at &&
			    (!out->state_change_at ||
			     w->alt->state_change_at < out->state_change_at))
				out->state_change_at = w->alt->state_change_at;
			if (w->alt->action > out->action) {
				out->action = w->alt->action;
				copy_str(out->rule, sizeof out->rule, w->alt->rule);
				copy_str(out->verb, sizeof out->verb, w->alt->verb);
			}
		}
	}
	out->routines_missing = w->routines_missing;
	set_message(out);
	return 0;
}
