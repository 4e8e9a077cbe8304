/* libFuzzer target: the Oracle Net connect descriptor parser and rewriter
 * (protocols/tns/tns_desc.c) on arbitrary bytes, the descriptor a hostile
 * client sends in CONNECT. A parse that succeeds must give a rewrite that
 * parses again and names exactly the service it was given. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tns/tns_desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tns_desc d, again;
	static char out[TNS_CONNECT_DATA_MAX + 1];
	char err[160];
	if (tns_desc_parse(&d, (const char *)data, size, err, sizeof err) != 0)
		return 0;
	const char *svc;
	int is_sid;
	(void)tns_desc_service(&d, &svc, &is_sid);
	(void)tns_desc_cid(&d, "PROGRAM");
	long n = tns_desc_rewrite(&d, "db.example", 1521, "REAL(SVC)", out, sizeof out);
	if (n < 0)
		return 0;
	if (tns_desc_parse(&again, out, (size_t)n, err, sizeof err) != 0)
		abort(); /* what we write, we must read */
	if (tns_desc_service(&again, &svc, &is_sid) != 1 || strcmp(svc, "REAL(SVC)") != 0 ||
	    is_sid)
		abort();
	return 0;
}
