#!/usr/bin/env python3
"""Hostile-client probes, the fake (target/release/redis-harness serve) and a
real redis-server side by side, on loopback:

  (a) KEYS "a*a*...*a*b" (20 "a*") against a key of 40 "a"s: time to reply;
  (b) a pub/sub flood: a subscriber that never reads while a publisher sends
      10 KB messages for a few seconds: server RSS before/after, and whether
      the subscriber was disconnected;
  (c) 10,001 clients: the reply the 10,001st gets.

Every probe is bounded in time and count. Prints a table.

usage: scripts/hostile.py [--fake PATH] [--real PATH] [--flood-seconds S]
Needs the soft descriptor limit raisable to ~10,100 (the script raises it).
"""

import argparse
import os
import resource
import socket
import subprocess
import sys
import time

# How long the glob probe waits for KEYS.
GLOB_TIMEOUT = 10.0

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def call(sock, *args, timeout=30.0):
    """Sends one command and reads whatever reply arrives (first read)."""
    sock.settimeout(timeout)
    sock.sendall(cmd(*args))
    return sock.recv(1 << 20)


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def wait_ready(port, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with connect(port, 1.0) as s:
                if call(s, "PING", timeout=2.0).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def start(kind, path, port):
    if kind == "fake":
        argv = [path, "serve", "--port", str(port)]
    else:
        argv = [path, "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", "/dev/null"]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_ready(port):
        p.kill()
        raise RuntimeError(f"{kind} did not start on port {port}")
    return p


def probe_glob(port):
    """(a): seconds to reply to the pathological KEYS, or a timeout."""
    with connect(port) as s:
        call(s, "SET", "a" * 40, "v")
        pattern = "a*" * 20 + "b"
        t = time.monotonic()
        try:
            reply = call(s, "KEYS", pattern, timeout=GLOB_TIMEOUT)
        except socket.timeout:
            return f"no reply in {GLOB_TIMEOUT:.0f} s"
        dt = time.monotonic() - t
        call(s, "DEL", "a" * 40)
        return f"{dt * 1000:.1f} ms ({reply.strip().decode(errors='replace')[:10]})"


def probe_flood(port, pid, seconds):
    """(b): RSS before/after and whether the never-reading subscriber was dropped."""
    sub = connect(port)
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sub.sendall(cmd("SUBSCRIBE", "flood"))
    time.sleep(0.2)
    before = rss_kb(pid)
    pub = connect(port)
    pub.settimeout(10)
    msg = b"m" * 10 * 1024
    batch = cmd("PUBLISH", "flood", msg) * 32
    end = time.monotonic() + seconds
    sent = 0
    peak = before
    dropped_at = None
    receivers = 1
    while time.monotonic() < end:
        pub.sendall(batch)
        got = b""
        while got.count(b"\r\n") < 32:
            got += pub.recv(1 << 16)
        sent += 32
        receivers = int(got.split(b"\r\n")[-2][1:])
        peak = max(peak, rss_kb(pid))
        if receivers == 0 and dropped_at is None:
            dropped_at = sent
            break
    after = rss_kb(pid)
    # Did the subscriber see EOF? Read what is buffered, bounded.
    sub.settimeout(2.0)
    eof = False
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            d = sub.recv(1 << 20)
            if not d:
                eof = True
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        eof = True
    sub.close()
    pub.close()
    mb = sent * 10 / 1024
    dropped = f"yes, after {dropped_at * 10 / 1024:.0f} MB" if dropped_at else "no"
    return f"{before / 1024:.0f} -> {after / 1024:.0f} MB (peak {peak / 1024:.0f})", f"{dropped}, EOF={eof}", f"{mb:.0f} MB"


def probe_clients(port, n=10_000):
    """(c): the reply the (n+1)th client gets."""
    socks = []
    try:
        for _ in range(n):
            socks.append(connect(port))
        # Make sure they are all accepted: one round trip on the last.
        socks[-1].sendall(b"PING\r\n")
        socks[-1].settimeout(30)
        socks[-1].recv(64)
        extra = connect(port)
        extra.settimeout(10)
        try:
            extra.sendall(b"PING\r\n")
            reply = extra.recv(200)
        except socket.timeout:
            reply = b"(no reply in 10 s)"
        except ConnectionResetError:
            reply = b"(reset)"
        extra.close()
        return reply.decode(errors="replace").strip() or "(EOF, no reply)"
    except OSError as e:
        return f"client {len(socks) + 1}: {e}"
    finally:
        for s in socks:
            s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fake", default=os.path.join(ROOT, "target/release/redis-harness"))
    ap.add_argument("--real", default="redis-server")
    ap.add_argument("--flood-seconds", type=float, default=3.0)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 10_200
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        except (ValueError, OSError) as e:
            print(f"cannot raise the descriptor limit to {want}: {e}", file=sys.stderr)
    rows = []
    for kind, path in (("fake", args.fake), ("redis-server", args.real)):
        # A fresh server per probe: a KEYS still running (the fake runs one
        # command at a time under its lock) must not hold up the next probe.
        # The servers inherit the raised descriptor limit.
        def fresh(probe):
            port = free_port()
            p = start("fake" if kind == "fake" else "real", path, port)
            try:
                return probe(port, p.pid)
            finally:
                p.kill()
                p.wait()

        glob = fresh(lambda port, pid: probe_glob(port))
        rss, dropped, published = fresh(lambda port, pid: probe_flood(port, pid, args.flood_seconds))
        clients = fresh(lambda port, pid: probe_clients(port))
        rows.append((kind, glob, rss, dropped, published, clients))
    head = ("server", "(a) KEYS a*..a*b", "(b) RSS before -> after", "(b) subscriber dropped",
            "(b) published", "(c) 10,001st client")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(fmt.format(*r))


if __name__ == "__main__":
    main()
