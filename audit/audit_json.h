/* audit_json: the byte buffer and the JSON text handling of the audit module.
 *
 * It owns a growable byte buffer with a sticky out-of-memory flag (append
 * freely, check once), a JSON string escaper that turns arbitrary bytes into
 * a valid JSON string, a strict validator (RFC 8259, UTF-8 checked), and a
 * small tolerant reader for the flat records audit_writer.c produces (walk
 * the members of one object; decode a string; read an integer; read the
 * chain fields at the end of a record). Outside audit/ only the PostgreSQL
 * frontend uses it, to render statement parameters (protocols/pgsql/
 * pg_params.c). It does no I/O and never logs.
 *
 * Escaping rule (audit_json_put_str): valid UTF-8 passes through unchanged,
 * except '"' and '\\' (backslash-escaped), the C0 controls (\b \f \n \r \t,
 * the others as \u00XX) and DEL (\u007f). A byte that is not part of a
 * well-formed UTF-8 sequence (stray continuation, overlong form, encoded
 * surrogate, beyond U+10FFFF, truncated sequence; always >= 0x80) is
 * written as \udcXX, the lone low surrogate U+DC00+byte (Python's
 * "surrogateescape"): valid UTF-8 cannot encode a surrogate, so this never
 * collides with a character the client really sent, and the exact bytes are
 * recoverable (audit_json_unescape() turns \udc80..\udcff back into the
 * byte; in Python, s.encode("utf-8", "surrogateescape")).
 */
#ifndef SB_AUDIT_JSON_H
#define SB_AUDIT_JSON_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_WUR __attribute__((warn_unused_result))

/* Hex digits of a record hash (SHA-256), and the fixed record ending
 * `,"hash":"<64 hex>"}` that follows line_without_hash. */
#define AUDIT_HASH_HEX 64
#define AUDIT_HASH_SUFFIX_LEN (9 + AUDIT_HASH_HEX + 2)

/* A growable byte buffer. p owns len bytes (cap allocated). Appends that
 * cannot grow set oom and are dropped from then on; check oom once at the
 * end. p is not NUL-terminated unless audit_buf_cstr() is called. */
struct audit_buf {
	char *p;
	size_t len;
	size_t cap;
	int oom;
};

void audit_buf_init(struct audit_buf *b);
/* Free the storage; the buffer is empty and reusable afterwards. */
void audit_buf_free(struct audit_buf *b);
/* Make room for n more bytes. 0 ok, -1 out of memory (oom set). */
int audit_buf_reserve(struct audit_buf *b, size_t n) AUDIT_WUR;
void audit_buf_put(struct audit_buf *b, const void *p, size_t n);
void audit_buf_putc(struct audit_buf *b, char c);
void audit_buf_puts(struct audit_buf *b, const char *s);
void audit_buf_put_u64(struct audit_buf *b, uint64_t v);
void audit_buf_put_i64(struct audit_buf *b, int64_t v);
/* NUL-terminate (not counted in len) and return p, or NULL after oom. */
const char *audit_buf_cstr(struct audit_buf *b);

/* Length (1..4) of the well-formed UTF-8 sequence at the start of
 * s[0..n), or 0 when s does not start with one (n must be > 0). */
size_t audit_utf8_len(const void *s, size_t n);

/* Append s[0..n) as a quoted JSON string, escaped as described above. The
 * result is always valid JSON, whatever the bytes. */
void audit_json_put_str(struct audit_buf *b, const char *s, size_t n);

/* 1 when s[0..n) is exactly one valid JSON value (surrounding whitespace
 * allowed, strings valid UTF-8, nesting up to 64 levels), else 0. */
int audit_json_valid(const char *s, size_t n);

enum audit_json_type {
	AUDIT_JSON_STRING, /* val/vallen: the raw text between the quotes */
	AUDIT_JSON_NUMBER, /* val/vallen: the number text */
	AUDIT_JSON_NULL,
	AUDIT_JSON_BOOL,   /* val/vallen: "true" or "false" */
	AUDIT_JSON_OTHER,  /* an array or object: val/vallen span it whole */
};

/* One member of an object; every pointer borrows the text being read. */
struct audit_json_member {
	const char *key; /* raw key text between the quotes */
	size_t keylen;
	enum audit_json_type type;
	const char *val;
	size_t vallen;
};

/* Walks the members of one JSON object. Tolerant: it checks structure, not
 * every detail of the grammar (use audit_json_valid() for that). */
struct audit_json_iter {
	const char *p;
	const char *end;
	int first;
	int done;
};

/* Start reading the object in s[0..n). 0 ok, -1 when it does not start
 * with '{'. */
int audit_json_iter_init(struct audit_json_iter *it, const char *s,
			 size_t n) AUDIT_WUR;
/* Next member into *m: 1 got one, 0 end of the object, -1 malformed. */
int audit_json_next(struct audit_json_iter *it,
		    struct audit_json_member *m) AUDIT_WUR;
/* Find the top-level member named key (plain ASCII, no escapes): 1 found,
 * 0 absent, -1 malformed object. */
int audit_json_get(const char *s, size_t n, const char *key,
		   struct audit_json_member *m) AUDIT_WUR;

/* Append the decoded value of a string member's raw text to out, as UTF-8
 * (\u escapes decoded, surrogate pairs joined, a lone \udc80..\udcff
 * becomes the byte 0x80..0xff it stands for, any other lone surrogate
 * U+FFFD): the exact bytes audit_json_put_str() was given. 0 ok, -1 bad escape or out of memory. out is not terminated. */
int audit_json_unescape(const char *raw, size_t n,
			struct audit_buf *out) AUDIT_WUR;
/* Read a NUMBER member as a signed 64-bit integer. 0 ok, -1 when it is not
 * an integer in range. */
int audit_json_i64(const struct audit_json_member *m, int64_t *out) AUDIT_WUR;

/* Read the chain fields at the end of one record line (without its '\n'),
 * which must end `,"seq":<n>,"hash":"<64 hex>"}`. On 0, *seq and hash (65
 * bytes, NUL-terminated) are filled; -1 when the ending is not that. Only
 * the last ~100 bytes are looked at, so line may start anywhere before. */
int audit_record_tail(const char *line, size_t len, uint64_t *seq,
		      char hash[AUDIT_HASH_HEX + 1]) AUDIT_WUR;

#endif
