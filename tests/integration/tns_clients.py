"""Drives node-oracledb (Thin mode, pure JavaScript) for the Oracle tests.

run_node(node_dir, connect_string, user, password, steps) runs one
connection through a list of steps and returns what the client saw:

    {"connect": "ok"} or {"connect": {"errorNum": ..., "message": ...}},
    "results": [one entry per step: {"rows": [...]} / {"rowsAffected": n} /
                {"error": {"errorNum": n, "code": "ORA-...", "message": ...}}]}

A step is {"op": "execute", "sql": ..., "binds": [...] or {...}},
{"op": "executeMany", "sql": ..., "binds": [[...], ...]}, {"op": "commit"},
{"op": "rollback"}, {"op": "ping"} or {"op": "executeWithBreak", "sql": ...,
"afterMs": 500} (conn.breakExecution() while the call runs); a failing step does not stop the run,
so a test can check the session goes on after an error.  The password goes
through the environment, never argv.  node_dir comes from conftest's
_npm_package_dir(..., "oracledb", "6").
"""

import json
import os
import subprocess

NODE_SCRIPT = r"""
const oracledb = require('oracledb');
function err(e) {
  return { errorNum: e.errorNum, code: e.code, message: String(e.message) };
}
(async () => {
  const plan = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const out = { results: [] };
  let conn;
  try {
    conn = await oracledb.getConnection({
      user: plan.user, password: process.env.SB_ORA_PASSWORD,
      connectString: plan.connectString,
    });
    out.connect = 'ok';
  } catch (e) {
    out.connect = err(e);
    console.log(JSON.stringify(out));
    return;
  }
  for (const s of plan.steps) {
    try {
      if (s.op === 'execute') {
        const r = await conn.execute(s.sql, s.binds || [], s.options || {});
        out.results.push(r.rows !== undefined ? { rows: r.rows } : { rowsAffected: r.rowsAffected });
      } else if (s.op === 'executeMany') {
        const r = await conn.executeMany(s.sql, s.binds, s.options || {});
        out.results.push({ rowsAffected: r.rowsAffected });
      } else if (s.op === 'commit') {
        await conn.commit(); out.results.push({ ok: true });
      } else if (s.op === 'rollback') {
        await conn.rollback(); out.results.push({ ok: true });
      } else if (s.op === 'executeWithBreak') {
        const t0 = Date.now();
        const p = conn.execute(s.sql, s.binds || []);
        await new Promise((res) => setTimeout(res, s.afterMs || 500));
        await conn.breakExecution();
        try {
          const r = await p;
          out.results.push({ rows: r.rows, ms: Date.now() - t0 });
        } catch (e) {
          out.results.push({ error: err(e), ms: Date.now() - t0 });
        }
      } else if (s.op === 'ping') {
        await conn.ping(); out.results.push({ ok: true });
      } else {
        out.results.push({ error: { message: 'unknown op ' + s.op } });
      }
    } catch (e) {
      out.results.push({ error: err(e) });
    }
  }
  try { await conn.close(); out.closed = true; } catch (e) { out.closed = err(e); }
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e) })); process.exit(1); });
"""


def run_node(node_dir, connect_string, user, password, steps, timeout=120):
    script = node_dir / "tns_run.js"
    if not script.exists():
        script.write_text(NODE_SCRIPT)
    plan = {"user": user, "connectString": connect_string, "steps": steps}
    env = dict(os.environ, SB_ORA_PASSWORD=password)
    r = subprocess.run(["node", str(script)], cwd=node_dir, env=env, input=json.dumps(plan),
                       capture_output=True, text=True, timeout=timeout)
    lines = r.stdout.strip().splitlines()
    assert lines, f"node produced no output (rc={r.returncode}): {r.stderr[-2000:]}"
    out = json.loads(lines[-1])
    assert "fatal" not in out, out["fatal"] + r.stderr[-2000:]
    return out
