/* tests/fuzz/fuzz_dialect.h: the body shared by fuzz_tsql_lexer.c and
 * fuzz_ora_lexer.c (included once by each, after defining FUZZ_DIALECT,
 * FUZZ_INIT and FUZZ_NEXT). */
static struct policy *guard;
static struct policy_result res, tail_res;
static char *tail_buf;
static size_t tail_cap;

static struct policy *load_guard(void)
{
	static const char *const paths[] = {"etc/policies/guard.rules",
					     "../../etc/policies/guard.rules",
					     "../etc/policies/guard.rules",
					     "../../../etc/policies/guard.rules"};
	struct policy_error e;
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct policy *p = policy_load(paths[i], &e);
		if (p)
			return p;
	}
	abort(); /* the tail check needs the guard rules */
}

static void check_result(const struct policy_result *r)
{
	if (!r->fingerprint || strlen(r->fingerprint) >= r->fingerprint_cap || !r->objects ||
	    strlen(r->objects) >= r->objects_cap || (unsigned)r->action > POLICY_KILL ||
	    ((r->flags & POLICY_F_UNPARSEABLE) && r->action < POLICY_DENY))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char tail[] = "\n;DROP TABLE t\n";
	if (!guard) {
		guard = load_guard();
		policy_result_init(&res);
		policy_result_init(&tail_res);
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const char *sql = (const char *)data + 1;
	size_t len = size - 1;

	struct lex lx;
	struct lex_token t;
	FUZZ_INIT(&lx, sql, len);
	const char *last = sql;
	for (size_t n = 0;; n++) {
		enum lex_kind k = FUZZ_NEXT(&lx, &t);
		if (k == LEX_EOF || k == LEX_ERROR)
			break;
		if (t.s < sql || t.s + t.len > sql + len || t.s < last || n > len + 1 || t.len == 0)
			abort();
		if (k == LEX_QIDENT && t.s[t.len - 1] != '"' && t.s[t.len - 1] != ']')
			abort();
		if (k == LEX_STRING && t.s[t.len - 1] != '\'')
			abort();
		last = t.s + t.len;
	}

	struct policy_request req = {.dialect = FUZZ_DIALECT,
				     .level = (mode & 1) ? POLICY_LEVEL_READ : POLICY_LEVEL_WRITE,
				     .user = "fuzz", .asset = "a", .account = "b",
				     .sql = sql, .sql_len = len, .now = 0};
	if (mode & 2)
		req.level = POLICY_LEVEL_OPERATE;
	(void)policy_evaluate(guard, &req, &res);
	check_result(&res);

	if (tail_cap < len + sizeof tail) {
		free(tail_buf);
		tail_cap = len + sizeof tail;
		if (!(tail_buf = malloc(tail_cap)))
			abort();
	}
	memcpy(tail_buf, sql, len);
	memcpy(tail_buf + len, tail, sizeof tail - 1);
	req.sql = tail_buf;
	req.sql_len = len + sizeof tail - 1;
	(void)policy_evaluate(guard, &req, &tail_res);
	check_result(&tail_res);
	if (tail_res.action < POLICY_DENY)
		abort(); /* the DROP was hidden */
	return 0;
}
