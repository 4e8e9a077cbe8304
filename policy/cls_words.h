/* policy/cls_words: the words the classifier knows (data only, included by
 * classify.c alone, like PostgreSQL's kwlist.h).
 *
 * CLS_KEYWORDS(X) lists keywords as X(NAME, category, flags): category as in
 * PostgreSQL's kwlist.h (U unreserved, C column-name, T type/function-name,
 * R reserved: only U and C words can name a table), flags from classify.c
 * (NF: "word (" is syntax, not a call; CL: ends a FROM/DROP/GRANT list;
 * TR: may appear in a WHERE that refers to nothing; SK/GS: skipped while an
 * object name is awaited). MySQL-only verbs are listed too: the category
 * matters only for names, and a MySQL verb at the start of PostgreSQL text
 * is a syntax error there anyway.
 *
 * CLS_FUNCTIONS(X) lists functions whose call changes a statement's flags,
 * as X("name", is_prefix, flags), matched on the unqualified name. The
 * tables at the end name DDL kinds and unsafe function languages.
 */
#ifndef SB_POLICY_CLS_WORDS_H
#define SB_POLICY_CLS_WORDS_H

#define NF KF_NOTFUNC
#define CL KF_CLAUSE
#define TR KF_TRIVIAL
#define SK KF_SKIP
#define GS KF_GSKIP

#define CLS_KEYWORDS(X)                                                       \
	X(ABORT, U, 0) X(ACCESS, U, 0) X(ADD, U, 0) X(AFTER, U, 0)            \
	X(ALL, R, NF | GS) X(ALSO, U, 0) X(ALTER, U, 0) X(ANALYSE, R, SK)     \
	X(ANALYZE, R, SK) X(AND, R, TR) X(ANY, R, NF) X(ARRAY, R, NF)         \
	X(AS, R, NF) X(ASC, R, 0) X(ASYMMETRIC, R, 0) X(ATOMIC, U, 0)         \
	X(AUTHORIZATION, T, NF) X(BEFORE, U, 0) X(BEGIN, U, 0)                \
	X(BETWEEN, C, NF | TR) X(BIGINT, C, NF) X(BINARY, T, NF | SK)         \
	X(BINLOG, U, 0) X(BIT, C, NF) X(BOOLEAN, C, NF) X(BOTH, R, 0)         \
	X(BY, U, 0) X(CALL, U, 0) X(CASCADE, U, CL) X(CASE, R, NF | TR)       \
	X(CAST, R, NF) X(CHANGE, U, 0) X(CHAR, C, NF) X(CHARACTER, C, NF)     \
	X(CHARACTERISTICS, U, 0) X(CHECK, R, NF) X(CHECKPOINT, U, 0)          \
	X(CHECKSUM, U, 0) X(CLOSE, U, 0) X(CLUSTER, U, 0) X(COALESCE, C, 0)   \
	X(COLLATE, R, NF) X(COLLATION, T, NF) X(COLUMN, R, NF | GS)           \
	X(COMMENT, U, 0) X(COMMIT, U, 0) X(CONCURRENTLY, T, NF | SK)          \
	X(CONSTRAINT, R, NF) X(COPY, U, 0) X(CREATE, R, NF) X(CROSS, T, NF)   \
	X(CURRENT, U, 0) X(CURRENT_CATALOG, R, NF) X(CURRENT_DATE, R, NF)     \
	X(CURRENT_ROLE, R, NF) X(CURRENT_SCHEMA, T, 0) X(CURRENT_TIME, R, NF) \
	X(CURRENT_TIMESTAMP, R, NF) X(CURRENT_USER, R, NF) X(CURSOR, U, 0)    \
	X(CYCLE, U, 0) X(DATA, U, GS) X(DATABASE, U, GS) X(DEALLOCATE, U, 0)  \
	X(DEC, C, NF) X(DECIMAL, C, NF) X(DECLARE, U, 0) X(DEFAULT, R, NF)    \
	X(DEFERRABLE, R, 0) X(DELETE, U, 0) X(DESC, R, 0) X(DESCRIBE, U, 0)   \
	X(DISCARD, U, 0) X(DISTINCT, R, NF) X(DO, R, NF) X(DOMAIN, U, GS)     \
	X(DOUBLE, U, NF) X(DROP, U, 0) X(DUMPFILE, U, 0) X(EACH, U, 0)        \
	X(ELSE, R, TR) X(END, R, TR) X(EXCEPT, R, NF | CL) X(EXECUTE, U, 0)   \
	X(EXISTS, C, NF | SK | TR) X(EXPLAIN, U, 0) X(EXTENSION, U, 0)        \
	X(EXTRACT, C, 0) X(FALSE, R, TR) X(FETCH, R, CL) X(FILTER, U, NF)     \
	X(FLOAT, C, NF) X(FLUSH, U, 0) X(FOR, R, NF | CL) X(FOREIGN, R, GS)   \
	X(FREEZE, T, SK) X(FROM, R, NF) X(FULL, T, SK) X(FUNCTION, U, GS)     \
	X(FUNCTIONS, U, GS) X(GLOBAL, U, 0) X(GRANT, R, 0) X(GROUP, R, CL)    \
	X(HANDLER, U, 0) X(HAVING, R, CL) X(HELP, U, 0) X(IF, U, SK)          \
	X(ILIKE, T, NF) X(IMPORT, U, 0) X(IN, R, NF | TR | GS)                \
	X(INCLUDING, U, 0) X(INDEX, U, GS) X(INFILE, U, 0) X(INITIALLY, R, 0) \
	X(INNER, T, NF) X(INSERT, U, 0) X(INSTALL, U, 0) X(INSTEAD, U, 0)     \
	X(INT, C, NF) X(INTEGER, C, NF) X(INTERSECT, R, NF | CL)              \
	X(INTERVAL, C, NF) X(INTO, R, NF | CL) X(IS, T, NF | TR)              \
	X(ISNULL, T, NF) X(JOIN, T, NF) X(KEY, U, NF) X(KILL, U, 0)           \
	X(LANGUAGE, U, GS) X(LARGE, U, GS) X(LATERAL, R, NF | SK)             \
	X(LEADING, R, 0) X(LEFT, T, 0) X(LIKE, T, NF) X(LIMIT, R, CL)         \
	X(LISTEN, U, 0) X(LOAD, U, 0) X(LOCAL, U, 0) X(LOCALTIME, R, NF)      \
	X(LOCALTIMESTAMP, R, NF) X(LOCK, U, 0) X(MATCHED, U, 0)               \
	X(MATERIALIZED, U, GS) X(MERGE, U, 0) X(MOVE, U, 0) X(NATURAL, T, NF) \
	X(NOT, R, NF | TR | SK) X(NOTHING, U, 0) X(NOTIFY, U, 0)              \
	X(NOTNULL, T, NF) X(NULL, R, TR) X(NUMERIC, C, NF) X(OBJECT, U, GS)   \
	X(OF, U, 0) X(OFF, U, 0) X(OFFSET, R, CL) X(ON, R, NF) X(ONLY, R, SK) \
	X(OPTIMIZE, U, 0) X(OR, R, TR) X(ORDER, R, CL) X(OUTER, T, NF)        \
	X(OUTFILE, U, 0) X(OVER, U, NF) X(OVERLAPS, T, NF) X(OWNED, U, 0)     \
	X(OWNER, U, 0) X(PERSIST, U, 0) X(PERSIST_ONLY, U, 0) X(PLACING, R, 0) \
	X(POLICY, U, 0) X(PREPARE, U, 0) X(PREPARED, U, 0) X(PRIMARY, R, 0)   \
	X(PRIVILEGES, U, 0) X(PROCEDURE, U, GS) X(PROCEDURES, U, GS)          \
	X(PROGRAM, U, 0) X(PURGE, U, 0) X(READ, U, 0) X(REAL, C, NF)          \
	X(REASSIGN, U, 0) X(RECURSIVE, U, 0) X(REFERENCES, R, NF)             \
	X(REFRESH, U, 0) X(REINDEX, U, 0) X(RELEASE, U, 0) X(RENAME, U, 0)    \
	X(REPAIR, U, 0) X(REPLACE, U, 0) X(RESET, U, 0) X(RESTRICT, U, CL)    \
	X(RETURN, U, 0) X(RETURNING, R, CL) X(RETURNS, U, 0) X(REVOKE, U, 0)  \
	X(RIGHT, T, 0) X(ROLE, U, 0) X(ROLLBACK, U, 0) X(ROUTINE, U, GS)      \
	X(ROUTINES, U, GS) X(ROW, C, NF) X(SAVEPOINT, U, 0) X(SCHEMA, U, GS)  \
	X(SECURITY, U, 0) X(SELECT, R, NF | CL | TR) X(SEQUENCE, U, GS)       \
	X(SEQUENCES, U, GS) X(SERVER, U, GS) X(SESSION, U, 0)                 \
	X(SESSION_USER, R, NF) X(SET, U, CL) X(SETOF, C, NF) X(SHOW, U, 0)    \
	X(SHUTDOWN, U, 0) X(SIMILAR, T, NF) X(SMALLINT, C, NF) X(SOME, R, NF) \
	X(SONAME, U, 0) X(START, U, 0) X(STATEMENT, U, 0) X(STDIN, U, 0)      \
	X(STDOUT, U, 0) X(SYMMETRIC, R, 0) X(SYSTEM, U, GS)                   \
	X(SYSTEM_USER, R, NF) X(TABLE, R, NF | GS) X(TABLES, U, GS)           \
	X(TABLESAMPLE, T, NF) X(TABLESPACE, U, GS) X(TEMP, U, 0)              \
	X(TEMPORARY, U, 0) X(THEN, R, TR) X(TIME, C, NF) X(TIMESTAMP, C, NF)  \
	X(TO, R, CL) X(TRAILING, R, 0) X(TRANSACTION, U, 0) X(TRIGGER, U, 0)  \
	X(TRUE, R, TR) X(TRUNCATE, U, 0) X(TYPE, U, GS) X(UNINSTALL, U, 0)    \
	X(UNION, R, NF | CL) X(UNIQUE, R, NF) X(UNLISTEN, U, 0) X(UNLOCK, U, 0) \
	X(UNLOGGED, U, 0) X(UPDATE, U, 0) X(USE, U, 0) X(USER, R, NF)         \
	X(USING, R, NF) X(VACUUM, U, 0) X(VALUES, C, NF | CL) X(VARCHAR, C, NF) \
	X(VARIADIC, R, 0) X(VERBOSE, T, SK) X(VIEW, U, GS) X(WHEN, R, TR)     \
	X(WHERE, R, CL) X(WINDOW, R, CL) X(WITH, R, NF) X(WITHIN, U, NF)      \
	X(WRITE, U, 0) X(XA, U, 0)

#define CLS_FUNCTIONS(X)                                                      \
	/* server files, programs and other servers */                        \
	X("pg_read_file", 0, POLICY_F_FILE_ACCESS)                            \
	X("pg_read_binary_file", 0, POLICY_F_FILE_ACCESS)                     \
	X("pg_stat_file", 0, POLICY_F_FILE_ACCESS)                            \
	X("pg_ls_", 1, POLICY_F_FILE_ACCESS)                                  \
	X("pg_file_", 1, POLICY_F_FILE_ACCESS)                                \
	X("pg_logdir_ls", 0, POLICY_F_FILE_ACCESS)                            \
	X("lo_import", 0, POLICY_F_FILE_ACCESS | POLICY_F_WRITES)             \
	X("lo_export", 0, POLICY_F_FILE_ACCESS)                               \
	X("dblink", 1, POLICY_F_FILE_ACCESS | POLICY_F_DYNAMIC)               \
	X("load_file", 0, POLICY_F_FILE_ACCESS)                               \
	X("sys_exec", 0, POLICY_F_FILE_ACCESS | POLICY_F_DYNAMIC)             \
	X("sys_eval", 0, POLICY_F_FILE_ACCESS | POLICY_F_DYNAMIC)             \
	/* run SQL text given as a value */                                   \
	X("query_to_xml", 1, POLICY_F_DYNAMIC)                                \
	X("ts_stat", 0, POLICY_F_DYNAMIC)                                     \
	X("ts_rewrite", 0, POLICY_F_DYNAMIC)                                  \
	X("crosstab", 1, POLICY_F_DYNAMIC)                                    \
	X("connectby", 0, POLICY_F_DYNAMIC)                                   \
	X("xpath_table", 0, POLICY_F_DYNAMIC)                                 \
	X("pg_background_", 1, POLICY_F_DYNAMIC | POLICY_F_WRITES)            \
	/* change data although called from a SELECT */                       \
	X("nextval", 0, POLICY_F_WRITES)                                      \
	X("setval", 0, POLICY_F_WRITES)                                       \
	X("lo_create", 0, POLICY_F_WRITES)                                    \
	X("lo_creat", 0, POLICY_F_WRITES)                                     \
	X("lo_unlink", 0, POLICY_F_WRITES)                                    \
	X("lo_put", 0, POLICY_F_WRITES)                                       \
	X("lo_from_bytea", 0, POLICY_F_WRITES)                                \
	X("lo_truncate", 0, POLICY_F_WRITES)                                  \
	X("lowrite", 0, POLICY_F_WRITES)


/* DDL object kinds of more than one word, and the words that may come
 * before a kind (CREATE OR REPLACE TEMP ...). */
static const char *const multi_kinds[] = {
	"MATERIALIZED VIEW", "FOREIGN TABLE", "FOREIGN DATA WRAPPER",
	"EVENT TRIGGER", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
	"TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "OPERATOR CLASS",
	"OPERATOR FAMILY", "USER MAPPING", "ACCESS METHOD", "DEFAULT PRIVILEGES",
	"LARGE OBJECT",
};

static const char *const kind_modifiers[] = {
	"OR", "REPLACE", "TEMP", "TEMPORARY", "LOCAL", "GLOBAL", "UNLOGGED",
	"UNIQUE", "TRUSTED", "PROCEDURAL", "CONSTRAINT", "RECURSIVE",
};

/* Function languages that run host code (CREATE FUNCTION ... LANGUAGE). */
static const char *const unsafe_languages[] = {
	"c", "internal", "plpythonu", "plpython2u", "plpython3u", "plperlu",
	"pltclu", "plsh", "plr",
};

#endif
