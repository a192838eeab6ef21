#!/usr/bin/env python3
"""bench/soak_lib/sample.py - samples llmux every --interval seconds and
writes one JSON line per sample (standard library only).

  rss_kb         VmRSS of the process (/proc/PID/status)
  fds            open files over every open-file table of the process: the
                 main thread's (shared by the registry thread) and each
                 worker's own (workers unshare CLONE_FILES, so their sockets
                 are only under /proc/PID/task/TID/fd). Threads are grouped
                 by table with kcmp(KCMP_FILES); tables lists each one's count
  cw_client      sockets in CLOSE_WAIT on llmux's port (a client left and
                 llmux has not closed its side)
  cw_upstream    llmux's sockets to the mock in CLOSE_WAIT (the upstream
                 closed and llmux has not)
  conns, active, streams, requests, pauses   /metrics: connections open,
                 requests in progress, client streams in progress, requests
                 so far, upstream transfers paused for a slow client so far
                 (each summed over workers)
  mock_in_flight the mock's open delayed/streaming requests
  phase          the content of --phase-file (bench/soak writes warmup,
                 load, idle) and pg "down" while --pg-down-file exists

--once prints one sample and exits.
"""
import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine)
KCMP_FILES = 2
_libc = ctypes.CDLL(None, use_errno=True)


def same_table(a, b):
    if SYS_KCMP is None:
        return None
    r = _libc.syscall(SYS_KCMP, a, b, KCMP_FILES, 0, 0)
    return None if r < 0 else r == 0


def fd_tables(pid):
    """[(tid, count)] one entry per distinct open-file table."""
    tables = []  # (representative tid, count, listing)
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []
    for tid in tids:
        try:
            fds = os.listdir(f"/proc/{pid}/task/{tid}/fd")
        except OSError:
            continue
        dup = False
        for rep, _, listing in tables:
            s = same_table(rep, tid)
            if s is None:  # no kcmp: the same listing is taken as the same table
                s = sorted(fds) == listing
            if s:
                dup = True
                break
        if not dup:
            tables.append((tid, len(fds), sorted(fds)))
    return [(t, n) for t, n, _ in tables]


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def close_wait(lx_port, mock_port):
    try:
        out = subprocess.run(["ss", "-Htan", "state", "close-wait"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    client = upstream = 0
    for line in out.splitlines():
        cols = line.split()
        if len(cols) < 4:
            continue
        local, peer = cols[-2], cols[-1]
        if local.endswith(f":{lx_port}"):
            client += 1
        elif peer.endswith(f":{mock_port}"):
            upstream += 1
    return client, upstream


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.read().decode()
    except Exception:
        return None


def metrics(lx_port):
    text = get(f"http://127.0.0.1:{lx_port}/metrics")
    if text is None:
        return {}
    sums = {}
    for name, key in (("llmux_connections_open", "conns"), ("llmux_http_requests_active", "active"),
                      ("llmux_streams_active", "streams"), ("llmux_http_requests_total", "requests"),
                      ("llmux_upstream_pauses_total", "pauses")):
        vals = re.findall(rf"^{name}\{{[^}}]*\}} (\d+)$", text, re.M)
        sums[key] = sum(int(v) for v in vals) if vals else None
    return sums


def mock_in_flight(mock_port):
    text = get(f"http://127.0.0.1:{mock_port}/_mock/stats")
    try:
        return json.loads(text)["in_flight"]
    except Exception:
        return None


def sample(a, t0):
    tables = fd_tables(a.pid)
    cw_c, cw_u = close_wait(a.lx_port, a.mock_port)
    s = {"t": round(time.monotonic() - t0, 1), "rss_kb": rss_kb(a.pid),
         "fds": sum(n for _, n in tables), "tables": [n for _, n in tables],
         "cw_client": cw_c, "cw_upstream": cw_u}
    s.update(metrics(a.lx_port))
    s["mock_in_flight"] = mock_in_flight(a.mock_port)
    try:
        with open(a.phase_file) as f:
            s["phase"] = f.read().strip()
    except (OSError, TypeError):
        s["phase"] = ""
    s["pg"] = "down" if a.pg_down_file and os.path.exists(a.pg_down_file) else "up"
    return s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--lx-port", type=int, required=True)
    p.add_argument("--mock-port", type=int, required=True)
    p.add_argument("--interval", type=float, default=5)
    p.add_argument("--phase-file")
    p.add_argument("--pg-down-file")
    p.add_argument("--t0", type=float, help="time.monotonic() of the run's start (default: now)")
    p.add_argument("--once", action="store_true")
    a = p.parse_args()
    t0 = a.t0 if a.t0 is not None else time.monotonic()
    if a.once:
        print(json.dumps(sample(a, t0)))
        return
    nxt = time.monotonic()
    while os.path.exists(f"/proc/{a.pid}"):
        print(json.dumps(sample(a, t0)), flush=True)
        nxt += a.interval
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)


if __name__ == "__main__":
    sys.exit(main())
