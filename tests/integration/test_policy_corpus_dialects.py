"""The T-SQL and Oracle policy corpus (tests/integration/corpus/tsql_*.sql,
oracle_*.sql; format in corpus_helpers.py). No SQL Server or Oracle server
runs here, so the cases are checked offline with `sqlbastionctl policy test
--dialect tsql|oracle` and etc/policies/guard.rules: every evasion case is
refused, every benign one allowed. Each case's check field carries its
justification (what the server does with the text, from its documentation)
instead of a damage check."""

import pytest

from bastion import BIN_DIR
from corpus_helpers import Outcome, load, policy_verdicts

MIN = {"tsql": 80, "oracle": 60}


@pytest.mark.parametrize("dialect", ["tsql", "oracle"])
def test_policy_corpus_offline(dialect):
    ev = load(f"{dialect}_evasion.sql")
    bn = load(f"{dialect}_benign.sql")
    for c in ev + bn:
        assert c.kind == "why" and c.arg, f"{c.label}: no justification"
    assert len(ev) + len(bn) >= MIN[dialect], f"only {len(ev) + len(bn)} cases"
    out = Outcome()
    policy_verdicts(BIN_DIR, dialect, ev, out, benign=False)
    policy_verdicts(BIN_DIR, dialect, bn, out, benign=True)
    report = out.report()
    assert not report, f"{len(ev)} evasion / {len(bn)} benign cases\n" + report
