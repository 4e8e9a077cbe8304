/* tds_types: TDS data types: TYPE_INFO, how a value's length is given,
 * and a value rendered for the audit's `params`.
 *
 * Shared by the result-stream walker (COLMETADATA, ROW, RETURNVALUE) and
 * the RPC parameter reader. Pure and bounds-checked. Reference: [MS-TDS]
 * 2.2.5.4 (data type definitions), 2.2.5.5.1 (TYPE_INFO and TYPE_VARBYTE).
 */
#ifndef SB_TDS_TYPES_H
#define SB_TDS_TYPES_H

#include <stddef.h>
#include <stdint.h>

struct audit_buf;

/* How a value of a type gives its length. */
enum tds_len_kind {
	TDS_LEN_FIXED,   /* no prefix: `size` bytes */
	TDS_LEN_BYTE,    /* 1-byte length (0 = NULL for nullable types) */
	TDS_LEN_USHORT,  /* 2-byte length, 0xFFFF = NULL */
	TDS_LEN_LONG,    /* TEXT/NTEXT/IMAGE: rows carry a text pointer first; params a 4-byte length */
	TDS_LEN_PLP,     /* (MAX) types, XML, UDT: 8-byte total, then chunks */
	TDS_LEN_VARIANT, /* sql_variant: 4-byte length */
};

struct tds_type {
	uint8_t id;
	enum tds_len_kind kind;
	uint32_t size;          /* fixed size, or the declared maximum */
	uint8_t prec, scale;
	int has_collation;
	uint8_t collation[5];
};

/* Type ids the proxy reads values of. */
#define TDS_T_INTN 0x26
#define TDS_T_INT4 0x38
#define TDS_T_NVARCHAR 0xE7
#define TDS_T_NCHAR 0xEF
#define TDS_T_BIGVARCHR 0xA7
#define TDS_T_BIGCHAR 0xAF
#define TDS_T_TEXT 0x23
#define TDS_T_NTEXT 0x63
#define TDS_T_TVP 0xF3

#define TDS_PLP_NULL UINT64_MAX

/* Parse TYPE_INFO at p (n bytes available). param: as in an RPC parameter
 * (UDT differs). Returns bytes used, 0 when more bytes are needed, -1 when
 * malformed or a type the proxy cannot walk (table-valued parameters). */
long tds_type_parse(const uint8_t *p, size_t n, struct tds_type *t, int param);

/* Is t character data (and UTF-16)? */
int tds_type_is_text(const struct tds_type *t);
int tds_type_is_unicode(const struct tds_type *t);

/* Render a non-PLP value (the bytes after its length prefix) as one JSON
 * value into b: null, a number as a string, text, binary as "0x..."; long
 * ones cut at TDS_PARAM_SHOW_MAX bytes with "...(N bytes)". */
#define TDS_PARAM_SHOW_MAX 1024
void tds_value_json(struct audit_buf *b, const struct tds_type *t, const uint8_t *v, size_t n,
		    int is_null);

#endif
