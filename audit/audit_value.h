/* audit_value: one bound value in an audit record's `params`, the same way
 * for every protocol: text as a JSON string cut at a byte limit (never
 * inside a UTF-8 character), binary as a hex string, and "...(N bytes)"
 * after anything cut, N being the value's whole length on the wire. */
#ifndef SB_AUDIT_VALUE_H
#define SB_AUDIT_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit_json.h"

/* s[0..n) as a JSON string, at most max bytes of it. It is marked as cut
 * when n > max, or when cut_before says the caller already passed only a
 * part of the value (whole bytes long). */
void audit_value_text(struct audit_buf *b, const char *s, size_t n, size_t max, int cut_before,
		      size_t whole);
/* p[0..n) as a JSON string of prefix ("\\x", "0x") and lower-case hex, at
 * most max / 2 bytes of it, marked when cut. */
void audit_value_hex(struct audit_buf *b, const char *prefix, const uint8_t *p, size_t n,
		     size_t max);

#endif
