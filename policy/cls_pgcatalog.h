/* policy/cls_pgcatalog: is a name one of PostgreSQL 15's pg_catalog
 * relations (tables, views, indexes)? Private to policy/. */
#ifndef SB_POLICY_CLS_PGCATALOG_H
#define SB_POLICY_CLS_PGCATALOG_H

#include <stddef.h>

/* The kind of pg_catalog relation s (n bytes, the name as the server sees
 * it: bare names already folded to lower case): 'r' table, 'v' view,
 * 'u' view whose DML reaches a catalog table (pg_group, ...), 'i' index;
 * 0 when pg_catalog has no relation of that name. */
char pgcat_relation_kind(const char *s, size_t n);

#endif
