#!/usr/bin/env python3
"""Bad-login flood for the bench's "flood" phase (and by hand):

    login_flood.py HOST PORT RATE SECONDS [--procs N]

Opens RATE connections a second in total for SECONDS and on each runs a
PostgreSQL SCRAM login as an unknown user with a made-up proof (a complete
failed login: startup, SASLInitialResponse, SASLResponse), then closes.
Prints "attempts=N completed=N refused=N" at the end.
"""
import argparse
import base64
import multiprocessing
import os
import socket
import struct
import time


def recv_msg(s):
    hdr = b""
    while len(hdr) < 5:
        c = s.recv(5 - len(hdr))
        if not c:
            raise EOFError
        hdr += c
    n = struct.unpack("!I", hdr[1:5])[0] - 4
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            raise EOFError
        body += c
    return hdr[:1], body


def one_login(host, port, i):
    s = socket.create_connection((host, port), timeout=5)
    try:
        user = f"flood{i % 1000}".encode()
        body = b"user\0" + user + b"\0database\0appdb\0\0"
        s.sendall(struct.pack("!II", 8 + len(body), 196608) + body)
        t, b = recv_msg(s)
        if t != b"R":
            return False
        nonce = base64.b64encode(os.urandom(18)).decode()
        first = f"n,,n=,r={nonce}".encode()
        p = b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first
        s.sendall(b"p" + struct.pack("!I", 4 + len(p)) + p)
        t, b = recv_msg(s)
        attrs = dict(kv.split("=", 1) for kv in b[4:].decode().split(","))
        proof = base64.b64encode(os.urandom(32)).decode()
        final = f"c=biws,r={attrs['r']},p={proof}".encode()
        s.sendall(b"p" + struct.pack("!I", 4 + len(final)) + final)
        t, b = recv_msg(s)  # ErrorResponse
        return t == b"E"
    finally:
        s.close()


def worker(host, port, rate, seconds, wid, q):
    attempts = done = refused = 0
    t0 = time.monotonic()
    i = wid * 100000
    while time.monotonic() - t0 < seconds:
        due = t0 + attempts / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        attempts += 1
        i += 1
        try:
            if one_login(host, port, i):
                done += 1
            else:
                refused += 1
        except (OSError, EOFError, ValueError):
            refused += 1
    q.put((attempts, done, refused))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("rate", type=float)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--procs", type=int, default=2)
    a = ap.parse_args()
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(a.host, a.port, a.rate / a.procs,
                                                        a.seconds, w, q))
          for w in range(a.procs)]
    for p in ps:
        p.start()
    tot = [0, 0, 0]
    for _ in ps:
        r = q.get()
        tot = [x + y for x, y in zip(tot, r)]
    for p in ps:
        p.join()
    print(f"attempts={tot[0]} completed={tot[1]} refused={tot[2]}")


if __name__ == "__main__":
    main()
