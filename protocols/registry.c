/* protocols/registry: maps listener protocol names to frontends and runs
 * their daemon-wide init/fini. */
#include "protocols/protocol.h"

#include <string.h>

#include "proxy/config.h"

static const struct protocol *const all_protocols[] = {
	&pg_protocol,
	&mysql_protocol,
	&tds_protocol,
	&tns_protocol,
};

const struct protocol *protocol_find(const char *name)
{
	for (size_t i = 0; i < sizeof all_protocols / sizeof all_protocols[0]; i++)
		if (strcmp(all_protocols[i]->name, name) == 0)
			return all_protocols[i];
	return NULL;
}

int protocol_init_all(const struct sb_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof all_protocols / sizeof all_protocols[0]; i++) {
		const struct protocol *p = all_protocols[i];
		int served = 0;
		for (int l = 0; l < cfg->n_listen && !served; l++)
			served = strcmp(cfg->listen[l].protocol, p->name) == 0 ||
				 strcmp(cfg->listen[l].protocol, "ssh") == 0; /* any asset */
		if (served && p->init && p->init(cfg, err, errlen) != 0)
			return -1;
	}
	return 0;
}

void protocol_fini_all(void)
{
	for (size_t i = 0; i < sizeof all_protocols / sizeof all_protocols[0]; i++)
		if (all_protocols[i]->fini)
			all_protocols[i]->fini();
}
