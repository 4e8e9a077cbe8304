/* policy/cls_core: what the parts of the classifier core share (private to
 * classify.c, cls_names.c, cls_verbs.c, cls_phases.c and cls_roles.c; the
 * dialects use cls_dialect.h). See classify.c for how they fit together.
 */
#ifndef SB_POLICY_CLS_CORE_H
#define SB_POLICY_CLS_CORE_H

#include "policy/classify.h"
#include "policy/cls_keywords.h"

static inline unsigned char up(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
}

static inline unsigned char down(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ---- iterator state ------------------------------------------------------ */

enum { OBJ_NONE, OBJ_FROM, OBJ_NAME };                  /* cls_level.arm */
enum { P_PLAIN, P_FUNC, P_FROM, P_FROMFUNC, P_WATCH }; /* cls_level.paren */

enum {
	PH_NONE,
	PH_KIND,        /* CREATE/ALTER/DROP: reading the object kind */
	PH_ALTER_NAME,  /* ALTER: waiting for the object name */
	PH_ALTER_ACT,   /* ALTER: the next word is an action */
	PH_ALTER_MID,   /* ALTER: inside an action; ',' starts the next */
	PH_COPY,        /* COPY: waiting for FROM or TO */
	PH_COPY_DIR,    /* COPY: the word after FROM or TO */
	PH_EXPLAIN,     /* after EXPLAIN */
	PH_EXPLAIN_OPT, /* EXPLAIN ( options ) */
	PH_PREPARE,     /* PREPARE name: waiting for AS */
	PH_DECLARE,     /* DECLARE name ...: waiting for FOR */
	PH_SET,         /* SET [SESSION|LOCAL] */
	PH_SET_NAME,    /* SET name: waiting for TO or = */
	PH_SET_VALUE,
	PH_RESET,
	PH_MY_LOAD,     /* MySQL LOAD DATA [LOCAL] INFILE */
};

/* classify.c: the token loop */
int cls_grow(char **buf, size_t *cap, size_t need);
void cls_advance(struct cls_batch *b);

/* cls_names.c: names, objects and called functions */
void cls_names_add(struct cls_batch *b, char type, const char *nm, size_t n);
void cls_objects_add(struct cls_batch *b, const char *nm, size_t n);
void cls_function_called(struct cls_batch *b, const char *nm, size_t n,
			 int from_item, char type);
char cls_my_call_type(const struct cls_batch *b);
void cls_take_name(struct cls_batch *b, int alias);

/* cls_verbs.c: statement verbs and DML frames */
void cls_set_verb(struct cls_batch *b, const char *a, const char *c);
void cls_frames_close(struct cls_batch *b, int d);
void cls_dml_begin(struct cls_batch *b, int kw);
int cls_nested_start(struct cls_batch *b, int kw);
int cls_with_main(struct cls_batch *b, int kw);
void cls_unknown_statement(struct cls_batch *b);
void cls_restart(struct cls_batch *b);
int cls_restart_verb(int kw);
void cls_procedural_begin(struct cls_batch *b);
void cls_verb_begin(struct cls_batch *b, int kw);

/* cls_phases.c: settings and the phases of a statement's first words */
void cls_value_of(const struct lex_token *t, char *v, size_t cap);
void cls_watch_finish(struct cls_batch *b);
int cls_in_list(const char *w, const char *const *list, size_t n);
void cls_kind_finish(struct cls_batch *b);
int cls_phase_step(struct cls_batch *b);
void cls_watch_token(struct cls_batch *b, const struct lex_token *t);

/* cls_roles.c: what keywords and parentheses do where they stand */
void cls_on_word(struct cls_batch *b, int start, int alias);
void cls_on_lparen(struct cls_batch *b);
void cls_on_rparen(struct cls_batch *b);
void cls_on_inner_semi(struct cls_batch *b);

#endif
