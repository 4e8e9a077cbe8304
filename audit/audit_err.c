/* audit_err: see audit_err.h. */
#include "audit/audit_err.h"

#include <stdarg.h>
#include <stdio.h>

void audit_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!errbuf || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}
