/* pg_params: Bind parameters and FunctionCall arguments as the audit's
 * `params` JSON array (see pg_params.c for the rendering). */
#ifndef SB_PG_PARAMS_H
#define SB_PG_PARAMS_H

#include "protocols/pgsql/pg_codec.h"

/* Bytes of one value shown in the audit; the MySQL frontend's limit too. */
#define PG_PARAM_SHOW_MAX 1024

/* A NUL-terminated JSON array (malloc'ed; the caller frees it), or NULL
 * when out of memory. */
char *pg_values_json(const struct pg_values *v);

#endif
