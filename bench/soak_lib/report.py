#!/usr/bin/env python3
"""bench/soak_lib/report.py - the table of samples and the verdict of a
bench/soak run, from its run directory (standard library only). Exit status
0 on PASS, 1 on FAIL.

Judged (after the warm-up, i.e. on the samples of phase "load"):
  RSS growth    median of the last 3 load samples minus the median of the
                first 3: at most --rss-limit-kb (5 MB)
  fds flat      the same difference for the open files (all tables): at most
                max(32, 5% of the first median); and at rest after the load
                at most 16 per worker + 16 above the figure at rest before
                it (each worker keeps up to 16 idle upstream connections)
  CLOSE_WAIT    none left, on either side, once at rest after the load
  usage rows    every chat request of the access log has its ai_usage row
                (matched by request id), and none has two
  llmux         exited 0 on SIGTERM (drained and flushed)
"""
import argparse
import collections
import json
import os
import platform
import statistics
import sys
import time

CHAT_PATHS = {"/v1/chat/completions", "/api/v1/ai/chat"}


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def mb(kb):
    return "-" if kb is None else f"{kb / 1024:.1f}"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--interval", type=float, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--load", type=int, required=True)
    p.add_argument("--rows-live", default="?")
    p.add_argument("--llmux-exit", default="?")
    p.add_argument("--git", default="?")
    p.add_argument("--streams", default="?")
    p.add_argument("--command", default="bench/soak")
    p.add_argument("--rss-limit-kb", type=int, default=5 * 1024)
    a = p.parse_args()
    run = a.run

    samples = []
    with open(os.path.join(run, "samples.jsonl")) as f:
        for line in f:
            if line.strip():
                samples.append(json.loads(line))
    before = load_json(os.path.join(run, "idle_before.json"), {})
    after = load_json(os.path.join(run, "idle_after.json"), {})

    out = []
    say = out.append
    load1 = os.getloadavg()
    say(f"bench/soak: llmux {a.git}, {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}, load average {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at the end")
    say(f"command: {a.command}  ({a.load // 60} min of load, {a.warmup} s warm-up, "
        f"{a.streams} streams + faults, a sample every {a.interval:g} s)")
    say("")
    hdr = (f"{'t(s)':>6} {'phase':<6} {'pg':<4} {'RSS MB':>7} {'fds':>5} {'tables':<14} "
           f"{'cw cli':>6} {'cw up':>5} {'conns':>5} {'streams':>7} {'active':>6} {'pauses':>6} "
           f"{'mock':>5}")
    say(hdr)
    say("-" * len(hdr))
    rows = [before] + samples + [after]
    for s in rows:
        if not s:
            continue
        t = "-" if s.get("phase") == "before" else f"{s.get('t', 0):.0f}"
        tables = "+".join(str(n) for n in s.get("tables", []))
        say(f"{t:>6} {s.get('phase', ''):<6} {s.get('pg', ''):<4} {mb(s.get('rss_kb')):>7} "
            f"{s.get('fds', '-'):>5} {tables:<14} {str(s.get('cw_client', '-')):>6} "
            f"{str(s.get('cw_upstream', '-')):>5} {str(s.get('conns', '-')):>5} "
            f"{str(s.get('streams', '-')):>7} {str(s.get('active', '-')):>6} "
            f"{str(s.get('pauses', '-')):>6} {str(s.get('mock_in_flight', '-')):>5}")
    say("(mock: the mock's requests in flight; pauses: upstream transfers paused for a slow "
        "client so far; tables: open files per open-file table, the main thread's first)")
    say("")

    fails = []
    load = [s for s in samples if s.get("phase") == "load"]
    say("summary")
    if len(load) < 6:
        fails.append(f"too few samples after the warm-up ({len(load)}; need 6)")
        say(f"  too few samples after the warm-up: {len(load)}")
    else:
        r0 = med([s["rss_kb"] for s in load[:3]])
        r1 = med([s["rss_kb"] for s in load[-3:]])
        rmax = max(s["rss_kb"] for s in load)
        growth = r1 - r0
        ok = growth <= a.rss_limit_kb
        say(f"  RSS: at rest before {mb(before.get('rss_kb'))} MB; after the warm-up {mb(r0)} MB, "
            f"end of the load {mb(r1)} MB (medians of 3 samples): growth {growth / 1024:+.1f} MB "
            f"(limit {a.rss_limit_kb / 1024:.0f} MB) {'PASS' if ok else 'FAIL'}; "
            f"max {mb(rmax)} MB; at rest after {mb(after.get('rss_kb'))} MB")
        if not ok:
            fails.append(f"RSS grew {growth / 1024:.1f} MB after the warm-up")

        f0 = med([s["fds"] for s in load[:3]])
        f1 = med([s["fds"] for s in load[-3:]])
        fmin = min(s["fds"] for s in load)
        fmax = max(s["fds"] for s in load)
        tol = max(32, int(0.05 * f0))
        workers = max(len(before.get("tables", [])) - 1, 1)
        slack = 16 * workers + 16
        ok_trend = abs(f1 - f0) <= tol
        fb, fa = before.get("fds"), after.get("fds")
        ok_rest = fb is not None and fa is not None and fa <= fb + slack
        say(f"  open files: after the warm-up {fmin}..{fmax}; first {f0:.0f}, last {f1:.0f} "
            f"(medians of 3): {f1 - f0:+.0f} (limit ±{tol}) {'PASS' if ok_trend else 'FAIL'}; "
            f"at rest before {fb}, after {fa} (limit +{slack}: 16 idle upstream connections "
            f"per worker) {'PASS' if ok_rest else 'FAIL'}")
        if not ok_trend:
            fails.append(f"open files not flat after the warm-up ({f0:.0f} -> {f1:.0f})")
        if not ok_rest:
            fails.append(f"open files at rest {fb} before the load, {fa} after")

    cwc = [s.get("cw_client") or 0 for s in samples]
    cwu = [s.get("cw_upstream") or 0 for s in samples]
    cw_left = (after.get("cw_client") or 0) + (after.get("cw_upstream") or 0)
    say(f"  CLOSE_WAIT: max {max(cwc, default=0)} on the client side, {max(cwu, default=0)} "
        f"on the upstream side during the run; at rest after: {after.get('cw_client')} + "
        f"{after.get('cw_upstream')} {'PASS' if cw_left == 0 else 'FAIL'}")
    if cw_left:
        fails.append(f"{cw_left} sockets left in CLOSE_WAIT at rest")

    # every chat request in the access log, and the usage rows by request id
    reqs = {}
    statuses = collections.Counter()
    with open(os.path.join(run, "llmux.log"), errors="replace") as f:
        for line in f:
            if '"msg":"access"' not in line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("path") in CHAT_PATHS:
                reqs[e["request_id"]] = e.get("status")
                statuses[e.get("status")] += 1
    ids = collections.Counter()
    with open(os.path.join(run, "usage_ids.txt")) as f:
        for line in f:
            line = line.strip()
            if line:
                ids[line] += 1
    missing = [r for r in reqs if r not in ids]
    dups = sum(1 for _, n in ids.items() if n > 1)
    extra = sum(1 for r in ids if r not in reqs)
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda x: str(x[0])))
    ok = not missing and not dups and reqs
    say(f"  requests {len(reqs)}, usage rows {sum(ids.values())}, missing {len(missing)}"
        f" (rows before the stop: {a.rows_live}; rows without an access-log line: {extra}; "
        f"request ids with two rows or more: {dups}) {'PASS' if ok else 'FAIL'}")
    say(f"    chat requests by status: {by_status}")
    if missing:
        miss_st = collections.Counter(reqs[r] for r in missing)
        say(f"    missing rows by status: {dict(miss_st)}; first ids: {missing[:5]}")
        fails.append(f"{len(missing)} usage rows missing")
    if dups:
        fails.append(f"{dups} requests with more than one usage row")
    if not reqs:
        fails.append("no chat request in the access log")
    rc = str(a.llmux_exit)
    say(f"  llmux exit on SIGTERM: {rc} {'PASS' if rc == '0' else 'FAIL'}")
    if rc != "0":
        fails.append(f"llmux exit {rc}")

    say("")
    say("drivers")
    sent_total = 0
    for name, what in (("bench_main", "streams, 20 chunks 50 ms apart, text checked"),
                       ("bench_drop", "upstream drops the connection mid-stream"),
                       ("bench_429", "upstream 429"), ("bench_5xx", "upstream 503 (stream)"),
                       ("bench_err", "upstream error event mid-stream")):
        j = load_json(os.path.join(run, name + ".json"))
        if not j:
            say(f"  {name}: no result")
            continue
        r = j.get("requests", {})
        fid = j.get("fidelity", {})
        codes = j.get("errors", {}).get("status", {})
        sent_total += r.get("sent", 0)
        say(f"  {name:<11} {what}: sent {r.get('sent')}, ok {r.get('ok')}, errors "
            f"{r.get('errors')}, unfinished {r.get('unfinished')}"
            + (f", fidelity {fid.get('ok')}/{fid.get('checked')}" if fid.get("text_checked") else "")
            + (f", statuses {codes}" if codes else ""))
    cl = load_json(os.path.join(run, "clients.json"), {})
    for kind in ("slow", "stalled", "abort", "early"):
        c = cl.get(kind, {})
        sent_total += c.get("sent", 0)
        say(f"  {kind:<11} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    say(f"  requests sent by the drivers: {sent_total} (the access log has {len(reqs)}; a "
        f"difference is requests still being written when a driver stopped)")
    ms = load_json(os.path.join(run, "mock_stats.json"), {})
    if ms:
        say(f"  mock: requests {ms.get('requests_total')}, streams started "
            f"{ms.get('streams_started')}, faults {ms.get('faults')} (mid-stream "
            f"{ms.get('streams_faulted')}), clients gone {ms.get('client_gone')}, in flight "
            f"at the end {ms.get('in_flight')}")
    try:
        with open(os.path.join(run, "pg_restarts.log")) as f:
            for line in f:
                say("  postgres: " + line.strip())
    except OSError:
        say("  postgres: no restart")

    say("")
    if fails:
        say("soak: FAIL: " + "; ".join(fails))
    else:
        say("soak: PASS")
    print("\n".join(out))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
