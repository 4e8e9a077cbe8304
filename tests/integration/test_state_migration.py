"""Issue 13: a state DB of schema version 2 (before the access-lifecycle
columns and the lockouts table) is upgraded in place on first open, keeps
every row, and works with the new verbs and the proxy.

The v2 file is made here with the v2 schema text (as state.c's migrations
1 and 2 created it), not with the current binary."""

import sqlite3
import time

V2_SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
 sources TEXT NOT NULL DEFAULT '',
 max_sessions INTEGER NOT NULL DEFAULT 0 CHECK (max_sessions >= 0),
 scram_salt BLOB NOT NULL CHECK (length(scram_salt) = 16), created INTEGER NOT NULL);
CREATE TABLE assets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
 protocol TEXT NOT NULL CHECK (protocol IN ('postgres', 'mysql', 'tds', 'tns')),
 host TEXT NOT NULL, port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
 tls TEXT NOT NULL DEFAULT 'prefer'
  CHECK (tls IN ('disable', 'prefer', 'require', 'verify-full')),
 service TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);
CREATE TABLE accounts (id INTEGER PRIMARY KEY,
 asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
 name TEXT NOT NULL, username TEXT NOT NULL,
 secret_kind TEXT NOT NULL CHECK (secret_kind IN ('stored', 'file', 'cmd')),
 secret_blob BLOB, secret_ref TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,
 UNIQUE (asset_id, name));
CREATE TABLE grants (id INTEGER PRIMARY KEY,
 user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
 account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
 level TEXT NOT NULL CHECK (level IN ('read', 'write', 'operate', 'admin')),
 hours TEXT NOT NULL DEFAULT '', until INTEGER, created INTEGER NOT NULL);
CREATE INDEX grants_user_account ON grants (user_id, account_id);
CREATE TABLE tokens (id INTEGER PRIMARY KEY AUTOINCREMENT,
 user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
 account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
 created INTEGER NOT NULL, expires INTEGER NOT NULL, revoked_at INTEGER,
 scram_iterations INTEGER NOT NULL,
 scram_stored_key BLOB NOT NULL CHECK (length(scram_stored_key) = 32),
 scram_server_key BLOB NOT NULL CHECK (length(scram_server_key) = 32),
 sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),
 mysql_native BLOB NOT NULL CHECK (length(mysql_native) = 20),
 mysql_sha2 BLOB NOT NULL CHECK (length(mysql_sha2) = 32), last_used INTEGER);
CREATE INDEX tokens_user_created ON tokens (user_id, created);
CREATE TABLE approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL,
 asset TEXT NOT NULL, account TEXT NOT NULL, protocol TEXT NOT NULL,
 statement BLOB NOT NULL, sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
 fingerprint TEXT NOT NULL DEFAULT '', rule TEXT NOT NULL, session INTEGER NOT NULL,
 created INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending'
  CHECK (status IN ('pending', 'approved', 'rejected', 'used', 'expired')),
 approver TEXT, decided INTEGER, used INTEGER, used_session INTEGER);
CREATE INDEX approvals_match ON approvals (user, asset, sha256);
CREATE INDEX approvals_status ON approvals (status);
PRAGMA user_version = 2;
"""


def _columns(db, table):
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def test_v2_state_file_upgrades_and_works(bastion_factory, pg, tmp_path):
    b = bastion_factory(init=False)
    b.var.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "app.pw"
    secret.write_text(pg.passwords["app"] + "\n")
    secret.chmod(0o600)
    now = int(time.time())
    db = sqlite3.connect(str(b.state_db))
    db.executescript(V2_SCHEMA)
    db.execute("INSERT INTO users (id, name, sources, max_sessions, scram_salt, created)"
               " VALUES (1, 'alice', '', 0, randomblob(16), ?)", (now,))
    db.execute("INSERT INTO assets (id, name, protocol, host, port, tls, created)"
               " VALUES (1, 'demo-pg', 'postgres', ?, ?, 'disable', ?)",
               (pg.host, pg.port, now))
    db.execute("INSERT INTO accounts (id, asset_id, name, username, secret_kind, secret_ref,"
               " created) VALUES (1, 1, 'app', 'app', 'file', ?, ?)", (str(secret), now))
    db.execute("INSERT INTO grants (id, user_id, account_id, level, hours, until, created)"
               " VALUES (7, 1, 1, 'write', '', NULL, ?)", (now,))
    db.execute("INSERT INTO approvals (user, asset, account, protocol, statement, sha256,"
               " rule, session, created) VALUES ('alice', 'demo-pg', 'app', 'postgres',"
               " x'73656c656374', randomblob(32), 'r', 1, ?)", (now,))
    db.commit()
    assert "disabled" not in _columns(db, "users")
    db.close()

    b.ctl("init")  # opens the v2 file: the lifecycle step adds what is missing
    db = sqlite3.connect(str(b.state_db))
    assert "disabled" in _columns(db, "users")
    assert {"max_ttl", "renewable"} <= _columns(db, "grants")
    assert "failures" in _columns(db, "lockouts")
    assert db.execute("SELECT count(*) FROM approvals").fetchone()[0] == 1
    assert db.execute("SELECT max_ttl, renewable FROM grants WHERE id = 7").fetchone() == (0, 1)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()
    # idempotent: opening again changes nothing and fails nothing
    b.ctl("user", "list")
    out = b.ctl("grant", "list").stdout.splitlines()
    assert out[1].split()[0] == "7" and out[1].split()[-1] == "yes", out
    assert "enabled" in b.ctl("user", "list").stdout

    b.issue_token("alice", "demo-pg/app")
    b.start()
    r = b.psql("SELECT count(*) FROM accounts")
    assert r.returncode == 0, r.stderr
    conn = b.connect()
    cur = conn.cursor()
    cur.execute("SELECT 1")
    b.ctl("user", "disable", "alice")
    b.wait_audit("session_end", where=lambda r: r.get("error") == "user disabled")
    b.ctl("user", "enable", "alice")
    assert b.psql("SELECT 1").returncode == 0
