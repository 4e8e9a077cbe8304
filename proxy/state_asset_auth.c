/* state_asset_auth: the assets.weak_auth and assets.server_public_key
 * columns (see state_asset_auth.h). Statements are prepared per call: they
 * run once per backend login and per sqlbastionctl command. */
#include "proxy/state_asset_auth.h"
#include "proxy/state.h"
#include "proxy/state_int.h"

#include <string.h>

static int has_column(struct state *st, const char *col, int *found)
{
	sqlite3_stmt *s = NULL;
	*found = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT name FROM pragma_table_info('assets')", -1, &s,
			       NULL) != SQLITE_OK)
		return state_fail_db(st, "read assets columns");
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *n = sqlite3_column_text(s, 0);
		if (n && strcmp((const char *)n, col) == 0)
			*found = 1;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? STATE_OK : state_fail_db(st, "read assets columns");
}

int state_asset_auth_migrate(struct state *st)
{
	static const struct {
		const char *name, *ddl;
	} cols[] = {
		{"weak_auth", "ALTER TABLE assets ADD COLUMN weak_auth INTEGER NOT NULL DEFAULT 0"
			      " CHECK (weak_auth IN (0, 1))"},
		{"server_public_key",
		 "ALTER TABLE assets ADD COLUMN server_public_key TEXT NOT NULL DEFAULT ''"},
		{"native_encryption",
		 "ALTER TABLE assets ADD COLUMN native_encryption INTEGER NOT NULL DEFAULT 0"
		 " CHECK (native_encryption IN (0, 1))"},
	};
	int w = 0, k = 0, ne = 0;
	if (has_column(st, cols[0].name, &w) != STATE_OK ||
	    has_column(st, cols[1].name, &k) != STATE_OK ||
	    has_column(st, cols[2].name, &ne) != STATE_OK)
		return STATE_ERROR;
	if (w && k && ne)
		return STATE_OK;
	/* Another process may be adding them too: take the write lock, look again. */
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return state_fail_db(st, "add asset auth columns");
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
		int found;
		if (has_column(st, cols[i].name, &found) != STATE_OK)
			goto fail;
		if (!found && sqlite3_exec(st->db, cols[i].ddl, NULL, NULL, NULL) != SQLITE_OK) {
			state_fail_db(st, "add asset auth columns");
			goto fail;
		}
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		state_fail_db(st, "add asset auth columns");
		goto fail;
	}
	return STATE_OK;
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return STATE_ERROR;
}

int state_asset_auth_get(struct state *st, int64_t asset_id, struct state_asset_auth *out)
{
	sqlite3_stmt *s = NULL;
	memset(out, 0, sizeof *out);
	if (sqlite3_prepare_v2(st->db,
			       "SELECT weak_auth, server_public_key, native_encryption FROM assets"
			       " WHERE id = ?1", -1,
			       &s, NULL) != SQLITE_OK)
		return state_fail_db(st, "get asset auth options");
	sqlite3_bind_int64(s, 1, asset_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->weak_auth = sqlite3_column_int(s, 0) != 0;
		state_col_text(s, 1, out->server_public_key, sizeof out->server_public_key);
		out->native_encryption = sqlite3_column_int(s, 2) != 0;
		sqlite3_finalize(s);
		return STATE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? STATE_NOT_FOUND : state_fail_db(st, "get asset auth options");
}

int state_asset_auth_set(struct state *st, const char *name, const struct state_asset_auth *in)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "UPDATE assets SET weak_auth = ?2, server_public_key = ?3,"
			       " native_encryption = ?4"
			       " WHERE name = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return state_fail_db(st, "set asset auth options");
	if (state_bind_text(s, 1, name) || sqlite3_bind_int(s, 2, in->weak_auth ? 1 : 0) ||
	    state_bind_text(s, 3, in->server_public_key) ||
	    sqlite3_bind_int(s, 4, in->native_encryption ? 1 : 0)) {
		sqlite3_finalize(s);
		return state_fail_db(st, "set asset auth options");
	}
	int rc = sqlite3_step(s);
	int changed = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return state_fail_db(st, "set asset auth options");
	return changed ? STATE_OK : STATE_NOT_FOUND;
}
