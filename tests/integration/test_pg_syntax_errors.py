"""Issue 11 item 6, PostgreSQL: a statement the classifier cannot read is
parsed (never run) by the server; when the server rejects it, the client
gets the server's own error (SQLSTATE, message, position) as it would
direct, with the same transaction effect; when the server can parse it, it
stays refused as fail-closed. Compared against the same client straight to
the server; ground truth from the server log (log_statement = all) and the
table contents."""

import time

import psycopg2
import pytest

from audit_helpers import log_all_statements, server_statements
from pg_raw import B, E, P, Q, RawPg, S, error_fields

# The classifier nests at most 256 parentheses; the server parses this.
DEEP = "SELECT " + "(" * 300 + "1" + ")" * 300

TYPOS = [
    "SELEC 1",
    "SELECT 'abc",                              # unterminated quote
    "SELECT 1; SELEC 2",                        # typo in the second statement
    "SELECT 1;\nSELECT 2;\n  UPDAT accounts SET balance = 0",
    "INSERT INTO syn_t VALUES (1); SELEC 2",    # nothing of the batch runs
    "SELECT * FORM accounts",                   # the classifier reads it: the server answers
    'SELECT "unterminated',
    "SELECT 1 /* unterminated comment",
]


@pytest.fixture
def syn(pg, pg_ready):
    pg.psql("DROP TABLE IF EXISTS syn_t; CREATE TABLE syn_t (v int);")
    yield pg_ready
    pg.psql("DROP TABLE IF EXISTS syn_t;")


def _psycopg_error(conn, sql):
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error) as ei:
        cur.execute(sql)
    e = ei.value
    return (e.pgcode, e.diag.message_primary, e.diag.statement_position,
            e.diag.severity, conn.get_transaction_status())


def _count(pg):
    return pg.psql("SELECT count(*) FROM syn_t").stdout.strip()


@pytest.mark.parametrize("sql", TYPOS)
def test_psql_typo_same_error_as_direct(syn, pg, sql):
    # psql sends each statement of a script on its own: whatever of it
    # runs direct must run through the proxy too, and no more
    n0 = int(_count(pg))
    direct = pg.psql(sql + ";\n", on_error_stop=False)
    n1 = int(_count(pg))
    proxied = syn.psql(sql + ";\n", on_error_stop=False)
    assert int(_count(pg)) - n1 == n1 - n0
    assert "ERROR:" in direct.stderr
    # psql prints the message, then "LINE n:" and a caret at the position
    assert proxied.stderr == direct.stderr
    assert proxied.stdout == direct.stdout
    assert "fail-closed" not in proxied.stderr


@pytest.mark.parametrize("sql", TYPOS)
def test_psycopg2_typo_same_error_as_direct(syn, pg, sql):
    d = pg.connect()
    p = syn.connect()
    try:
        want = _psycopg_error(d, sql)
        got = _psycopg_error(p, sql)
        assert want[0] in ("42601",), want
        assert want[2] is not None  # the server gives a position
        assert got == want
        # the session goes on
        p.cursor().execute("SELECT 1")
    finally:
        d.close()
    assert _count(pg) == "0"


def test_typo_in_transaction_block_aborts_it(syn, pg):
    results = []
    for conn in (pg.connect(), syn.connect()):
        cur = conn.cursor()
        cur.execute("BEGIN")
        cur.execute("INSERT INTO syn_t VALUES (7)")
        first = _psycopg_error(conn, "SELEC 1")
        assert first[4] == psycopg2.extensions.TRANSACTION_STATUS_INERROR
        # the server aborted the block: the next statement is refused by it
        after = _psycopg_error(conn, "SELECT 1")
        cur.execute("ROLLBACK")
        assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        cur.execute("SELECT 1")
        results.append((first, after[0], after[1]))
        conn.close()
    assert results[1] == results[0]
    assert results[0][1] == "25P02"
    assert _count(pg) == "0"


def test_psql_script_with_typo_in_block(syn, pg):
    script = ("BEGIN;\nINSERT INTO syn_t VALUES (1);\nSELEC 1;\n"
              "INSERT INTO syn_t VALUES (2);\nCOMMIT;\nSELECT count(*) FROM syn_t;\n")
    direct = pg.psql(script, on_error_stop=False)
    proxied = syn.psql(script, on_error_stop=False)
    assert proxied.stderr == direct.stderr
    assert proxied.stdout == direct.stdout
    assert proxied.stdout.strip().splitlines()[-1] == "0"


def test_nothing_runs_server_log(syn, pg):
    with log_all_statements(pg) as off:
        p = syn.connect()  # one Query message per execute()
        for sql in ("SELEC 1", "INSERT INTO syn_t VALUES (5); SELEC 2", "SELECT 'abc"):
            assert _psycopg_error(p, sql)[0] == "42601"
        p.cursor().execute("SELECT 'marker after the typos'")
        time.sleep(0.5)
        ran = server_statements(pg, off)
        log = pg.log_path.read_text(errors="replace")[off:]
    assert ran == ["SELECT 'marker after the typos'"], ran
    # the server saw the text (the proxy's Parse, which it rejected) but
    # logged no statement or execution of it
    assert "STATEMENT:  SELEC 1" in log
    assert "execute" not in "\n".join(ln for ln in log.splitlines() if "SELEC" in ln)
    assert _count(pg) == "0"


def test_audit_names_what_happened(syn):
    syn.psql("SELEC 42;\n", on_error_stop=False)
    rec = syn.wait_audit("query", statement="SELEC 42;")[-1]
    assert rec["decision"] == "server-rejected"
    assert rec["rule"] == "fail-closed"
    assert rec["error"].startswith("42601 syntax error at or near")
    syn.psql(DEEP + ";\n", on_error_stop=False)
    rec = syn.wait_audit("query", statement=DEEP + ";")[-1]
    assert rec["decision"] == "deny"
    assert rec["rule"] == "fail-closed"
    assert "error" not in rec


def test_server_parseable_unreadable_stays_refused(syn, pg):
    # direct, the server runs it
    assert pg.psql(DEEP + ";\n").stdout.strip() == "1"
    with log_all_statements(pg) as off:
        r = syn.psql(DEEP + ";\n", on_error_stop=False)
        assert "sqlbastion: blocked by rule 'fail-closed'" in r.stderr
        p = syn.connect()
        for sql in (DEEP, "INSERT INTO syn_t VALUES (3); " + DEEP):
            got = _psycopg_error(p, sql)
            assert got[0] == "42501" and "fail-closed" in got[1], got
        p.cursor().execute("SELECT 'still usable'")
        time.sleep(0.5)
        ran = server_statements(pg, off)
    assert ran == ["SELECT 'still usable'"], ran
    assert _count(pg) == "0"


def test_server_parseable_unreadable_in_block(syn):
    p = syn.connect()
    cur = p.cursor()
    cur.execute("BEGIN")
    got = _psycopg_error(p, DEEP)
    assert got[0] == "42501" and got[4] == psycopg2.extensions.TRANSACTION_STATUS_INERROR
    cur.execute("ROLLBACK")
    cur.execute("SELECT 1")


# ---- extended protocol (raw) ----

def _ext_replies(conn_factory, msgs):
    r = RawPg(conn_factory) if not callable(conn_factory) else conn_factory()
    try:
        out = r.run(*msgs)
        after = r.run(Q("SELECT count(*) FROM syn_t"))
        return out, after
    finally:
        r.close()


def _shape(replies):
    """Message types, with each ErrorResponse's SQLSTATE, message, position."""
    out = []
    for t, body in replies:
        if t == "E":
            f = error_fields(body)
            out.append(("E", f.get("C"), f.get("M"), f.get("P")))
        elif t == "Z":
            out.append(("Z", body.decode()))
        else:
            out.append((t,))
    return out


@pytest.mark.parametrize("name", ["", "s_typo"])
def test_extended_typo_same_as_direct(syn, pg, name):
    msgs = [P("ok", "INSERT INTO syn_t VALUES (1)"), B("", "ok"), E(),
            P(name, "SELECT 1, 2 FRM syn_t"), B("", name), E(), S()]
    direct, d_after = _ext_replies(lambda: RawPg(pg), msgs)
    proxied, p_after = _ext_replies(lambda: RawPg(syn), msgs)
    assert _shape(proxied) == _shape(direct)
    # the failed Parse aborted the implicit transaction: the INSERT is gone
    assert [x for x in _shape(direct) if x[0] == "E"][0][1] == "42601"
    assert _count(pg) == "0"
    assert _shape(p_after) == _shape(d_after)


def test_extended_unterminated_quote(syn, pg):
    msgs = [P("", "SELECT 'abc"), B("", ""), E(), S()]
    direct, _ = _ext_replies(lambda: RawPg(pg), msgs)
    proxied, _ = _ext_replies(lambda: RawPg(syn), msgs)
    assert _shape(proxied) == _shape(direct)
    assert _shape(direct)[0][1] == "42601"


def test_extended_server_parseable_refused(syn, pg):
    r = RawPg(syn)
    try:
        out = r.run(P("deep", DEEP), B("", "deep"), E(), S())
        assert [(t, error_fields(b).get("C")) for t, b in out if t == "E"] == [("E", "42501")]
        assert "fail-closed" in error_fields([b for t, b in out if t == "E"][0])["M"]
        # the name was not created: binding it fails on the server
        out = r.run(B("", "deep"), E(), S())
        errs = [error_fields(b) for t, b in out if t == "E"]
        assert errs and errs[0]["C"] in ("26000", "42501"), errs
        out = r.run(Q("SELECT 1"))
        assert not [t for t, _ in out if t == "E"]
    finally:
        r.close()


def test_pipelined_queries_keep_order(syn, pg):
    """Typos and good statements sent in one write: each gets its own reply,
    in order, as direct."""
    msgs = [Q("SELEC 1"), Q("SELECT 1"), Q("SELECT 'x"), Q(DEEP.replace("1", "2", 1)),
            P("", "SELEC $1", types=(23,)), B("", ""), E(), S(), Q("SELECT 3")]
    out = {}
    for name, target in (("direct", pg), ("proxied", syn)):
        r = RawPg(target)
        try:
            out[name] = _shape(r.run(*msgs, ready=6))
        finally:
            r.close()
    d, p = out["direct"], out["proxied"]
    # the deep statement runs direct but is refused through the proxy
    deep_d = [x for x in d if x[0] == "E"]
    deep_p = [x for x in p if x[0] == "E"]
    assert len(deep_d) == 3 and len(deep_p) == 4
    assert deep_p[2][1] == "42501" and "fail-closed" in deep_p[2][2]
    assert deep_p[:2] + deep_p[3:] == deep_d
    assert [x for x in p if x[0] == "Z"] == [x for x in d if x[0] == "Z"]
