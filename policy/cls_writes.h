/* policy/cls_writes: the classifier's view of where a write lands and what
 * a few statements reach outside the database (private to policy/).
 *
 * classify.c calls these hooks from its one pass; they keep their state in
 * struct cls_writes inside struct cls_batch and only ever add flags:
 *
 *   - Writes to a system schema are privilege changes (issue 15 class 3):
 *     the target of INSERT/REPLACE/UPDATE/DELETE/MERGE/TRUNCATE/COPY FROM/
 *     LOAD DATA (not the tables a write merely reads) is compared with the
 *     server's system schemas: PostgreSQL pg_catalog, pg_toast and
 *     information_schema, where an unqualified pg_* name is taken as the
 *     catalog's (pg_catalog is searched first unless search_path says
 *     otherwise: the safe reading); MySQL mysql, performance_schema, sys
 *     and information_schema, where an unqualified name is in the current
 *     database (the session's, then each USE of the batch). The object of
 *     CREATE/ALTER/DROP counts too (CREATE FUNCTION pg_catalog.lower(...)
 *     shadows a built-in for everyone; ALTER TABLE mysql.global_priv).
 *   - MERGE performs the DELETE/UPDATE/INSERT of its WHEN clauses (class 4):
 *     those DML bits are set, and NO_WHERE when the ON condition is trivial
 *     and a WHEN MATCHED action has no condition of its own.
 *   - Foreign data that reads files or runs programs (class 5): file_fdw
 *     (the extension, a server or wrapper on it, a foreign table's
 *     filename/program option), MariaDB's CONNECT engine, and MySQL
 *     DATA/INDEX DIRECTORY are file access; so are connections the server
 *     opens elsewhere (CREATE SUBSCRIPTION, postgres_fdw/dblink_fdw and
 *     MySQL servers, FEDERATED/SPIDER tables), CREATE TABLESPACE (a server
 *     directory) and CREATE LANGUAGE (a handler in C).
 *   - Views the server writes through to a catalog: CREATE [OR REPLACE]
 *     VIEW (MySQL also ALTER VIEW) whose query reads a writable catalog
 *     relation in a shape the server can update (PostgreSQL: one table in
 *     FROM, no DISTINCT/GROUP BY/HAVING/LIMIT/OFFSET/set operation/WITH/
 *     aggregate/window; MySQL: the same, joins included) is a privilege
 *     change: UPDATE v then changes pg_authid or mysql.global_priv. The
 *     same holds for a trigger, rule or policy ON a catalog table.
 *   - Data lost by DDL: ALTER TABLE ... TYPE ... USING expr where expr
 *     refers to no column (USING 'x', NULL, now()) overwrites every row (an
 *     UPDATE without WHERE; USING c::int converts, and is schema work); MySQL ALTER TABLE ... ENGINE=MRG_MyISAM
 *     /BLACKHOLE keeps no rows and TRUNCATE PARTITION empties one (both
 *     deletes without WHERE); DISCARD TABLESPACE deletes the table's file
 *     and DETACH PARTITION takes rows out of a table (alter-drop).
 *   - Server administration (POLICY_F_SERVER_ADMIN): MySQL SET GLOBAL /
 *     PERSIST / @@global., SHUTDOWN, RESTART, replication and binary log
 *     control; PostgreSQL ALTER SYSTEM and the functions in admin_funcs.
 *     SET allow_system_table_mods (catalog DDL) and MySQL SET DEFAULT ROLE
 *     are privilege changes.
 *   - MySQL stored program bodies (triggers, events, procedures,
 *     functions): BEGIN ... END is read as a compound statement and an
 *     event's DO / a trigger's FOR EACH ROW statement as a statement of
 *     its own (cw_split), so DROP/DELETE inside are seen as such: triggers
 *     and events run without anyone calling them.
 */
#ifndef SB_POLICY_CLS_WRITES_H
#define SB_POLICY_CLS_WRITES_H

#include <stddef.h>
#include <stdint.h>

struct cls_batch;
struct cls_opts;
struct lex_token;

struct cls_writes {
	char db[129];          /* MySQL: current database ("" = none) */
	uint8_t db_unknown;    /* ... not known: unqualified writes count as system */
	uint8_t zone;          /* CW_ZONE_*: names here may be write targets */
	uint8_t zone_names;    /* targets taken in the zone */
	uint8_t cat_hit;       /* a target is in a system schema */
	uint8_t ddl_create;    /* the zone is a CREATE's object name */
	int zone_depth;
	/* MERGE */
	int merge_depth;       /* depth of the MERGE statement, -1 = none */
	uint8_t merge_ph;      /* where in a WHEN clause the reader is */
	uint8_t merge_matched; /* the WHEN clause being read is WHEN MATCHED */
	uint8_t merge_cond;    /* ... its AND condition refers to something */
	uint8_t merge_open;    /* a WHEN MATCHED action runs without a condition */
	uint8_t merge_any;     /* some WHEN MATCHED action deletes or updates */
	/* foreign data, MySQL table options */
	uint8_t fdw_ph;
	/* CREATE/ALTER VIEW over a catalog table (cls_writes.c view_token) */
	uint8_t view_ph;       /* VW_* */
	uint8_t view_cat;      /* its query reads a writable catalog relation */
	uint8_t view_fixed;    /* ... in a shape the server does not write through */
	uint8_t view_from;     /* in the FROM list at the query's own level */
	uint8_t zone_view;     /* the zone's names feed view_cat, not cat_hit */
	uint8_t zone_force;    /* the zone's next name counts though not armed */
	int view_depth;        /* parenthesis depth of the query's SELECT */
	/* ALTER TABLE actions */
	uint8_t alter_type;    /* ALTER ... TYPE x [USING expr]: where (AT_*) */
	uint8_t using_ref;     /* the USING expression refers to a column */
	uint8_t using_type;    /* its last word was a type name a '.' continues */
	/* MySQL stored program bodies (cw_split) */
	uint8_t body_ph;       /* BD_* */
	uint8_t body_skip;     /* tokens left before the body (FOLLOWS name) */
	/* statements of a stored program body: run later, by someone else
	 * (a KILL there ends nobody's own session) */
	uint8_t defer_left;    /* this many more statements */
	uint8_t defer_cmp;     /* ... and those of the compound body begun */
	uint8_t scope_only;    /* MySQL SET: "@@session" alone, its name follows */
	uint8_t path_watch;    /* PostgreSQL SET search_path: its first value comes */
	uint8_t sys_path;      /* ... and it named a system schema (this batch) */
	char prog;             /* what a CREATE makes: 't' trigger, 'e' event,
				  'p' procedure/function, '-' other, 0 not yet */
};

/* Start of a batch: the session's current database (MySQL). */
void cw_begin(struct cls_batch *b, const struct cls_opts *opts);
/* Start of each statement. */
void cw_stmt_begin(struct cls_batch *b);
/* A write statement starts at the current token (kw_name is its upper-case
 * word: "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY", "LOAD",
 * "REPLACE"): the names that follow may be its targets. */
void cw_write_begin(struct cls_batch *b, const char *kw_name);
/* Every token, before the classifier handles it (call it when
 * cw_wants_token(), which keeps plain SELECT traffic off this path). */
void cw_token(struct cls_batch *b);
#define cw_wants_token(b)                                                     \
	((b)->w.zone || (b)->w.merge_depth >= 0 || ((b)->st->flags & POLICY_F_DDL) || \
	 ((b)->mysql && (b)->ntok == 2) || (b)->w.path_watch)
/* A (qualified) name was read (call it when b->w.zone is set): parts separated by CLS_NAME_SEP, armed =
 * the classifier takes it as an object, after_sep = a ',' or '(' came
 * before it (MySQL multi-table UPDATE t1, (t2)). Returns 1 when the name was a
 * MySQL modifier word (LOW_PRIORITY, IGNORE, ...) and the object is still
 * to come. */
int cw_name(struct cls_batch *b, const char *nm, size_t n, int parts, int armed,
	    int after_sep);
/* A MERGE frame closes: on_trivial = its ON condition refers to nothing. */
void cw_merge_close(struct cls_batch *b, int on_trivial);
/* End of a statement, before EXPLAIN clears its flags. */
void cw_stmt_end(struct cls_batch *b);
/* After classify.c read a statement's first word (b->st->verb set). */
void cw_verb(struct cls_batch *b);
/* A setting is assigned (SET name, SET @@global.name, set_config('name'));
 * t = the token naming it (NULL for set_config), name = its name. */
void cw_setting(struct cls_batch *b, const struct lex_token *t, const char *name);
/* MySQL: is t the name of a variable whose scope came as a token of its
 * own (@@session . `x`, @@GLOBAL/ * * /.x)? Then its name is written to v
 * (cap bytes) and 1 returned. */
int cw_set_name_part(struct cls_batch *b, const struct lex_token *t, char *v, size_t cap);
/* Flags of a function called (its last name part, n bytes). */
unsigned cw_func_flags(const struct cls_batch *b, const char *name, size_t n);
/* MySQL: at a word at depth 0 of a statement, should the statement split
 * here? 0 = no, 1 = split and drop this word (BEGIN of a stored program
 * body, an event's DO), 2 = split before it (a trigger's statement). */
int cw_split(struct cls_batch *b);

#endif
