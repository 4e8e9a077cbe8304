/* policy/cls_dialect: the registry of dialect descriptors, and the small
 * token helpers their hooks share (see cls_dialect.h). Registering a
 * dialect is one line here. */
#include "policy/cls_dialect.h"

#include <strings.h>

const struct cls_dialect *cls_dialect_get(enum policy_dialect d)
{
	switch (d) {
	case POLICY_DIALECT_MYSQL:
		return &cls_dialect_mysql;
	case POLICY_DIALECT_TSQL:
		return &cls_dialect_tsql;
	case POLICY_DIALECT_ORACLE:
		return &cls_dialect_oracle;
	case POLICY_DIALECT_PG:
		break;
	}
	return &cls_dialect_pg;
}

int cls_word_is(const struct lex_token *t, const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	return t->kind == LEX_IDENT && t->len == n && strncasecmp(t->s, w, n) == 0;
}

int cls_alone_on_line(const char *base, const char *end, const struct lex_token *t)
{
	for (const char *p = t->s; p > base; p--) {
		char c = p[-1];
		if (c == '\n' || c == '\r')
			break;
		if (c != ' ' && c != '\t')
			return 0;
	}
	for (const char *p = t->s + t->len; p < end; p++) {
		char c = *p;
		if (c == '\n' || c == '\r')
			break;
		if (c != ' ' && c != '\t')
			return 0;
	}
	return 1;
}
