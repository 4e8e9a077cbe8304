"""Issue 10 classes 1, 2 and 5 on the MySQL frontend, and issue 15 class 9,
by raw-protocol pipelines (many commands in one write) through the proxy to
the real MariaDB 10.11. Ground truth is the server: its general log, and the
victim table still being there.

Class 1: the proxy classifies a statement only under the lexing state the
server confirmed (sql_mode NO_BACKSLASH_ESCAPES / ANSI_QUOTES,
character_set_client): a statement whose tokens depend on it waits while
anything that may change it is in flight, then the proxy asks the server.
Class 2: a COM_STMT_* command runs only on a statement id the server
confirmed (PREPARE_OK), never on a guess. Class 5: pipelining floods keep
the proxy's memory flat.
"""

import os
import struct
import threading
import time

import pytest

from audit_helpers import last_seq
from test_audit_mysql_ground_truth import general_log, norm, parse_general_log
from test_mysql_proxy import needs_lexer

VICTIM = "appdb.victim"
# ASan keeps freed memory in quarantine: RSS says nothing under SAN=1
SAN = os.environ.get("SQLBASTION_SAN") == "1"
RSS_LIMIT_KIB = 16 * 1024


@pytest.fixture
def victim(maria):
    maria.sql(f"DROP TABLE IF EXISTS {VICTIM}; CREATE TABLE {VICTIM} (id INT PRIMARY KEY); "
              f"INSERT INTO {VICTIM} VALUES (1);")
    maria.sql("DROP PROCEDURE IF EXISTS appdb.set_nbe; CREATE PROCEDURE appdb.set_nbe() "
              "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
    yield VICTIM
    maria.sql(f"DROP TABLE IF EXISTS {VICTIM}")


def victim_exists(maria):
    return maria.value("SELECT COUNT(*) FROM information_schema.tables WHERE "
                       "table_schema = 'appdb' AND table_name = 'victim'") == "1"


# ---- a raw client: pymysql logs in, then bytes go straight on the socket ----

COM_SLEEP, COM_QUERY, COM_PING = 0x00, 0x03, 0x0E
COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE = 0x16, 0x17, 0x19
COM_STMT_RESET, COM_STMT_FETCH, COM_STMT_SEND_LONG_DATA = 0x1A, 0x1C, 0x18


def packet(payload, seq=0):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def query(sql):
    return packet(bytes([COM_QUERY]) + (sql.encode() if isinstance(sql, str) else sql))


def prepare(sql):
    return packet(bytes([COM_STMT_PREPARE]) + sql.encode())


def execute(stmt_id):
    # no parameters: flags 0, iteration count 1
    return packet(bytes([COM_STMT_EXECUTE]) + struct.pack("<IBI", stmt_id, 0, 1))


def close_stmt(stmt_id):
    return packet(bytes([COM_STMT_CLOSE]) + struct.pack("<I", stmt_id))


class Raw:
    def __init__(self, b, multi=True):
        from pymysql.constants import CLIENT
        self.conn = b.pymysql(client_flag=CLIENT.MULTI_STATEMENTS if multi else 0)
        self.sock = self.conn._sock
        self.sock.settimeout(30)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("proxy closed the connection")
            self.buf += chunk

    def packet(self):
        self._need(4)
        n = int.from_bytes(self.buf[:3], "little")
        self._need(4 + n)
        body = self.buf[4:4 + n]
        self.buf = self.buf[4 + n:]
        return body

    def reply(self):
        """One whole reply: ("ok"|"err"|"rows", info). Rows come as the raw
        row packets; result sets followed by more results are all read."""
        rows = []
        while True:
            p = self.packet()
            if p[0] == 0x00:
                status = struct.unpack("<H", _ok_status(p))[0]
                if status & 0x08:  # SERVER_MORE_RESULTS_EXISTS
                    continue
                return ("rows", rows) if rows else ("ok", p)
            if p[0] == 0xFF:
                return "err", p[9:].decode(errors="replace")
            ncols = p[0]
            for _ in range(ncols):
                self.packet()
            self.packet()  # EOF after column definitions (pymysql: no DEPRECATE_EOF)
            while True:
                r = self.packet()
                if r[0] == 0xFE and len(r) < 9:
                    break
                rows.append(_text_row(r))
            status = struct.unpack("<H", r[3:5])[0]
            if not status & 0x08:
                return "rows", rows

    def prepare_ok(self):
        p = self.packet()
        if p[0] == 0xFF:
            return None, p[9:].decode(errors="replace")
        stmt_id, ncols, nparams = struct.unpack("<IHH", p[1:9])
        for _ in range(nparams + (1 if nparams else 0) + ncols + (1 if ncols else 0)):
            self.packet()
        return stmt_id, None

    def close(self):
        self.conn.close()


def _ok_status(p):
    i = 1
    for _ in range(2):  # affected rows, last insert id (length-encoded)
        c = p[i]
        i += 1 if c < 0xFB else {0xFC: 3, 0xFD: 4, 0xFE: 9}[c]
    return p[i:i + 2]


def _text_row(p):
    out, i = [], 0
    while i < len(p):
        c = p[i]
        if c == 0xFB:
            out.append(None)
            i += 1
            continue
        if c < 0xFB:
            n, i = c, i + 1
        elif c == 0xFC:
            n, i = int.from_bytes(p[i + 1:i + 3], "little"), i + 3
        else:
            n, i = int.from_bytes(p[i + 1:i + 4], "little"), i + 4
        out.append(p[i:i + n])
        i += n
    return out


# ---- class 1: the lexing state -----------------------------------------

# SJIS lead byte 0x81 + 0x5C is one character to a server reading SJIS: the
# quote after it ends the string and the DROP runs; read as UTF-8 or latin1
# the backslash escapes the quote and everything is one string.
SJIS_ATTACK = b"SELECT '\x81\\'; DROP TABLE appdb.victim; -- '"
NBE_ATTACK = "SELECT 'a\\'; DROP TABLE appdb.victim; -- '"
ANSI_ATTACK = 'SELECT "a\\"; DROP TABLE appdb.victim; -- "'

PIPELINES = {
    "set-names-sjis": [query("SET NAMES sjis"), query(SJIS_ATTACK)],
    "charset-client-gbk": [query("SET character_set_client = gbk"), query(SJIS_ATTACK)],
    "set-character-set-big5": [query("SET CHARACTER SET big5"),
                               query(b"SELECT '\xa4\\'; DROP TABLE appdb.victim; -- '")],
    # the server skips one byte after a backslash, not a character: here
    # the quote stays escaped and all is one string (the proxy must agree)
    "sjis-escaped-lead": [query("SET NAMES sjis"),
                          query(b"SELECT '\\\x81\\'; DROP TABLE appdb.victim; -- '")],
    "gb18030-four-byte": [query("SET NAMES gb18030"),
                          query(b"SELECT '\x81\x30\x81\\'; DROP TABLE appdb.victim; -- '")],
    "cp932-versioned": [query("/*!40101 SET NAMES cp932 */"), query(SJIS_ATTACK)],
    "sql-mode-nbe": [query("SET sql_mode = 'NO_BACKSLASH_ESCAPES'"), query(NBE_ATTACK)],
    "sql-mode-at-at": [query("SET @@session.sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"),
                       query(NBE_ATTACK)],
    "ansi-quotes": [query("SET SESSION sql_mode = 'ANSI_QUOTES'"), query(ANSI_ATTACK)],
    "procedure": [query("CALL appdb.set_nbe()"), query(NBE_ATTACK)],
    "prepared-set": [query("PREPARE s1 FROM 'SET sql_mode = ''NO_BACKSLASH_ESCAPES'''"),
                     query("EXECUTE s1"), query(NBE_ATTACK)],
    "execute-immediate": [query("EXECUTE IMMEDIATE CONCAT('SET sql_mode=', "
                                "'''NO_BACKSLASH_ESCAPES''')"), query(NBE_ATTACK)],
    "multi-statement": [query("SET sql_mode = 'NO_BACKSLASH_ESCAPES'; " + NBE_ATTACK)],
    "multi-statement-names": [query(b"SELECT 1; SET NAMES sjis; " + SJIS_ATTACK)],
    "multi-statement-versioned-set": [query("/*!40101 SET sql_mode = 'NO_BACKSLASH_ESCAPES' */; "
                                            + NBE_ATTACK)],
    "multi-statement-execute": [query("PREPARE s2 FROM 'SET sql_mode = ''NO_BACKSLASH_ESCAPES'''; "
                                      "EXECUTE s2; " + NBE_ATTACK)],
    "multi-statement-call": [query("CALL appdb.set_nbe(); " + NBE_ATTACK)],
    "multi-statement-compound": [query("BEGIN NOT ATOMIC SET sql_mode = 'NO_BACKSLASH_ESCAPES'; "
                                       "END; " + NBE_ATTACK)],
    "multi-statement-update-then-set": [query("UPDATE appdb.victim SET id = 1 WHERE id = 1; "
                                              "SET sql_mode = 'ANSI_QUOTES'; " + ANSI_ATTACK)],
    "slow-then-set": [query("SELECT SLEEP(0.5)"), query("SET NAMES sjis"), query(SJIS_ATTACK)],
}


def _drops_in_log(log):
    return [arg for entries in log.values() for cmd, arg in entries
            if "drop table appdb.victim" in arg.lower()]


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_mysql_lexing_state_pipeline(my_ready, maria, victim, tmp_path, name):
    b = my_ready
    needs_lexer(b)
    log_path = maria.base / f"general-lex-{name}-{time.monotonic_ns()}.log"
    with general_log(maria, log_path):
        raw = Raw(b)
        cmds = PIPELINES[name]
        raw.send(b"".join(cmds))
        replies = [raw.reply() for _ in cmds]
        # the session keeps working, and the attack text was refused
        raw.send(query("SELECT 7"))
        assert raw.reply() == ("rows", [[b"7"]])
        raw.close()
        time.sleep(0.3)
    assert victim_exists(maria), f"{name}: the DROP ran; replies {replies}"
    # Either the proxy refused the attack text, or (when it refused what
    # would have changed the state) the server read it as one string.
    kind, rows = replies[-1]
    assert kind == "err" or (kind == "rows" and b"DROP TABLE" in rows[0][-1]), replies
    if kind == "err":
        assert not _drops_in_log(parse_general_log(log_path)), name


def test_mysql_set_statement_for_lexes_under_current_mode(my_ready, maria, victim):
    """SET STATEMENT ... FOR: the server parses the whole text under the
    current sql_mode; the proxy must agree (and so allow the benign one)."""
    b = my_ready
    needs_lexer(b)
    c = b.pymysql()
    with c.cursor() as cur:
        cur.execute("SET STATEMENT sql_mode='NO_BACKSLASH_ESCAPES' FOR "
                    "SELECT 'it\\'s; DROP TABLE appdb.victim; -- '")
        assert cur.fetchone()[0] == "it's; DROP TABLE appdb.victim; -- "
    assert victim_exists(maria)


def test_mysql_backslash_quote_benign_is_allowed(my_ready, maria, victim):
    """Issue 15 class 9: one string literal under the default sql_mode."""
    b = my_ready
    needs_lexer(b)
    c = b.pymysql()
    with c.cursor() as cur:
        cur.execute("SELECT 'it\\'s; DROP TABLE t; -- '")
        assert cur.fetchone()[0] == "it's; DROP TABLE t; -- "
        cur.execute("SELECT %s, %s", ("o'neil \\ \"x\"", "a\\'b"))  # pymysql escapes
        assert cur.fetchone() == ("o'neil \\ \"x\"", "a\\'b")
        # under NO_BACKSLASH_ESCAPES, once the server confirmed it, the
        # same bytes are a string and a DROP: refused
        cur.execute("SET sql_mode = 'NO_BACKSLASH_ESCAPES'")
        cur.execute("SELECT 'a\\', 'b'")
        assert cur.fetchone() == ("a\\", "b")
        with pytest.raises(Exception):
            cur.execute(NBE_ATTACK)
        cur.execute("SET sql_mode = DEFAULT")
        cur.execute("SELECT 'it\\'s'")
        assert cur.fetchone()[0] == "it's"
    assert victim_exists(maria)
    r = b.mysql("SELECT 'it\\'s; DROP TABLE t; -- '")
    assert r.returncode == 0 and "it's; DROP TABLE t; -- " in r.stdout, r.stderr


def test_mysql_sjis_benign_round_trip(my_ready, maria, victim):
    """A Shift-JIS string whose second byte is 0x5C (U+8868) is one string
    under SET NAMES sjis, and comes back intact."""
    b = my_ready
    needs_lexer(b)
    raw = Raw(b)
    raw.send(query("SET NAMES sjis") + query(b"SELECT '\x95\x5c', 'x\\'y'"))
    assert raw.reply()[0] == "ok"
    kind, rows = raw.reply()
    assert kind == "rows" and rows == [[b"\x95\x5c", b"x'y"]], rows
    raw.close()


# ---- class 2: statement ids ---------------------------------------------


def _audit_texts(b, seq0):
    return [norm(r["statement"]) for r in b.audit_records("query") if r["seq"] > seq0
            and r.get("decision") in ("allow", "alert")]


def test_mysql_prepare_execute_pipelined(my_ready, maria, victim, tmp_path):
    """PREPARE and EXECUTE of its predictable id (and of -1) in one write:
    the executes wait for PREPARE_OK and are audited with the text; an
    unknown id is refused by the proxy; CLOSE applies in order."""
    b = my_ready
    needs_lexer(b)
    log_path = maria.base / f"general-ps-{time.monotonic_ns()}.log"
    seq0 = last_seq(b)
    with general_log(maria, log_path):
        raw = Raw(b)
        raw.send(prepare("SELECT 41"))
        first, err = raw.prepare_ok()
        assert first, err
        nxt = first + 1
        raw.send(prepare("SELECT 42 FROM appdb.victim") + execute(nxt) + execute(0xFFFFFFFF)
                 + execute(nxt + 50))
        sid, err = raw.prepare_ok()
        assert sid == nxt, (sid, err)
        r1, r2, r3 = raw.reply(), raw.reply(), raw.reply()
        assert r1[0] == "ok" or r1[0] == "rows", r1
        assert r2[0] in ("ok", "rows"), r2
        assert r3[0] == "err" and "Unknown prepared statement" in r3[1], r3
        # CLOSE then EXECUTE of the closed id in one write: refused
        raw.send(close_stmt(nxt) + execute(nxt) + execute(0xFFFFFFFF))
        r4, r5 = raw.reply(), raw.reply()
        assert r4[0] == "err" and r5[0] == "err", (r4, r5)
        # a refused PREPARE then EXECUTE -1: never the previous statement
        raw.send(prepare("DROP TABLE appdb.victim") + execute(0xFFFFFFFF))
        sid, err = raw.prepare_ok()
        assert sid is None and "blocked" in err
        r6 = raw.reply()
        assert r6[0] == "err", r6
        raw.send(query("SELECT 8"))
        assert raw.reply() == ("rows", [[b"8"]])
        raw.close()
        time.sleep(0.3)
    log = parse_general_log(log_path)
    executed = [norm(arg) for entries in log.values() for cmd, arg in entries
                if cmd == "Execute"]
    assert executed == ["SELECT 41"] * 0 + ["SELECT 42 FROM appdb.victim"] * 2, executed
    audited = _audit_texts(b, seq0)
    assert audited.count("SELECT 42 FROM appdb.victim") == 2, audited
    assert not any(t.startswith("EXECUTE STATEMENT") for t in audited), audited
    assert victim_exists(maria)


def test_mysql_prepare_error_then_execute_last(my_ready, maria):
    """A PREPARE the server rejects clears "last prepared": EXECUTE -1 right
    behind it is refused, never run on an older statement."""
    b = my_ready
    needs_lexer(b)
    raw = Raw(b)
    raw.send(prepare("SELECT 1"))
    assert raw.prepare_ok()[0]
    raw.send(prepare("SELECT * FROM appdb.no_such_table") + execute(0xFFFFFFFF))
    sid, err = raw.prepare_ok()
    assert sid is None
    r = raw.reply()
    assert r[0] == "err", r
    raw.close()


# ---- class 5: bounded memory under floods -------------------------------


def test_mysql_flood_behind_slow_query_keeps_rss_flat(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    raw = Raw(b)
    raw.send(query("SELECT 1"))
    raw.reply()
    rss0 = b.rss_kb()
    n = 250_000  # 1.25 MB of COM_SLEEP and COM_PING
    flood = b"".join(packet(bytes([COM_SLEEP if i % 5 else COM_PING])) for i in range(n))
    peak = [rss0]
    done = threading.Event()

    def sender():
        raw.sock.sendall(query("SELECT SLEEP(2)") + flood + query("SELECT 9"))
        done.set()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], b.rss_kb())
            time.sleep(0.05)

    t = threading.Thread(target=sender)
    w = threading.Thread(target=watch)
    t.start()
    w.start()
    assert raw.reply()[0] == "rows"
    time.sleep(1.0)  # the flood sits while SLEEP runs
    peak[0] = max(peak[0], b.rss_kb())
    for _ in range(n):
        k = raw.packet()
        assert k[0] in (0x00, 0xFF), k
    assert raw.reply() == ("rows", [[b"9"]])
    t.join(30)
    done.set()
    w.join(5)
    grown = peak[0] - rss0
    raw.close()
    assert SAN or grown < RSS_LIMIT_KIB, f"RSS grew by {grown} KiB under the flood"


def test_mysql_unread_replies_stop_reading_client(my_ready, maria):
    """A client that floods COM_PING and never reads: the proxy stops
    reading it instead of queueing replies."""
    b = my_ready
    needs_lexer(b)
    raw = Raw(b)
    rss0 = b.rss_kb()
    raw.sock.setblocking(False)
    sent = 0
    chunk = b"".join(packet(bytes([COM_SLEEP])) for _ in range(20000))
    deadline = time.time() + 5
    try:
        while time.time() < deadline:
            try:
                sent += raw.sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.05)
        grown = b.rss_kb() - rss0
    finally:
        raw.conn._force_close()  # a polite COM_QUIT could never be read
    assert SAN or grown < RSS_LIMIT_KIB, f"RSS grew by {grown} KiB; client sent {sent} bytes"
    # it did stop reading: far less than 5 s of loopback bandwidth went in
    assert sent < 64 * 1024 * 1024, sent
    # the proxy is fine for others
    assert b.mysql("SELECT 1").returncode == 0


def test_mysql_multi_statement_without_state_change_is_allowed(my_ready, maria, victim):
    """A batch in which no statement can change sql_mode or the character set
    (UPDATE ... SET is not SET) is lexed under the confirmed state, so
    backslashes and double quotes in it are read as the server reads them:
    allowed, and run as written."""
    b = my_ready
    needs_lexer(b)
    raw = Raw(b)
    raw.send(query("UPDATE appdb.victim SET id = 1 WHERE id = 1 AND 'it\\'s' <> \"a\\\"b\"; "
                   "SELECT 'it\\'s; DROP TABLE appdb.victim; -- ', \"x\""))
    kind, rows = raw.reply()  # both results (MORE_RESULTS_EXISTS)
    assert kind == "rows" and rows == [[b"it's; DROP TABLE appdb.victim; -- ", b"x"]], rows
    raw.close()
    assert victim_exists(maria)
