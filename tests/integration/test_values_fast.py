"""Long VALUES lists through sqlbastion (issue 11 item 5, the fast path).

The classifier reads tuples of literals in a fast loop (policy/cls_values.c)
instead of token by token. These tests check, against the real servers,
that it still reads literals exactly as the server does under every
session setting that moves token boundaries, with the tricky literal placed
after thousands of ordinary rows (inside the fast region):

- MariaDB sql_mode NO_BACKSLASH_ESCAPES on and off, and the SJIS client
  character set, where 0x83 0x5C is one character whose second byte is a
  backslash;
- PostgreSQL standard_conforming_strings off, and client_encoding SJIS
  inside an E'' string.

Each attack hides `DROP TABLE vf_victim` where a wrong reading would see a
string: the proxy must refuse it and the table must still exist on the
server. Each has a benign twin (the same bytes under the setting where they
are harmless) that must run, the rows checked on the server. A bulk load of
100k rows through pymysql and psycopg2 must be allowed and complete.
"""

import pymysql
import pytest

from test_mysql_proxy import needs_lexer

ROWS = 3000


def _rows(n=ROWS):
    return ",".join(f"({i},'row {i} it''s')" for i in range(1, n + 1))


# the attack texts (after ROWS ordinary rows); see the module docstring
ESC_ON_DROP = r"({a},'x\'),({b},'); DROP TABLE vf_victim; -- ')"
ESC_OFF_DROP = r"({a},'x\'); DROP TABLE vf_victim; -- '),({b},'y')"


def _stmt(tail):
    return (f"INSERT INTO vf_t (id, s) VALUES {_rows()},"
            + tail.format(a=ROWS + 1, b=ROWS + 2))


# ---------------------------------------------------------------- MariaDB

@pytest.fixture
def my_vf(my_bastion, maria):
    my_bastion.mysql_ready(maria)
    needs_lexer(my_bastion)
    maria.sql("DROP TABLE IF EXISTS appdb.vf_t, appdb.vf_victim; "
              "CREATE TABLE appdb.vf_t (id INT PRIMARY KEY, s VARCHAR(200)) CHARSET utf8mb4; "
              "CREATE TABLE appdb.vf_victim (id INT); INSERT INTO appdb.vf_victim VALUES (1)")
    return my_bastion


def _my_victim(maria):
    return maria.value("SELECT count(*) FROM information_schema.tables WHERE "
                       "table_schema = 'appdb' AND table_name = 'vf_victim'") == "1"


def _my_count(maria):
    return int(maria.value("SELECT count(*) FROM appdb.vf_t"))


def _my_session(b, mode=None, charset="utf8mb4"):
    c = b.pymysql(charset=charset, client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
                  max_allowed_packet=64 * 1024 * 1024)
    if mode is not None:
        c.cursor().execute(f"SET SESSION sql_mode = '{mode}'")
    return c


def _my_refused(c, sql):
    with pytest.raises(pymysql.err.Error) as ei:
        c.query(sql)
    assert ei.value.args[0] == 1227, ei.value.args


@pytest.mark.parametrize("mode,attack,twin", [
    ("STRICT_TRANS_TABLES", ESC_ON_DROP, ESC_OFF_DROP),
    ("STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES", ESC_OFF_DROP, ESC_ON_DROP),
])
def test_my_sql_mode_in_long_values(my_vf, maria, mode, attack, twin):
    c = _my_session(my_vf, mode)
    _my_refused(c, _stmt(attack))
    assert _my_victim(maria) and _my_count(maria) == 0
    # the same bytes under this sql_mode hold no DROP: they run
    c.query(_stmt(twin))
    assert _my_victim(maria) and _my_count(maria) == ROWS + 2


def test_my_sjis_second_byte_backslash(my_vf, maria):
    c = _my_session(my_vf, charset="sjis")
    # 'ソ' is 0x83 0x5C in SJIS: the quote after it closes the string there
    attack = "({a},'ソ'); DROP TABLE vf_victim; -- '),({b},'y')"
    _my_refused(c, _stmt(attack))
    assert _my_victim(maria) and _my_count(maria) == 0
    twin = "({a},'ソ'),({b},'); DROP TABLE vf_victim; -- ')"
    c.query(_stmt(twin))
    assert _my_victim(maria) and _my_count(maria) == ROWS + 2
    assert maria.value(f"SELECT HEX(s) FROM appdb.vf_t WHERE id = {ROWS + 1}") == "E382BD"


def test_my_bulk_load(my_vf, maria):
    c = _my_session(my_vf)
    cur = c.cursor()
    rows = [(i, None if i % 7 == 0 else f"r{i} '\\ \"") for i in range(1, 100001)]
    cur.executemany("INSERT INTO vf_t (id, s) VALUES (%s, %s)", rows)
    assert _my_count(maria) == 100000
    assert maria.value("SELECT s FROM appdb.vf_t WHERE id = 8") == "r8 '\\\\ \""
    recs = my_vf.wait_audit("query", timeout=20, where=lambda x: str(
        x.get("statement", "")).startswith("INSERT INTO vf_t"))
    assert {r["decision"] for r in recs} == {"allow"}


# ---------------------------------------------------------------- PostgreSQL

@pytest.fixture
def pg_vf(bastion, pg):
    bastion.pg_ready(pg)
    pg.sql("DROP TABLE IF EXISTS vf_t, vf_victim; "
           "CREATE TABLE vf_t (id int PRIMARY KEY, s text); "
           "CREATE TABLE vf_victim (id int); INSERT INTO vf_victim VALUES (1); "
           "ALTER TABLE vf_t OWNER TO app; ALTER TABLE vf_victim OWNER TO app;",
           dbname="appdb")
    return bastion


def _pg_victim(pg):
    return pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'vf_victim'",
                  dbname="appdb").strip() == "1"


def _pg_count(pg):
    return int(pg.sql("SELECT count(*) FROM vf_t", dbname="appdb").strip())


def _pg_refused(c, sql):
    import psycopg2
    with pytest.raises(psycopg2.Error) as ei:
        c.cursor().execute(sql)
    assert ei.value.pgcode == "42501", (ei.value.pgcode, str(ei.value))


@pytest.mark.parametrize("std,attack,twin", [
    ("off", ESC_ON_DROP, ESC_OFF_DROP),
    ("on", ESC_OFF_DROP, ESC_ON_DROP),
])
def test_pg_standard_strings_in_long_values(pg_vf, pg, std, attack, twin):
    c = pg_vf.connect()
    c.cursor().execute(f"SET standard_conforming_strings = {std}")
    _pg_refused(c, _stmt(attack))
    assert _pg_victim(pg) and _pg_count(pg) == 0
    c.cursor().execute(_stmt(twin))
    assert _pg_victim(pg) and _pg_count(pg) == ROWS + 2


def test_pg_sjis_escape_string(pg_vf, pg):
    c = pg_vf.connect()
    c.set_client_encoding("SJIS")
    # inside E'', 'ソ' (0x83 0x5C) is one character, not a backslash escape
    attack = "({a},E'ソ'); DROP TABLE vf_victim; --'),({b},'y')"
    _pg_refused(c, _stmt(attack))
    assert _pg_victim(pg) and _pg_count(pg) == 0
    twin = "({a},E'ソ'),({b},'); DROP TABLE vf_victim; --')"
    c.cursor().execute(_stmt(twin))
    assert _pg_victim(pg) and _pg_count(pg) == ROWS + 2


def test_pg_bulk_load(pg_vf, pg):
    from psycopg2.extras import execute_values
    c = pg_vf.connect()
    rows = [(i, None if i % 7 == 0 else f"r{i} '\\ \"") for i in range(1, 100001)]
    execute_values(c.cursor(), "INSERT INTO vf_t (id, s) VALUES %s", rows, page_size=20000)
    assert _pg_count(pg) == 100000
    assert pg.sql("SELECT s FROM vf_t WHERE id = 8", dbname="appdb").strip() == "r8 '\\ \""
    recs = pg_vf.wait_audit("query", timeout=20, where=lambda x: str(
        x.get("statement", "")).startswith("INSERT INTO vf_t"))
    assert {r["decision"] for r in recs} == {"allow"}
