/* audit_err: the one error-message helper of audit/. Every audit function
 * that can fail takes (char *errbuf, size_t errlen) and fills it with one
 * line saying why; this is how. Nothing outside audit/ includes this. */
#ifndef SB_AUDIT_ERR_H
#define SB_AUDIT_ERR_H

#include <stddef.h>

/* printf fmt into errbuf (cut to errlen - 1 bytes, NUL-terminated). Does
 * nothing when errbuf is NULL or errlen is 0, so callers that do not want
 * the reason may pass NULL, 0. */
void audit_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
