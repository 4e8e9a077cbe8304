/* protocols/registry: maps listener protocol names to frontends. */
#include "protocols/protocol.h"

#include <string.h>

static const struct protocol *const all_protocols[] = {
	&pg_protocol,
	&mysql_protocol,
};

const struct protocol *protocol_find(const char *name)
{
	for (size_t i = 0; i < sizeof all_protocols / sizeof all_protocols[0]; i++)
		if (strcmp(all_protocols[i]->name, name) == 0)
			return all_protocols[i];
	return NULL;
}
