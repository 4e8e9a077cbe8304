"""The little T-SQL the tests need, run on SQLite.

split_batch() cuts a batch into statements (on ';' and before a statement
keyword at nesting depth 0, as T-SQL does not need ';'); translate() turns
T-SQL spellings into SQLite ones; Engine executes statements and yields
result events for the session to encode."""
import re
import sqlite3

VERSION_TEXT = ("Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) "
                "sqlbastion TDS test backend (SQLite %s)" % sqlite3.sqlite_version)

_LEX = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*)
  | (?P<block>/\*)
  | (?P<nstr>[Nn]'(?:[^']|'')*')
  | (?P<str>'(?:[^']|'')*')
  | (?P<bracket>\[(?:[^\]]|\]\])*\])
  | (?P<dquote>"(?:[^"]|"")*")
  | (?P<hex>0[xX][0-9A-Fa-f]*)
  | (?P<sysvar>@@\w+)
  | (?P<word>[\#@]?[A-Za-z_\#@][\w\#@$]*)
  | (?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
  | (?P<other>.)
""", re.S | re.X)


class TsqlError(Exception):
    def __init__(self, number, klass, state, text, batch_abort=True):
        super().__init__(text)
        self.number, self.klass, self.state, self.text = number, klass, state, text
        self.batch_abort = batch_abort


def lex(sql):
    """[(kind, text)], nested /* */ comments folded into one token."""
    out, pos = [], 0
    while pos < len(sql):
        m = _LEX.match(sql, pos)
        kind = m.lastgroup
        if kind == "block":
            depth, i = 0, pos
            while i < len(sql):
                if sql.startswith("/*", i):
                    depth += 1; i += 2
                elif sql.startswith("*/", i):
                    depth -= 1; i += 2
                    if depth == 0:
                        break
                else:
                    i += 1
            out.append(("comment", sql[pos:i]))
            pos = i
            continue
        if kind in ("str", "nstr") and not m.group(0).endswith("'"):
            raise TsqlError(105, 15, 1, "Unclosed quotation mark after the character string '%s'." % m.group(0)[:20])
        out.append((kind, m.group(0)))
        pos = m.end()
    for kind, text in out:
        if kind == "other" and text == "'":
            raise TsqlError(105, 15, 1, "Unclosed quotation mark after the character string ''.")
    return out


STARTERS = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "SET",
            "BEGIN", "COMMIT", "ROLLBACK", "WAITFOR", "PRINT", "USE", "EXEC", "EXECUTE",
            "IF", "TRUNCATE", "DECLARE", "SAVE", "WITH"}


def split_batch(sql):
    """Statement texts of a batch, in order."""
    toks = lex(sql)
    stmts, cur, depth = [], [], 0
    words = []          # upper-case words of the current statement

    def flush():
        text = "".join(t for _, t in cur).strip()
        if text:
            stmts.append(text)
        cur.clear()
        words.clear()

    for kind, text in toks:
        if kind == "other":
            if text == "(":
                depth += 1
            elif text == ")":
                depth = max(0, depth - 1)
            elif text == ";" and depth == 0:
                flush()
                continue
        if kind == "word" and depth == 0:
            up = text.upper()
            if up in STARTERS and words and not _continues(words, up):
                flush()
            words.append(up)
        cur.append((kind, text))
    flush()
    return stmts


def _continues(words, up):
    """Is keyword `up` part of the current statement rather than a new one?"""
    first, prev = words[0], words[-1]
    if prev in ("ON", "FOR", "UNION", "ALL", "EXCEPT", "INTERSECT", "AS", "OF"):
        return True
    if up == "IF" and first in ("DROP", "CREATE", "ALTER"):
        return True      # DROP TABLE IF EXISTS
    if first == "IF":
        # IF <condition> <statement>: the first statement keyword is the body
        return not any(w in STARTERS for w in words[1:])
    if first == "UPDATE" and up == "SET":
        return True
    if first == "INSERT" and up in ("SELECT", "EXEC", "EXECUTE") and "VALUES" not in words:
        return True
    if first == "WITH" and up in ("SELECT", "INSERT", "UPDATE", "DELETE"):
        return True
    if first in ("CREATE", "ALTER") and len(words) > 1 and words[1] in ("VIEW", "PROCEDURE", "PROC", "TRIGGER", "FUNCTION"):
        return True
    if first == "BEGIN" and up in ("TRAN", "TRANSACTION"):
        return True
    if first == "SET" and len(words) <= 2:
        return True      # SET ROWCOUNT / SET TRANSACTION ISOLATION LEVEL ...
    if first == "DELETE" and up == "SELECT":
        return False
    return False


def first_words(stmt, n=3):
    return [t.upper() for k, t in lex(stmt) if k == "word"][:n]


def _sql_string(s):
    return "'" + s.replace("'", "''") + "'"


def translate(stmt, sysvars):
    """T-SQL statement -> SQLite text."""
    out = []
    toks = [t for t in lex(stmt) if t[0] != "comment"]
    top = None
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        up = text.upper()
        if kind == "nstr":
            out.append(text[1:])
        elif kind == "bracket":
            out.append('"' + text[1:-1].replace("]]", "]").replace('"', '""') + '"')
        elif kind == "hex":
            digits = text[2:]
            out.append("X'" + ("0" if len(digits) % 2 else "") + digits + "'")
        elif kind == "sysvar":
            name = up[2:]
            if name not in sysvars:
                raise TsqlError(137, 15, 2, 'Must declare the scalar variable "%s".' % text)
            v = sysvars[name]
            out.append("NULL" if v is None else str(v) if isinstance(v, int) else _sql_string(v))
        elif kind == "word" and text.startswith("#"):
            out.append('"' + text + '"')
        elif kind == "word" and up == "TOP" and top is None:
            j = i + 1
            while j < len(toks) and toks[j][0] == "ws":
                j += 1
            if j < len(toks) and toks[j][1] == "(":
                k = j + 1
                expr = []
                while k < len(toks) and toks[k][1] != ")":
                    expr.append(toks[k][1]); k += 1
                top = "".join(expr); i = k + 1
                continue
            if j < len(toks) and toks[j][0] in ("num", "word"):
                top = toks[j][1]; i = j + 1
                continue
            out.append(text)
        elif kind == "word" and up == "SCOPE_IDENTITY":
            out.append("last_insert_rowid")
        elif kind == "word" and up == "LEN":
            out.append("length")
        elif kind == "word" and up == "DATALENGTH":
            out.append("length")
        elif kind == "word" and up == "ISNULL":
            out.append("ifnull")
        elif kind == "word" and up == "GETDATE":
            out.append("datetime")
            j = i + 1
            if j + 1 < len(toks) and toks[j][1] == "(" and toks[j + 1][1] == ")":
                out.append("('now')"); i = j + 2
                continue
        else:
            out.append(text)
        i += 1
    sql = "".join(out)
    sql = re.sub(r"\bAS\s+(?:VAR)?BINARY\b(?:\s*\(\s*(?:\d+|MAX)\s*\))?", "AS BLOB", sql, flags=re.I)
    sql = re.sub(r"\bAS\s+N?(?:VAR)?CHAR\b(?:\s*\(\s*(?:\d+|MAX)\s*\))?", "AS TEXT", sql, flags=re.I)
    sql = re.sub(r"\bOPTION\s*\([^)]*\)\s*$", "", sql, flags=re.I)
    sql = re.sub(r"\(\s*MAX\s*\)", "", sql, flags=re.I)
    sql = re.sub(r"\b(?:BIG)?INT\s+IDENTITY(?:\s*\(\s*\d+\s*,\s*\d+\s*\))?(?:\s+NOT\s+NULL)?(?:\s+PRIMARY\s+KEY)?",
                 "INTEGER PRIMARY KEY AUTOINCREMENT", sql, flags=re.I)
    sql = re.sub(r'^\s*CREATE\s+TABLE\s+"#', 'CREATE TEMP TABLE "#', sql, flags=re.I)
    if top is not None:
        sql = sql.rstrip().rstrip(";") + " LIMIT " + top
    return sql


def sqlite_error(e, stmt):
    """sqlite3 error -> TsqlError with SQL Server's number/class/state."""
    msg = str(e)
    m = re.search(r'near "(.*?)": syntax error', msg)
    if m:
        return TsqlError(102, 15, 1, "Incorrect syntax near '%s'." % m.group(1))
    if "syntax error" in msg or "incomplete input" in msg or "unrecognized token" in msg:
        last = (stmt.split() or [""])[-1]
        return TsqlError(102, 15, 1, "Incorrect syntax near '%s'." % last)
    m = re.search(r"no such table: (?:\w+\.)?(\S+)", msg)
    if m:
        return TsqlError(208, 16, 1, "Invalid object name '%s'." % m.group(1))
    m = re.search(r"no such column: (\S+)", msg)
    if m:
        return TsqlError(207, 16, 1, "Invalid column name '%s'." % m.group(1).split(".")[-1])
    m = re.search(r"no such function: (\S+)", msg)
    if m:
        return TsqlError(195, 15, 10, "'%s' is not a recognized built-in function name." % m.group(1))
    m = re.search(r"table (\S+) already exists", msg)
    if m:
        return TsqlError(2714, 16, 6, "There is already an object named '%s' in the database." % m.group(1).strip('"'))
    if "UNIQUE constraint failed" in msg:
        return TsqlError(2627, 14, 1, "Violation of PRIMARY KEY constraint. Cannot insert duplicate key (%s)." % msg,
                         batch_abort=False)
    m = re.search(r"NOT NULL constraint failed: (\S+)", msg)
    if m:
        return TsqlError(515, 16, 2, "Cannot insert the value NULL into column '%s'; column does not allow nulls. INSERT fails." % m.group(1),
                         batch_abort=False)
    if "interrupted" in msg:
        return Cancelled()
    return TsqlError(50000, 16, 1, msg)


def _replicate(value, count):
    if value is None or count is None:
        return None
    if count * len(value) > 64 * 1024 * 1024:
        raise ValueError("REPLICATE result too large")
    return value * int(count)


class Cancelled(Exception):
    """Attention arrived: stop, the session acknowledges it."""


_IDENT = re.compile(r"^[A-Za-z_#@][\w@#$]*$")
_DELAY = re.compile(r"^WAITFOR\s+DELAY\s+N?'(\d+):(\d+):(\d+(?:\.\d+)?)'\s*$", re.I)
_OBJECT_ID = re.compile(r"^IF\s+OBJECT_ID\s*\(\s*N?'([^']+)'(?:\s*,\s*N?'\w+')?\s*\)\s+IS\s+(NOT\s+)?NULL\s+(.*)$", re.I | re.S)
_TRANCOUNT = re.compile(r"^IF\s+@@TRANCOUNT\s*(>|>=|=|<>|!=)\s*(\d+)\s+(.*)$", re.I | re.S)

CURCMD = {"SELECT": 0xC1, "INSERT": 0xC3, "DELETE": 0xC4, "UPDATE": 0xC5, "CREATE": 0xC6,
          "DROP": 0xC7, "WAITFOR": 0xBD, "SET": 0xB9, "BEGIN": 0xD4, "COMMIT": 0xD5, "ROLLBACK": 0xD5}
WRITE_VERBS = {"INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE"}


class Engine:
    """One session's statement executor on the backend's SQLite file.

    execute() yields events:
      ("rows", names, rows)           a result set
      ("count", n, curcmd)            rows affected (DONE with COUNT)
      ("done", curcmd)                statement without a row count
      ("info", text)                  PRINT / informational message
      ("tran", "begin"|"commit"|"rollback")
      ("database", name)              USE
    and raises TsqlError / Cancelled."""

    def __init__(self, db_path, spid, cancel_event, procedures):
        self.db = sqlite3.connect(db_path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.create_function("REPLICATE", 2, _replicate, deterministic=True)
        self.spid = spid
        self.cancel = cancel_event
        self.trancount = 0
        self.implicit = False
        self.rowcount = 0
        self.database = "master"
        self.procedures = procedures

    def close(self):
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    def sysvars(self):
        return {"VERSION": VERSION_TEXT, "SPID": self.spid, "TRANCOUNT": self.trancount,
                "ROWCOUNT": self.rowcount, "IDENTITY": None, "SERVERNAME": "SBTDSTEST",
                "SERVICENAME": "MSSQLSERVER", "MAX_PRECISION": 38, "LANGUAGE": "us_english",
                "ERROR": 0, "OPTIONS": 5432, "DATEFIRST": 7, "TEXTSIZE": 2147483647,
                "LOCK_TIMEOUT": -1, "MICROSOFTVERSION": 0x10000000 | 1000, "FETCH_STATUS": 0,
                "NESTLEVEL": 0, "DBTS": None, "LANGID": 0, "PROCID": 0}

    def check_batch(self, stmts, params=None):
        """SQL Server compiles a whole batch first: a syntax error anywhere
        means nothing runs. EXPLAIN each SQLite-bound statement for that."""
        for s in stmts:
            words = first_words(s, 1)
            if not words or words[0] not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
                continue
            try:
                sql = translate(s, self.sysvars())
                self.db.execute("EXPLAIN " + sql, params or {})
            except sqlite3.Error as e:
                err = sqlite_error(e, s)
                if isinstance(err, TsqlError) and err.number in (102, 105):
                    raise err
            except TsqlError as e:
                if e.number in (102, 105):
                    raise

    def _begin(self):
        if self.trancount == 0:
            self.db.execute("BEGIN")
        self.trancount += 1
        return ("tran", "begin") if self.trancount == 1 else None

    def begin(self):
        return self._begin()

    def commit(self):
        if self.trancount == 0:
            raise TsqlError(3902, 16, 1, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
        self.trancount -= 1
        if self.trancount == 0:
            self.db.execute("COMMIT")
            return ("tran", "commit")
        return None

    def rollback(self):
        if self.trancount == 0:
            raise TsqlError(3903, 16, 1, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
        self.trancount = 0
        self.db.execute("ROLLBACK")
        return ("tran", "rollback")

    def execute(self, stmt, params=None):
        if self.cancel.is_set():
            raise Cancelled()
        words = first_words(stmt, 3)
        if not words:
            return
        verb = words[0]
        if verb == "SET":
            if len(words) >= 2 and words[1] == "IMPLICIT_TRANSACTIONS":
                self.implicit = bool(re.search(r"\bON\s*$", stmt, re.I))
            yield ("done", CURCMD["SET"])
            return
        if verb == "BEGIN" and len(words) > 1 and words[1] in ("TRAN", "TRANSACTION", "DISTRIBUTED"):
            ev = self._begin()
            if ev:
                yield ev
            yield ("done", CURCMD["BEGIN"])
            return
        if verb == "COMMIT":
            ev = self.commit()
            if ev:
                yield ev
            yield ("done", CURCMD["COMMIT"])
            return
        if verb == "ROLLBACK":
            yield self.rollback()
            yield ("done", CURCMD["ROLLBACK"])
            return
        if verb == "SAVE":
            yield ("done", 0)
            return
        if verb == "IF":
            m = _TRANCOUNT.match(stmt.strip())
            if m:
                op, n, body = m.group(1), int(m.group(2)), m.group(3)
                ok = {">": self.trancount > n, ">=": self.trancount >= n, "=": self.trancount == n,
                      "<>": self.trancount != n, "!=": self.trancount != n}[op]
                if ok:
                    yield from self.execute(body, params)
                else:
                    yield ("done", 0)
                return
            m = _OBJECT_ID.match(stmt.strip())
            if m:
                name = m.group(1).strip("[]").split(".")[-1].strip("[]")
                row = self.db.execute("SELECT 1 FROM sqlite_master WHERE name=? UNION ALL "
                                      "SELECT 1 FROM sqlite_temp_master WHERE name=?", (name, name)).fetchone()
                exists = row is not None
                if exists == bool(m.group(2)):
                    yield from self.execute(m.group(3), params)
                else:
                    yield ("done", 0)
                return
            raise TsqlError(50000, 16, 1, "test backend: unsupported IF statement")
        if verb == "WAITFOR":
            m = _DELAY.match(stmt.strip())
            if not m:
                raise TsqlError(102, 15, 1, "Incorrect syntax near 'WAITFOR'.")
            seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
            if self.cancel.wait(seconds):
                raise Cancelled()
            yield ("done", CURCMD["WAITFOR"])
            return
        if verb == "PRINT":
            expr = stmt.strip()[5:].strip()
            rows = self._run("SELECT " + translate(expr, self.sysvars()), params)[1]
            yield ("info", "" if not rows or rows[0][0] is None else str(rows[0][0]))
            yield ("done", 0)
            return
        if verb == "USE":
            name = stmt.strip()[3:].strip().strip(";").strip("[]")
            self.database = name
            yield ("database", name)
            yield ("done", 0)
            return
        if verb in ("EXEC", "EXECUTE"):
            m = re.match(r"^\s*EXEC(?:UTE)?\s+(?:@\w+\s*=\s*)?([\w.\[\]#]+)\s*(.*)$", stmt, re.I | re.S)
            if not m:
                raise TsqlError(102, 15, 1, "Incorrect syntax near 'EXEC'.")
            name = m.group(1).strip("[]").split(".")[-1].lower()
            args = []
            if m.group(2).strip():
                names, rows = self._run("SELECT " + translate(m.group(2), self.sysvars()), params)
                args = [("", v, False) for v in rows[0]]
            yield from self.call_procedure(name, args)
            return
        if verb == "DECLARE":
            yield ("done", 0)
            return
        if verb == "TRUNCATE":
            stmt = re.sub(r"^\s*TRUNCATE\s+TABLE", "DELETE FROM", stmt, flags=re.I)
        if verb not in ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE", "WITH"):
            raise TsqlError(102, 15, 1, "Incorrect syntax near '%s'." % stmt.split()[0])
        if self.implicit and self.trancount == 0 and (verb in WRITE_VERBS or "FROM" in first_words(stmt, 50)):
            ev = self._begin()
            if ev:
                yield ev
        sql = translate(stmt, self.sysvars())
        names, rows, count = self._run(sql, params, want_count=True)
        if names is not None:
            self.rowcount = len(rows)
            yield ("rows", names, rows)
            yield ("count", len(rows), CURCMD["SELECT"])
        else:
            self.rowcount = count
            if verb in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                yield ("count", max(count, 0), CURCMD.get(verb, 0))
            else:
                yield ("done", CURCMD.get(verb, 0))

    def _run(self, sql, params, want_count=False):
        try:
            cur = self.db.execute(sql, params or {})
            if cur.description is None:
                out = (None, None, cur.rowcount)
            else:
                names = [d[0] if _IDENT.match(d[0] or "") else "" for d in cur.description]
                rows = cur.fetchall()
                out = (names, rows, len(rows))
        except sqlite3.Error as e:
            raise sqlite_error(e, sql)
        except (OverflowError, ValueError) as e:
            raise TsqlError(50000, 16, 1, "test backend: %s" % e)
        return out if want_count else out[:2]

    def call_procedure(self, name, args):
        """A plain named procedure: args [(name, value, is_output)].
        Yields the execute() events plus ("retval", index, name, value)
        for output parameters and ("status", n)."""
        proc = self.procedures.get(name.lower())
        if proc is None:
            raise TsqlError(2812, 16, 62, "Could not find stored procedure '%s'." % name)
        yield from proc(self, args)


# -- built-in test procedures --------------------------------------------------

def _sb_echo(engine, args):
    """One row whose columns are the arguments."""
    names = [(n or "p%d" % i).lstrip("@") for i, (n, _v, _o) in enumerate(args)]
    yield ("rows", names, [tuple(v for _n, v, _o in args)])
    yield ("count", 1, CURCMD["SELECT"])
    yield ("status", 0)


def _sb_add(engine, args):
    """@a + @b into the output parameter @sum; returns status 7."""
    a = args[0][1] if len(args) > 0 else 0
    b = args[1][1] if len(args) > 1 else 0
    total = (a or 0) + (b or 0)
    for i, (n, _v, out) in enumerate(args):
        if out:
            yield ("retval", i, n, total)
    yield ("status", 7)


def _sb_rows(engine, args):
    """@n rows of (n INT, s NVARCHAR)."""
    n = int(args[0][1]) if args else 0
    yield ("rows", ["n", "s"], [(i, "row %d" % i) for i in range(n)])
    yield ("count", n, CURCMD["SELECT"])
    yield ("status", 0)


def _sp_server_info(engine, args):
    yield ("rows", ["attribute_id", "attribute_name", "attribute_value"],
           [(1, "DBMS_NAME", "Microsoft SQL Server"), (2, "DBMS_VER", "Microsoft SQL Server 2022 - 16.0.1000")])
    yield ("count", 2, CURCMD["SELECT"])
    yield ("status", 0)


PROCEDURES = {"sb_echo": _sb_echo, "sb_add": _sb_add, "sb_rows": _sb_rows,
              "sp_server_info": _sp_server_info}
