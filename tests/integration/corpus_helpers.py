"""The evasion corpus: reading tests/integration/corpus/*.sql and proving
each case against a real server, then through sqlbastion.

Corpus format (one file per dialect and kind)
  Lines before the first record, and blank lines between records, are
  ignored. A record starts with a header line

      @@ label | check | options

  and its statement text is every following line up to the next header
  (kept byte for byte apart from the trailing newline, so '#', '-- ' and
  '/*! */' lines are part of the SQL). The text is sent as ONE simple query
  (PostgreSQL Query message / MySQL COM_QUERY with multi-statements on),
  exactly as written, after placeholder substitution:
      {FILES}        a scratch directory the server can read and write
      {HEX:text}     0x + hex of text (after {FILES} substitution)

  check says how the damage is detected (evasion files; benign files leave
  it empty). The value is read before and after the statement; a change is
  the damage:
      gone X         object X no longer exists (X also renamed away)
      exists X       object X now exists
      rows X         row count or contents of table X changed
      cols X         the columns of table X changed
      role R         role/user R now exists
      priv X         the privileges on table X (or of account R) changed
      file P         file P was written
      result M       the statement's output holds marker M (data read)
      setting N=V    session setting N, set to V first, is no longer V
      sql Q          the value of query Q (run as the superuser) changed
  options (space separated):
      super          run as the superuser (directly) and through the proxy
                     with a hosted account that is a superuser
      read           through the proxy with a `read` grant (else `write`)
      pre=...        a statement run first on the same session (directly and
                     through the proxy, where it must be allowed); rest of
                     the header

An evasion case must do its damage when run directly (else the case is
broken) and through the proxy it must be refused with a "sqlbastion:" error
and do no damage. A benign case must run through the proxy without error.
"""

import os
import re
import shutil
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
MARKER = "SB-SECRET-MARKER-7f3a"


class Case:
    def __init__(self, label, check, opts, sql, where):
        self.label, self.sql, self.where = label, sql, where
        self.kind, _, self.arg = check.strip().partition(" ")
        self.arg = self.arg.strip()
        self.super = self.read = False
        self.pre = None
        rest = opts.strip()
        m = re.search(r"\bpre=(.*)$", rest)
        if m:
            self.pre = m.group(1).strip()
            rest = rest[:m.start()]
        for o in rest.split():
            if o == "super":
                self.super = True
            elif o == "read":
                self.read = True
            else:
                raise ValueError(f"{where}: unknown option {o!r}")

    def __repr__(self):
        return f"<{self.label} @ {self.where}>"


def load(name):
    """Cases of corpus/<name>; raises on a malformed header or a label
    used twice."""
    path = CORPUS / name
    cases, cur, seen = [], None, set()
    for n, line in enumerate(path.read_text().split("\n"), 1):
        if line.startswith("@@ "):
            if cur:
                cases.append(cur)
            parts = line[3:].split("|", 2)
            while len(parts) < 3:
                parts.append("")
            label = parts[0].strip()
            if not label or label in seen:
                raise ValueError(f"{path}:{n}: missing or repeated label {label!r}")
            seen.add(label)
            cur = [label, parts[1], parts[2], [], f"{path.name}:{n}"]
        elif cur is not None:
            cur[3].append(line)
    if cur:
        cases.append(cur)
    out = []
    for label, check, opts, lines, where in cases:
        while lines and not lines[-1].strip():
            lines.pop()
        sql = "\n".join(lines)
        if not sql.strip():
            raise ValueError(f"{where}: case {label!r} has no SQL")
        out.append(Case(label, check, opts, sql, where))
    return out


def substitute(text, files):
    text = text.replace("{FILES}", str(files))
    return re.sub(r"\{HEX:([^}]*)\}", lambda m: "0x" + m.group(1).encode().hex(), text)


def prepare_files(files):
    """(Re)make the scratch file directory: the secret and the data files."""
    files = Path(files)
    if files.exists():
        for p in files.iterdir():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
    else:
        files.mkdir(parents=True)
    os.chmod(files, 0o777)
    (files / "secret").write_text(MARKER + "\n")
    (files / "data.csv").write_text("9,zz,0\n")
    (files / "data.tsv").write_text("9\tzz\t0\n")
    (files / "data.xml").write_text(
        '<list><row id="9" name="zz" drop_count="0"/></list>\n')
    for p in files.iterdir():
        os.chmod(p, 0o666)


class Outcome:
    def __init__(self):
        self.broken, self.leaks, self.false_pos = [], [], []

    def report(self):
        lines = []
        for what, items in (("BROKEN (no damage when run directly)", self.broken),
                            ("LEAK (not refused through the proxy, or damage done)",
                             self.leaks),
                            ("FALSE POSITIVE (benign refused or failed)", self.false_pos)):
            if items:
                lines.append(f"{what}: {len(items)}")
                lines += [f"  {x}" for x in items]
        return "\n".join(lines)


def _changed(kind, before, after, output):
    if kind == "result":
        return MARKER in (output or "") or (before is not None and MARKER in str(after))
    return before != after


def prove_evasions(scratch, cases, out, direct_only=False):
    """Run each case directly (must damage), then through the proxy (must
    be refused, no damage). Fills out.broken / out.leaks. direct_only: only
    the first half (the proxy cannot serve queries)."""
    for c in cases:
        sql = substitute(c.sql, scratch.files)
        pre = substitute(c.pre, scratch.files) if c.pre else None
        # 1. directly: the damage must happen
        scratch.reset()
        conn = scratch.direct(c)
        try:
            before = scratch.probe(c, conn)
            if pre:
                ok, err, _ = scratch.run(conn, pre)
                if not ok:
                    out.broken.append(f"{c.label} ({c.where}): pre failed directly: {err}")
                    continue
            ok, err, output = scratch.run(conn, sql)
            after = scratch.probe(c, conn)
        finally:
            scratch.close(conn)
        if not _changed(c.kind, before, after, output):
            out.broken.append(f"{c.label} ({c.where}): {c.kind} {c.arg} unchanged"
                              f"{'' if ok else '; error: ' + str(err)[:200]}")
            continue
        if direct_only:
            continue
        # 2. through the proxy: refused, and no damage
        scratch.reset()
        pconn = scratch.proxy(c)
        try:
            before = scratch.probe(c, pconn)
            if pre:
                pok, perr, _ = scratch.run(pconn, pre)
                if not pok:
                    out.leaks.append(f"{c.label} ({c.where}): pre refused by proxy: {perr}")
                    continue
            ok, err, output = scratch.run(pconn, sql)
            after = scratch.probe(c, pconn)
        finally:
            scratch.close(pconn)
        if ok or "sqlbastion:" not in str(err):
            out.leaks.append(f"{c.label} ({c.where}): not refused"
                             f"{'' if ok else ' (server error: ' + str(err)[:160] + ')'}")
        elif _changed(c.kind, before, after, output):
            out.leaks.append(f"{c.label} ({c.where}): refused but damage done")


def run_benign(scratch, cases, out):
    """Each benign case must run through the proxy without error."""
    for c in cases:
        scratch.reset(light=True)
        pconn = scratch.proxy(c)
        try:
            if c.pre:
                ok, err, _ = scratch.run(pconn, substitute(c.pre, scratch.files))
                if not ok:
                    out.false_pos.append(f"{c.label} ({c.where}): pre: {err}")
                    continue
            ok, err, _ = scratch.run(pconn, substitute(c.sql, scratch.files))
        finally:
            scratch.close(pconn)
        if not ok:
            out.false_pos.append(f"{c.label} ({c.where}): {str(err)[:200]}")


# --------------------------------------------------------------------------
# PostgreSQL: database evdb (owned by app), schema public recreated per case

PG_FIXTURE = """
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS public CASCADE;
DROP SCHEMA IF EXISTS p2 CASCADE;
DROP EXTENSION IF EXISTS pgcrypto;
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
ALTER DEFAULT PRIVILEGES FOR ROLE app REVOKE ALL ON TABLES FROM PUBLIC;
DO $$DECLARE r text; BEGIN
  FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'ev\\_%' LOOP
    EXECUTE format('DROP OWNED BY %I', r);
    EXECUTE format('DROP ROLE %I', r);
  END LOOP; END$$;
CREATE ROLE ev_victim;
CREATE SCHEMA public AUTHORIZATION app;
GRANT USAGE, CREATE ON SCHEMA public TO PUBLIC;
SET ROLE app;
CREATE TABLE t (id int PRIMARY KEY, name text, drop_count int);
INSERT INTO t VALUES (1, 'alice', 0), (2, 'bob', 3), (3, 'carol', 7);
CREATE INDEX ix ON t (name);
CREATE TABLE u (id int PRIMARY KEY, t_id int, note text);
INSERT INTO u VALUES (1, 1, 'x'), (2, 2, 'y');
CREATE TABLE truncate_log (id int, msg text);
INSERT INTO truncate_log VALUES (1, 'first'), (2, 'second');
CREATE VIEW v AS SELECT id, note FROM u;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM truncate_log;
CREATE SEQUENCE s;
CREATE TYPE ty AS (a int, b text);
CREATE FUNCTION fx() RETURNS int LANGUAGE sql AS 'SELECT 1';
RESET ROLE;
DROP FUNCTION IF EXISTS pg_catalog.ev_fn();
SET allow_system_table_mods = on;
DROP TRIGGER IF EXISTS ev_tr ON pg_catalog.pg_description;
RESET allow_system_table_mods;
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'ev%';
ALTER DATABASE evdb RESET ALL;
DROP SCHEMA IF EXISTS evfdw CASCADE;
DROP EXTENSION IF EXISTS file_fdw CASCADE;
CREATE SCHEMA evfdw;
CREATE EXTENSION file_fdw SCHEMA evfdw;
CREATE SERVER evfs FOREIGN DATA WRAPPER file_fdw;
"""


def _pg_quote(s):
    return "'" + s.replace("'", "''") + "'"


class PgScratch:
    """Direct and proxied sessions on database evdb of the test cluster."""

    def __init__(self, pg, bastion, tokens):
        import psycopg2
        self.psycopg2 = psycopg2
        self.pg, self.b, self.tokens = pg, bastion, tokens
        self.files = Path(pg.base) / "evfiles"
        prepare_files(self.files)
        self.admin = pg.connect(user="postgres", dbname="postgres")
        cur = self.admin.cursor()
        cur.execute("DROP DATABASE IF EXISTS evdb")
        cur.execute("CREATE DATABASE evdb OWNER app")
        self.admin.close()
        self.admin = pg.connect(user="postgres", dbname="evdb")
        self.reset()

    def reset(self, light=False):
        cur = self.admin.cursor()
        if not light:
            cur.execute("ALTER SYSTEM RESET ALL")
            prepare_files(self.files)
        cur.execute(PG_FIXTURE)
        # a file_fdw table whose options the cases try to point elsewhere
        cur.execute("CREATE FOREIGN TABLE evfdw.ft0 (l text) SERVER evfs OPTIONS "
                    f"(filename {_pg_quote(str(self.files / 'data.csv'))})")

    def direct(self, c):
        return self.pg.connect(user="postgres" if c.super else "app", dbname="evdb")

    def proxy(self, c):
        key = "super" if c.super else ("read" if c.read else "write")
        user, token = self.tokens[key]
        conn = self.psycopg2.connect(self.b.dsn(user=user, token=token, dbname="evdb"))
        conn.autocommit = True
        return conn

    base_set = set()  # ids of sessions whose `setting` base value is set

    def close(self, conn):
        self.base_set.discard(id(conn))
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass

    def run(self, conn, sql):
        """(ok, error text, output text) of one simple query."""
        try:
            cur = conn.cursor()
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else []
            return True, None, repr(rows)
        except self.psycopg2.Error as e:
            return False, " ".join(str(e).split()), ""

    def _value(self, conn, q):
        try:
            cur = conn.cursor()
            cur.execute(q)
            return repr(cur.fetchall())
        except self.psycopg2.Error as e:
            return "error: " + type(e).__name__

    def probe(self, c, conn):
        k, a = c.kind, c.arg
        q = None
        if k in ("gone", "exists"):
            q = f"SELECT to_regclass({_pg_quote(a)}) IS NOT NULL OR to_regtype({_pg_quote(a)}) IS NOT NULL OR EXISTS (SELECT 1 FROM pg_proc WHERE proname = {_pg_quote(a)}) OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {_pg_quote(a)})"
        elif k == "rows":
            q = f"SELECT count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {a} x"
        elif k == "cols":
            q = f"SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = to_regclass({_pg_quote(a)}) AND attnum > 0 AND NOT attisdropped"
        elif k == "role":
            q = f"SELECT count(*) FROM pg_roles WHERE rolname = {_pg_quote(a)}"
        elif k == "priv":
            q = f"SELECT relacl::text, relowner::regrole::text FROM pg_class WHERE oid = to_regclass({_pg_quote(a)})"
        elif k == "sql":
            q = a
        elif k == "file":
            return os.path.exists(substitute(a, self.files))
        elif k == "result":
            return None
        elif k == "setting":
            name, _, val = a.partition("=")
            # set the base value on the session under test, then read it there
            cur = conn.cursor()
            try:
                cur.execute(f"SHOW {name}")
                now = cur.fetchone()[0]
            except self.psycopg2.Error:
                return "error"
            if id(conn) in self.base_set:
                return now
            cur.execute(f"SET {name} = {_pg_quote(val)}")
            self.base_set.add(id(conn))
            return val
        else:
            raise ValueError(f"{c.where}: unknown check {k!r}")
        return self._value(self.admin, q)


# --------------------------------------------------------------------------
# MySQL / MariaDB: database evdb recreated per case

MY_FIXTURE = [
    "DROP DATABASE IF EXISTS evdb",
    "CREATE DATABASE evdb",
    "USE evdb",
    "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(64), drop_count INT, KEY ix (name))",
    "INSERT INTO t VALUES (1, 'alice', 0), (2, 'bob', 3), (3, 'carol', 7)",
    "CREATE TABLE u (id INT PRIMARY KEY, t_id INT, note VARCHAR(64))",
    "INSERT INTO u VALUES (1, 1, 'x'), (2, 2, 'y')",
    "CREATE TABLE truncate_log (id INT, msg VARCHAR(200))",
    "INSERT INTO truncate_log VALUES (1, 'first'), (2, 'second')",
    "CREATE VIEW v AS SELECT id, name FROM t",
    "CREATE SEQUENCE sq",
    "CREATE PROCEDURE fixproc() SELECT 1",
    "CREATE TRIGGER fixtrig BEFORE INSERT ON u FOR EACH ROW SET NEW.note = NEW.note",
    "DROP PROCEDURE IF EXISTS mysql.ev_p",
    "DELETE FROM mysql.servers WHERE Server_name LIKE 'ev%'",
    "FLUSH PRIVILEGES",
    "DELETE FROM mysql.plugin WHERE name LIKE 'ev%'",
    "SET GLOBAL init_connect = ''",
    "SET GLOBAL max_connections = 500",
    "SET GLOBAL event_scheduler = OFF",
    # stored routines of the hosted account (their bodies are visible to it),
    # called by the routine-* cases (issue 15 class 1)
    "CREATE DEFINER='app'@'%' PROCEDURE evp_wipe() DELETE FROM t",
    "CREATE DEFINER='app'@'%' PROCEDURE evp_drop() BEGIN DROP TABLE t; END",
    "CREATE DEFINER='app'@'%' PROCEDURE evp_exec(q TEXT) BEGIN SET @s = q; PREPARE st FROM @s; "
    "EXECUTE st; DEALLOCATE PREPARE st; END",
    "CREATE DEFINER='app'@'%' PROCEDURE evp_outer() CALL evp_wipe()",
    "CREATE DEFINER='app'@'%' PROCEDURE evp_read() SELECT count(*) FROM t",
    "CREATE DEFINER='app'@'%' FUNCTION evf_wipe() RETURNS INT BEGIN DELETE FROM t; RETURN 1; END",
    "CREATE DEFINER='app'@'%' FUNCTION evf_upd() RETURNS INT "
    "BEGIN UPDATE t SET drop_count = drop_count + 1; RETURN 1; END",
    "CREATE DEFINER='app'@'%' FUNCTION evf_outer() RETURNS INT RETURN evf_wipe()",
    "CREATE DEFINER='app'@'%' FUNCTION evf_read() RETURNS INT READS SQL DATA "
    "RETURN (SELECT count(*) FROM t)",
]


class MyScratch:
    """Direct and proxied sessions on database evdb of the MariaDB server.
    Needs an account `evroot` (all privileges) made by the test."""

    def __init__(self, maria, bastion, tokens, evroot_pw):
        import pymysql
        from pymysql.constants import CLIENT
        self.pymysql, self.flag = pymysql, CLIENT.MULTI_STATEMENTS
        self.maria, self.b, self.tokens, self.evroot_pw = maria, bastion, tokens, evroot_pw
        self.admin = self._connect("evroot", evroot_pw, None)
        cur = self.admin.cursor()
        cur.execute("SELECT @@secure_file_priv")
        priv = cur.fetchone()[0]
        self.files = Path(priv) if priv else Path(maria.base) / "evfiles"
        prepare_files(self.files)
        self.reset()

    def _connect(self, user, pw, db, port=None):
        return self.pymysql.connect(host=self.maria.host, port=port or self.maria.port,
                                    user=user, password=pw, database=db, autocommit=True,
                                    client_flag=self.flag, connect_timeout=10)

    def reset(self, light=False):
        cur = self.admin.cursor()
        if not light:
            prepare_files(self.files)
            cur.execute("SELECT user, host, is_role FROM mysql.user WHERE user LIKE 'ev\\_%' "
                        "AND user <> 'evroot'")
            for user, host, is_role in cur.fetchall():
                cur.execute(f"DROP ROLE '{user}'" if is_role == "Y" else
                            f"DROP USER '{user}'@'{host}'")
            cur.execute("CREATE USER ev_victim@'%'")
            pw = self.maria.passwords["app"]
            for q in ("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'app'@'%'",
                      "GRANT ALL ON appdb.* TO 'app'@'%'",
                      "GRANT ALL ON evdb.* TO 'app'@'%'",
                      "GRANT PROCESS ON *.* TO 'app'@'%'",
                      f"ALTER USER 'app'@'%' IDENTIFIED BY '{pw}' ACCOUNT UNLOCK"):
                cur.execute(q)
        for q in MY_FIXTURE:
            cur.execute(q)
        cur.execute("SELECT count(*) FROM information_schema.plugins "
                    "WHERE plugin_library = 'ha_blackhole.so'")
        if cur.fetchone()[0]:
            cur.execute("UNINSTALL SONAME 'ha_blackhole'")

    def direct(self, c):
        if c.super:
            return self._connect("evroot", self.evroot_pw, "evdb")
        return self._connect("app", self.maria.passwords["app"], "evdb")

    def proxy(self, c):
        key = "super" if c.super else ("read" if c.read else "write")
        user, token = self.tokens[key]
        return self._connect(user, token, "evdb", port=self.b.mysql_port)

    base_set = set()  # ids of sessions whose `setting` base value is set

    def close(self, conn):
        self.base_set.discard(id(conn))
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass

    def run(self, conn, sql):
        out = []
        try:
            cur = conn.cursor()
            cur.execute(sql)
            while True:
                if cur.description:
                    out.append(cur.fetchall())
                if not cur.nextset():
                    break
            return True, None, repr(out)
        except self.pymysql.Error as e:
            # drain what is left so the connection could be reused
            return False, " ".join(str(e).split()), repr(out)

    def _value(self, q):
        try:
            cur = self.admin.cursor()
            cur.execute(q)
            return repr(cur.fetchall())
        except self.pymysql.Error as e:
            return "error: " + str(e.args[0] if e.args else e)

    def probe(self, c, conn):
        k, a = c.kind, c.arg

        def lit(s):
            return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"
        if k in ("gone", "exists"):
            return self._value(
                "SELECT (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'evdb' "
                f"AND table_name = {lit(a)}) + (SELECT count(*) FROM information_schema.routines "
                f"WHERE routine_schema = 'evdb' AND routine_name = {lit(a)}) + (SELECT count(*) "
                f"FROM information_schema.triggers WHERE trigger_schema = 'evdb' AND trigger_name = {lit(a)})"
                f" + (SELECT count(*) FROM information_schema.statistics WHERE table_schema = 'evdb' "
                f"AND index_name = {lit(a)})")
        if k == "rows":
            return self._value(f"CHECKSUM TABLE evdb.{a}") + self._value(f"SELECT count(*) FROM evdb.{a}")
        if k == "cols":
            return self._value("SELECT group_concat(column_name ORDER BY ordinal_position), "
                               "group_concat(column_key) FROM information_schema.columns "
                               f"WHERE table_schema = 'evdb' AND table_name = {lit(a)}")
        if k == "role":
            return self._value(f"SELECT count(*) FROM mysql.user WHERE user = {lit(a)}")
        if k == "priv":
            return (self._value(f"SHOW GRANTS FOR {a}") +
                    self._value(f"SELECT count(*) FROM mysql.tables_priv WHERE user = {lit(a.split('@')[0].strip(chr(39)))}"))
        if k == "sql":
            return self._value(a)
        if k == "file":
            return os.path.exists(substitute(a, self.files))
        if k == "result":
            return None
        if k == "setting":
            name, _, val = a.partition("=")
            cur = conn.cursor()
            if id(conn) in self.base_set:
                cur.execute(f"SELECT @@session.{name}")
                return str(cur.fetchone()[0])
            cur.execute(f"SET SESSION {name} = {val}")
            self.base_set.add(id(conn))
            cur.execute(f"SELECT @@session.{name}")
            return str(cur.fetchone()[0])
        raise ValueError(f"{c.where}: unknown check {k!r}")


def policy_verdicts(bin_dir, dialect, cases, out, benign):
    """The offline check with `sqlbastionctl policy test`: every evasion case
    refused, every benign one allowed (used when the proxy itself cannot be
    driven). Fills out.leaks / out.false_pos."""
    import subprocess
    policy = Path(__file__).resolve().parents[2] / "etc" / "policies" / "guard.rules"
    for c in cases:
        r = subprocess.run([str(Path(bin_dir) / "sqlbastionctl"), "policy", "test",
                            "--dialect", dialect, "--level", "read" if c.read else "write",
                            "--policy", str(policy), "-"],
                           input=substitute(c.sql, "/files"), capture_output=True, text=True)
        if r.returncode not in (0, 1):
            out.leaks.append(f"{c.label} ({c.where}): policy test failed: {r.stderr}")
        elif benign and r.returncode != 0:
            out.false_pos.append(f"{c.label} ({c.where}): refused by policy test")
        elif not benign and r.returncode != 1:
            out.leaks.append(f"{c.label} ({c.where}): allowed by policy test")
