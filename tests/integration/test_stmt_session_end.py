"""Statements in flight when a session ends (issue 12, shared statement
machinery): their query_end records are written BEFORE the session's
session_end record, never after it, exactly once each, with the error
"session ended before the reply".

Ground truth that the statements really were in flight: the server itself
is running the first one (pg_stat_activity / the MariaDB process list)
when the session is ended. The order is read from the audit file as
written (file order is chain order).
"""

import threading
import time

import pytest

from pg_raw import B, E, P, Q, RawPg, S

NO_REPLY = "session ended before the reply"


def _wait(pred, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _records_of(b, session):
    return [r for r in b.audit_records() if r.get("session") == session]


def _assert_ends_before_session_end(b, session, query_ids, error):
    """Every query id has exactly one query_end, all before session_end."""
    _wait(lambda: b.audit_records("session_end", session=session), what="session_end")
    # The reaper runs after session_end: give it time to (wrongly) add more.
    time.sleep(0.5)
    recs = _records_of(b, session)
    events = [r["event"] for r in recs]
    assert events.count("session_end") == 1, events
    end_at = events.index("session_end")
    for qid in query_ids:
        ends = [(i, r) for i, r in enumerate(recs)
                if r["event"] == "query_end" and r.get("query_id") == qid]
        assert len(ends) == 1, (qid, ends)
        i, r = ends[0]
        assert i < end_at, f"query_end of {qid} written after session_end: {events}"
        assert r.get("error") == error, r
    # nothing of the session follows its session_end
    assert end_at == len(recs) - 1, events


def _pg_sleeping(pg, sql):
    out = pg.sql("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                 f"AND query = '{sql}'")
    return out.strip() == "1"


@pytest.mark.parametrize("how", ["kill", "hangup"])
def test_pg_in_flight_query_end_before_session_end(pg_ready, pg, how):
    b = pg_ready
    raw = RawPg(b)
    sleep_sql = f"SELECT pg_sleep(8) /* in flight {how} */"
    # Pipelined: a simple Query the server is running, one queued behind
    # it, and an extended Parse/Bind/Execute/Sync block.
    raw.send(Q(sleep_sql), Q("SELECT 1 /* queued */"),
             P("", "SELECT 2 /* queued ext */"), B("", ""), E(""), S())
    _wait(lambda: _pg_sleeping(pg, sleep_sql), what="pg_sleep running on the server")
    queries = _wait(lambda: (lambda q: q if len(q) == 3 else None)(
        [r for r in b.audit_records("query") if "/* in flight" in r.get("statement", "")
         or "/* queued" in r.get("statement", "")]), what="three query records")
    session = queries[0]["session"]
    assert all(q["session"] == session for q in queries)
    if how == "kill":
        b.ctl("kill", str(session))
    else:
        raw.sock.close()
        raw.conn.close()
    _assert_ends_before_session_end(b, session, [q["query_id"] for q in queries], NO_REPLY)
    if how == "kill":
        raw.sock.close()
    # The server reads what reached its socket before the proxy closed it:
    # the queued statements run once the sleep ends. Let them finish here,
    # so that they are not seen by a later test's server-log ground truth.
    _wait(lambda: pg.sql("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                         "AND query LIKE '%/* %queued%'").strip() == "0"
          and not _pg_sleeping(pg, sleep_sql), timeout=40, what="the server's session gone")


def test_pg_finished_queries_end_once_before_session_end(pg_ready):
    """Benign twin: a session that ends idle keeps its query_end records
    (no error) before session_end, one per query."""
    b = pg_ready
    conn = b.connect()
    conn.autocommit = True
    cur = conn.cursor()
    for i in range(3):
        cur.execute(f"SELECT {i} /* twin */")
        cur.fetchall()
    queries = [r for r in b.audit_records("query") if "/* twin */" in r.get("statement", "")]
    assert len(queries) == 3
    conn.close()
    session = queries[0]["session"]
    _assert_ends_before_session_end(b, session, [q["query_id"] for q in queries], None)


def _my_sleeping(maria, marker):
    n = maria.value("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                    f"WHERE INFO LIKE '%{marker}%' AND INFO NOT LIKE '%PROCESSLIST%'")
    return n == "1"


@pytest.mark.parametrize("how", ["kill", "hangup"])
def test_mysql_in_flight_query_end_before_session_end(my_ready, maria, how):
    b = my_ready
    conn = b.pymysql()
    marker = f"in_flight_{how}"
    sql = f"SELECT SLEEP(8) AS {marker}"
    errors = []

    def run():
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        except Exception as e:  # noqa: BLE001 - the session is ended under it
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    _wait(lambda: _my_sleeping(maria, marker), what="SLEEP running on the server")
    q = _wait(lambda: [r for r in b.audit_records("query") if marker in r.get("statement", "")],
              what="query record")[0]
    session = q["session"]
    if how == "kill":
        b.ctl("kill", str(session))
    else:
        import socket
        conn._sock.shutdown(socket.SHUT_RDWR)
    t.join(30)
    assert not t.is_alive() and errors, "the client's statement should have been cut off"
    _assert_ends_before_session_end(b, session, [q["query_id"]], NO_REPLY)
    _wait(lambda: not _my_sleeping(maria, marker), timeout=40, what="the server's thread gone")


def test_mysql_finished_queries_end_once_before_session_end(my_ready):
    b = my_ready
    conn = b.pymysql()
    with conn.cursor() as cur:
        for i in range(3):
            cur.execute(f"SELECT {i} AS twin_marker")
            cur.fetchall()
    queries = [r for r in b.audit_records("query") if "twin_marker" in r.get("statement", "")]
    assert len(queries) == 3
    conn.close()
    session = queries[0]["session"]
    _assert_ends_before_session_end(b, session, [q["query_id"] for q in queries], None)
