"""Issue 12, framing in the codecs: where one message ends is decided by the
codecs' peeks (pg_peek_*, my_peek_*), at every point of the stream. Raw
clients over a socket: lengths below the minimum, above the limit, the
exact limit, "negative" int32 lengths, a MySQL multi-packet command whose
continuation breaks the sequence; and the benign twins: the same messages
dripped one byte per write still work. Ground truth is the server: the
victim table is still there and the server never ran the statement.
"""

import socket
import struct
import time

import pytest

from pg_raw import Q, RawPg, errors, rows
from test_audit_mysql_ground_truth import general_log
from test_hardening import recv_msg, startup
from test_mysql_pipeline_attacks import Raw, packet, query


def drip(sock, data, pause=0.002):
    """One byte per write: the proxy sees every split of the message."""
    for i in range(len(data)):
        sock.sendall(data[i:i + 1])
        time.sleep(pause)


def closed_by_proxy(sock, timeout=10):
    """Read until EOF; returns whatever came before it. Fails on a timeout
    (the proxy kept waiting on a message it should have refused)."""
    sock.settimeout(timeout)
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk


def alive(b):
    conn = b.connect()
    with conn.cursor() as c:
        c.execute("SELECT 41 + 1")
        assert c.fetchone() == (42,)
    conn.close()


@pytest.fixture
def pg_victim(pg):
    pg.sql("DROP TABLE IF EXISTS framing_victim; CREATE TABLE framing_victim (id int); "
           "GRANT ALL ON framing_victim TO app;", dbname="appdb")
    yield
    pg.sql("DROP TABLE IF EXISTS framing_victim", dbname="appdb")


def pg_victim_exists(pg):
    return pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'framing_victim'",
                  dbname="appdb").strip() == "1"


# ---- PostgreSQL startup packets ----

@pytest.mark.parametrize("length", [0, 4, 7, 10001, 0x80000000, 0xFFFFFFFF])
def test_pg_startup_length_refused(pg_ready, length):
    s = socket.create_connection((pg_ready.host, pg_ready.port), timeout=10)
    # only the header: the refusal must not wait for a body
    s.sendall(struct.pack("!I", length))
    assert closed_by_proxy(s) == b""
    s.close()
    alive(pg_ready)


def test_pg_startup_at_limit_is_read_whole(pg_ready):
    """A 10000-byte startup packet (the limit) is read whole and judged on
    its content: here a parameter the proxy refuses, with an error."""
    pad = b"x" * (10000 - 8 - len(b"user\0alice\0application_name\0\0\0"))
    body = b"user\0alice\0application_name\0" + pad + b"\0\0"
    pkt = struct.pack("!II", 8 + len(body), 196608) + body
    assert len(pkt) == 10000
    s = socket.create_connection((pg_ready.host, pg_ready.port), timeout=10)
    s.sendall(pkt)
    t, body = recv_msg(s)
    # application_name is allowed: the login goes on to SCRAM
    assert t == b"R" and struct.unpack("!I", body[:4])[0] == 10, (t, body)
    s.close()


def test_pg_startup_dripped(pg_ready):
    s = socket.create_connection((pg_ready.host, pg_ready.port), timeout=10)
    drip(s, struct.pack("!II", 8, 80877103))  # SSLRequest, byte by byte
    assert s.recv(1) in (b"S", b"N")
    s.close()
    s = socket.create_connection((pg_ready.host, pg_ready.port), timeout=10)
    drip(s, startup("alice"))
    t, body = recv_msg(s)
    assert t == b"R" and struct.unpack("!I", body[:4])[0] == 10, (t, body)
    s.close()


# ---- PostgreSQL messages during login ----

@pytest.mark.parametrize("length", [0, 3, 65536, 0x80000000])
def test_pg_login_message_length_refused(pg_ready, length):
    s = socket.create_connection((pg_ready.host, pg_ready.port), timeout=10)
    s.sendall(startup("alice"))
    t, _ = recv_msg(s)
    assert t == b"R"
    s.sendall(b"p" + struct.pack("!I", length))
    assert closed_by_proxy(s) == b""
    s.close()
    alive(pg_ready)


# ---- PostgreSQL query phase ----

def test_pg_query_dripped_runs(pg_ready):
    r = RawPg(pg_ready)
    try:
        drip(r.sock, Q("SELECT 6 * 7"))
        replies = r.until_ready()
        assert rows(replies) == ["42"], replies
        r.send(Q("SELECT 'after'"))
        assert rows(r.until_ready()) == ["after"]
    finally:
        r.close()


@pytest.mark.parametrize("length,state", [(3, "08P01"), (0, "08P01"),
                                          (0x80000000, "54000"), (0xFFFFFFFF, "54000")])
def test_pg_query_length_refused(pg_ready, pg, pg_victim, length, state):
    r = RawPg(pg_ready)
    try:
        # the header alone is enough to refuse; the "body" never runs
        r.send(b"Q" + struct.pack("!I", length) + b"DROP TABLE framing_victim\0")
        t, body = r.read()
        assert t == "E" and errors([(t, body)])[0][0] == state, (t, body)
        with pytest.raises((ConnectionError, OSError)):
            while True:
                r.read()
    finally:
        r.close()
    assert pg_victim_exists(pg)
    alive(pg_ready)


def test_pg_query_at_max_message(bastion_factory, pg, pg_victim):
    """max_message is the body limit: exactly that is read whole and runs;
    one byte more is refused from the header, before the body arrives."""
    b = bastion_factory(conf={"limits": {"max_message": 2048}})
    b.pg_ready(pg)
    sql = b"SELECT '" + b"y" * 100 + b"' AS v"
    body = sql + b" " * (2048 - len(sql) - 1) + b"\0"  # exactly max_message
    assert len(body) == 2048
    r = RawPg(b)
    try:
        r.send(b"Q" + struct.pack("!I", 4 + len(body)) + body)
        assert rows(r.until_ready()) == ["y" * 100]
        r.send(b"Q" + struct.pack("!I", 4 + 2049))  # header only
        t, eb = r.read()
        assert t == "E" and errors([(t, eb)])[0][0] == "54000", (t, eb)
    finally:
        r.close()
    assert pg_victim_exists(pg)


# ---- MySQL ----

@pytest.fixture
def my_victim(maria):
    maria.sql("DROP TABLE IF EXISTS appdb.framing_victim; "
              "CREATE TABLE appdb.framing_victim (id INT);")
    yield
    maria.sql("DROP TABLE IF EXISTS appdb.framing_victim")


def quiet_close(r):
    try:
        r.conn.close()
    except Exception:  # the proxy already closed it
        pass


def my_victim_exists(maria):
    return maria.value("SELECT COUNT(*) FROM information_schema.tables WHERE "
                       "table_schema = 'appdb' AND table_name = 'framing_victim'") == "1"


def test_mysql_query_dripped_runs(my_ready):
    r = Raw(my_ready, multi=False)
    try:
        drip(r.sock, query("SELECT 6 * 7"))
        kind, got = r.reply()
        assert kind == "rows" and got == [[b"42"]], (kind, got)
    finally:
        r.conn.close()


def test_mysql_continuation_with_wrong_sequence_refused(my_ready, maria, my_victim, tmp_path):
    """A 16 MiB - 1 packet continues in the next one, whose sequence id must
    be the next: a wrong one ends the session and nothing reaches the server."""
    log = maria.base / f"general-framing-{time.monotonic_ns()}.log"
    with general_log(maria, log):
        r = Raw(my_ready, multi=False)
        try:
            head = b"\x03DROP TABLE appdb.framing_victim /*"
            first = head + b"x" * (0xFFFFFF - len(head))
            r.send(packet(first, seq=0))
            r.send(packet(b"*/", seq=5))
            with pytest.raises((ConnectionError, OSError)):
                while True:
                    r.packet()
        finally:
            quiet_close(r)
        time.sleep(0.5)
    assert my_victim_exists(maria)
    assert "framing_victim" not in log.read_text(errors="replace")


def test_mysql_multi_packet_dripped_boundary(my_ready):
    """Benign twin: a 16 MiB - 1 packet and its continuation, the headers
    dripped byte by byte, run as one statement."""
    r = Raw(my_ready, multi=False)
    try:
        head = b"\x03SELECT LENGTH('"
        tail = b"') AS n"
        fill = 0xFFFFFF - len(head)
        first = head + b"a" * fill
        second = b"b" * 10 + tail
        r.sock.sendall(packet(first, seq=0)[:-1])
        drip(r.sock, first[-1:] + packet(second, seq=1)[:4])
        r.sock.sendall(second)
        kind, got = r.reply()
        assert kind == "rows" and got == [[str(fill + 10).encode()]], (kind, got)
    finally:
        r.conn.close()
