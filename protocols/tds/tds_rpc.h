/* tds_rpc: the client's requests: SQLBatch text, RPC calls and their
 * parameters, transaction-manager requests.
 *
 * Reads a whole request payload (the relay gathers its packets first).
 * An RPC request holds one or more calls, each a procedure (by the
 * well-known ProcID or by name) and its parameters; the parameters'
 * values are referred to in place, PLP values chunk by chunk. Which
 * parameter holds the SQL text of each system procedure is tds_rpc_sql_param().
 * Pure and bounds-checked. Reference: [MS-TDS] 2.2.6.6 (RPC request),
 * 2.2.6.7 (SQLBatch), 2.2.6.9 (transaction manager), 2.2.5.3 (ALL_HEADERS).
 */
#ifndef SB_TDS_RPC_H
#define SB_TDS_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/tds/tds_types.h"

/* Well-known procedure ids (ProcID). */
enum tds_proc {
	TDS_SP_NONE = 0,
	TDS_SP_CURSOR = 1,
	TDS_SP_CURSOROPEN = 2,
	TDS_SP_CURSORPREPARE = 3,
	TDS_SP_CURSOREXECUTE = 4,
	TDS_SP_CURSORPREPEXEC = 5,
	TDS_SP_CURSORUNPREPARE = 6,
	TDS_SP_CURSORFETCH = 7,
	TDS_SP_CURSOROPTION = 8,
	TDS_SP_CURSORCLOSE = 9,
	TDS_SP_EXECUTESQL = 10,
	TDS_SP_PREPARE = 11,
	TDS_SP_EXECUTE = 12,
	TDS_SP_PREPEXEC = 13,
	TDS_SP_PREPEXECRPC = 14,
	TDS_SP_UNPREPARE = 15,
};

struct tds_param {
	const uint8_t *name; /* UTF-16LE, name_chars units; may be empty */
	size_t name_chars;
	uint8_t status;      /* 0x01 by reference (OUTPUT) */
	struct tds_type type;
	int is_null;
	const uint8_t *val;  /* the value's bytes after its length prefix; for PLP
				the first chunk header */
	size_t len;          /* the value's length; for PLP the chunk area's length */
	uint64_t plp_total;  /* PLP: the sum of its chunks */
};

#define TDS_RPC_PARAMS_MAX 2100 /* SQL Server's own limit on parameters */

struct tds_rpc_call {
	enum tds_proc proc;  /* the ProcID, or the id a known name maps to; NONE = a named procedure */
	char *name;          /* owned UTF-8: the name as sent (NULL for a ProcID) */
	uint16_t flags;
	struct tds_param *params; /* owned */
	size_t nparams;
};

/* Skip ALL_HEADERS at the start of a SQLBatch, RPC or transaction-manager
 * payload. Returns the offset after it, or -1 malformed. */
long tds_skip_all_headers(const uint8_t *p, size_t n);

/* Parse the call at *off of an RPC payload (ALL_HEADERS already skipped).
 * Returns 1 with *c filled (free with tds_rpc_call_free) and *off past it
 * and its batch separator, 0 at the end, -1 malformed (err filled). 0x80,
 * 0xFE and 0xFF end a call in every version (tds71 changes nothing any more:
 * reading 0x80 as a 128-character name where a server reads a separator
 * let a second call through unseen); a name longer than 128 is malformed. */
int tds_rpc_next(const uint8_t *p, size_t n, size_t *off, struct tds_rpc_call *c, int tds71,
		 char *err, size_t errlen);
void tds_rpc_call_free(struct tds_rpc_call *c);

/* The procedure's name for the audit ("sp_executesql", or the name sent). */
const char *tds_rpc_proc_name(const struct tds_rpc_call *c);

/* Which parameter (0-based) holds the SQL text of proc, or -1 when it has
 * none; *values: the first parameter that is a bound value (for the audit). */
int tds_rpc_sql_param(enum tds_proc proc, size_t *values);

/* pos, the parameter a system procedure takes `want` (e.g. "@stmt") from,
 * or -1 when another parameter is named `want` (ASCII, case-insensitive):
 * whether the server binds that call by position or by name, the proxy
 * cannot tell which text runs (`sp_executesql @x=N'DROP ..', @stmt=N'SELECT 1'`),
 * so the caller fails closed. Clients that name the positional parameter
 * otherwise (tedious sends @statement) are unaffected. */
long tds_rpc_param_bound(const struct tds_rpc_call *call, size_t pos, const char *want);

/* The value of a parameter as bytes in one piece (PLP chunks joined),
 * malloc'd; NULL when it is NULL or out of memory (*n = 0). */
uint8_t *tds_param_bytes(const struct tds_param *pa, size_t *n);

/* The value of a text parameter as UTF-8 (malloc'd, NUL-terminated; *n its
 * length); NULL when it is not text, NULL, or out of memory. */
char *tds_param_text(const struct tds_param *pa, size_t *n);

/* A 4-byte integer parameter (a handle). 0, or -1 when it is not one. */
int tds_param_int(const struct tds_param *pa, int32_t *v);

/* Parameters from index `from` on as the audit's JSON array (malloc'd),
 * NULL when out of memory. */
char *tds_params_json(const struct tds_rpc_call *c, size_t from);

/* Transaction-manager request (after ALL_HEADERS): the statement it stands
 * for ("BEGIN TRANSACTION", ...), or NULL for a distributed-transaction
 * request the proxy does not pass. */
const char *tds_transmgr_text(const uint8_t *p, size_t n);

#endif
