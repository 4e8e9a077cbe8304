"""Oracle Net (TNS/TTC) TEST BACKEND standing in for an Oracle server.

This is not Oracle and not a product component: no Oracle server can be
installed on the test machines, so the integration tests run the real thin
clients (python-oracledb, node-oracledb) against this small server, which
speaks enough of the listener and TTC protocols for them, executes on
SQLite, and keeps its own ground-truth log.  See README.md.

Run: /usr/bin/python3 -m tests.tns_backend CONFIG.json
"""
