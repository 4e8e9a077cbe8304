/* tns_desc: the Oracle Net connect descriptor, parsed and rewritten.
 *
 * A descriptor is a nest of (KEYWORD=value) lists, where a value is a
 * string or more lists: (DESCRIPTION=(ADDRESS=...)(CONNECT_DATA=
 * (SERVICE_NAME=x)(CID=(PROGRAM=p)(HOST=h)(USER=u)))). As Oracle Net
 * reads it: keywords are case-insensitive; blanks around keywords, '=' and
 * parentheses are ignored; a value may be quoted with double or single
 * quotes, and a backslash takes the next character as it is. This module
 * parses one into a tree (no allocation: the caller's struct holds nodes
 * and unescaped strings), finds what the proxy reads (the service or SID
 * carrying the token, the client's CID) and writes the descriptor the
 * backend gets (the asset's host, port and real service, the client's
 * other CONNECT_DATA items kept). Not here: EZConnect strings (clients
 * expand them to descriptors before sending) and TNS aliases (client-side
 * files).
 */
#ifndef SB_TNS_DESC_H
#define SB_TNS_DESC_H

#include <stddef.h>

#include "protocols/tns/tns_codec.h"

#define TNS_DESC_NODES_MAX 256 /* lists in one descriptor; real ones have < 40 */
#define TNS_DESC_DEPTH_MAX 16  /* nesting; DESCRIPTION_LIST/DESCRIPTION/ADDRESS_LIST/... is 5 */
#define SB_TNS_ADDR_MAX 96     /* one "(ADDRESS=...(PORT=n))" fragment, host written apart */

struct tns_desc_node {
	const char *key;   /* borrowed from store, NUL-terminated, as written */
	const char *value; /* string value (unescaped), or NULL when it holds lists */
	int parent;        /* index, -1 at the top */
	int child, next;   /* first child / next sibling, -1 = none */
};

struct tns_desc {
	struct tns_desc_node node[TNS_DESC_NODES_MAX];
	int n;
	int first; /* first top-level node, -1 = none */
	char store[2 * TNS_CONNECT_DATA_MAX + 2];
	size_t used;
};

/* Parse s (n bytes). 0, or -1 with err filled (position and problem). */
int tns_desc_parse(struct tns_desc *d, const char *s, size_t n, char *err, size_t errlen);

/* The first node named key (case-insensitive) under node `under` (-1 =
 * anywhere), depth first; -1 when none. */
int tns_desc_find(const struct tns_desc *d, int under, const char *key);

/* The service the client names: every SERVICE_NAME and SID in the
 * descriptor (a DESCRIPTION_LIST may repeat them) must carry the same
 * value. Returns 1 with *value set (borrowed) and *is_sid, 0 when there is
 * none, -1 when they differ or one holds lists. */
int tns_desc_service(const struct tns_desc *d, const char **value, int *is_sid);

/* The string value of key under the client's CID (PROGRAM, HOST, USER),
 * or NULL. */
const char *tns_desc_cid(const struct tns_desc *d, const char *key);

/* Write the backend's descriptor: (DESCRIPTION=<the client's first
 * DESCRIPTION's own parameters but its addresses and SECURITY>
 * (ADDRESS=(PROTOCOL=tcp)(HOST=host)(PORT=port))(CONNECT_DATA=<the
 * client's items but SERVICE_NAME, SID and INSTANCE_NAME>
 * (SERVICE_NAME=service))). Returns its length, or -1 when it does not
 * fit in cap (NUL included). */
long tns_desc_rewrite(const struct tns_desc *d, const char *host, int port, const char *service,
		      char *out, size_t cap);

#endif
