/* policy: classify SQL text and decide what happens to it.
 *
 * This module owns the SQL lexers (one per dialect), the statement classifier,
 * the rule-file parser and the decision. It never sees a socket or a protocol
 * struct: callers pass plain values (who, where, which grant level, the text)
 * and get a decision back. A loaded policy is an immutable, reference-counted
 * snapshot, so a reload builds a new one while live sessions keep theirs.
 *
 * Decision order (documented in README "Policy"):
 *   1. The text is split into statements and each is classified. Input that
 *      cannot be lexed (unterminated string/comment, bad bytes) is
 *      POLICY_F_UNPARSEABLE and denied by rule "fail-closed".
 *   2. The grant level is applied: `read` denies anything that writes, DDL,
 *      dynamic SQL, file access, a privilege change or a switch to
 *      read-write (rule "grant-level:read").
 *   3. Rules are tried in file order; the first rule whose match and scope
 *      both hold decides that statement. No match means allow. A rule may
 *      turn a denial from step 1 or 2 into `kill`, never into anything weaker.
 *   4. A batch takes the strongest action of its statements
 *      (kill > deny > review > alert > allow); a batch with one denied
 *      statement is denied whole.
 */
#ifndef SB_POLICY_H
#define SB_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Which server's SQL the text is: PostgreSQL, MySQL/MariaDB, T-SQL (SQL
 * Server), Oracle SQL and PL/SQL (policy/cls_dialect.h). */
enum policy_dialect { POLICY_DIALECT_PG, POLICY_DIALECT_MYSQL, POLICY_DIALECT_TSQL, POLICY_DIALECT_ORACLE };

/* Ordered by strength: a larger value wins when statements of a batch differ. */
enum policy_action {
	POLICY_ALLOW = 0,
	POLICY_ALERT = 1,
	POLICY_REVIEW = 2,
	POLICY_DENY = 3,
	POLICY_KILL = 4,
};

enum policy_level {
	POLICY_LEVEL_READ = 0,
	POLICY_LEVEL_WRITE = 1,
	POLICY_LEVEL_OPERATE = 2,
	POLICY_LEVEL_ADMIN = 3,
};

/* Statement flags set by the classifier. */
#define POLICY_F_WRITES 0x0001u        /* changes data (INSERT/UPDATE/DELETE/MERGE/COPY FROM...) */
#define POLICY_F_DDL 0x0002u           /* changes schema (CREATE/ALTER/DROP/TRUNCATE/...) */
#define POLICY_F_HAS_WHERE 0x0004u     /* top-level WHERE present (DELETE/UPDATE) */
#define POLICY_F_WHERE_TRIVIAL 0x0008u /* WHERE 1=1, WHERE true, ... */
#define POLICY_F_DYNAMIC 0x0010u       /* text executed cannot be seen (EXECUTE, DO, PREPARE FROM @v) */
#define POLICY_F_FILE_ACCESS 0x0020u   /* server files or programs (COPY TO/FROM file, PROGRAM, pg_read_file) */
#define POLICY_F_RW_SWITCH 0x0040u     /* switches a session/tx to read-write */
#define POLICY_F_UNPARSEABLE 0x0080u   /* lexer could not make sense of the text */
#define POLICY_F_PRIVILEGE 0x0100u     /* GRANT/REVOKE, CREATE/ALTER/DROP ROLE|USER */
#define POLICY_F_TX_CONTROL 0x0200u    /* BEGIN/COMMIT/ROLLBACK/SAVEPOINT */
#define POLICY_F_NO_WHERE 0x0400u      /* a DELETE/UPDATE (also in a CTE, PREPARE,
					  EXPLAIN ANALYZE) without WHERE or with a trivial one */
#define POLICY_F_ALTER_DROP 0x0800u    /* ALTER ... DROP COLUMN/CONSTRAINT/...: removes part of an object */
#define POLICY_F_RENAME 0x1000u        /* ALTER ... RENAME */
#define POLICY_F_ENDS_SESSION 0x10000u /* ends or cancels sessions: MySQL KILL,
					  pg_terminate_backend(), pg_cancel_backend() */

/* How policy_request.owns_session reads an id. */
enum policy_session_id {
	POLICY_SESSION_BACKEND_ID = 0, /* the server's id: PG backend pid, MySQL thread id */
	POLICY_SESSION_PROXY_ID = 1,   /* sqlbastion's session id (MySQL `KILL n`, which
					  the MySQL frontend rewrites) */
};
#define POLICY_F_CLIENT_FILE 0x2000u   /* the client uploads data for the statement: MySQL
					  LOAD DATA LOCAL INFILE, PostgreSQL COPY ... FROM STDIN */
#define POLICY_F_SERVER_ADMIN 0x20000u /* runs the server rather than a database: MySQL
					  SET GLOBAL, SHUTDOWN, replication and binary log
					  control; PostgreSQL ALTER SYSTEM, pg_reload_conf(),
					  replication slots (cls_writes.h) */

/* One routine (function, procedure, aggregate) of a called name, as the
 * server's catalog (pg_proc, information_schema.ROUTINES) describes it. See
 * policy_request.routine. */
struct policy_routine {
	const char *language; /* pg_language.lanname: "sql", "plpgsql", "c", ... */
	const char *body;     /* prosrc, or the SQL of a BEGIN ATOMIC body; NULL =
				 not known whole (the routine is then dynamic) */
	size_t body_len;
	int security_definer; /* prosecdef (reported, not a flag by itself) */
	char volatility;      /* provolatile: 'i', 's', 'v' (reported only) */
	/* MySQL (information_schema.ROUTINES): the routine's database, where
	 * unqualified names of its body resolve, and the sql_mode it was
	 * created under (POLICY_MY_* bits with POLICY_MY_MODE_KNOWN), which
	 * the server reads its body under. The body is UTF-8. */
	const char *schema;
	unsigned mysql_mode;
};

/* Answers of policy_request.routine beside a count of routines. */
#define POLICY_ROUTINE_PENDING (-1) /* not known yet: the caller looks it up
				       and evaluates again (see routines_missing) */
#define POLICY_ROUTINE_UNKNOWN (-2) /* cannot be known: the call is dynamic */

/* What a caller asks about. All strings are borrowed for the call. */
struct policy_request {
	enum policy_dialect dialect;
	enum policy_level level;
	const char *user;    /* bastion user */
	const char *asset;   /* asset name */
	const char *account; /* hosted database account */
	const char *sql;     /* statement text, not NUL-terminated necessarily */
	size_t sql_len;
	time_t now; /* for `hours` scopes (local time of the proxy) */
	/* Session state that changes how the server splits text into tokens;
	 * the zero values are the server defaults. PostgreSQL reports both in
	 * ParameterStatus messages. */
	int std_strings_off;         /* standard_conforming_strings = off */
	const char *client_encoding; /* e.g. "SJIS"; NULL or "" = UTF8; MySQL: the
					character_set_client name ("sjis", "gbk") */
	/* MySQL: the session's sql_mode as the server confirmed it. Without
	 * POLICY_MY_MODE_KNOWN, text whose tokens depend on it is read under
	 * every sql_mode and the strongest verdict kept. */
	unsigned mysql_mode;
	/* MySQL: the backend's version from its handshake (10.11.6 = 101106;
	 * cls_mysql_version), which decides which versioned executable
	 * comments it runs; 0 = unknown: both readings count. */
	unsigned long server_version;
	int server_mariadb;
	/* Statements that end or cancel sessions (POLICY_F_ENDS_SESSION) below
	 * level `operate` are allowed only when every target is a session of
	 * this user: owns_session(ctx, id, how) returns 1 for one. NULL = the
	 * caller cannot tell (sqlbastionctl policy test): nothing is owned. */
	int (*owns_session)(void *ctx, uint64_t id, enum policy_session_id how);
	void *owns_ctx;
	/* MySQL: the session's current database as the server confirmed it
	 * (unqualified table names resolve there); NULL or "" = none selected.
	 * database_unknown: a USE may have changed it unseen: unqualified
	 * writes are then taken as writes to a system schema. */
	const char *database;
	int database_unknown;
	/* What a called routine does. For every function a
	 * statement calls (and the procedure of a CALL), routine(ctx, name,
	 * len, &defs) returns how many user routines (outside pg_catalog) the
	 * name may run, with *defs pointing at them (borrowed for the call),
	 * or POLICY_ROUTINE_PENDING / POLICY_ROUTINE_UNKNOWN. name is the
	 * classifier's (parts separated by '\x1f', as written or folded). The
	 * call takes every candidate's flags and its body's strongest decision:
	 * a body in "sql" or "plpgsql" is classified like a CREATE FUNCTION
	 * body (a body mentioning EXECUTE is dynamic), any other language is
	 * dynamic (and writes); a name with no user routine keeps the
	 * built-in knowledge. NULL = not known (sqlbastionctl policy test):
	 * calls are classified by name only and CALL is dynamic.
	 * MySQL: language "sql" is readable; unqualified names the server
	 * resolves to a built-in (policy/my_builtins.h) are not asked about;
	 * other unqualified names are qualified with `database` (the body's
	 * routine schema inside a body) when known; a CALL's procedure is
	 * always asked about. */
	int (*routine)(void *ctx, const char *name, size_t len,
		       const struct policy_routine **defs);
	void *routine_ctx;
	/* Tests only (0 in the product): classify token by token, without the
	 * literal-tuple fast path (cls_values.h), to check both agree. */
	int plain_classify;
};

#define POLICY_MY_MODE_KNOWN 0x1u     /* the bits below are the server's */
#define POLICY_MY_NO_BACKSLASH 0x2u   /* sql_mode NO_BACKSLASH_ESCAPES */
#define POLICY_MY_ANSI_QUOTES 0x4u    /* sql_mode ANSI_QUOTES */

/* The answer. Callers own it, initialise it with policy_result_init(), may
 * reuse it across calls (buffers grow and are kept) and free it with
 * policy_result_free(). */
struct policy_result {
	enum policy_action action;
	char rule[64];          /* deciding rule's name; "" when nothing matched */
	char verb[64];          /* e.g. "SELECT", "DROP TABLE"; first deciding statement,
				   "MULTI" is never used: the strongest statement's verb */
	char message[256];      /* client-facing text for deny/review/kill, e.g.
				   "sqlbastion: blocked by rule 'no-drop'" */
	unsigned flags;         /* union of statement flags in the batch */
	unsigned n_statements;  /* statements found in the text */
	char *fingerprint;      /* owned: normalized text, literals replaced by ?, NUL-terminated */
	size_t fingerprint_cap;
	char *objects;          /* owned: comma-separated objects touched ("public.t1,t2"), NUL-terminated */
	size_t objects_cap;
	void *work;             /* owned: private scratch kept across calls (names, regex match data) */
	/* MySQL: 1 = the batch contains USE db and use_db is the last one's
	 * name (the session's database once the server has run the batch
	 * without error); 2 = readings of the text disagree on it (the database
	 * becomes unknown); 0 = no USE */
	int use_seen;
	char use_db[129];
	/* PostgreSQL: called names policy_request.routine answered
	 * POLICY_ROUTINE_PENDING for (counted as dynamic meanwhile). When not
	 * 0 the decision is provisional: look them up and evaluate again
	 * (sess_evaluate does no review step for it). */
	unsigned routines_missing;
	/* The first statement the classifier could not read
	 * (POLICY_F_UNPARSEABLE), as the server would cut it out of a
	 * multi-statement text: bytes [unreadable_start, unreadable_end) hold
	 * it, from just after the ';' that ended the previous top-level
	 * statement (0 for the first) to its own top-level ';' (or the end
	 * of the text). Both 0 when every statement was read. */
	size_t unreadable_start, unreadable_end;
	/* MySQL: 1-based index of the first statement of the batch that may
	 * change how the server lexes the rest (sql_mode, character set):
	 * SET, EXECUTE, CALL, BINLOG, a compound statement, or one whose verb
	 * the classifier could not name; 0 = none. Statements up to and
	 * including it are lexed under the confirmed state, so a batch is
	 * exposed to a state change only when this is below n_statements. */
	unsigned state_change_at;
};

struct policy; /* opaque, immutable once loaded */

struct policy_error {
	char file[256];
	int line; /* 0 when not about a line */
	char message[256];
};

/* Load a rule file. Returns a policy with refcount 1, or NULL with *err
 * filled (file, line, problem). A NULL or empty path gives an empty policy
 * (grant levels and fail-closed still apply). */
struct policy *policy_load(const char *path, struct policy_error *err);

/* Load rules from len bytes of text; name is used in errors (err->file).
 * Same contract as policy_load. */
struct policy *policy_load_text(const char *name, const char *text, size_t len,
				struct policy_error *err);

/* Take/drop a reference. policy_unref frees on the last one. */
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);

/* Number of rules loaded (for logs and tests). */
size_t policy_rule_count(const struct policy *p);

void policy_result_init(struct policy_result *r);
void policy_result_free(struct policy_result *r);

/* Classify req->sql and decide. Always fills *out (on an internal error such
 * as out-of-memory, or a regex rule that hits its match limit, the action is
 * POLICY_DENY with rule "fail-closed"). Safe to call from several threads
 * on one policy, each with its own result. Never logs.
 * Returns 0 normally, -1 when the decision was forced by an internal error. */
int policy_evaluate(const struct policy *p, const struct policy_request *req,
		    struct policy_result *out);

const char *policy_action_name(enum policy_action a); /* "allow", "deny", ... */
/* Parse "read"/"write"/"operate"/"admin"; returns 0 or -1. */
int policy_level_parse(const char *s, enum policy_level *out);

/* The one MySQL KILL form the MySQL frontend rewrites from a proxy session
 * id to the backend's thread id (see cls_kill.h cls_kill_plain_form). */
int policy_mysql_kill_plain(const char *sql, size_t len, int *query, uint64_t *id);

/* A MySQL/MariaDB handshake version string as policy_request.server_version
 * (see cls_wrappers.h cls_mysql_version). */
unsigned long policy_mysql_version(const char *s, int *mariadb);
const char *policy_level_name(enum policy_level l);

#endif
