#!/usr/bin/env python3
"""bench/compare_lib/report.py - turns the raw runs of bench/compare into the
table (text and markdown), the JSON and the chart data. Standard library only.

    report.py --manifest RUNS.jsonl --out DIR [--meta key=value ...] [--gnuplot TEMPLATE]

RUNS.jsonl has one line per llmux-bench run, written by bench/compare:
  {"scenario", "system", "round", "bench" (llmux-bench --json file),
   "proxy_ticks", "mock_ticks", "pg_ticks" (CPU clock ticks spent during the
   run), "clk_tck", "mock_requests" (requests the mock served during the run),
   "mode" (http or https: the upstream), "hwm_kb" (the proxy's peak RSS in
   the run: VmHWM, reset before it), "tls" (the mock's TLS counters over the
   run: connections accepted, full and resumed handshakes, ALPN, h2 streams),
   "rss" (10k streams: {"max_kb", "before_kb", "after_kb", "after_s"})}
Scenario ids of the HTTPS upstream start with "https_". --meta counts=FILE
names the counted runs (syscalls and connect() per request, perf stat),
profiles=DIR the perf profiles of llmux (*.top.txt).
Writes DIR/latest.json, DIR/latest.md, DIR/table.txt, DIR/lat.dat,
DIR/gap.dat and, with --gnuplot, DIR/latest.png.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

SYSTEMS = [
    ("direct", "direct (mock)"),
    ("nginx", "nginx"),
    ("llmux", "llmux"),
    ("llmux_noal", "llmux, access log off"),
    ("llmux_nousage", "llmux, usage log off"),
    ("peer", "peer (Portkey)"),
]
LABEL = dict(SYSTEMS)

BASE_SCENARIOS = [
    ("ns_c1", "non-stream, concurrency 1", "ns"),
    ("ns_c64", "non-stream, concurrency 64", "ns"),
    ("ns_c256", "non-stream, concurrency 256", "ns"),
    ("s_c64", "stream (20 chunks, 10 ms apart), concurrency 64", "stream"),
    ("s_c1000", "stream (20 chunks, 10 ms apart), concurrency 1,000", "stream"),
    ("s_c10k", "10,000 concurrent slow streams", "10k"),
]
MODES = [("http", "", "plain-HTTP upstream"), ("https", "https_", "HTTPS upstream")]
SCENARIOS = [(pre + sid, f"{mtitle}: {title}", kind) for _, pre, mtitle in MODES
             for sid, title, kind in BASE_SCENARIOS]
MODE_OF = {pre + sid: mode for mode, pre, _ in MODES for sid, _, _ in BASE_SCENARIOS}

PCTS = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99_9", "p99.9")]


def load_runs(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            with open(r["bench"]) as bf:
                b = json.load(bf)
            r["b"] = b
            runs.append(r)
    return runs


def metrics(r):
    """The numbers of one run, flat (latencies in microseconds)."""
    b = r["b"]
    req = b["requests"]
    tck = float(r.get("clk_tck") or 100)
    served = r.get("mock_requests") or 0
    m = {
        "rps": b["ok_rps"],
        "sent": req["sent"],
        "completed": req["completed"],
        "ok": req["ok"],
        "errors": req["errors"],
        "unfinished": req["unfinished"],
        "duration_s": b["duration_s"],
        "mock_requests": served,
        "proxy_cpu_s": r.get("proxy_ticks", 0) / tck,
        "mock_cpu_s": r.get("mock_ticks", 0) / tck,
        "pg_cpu_s": r.get("pg_ticks", 0) / tck,
    }
    for kind in ("latency_us", "ttfc_us", "gap_us"):
        short = kind.split("_")[0]
        for k in ("p50", "p90", "p99", "p99_9", "max", "mean"):
            m[f"{short}_{k}"] = b[kind][k]
        m[f"{short}_count"] = b[kind]["count"]
    # CPU per request: CPU time over the requests the mock served in the same
    # window (warm-up included on both sides), so the ratio is exact.
    for who in ("proxy", "mock", "pg"):
        m[f"{who}_cpu_us_per_req"] = (m[f"{who}_cpu_s"] * 1e6 / served) if served else None
    fid = b["fidelity"]
    m["fid_checked"] = fid["checked"]
    m["fid_ok"] = fid["ok"]
    m["fid_text_checked"] = fid["text_checked"]
    m["errors_by_kind"] = {k: v for k, v in b["errors"].items()
                           if k != "status" and isinstance(v, int) and v}
    if b["errors"].get("status"):
        m["errors_by_kind"]["status"] = b["errors"]["status"]
    m["chunks_min"] = b["chunks"]["min"]
    m["chunks_max"] = b["chunks"]["max"]
    if r.get("rss"):
        for k, v in r["rss"].items():
            m[f"rss_{k}"] = v
    m["hwm_kb"] = r.get("hwm_kb")
    tls = r.get("tls") or {}
    for k, v in tls.items():
        m[f"tls_{k}" if not k.startswith(("tls_", "alpn_", "h2_")) else k] = v
    # per 1,000 requests the mock served: TLS connections it accepted (the
    # upstream connections a proxy opened) and its handshakes
    for k, name in (("tls_accepted", "conns_per_1k"), ("tls_handshakes_full", "full_per_1k"),
                    ("tls_handshakes_resumed", "resumed_per_1k")):
        m[name] = (tls[k] * 1000.0 / served) if served and k in tls else None
    return m


def median_of(rounds):
    """Median of every numeric metric over the rounds (sums for counters that
    only make sense as totals are not needed: each round is reported too)."""
    out = {}
    for k in rounds[0]:
        vals = [x[k] for x in rounds if isinstance(x.get(k), (int, float)) and not isinstance(x.get(k), bool)]
        if len(vals) == len(rounds):
            out[k] = statistics.median(vals)
        elif k in ("errors_by_kind",):
            agg = {}
            for x in rounds:
                for kk, vv in x[k].items():
                    if isinstance(vv, int):
                        agg[kk] = agg.get(kk, 0) + vv
            out[k] = agg
        else:
            out[k] = rounds[-1].get(k)
    # totals over the rounds for pass/fail on errors and fidelity
    for k in ("errors", "fid_checked", "fid_ok", "completed", "ok", "sent"):
        if k in rounds[0]:
            out[f"total_{k}"] = sum(x[k] for x in rounds)
    out["rounds"] = len(rounds)
    return out


def fmt_us(v, _y=None):
    if v is None:
        return "-"
    v = float(v)
    if abs(v) < 1000:
        return f"{v:.0f}us"
    if abs(v) < 10000:
        return f"{v / 1000:.2f}ms"
    if abs(v) < 1000000:
        return f"{v / 1000:.1f}ms"
    return f"{v / 1e6:.2f}s"


def fmt_rps(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_ratio(v, _y=None):
    return "-" if v is None else f"{v:.2f}x"


def fmt_mb(kb, _y=None):
    return "-" if kb is None else f"{kb / 1024:.1f} MB"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_n(v, _y=None):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"


def load_counts(path):
    """The counted runs: {scenario id: {system: {"syscalls_per_req", "connects_per_1k"}}}."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            c = json.loads(line)
            n = c.get("mock_requests") or 0
            out.setdefault(c["scenario"], {})[c["system"]] = {
                "syscalls_per_req": (c["syscalls"] / n) if n and c.get("syscalls") is not None else None,
                "connects_per_1k": (c["connects"] * 1000.0 / n) if n and c.get("connects") is not None else None,
                "count_requests": n,
                "syscalls_by_call": {k: v / n for k, v in (c.get("by_call") or {}).items()} if n else {},
            }
    return out


def load_profiles(d, top=40):
    """llmux's top symbols per profiled scenario: {scenario id: [lines]}."""
    out = {}
    if not d or not os.path.isdir(d):
        return out
    for name in sorted(os.listdir(d)):
        if name.startswith("perf.") and name.endswith(".llmux.top.txt"):
            sid = name[len("perf."):-len(".llmux.top.txt")]
            with open(os.path.join(d, name)) as f:
                lines = [l.rstrip() for l in f if l.strip() and ("%" in l or l.strip() == "--")]
            out[sid] = lines[:top]
    return out


class Table:
    """One table, rendered as aligned text and as markdown."""

    def __init__(self, head, left=1):
        self.head = head
        self.left = left  # the first `left` columns are text, aligned left
        self.rows = []

    def add(self, *cells):
        self.rows.append([str(c) for c in cells])

    def text(self):
        w = [max(len(r[i]) for r in [self.head] + self.rows) for i in range(len(self.head))]
        out = []
        for j, r in enumerate([self.head] + self.rows):
            cells = [r[i].ljust(w[i]) if i < self.left else r[i].rjust(w[i]) for i in range(len(r))]
            out.append("  ".join(cells).rstrip())
            if j == 0:
                out.append("  ".join("-" * x for x in w))
        return "\n".join(out)

    def md(self):
        out = ["| " + " | ".join(self.head) + " |",
               "|" + "|".join("---" if i < self.left else "---:" for i in range(len(self.head))) + "|"]
        for r in self.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
        return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--gnuplot")
    a = ap.parse_args()
    meta = {}
    for kv in a.meta:
        k, _, v = kv.partition("=")
        meta[k] = v
    runs = load_runs(a.manifest)

    # scenario -> system -> [metrics per round]
    data = {}
    for r in runs:
        data.setdefault(r["scenario"], {}).setdefault(r["system"], []).append(metrics(r))
    med = {s: {y: median_of(v) for y, v in d.items()} for s, d in data.items()}
    # the counted runs (syscalls, connect() per request) join their scenario's medians
    for sid, d in load_counts(meta.get("counts")).items():
        for y, c in d.items():
            if y in med.get(sid, {}):
                med[sid][y].update(c)
    profiles = load_profiles(meta.get("profiles"))
    if meta.get("peer"):
        LABEL["peer"] = "peer: " + meta["peer"]

    blocks_txt, blocks_md = [], []
    derived = {}

    def tls_cells(sid, m):
        if MODE_OF.get(sid) != "https":
            return ["-", "-", "-"]
        return [fmt_n(m.get("conns_per_1k")), fmt_n(m.get("full_per_1k")), fmt_n(m.get("resumed_per_1k"))]

    def get(s, y, k):
        return med.get(s, {}).get(y, {}).get(k)

    for sid, title, kind in SCENARIOS:
        if sid not in med:
            continue
        systems = [y for y, _ in SYSTEMS if y in med[sid]]
        rounds = max(med[sid][y]["rounds"] for y in systems)
        d = {}
        if kind == "ns":
            t = Table(["system", "req/s", "p50", "p90", "p99", "p99.9", "proxy CPU/req",
                       "mock CPU/req", "Postgres CPU/req", "syscalls/req", "connect()/1k",
                       "TLS conns/1k", "full/1k", "resumed/1k", "peak RSS", "errors"])
            for y in systems:
                m = med[sid][y]
                t.add(LABEL[y], fmt_rps(m["rps"]), fmt_us(m["latency_p50"]), fmt_us(m["latency_p90"]),
                      fmt_us(m["latency_p99"]), fmt_us(m["latency_p99_9"]),
                      "-" if y == "direct" else fmt_us(m["proxy_cpu_us_per_req"]),
                      fmt_us(m["mock_cpu_us_per_req"]),
                      fmt_us(m["pg_cpu_us_per_req"]) if y.startswith("llmux") else "-",
                      fmt_n(m.get("syscalls_per_req")), fmt_n(m.get("connects_per_1k")),
                      *tls_cells(sid, m), fmt_mb(m.get("hwm_kb")), m["total_errors"])
            dp50 = get(sid, "direct", "latency_p50")
            for y in systems:
                if y == "direct":
                    continue
                d[y] = {
                    "throughput_vs_direct": ratio(get(sid, y, "rps"), get(sid, "direct", "rps")),
                    "added_p50_us": (get(sid, y, "latency_p50") - dp50) if dp50 is not None else None,
                }
            na = d.get("nginx", {}).get("added_p50_us")
            for y in systems:
                if not y.startswith("llmux"):
                    continue
                d[y]["throughput_vs_nginx"] = ratio(get(sid, y, "rps"), get(sid, "nginx", "rps"))
                d[y]["cpu_vs_nginx"] = ratio(get(sid, y, "proxy_cpu_us_per_req"),
                                             get(sid, "nginx", "proxy_cpu_us_per_req"))
                d[y]["added_p50_vs_nginx"] = (d[y]["added_p50_us"] / na) if na and na > 0 else None
                if "peer" in d:
                    pa = d["peer"]["added_p50_us"]
                    d[y]["throughput_vs_peer"] = ratio(get(sid, y, "rps"), get(sid, "peer", "rps"))
                    d[y]["cpu_vs_peer"] = ratio(get(sid, y, "proxy_cpu_us_per_req"),
                                                get(sid, "peer", "proxy_cpu_us_per_req"))
                    d[y]["added_p50_vs_peer"] = (d[y]["added_p50_us"] / pa) if pa and pa > 0 else None
            lines = []
            for y in systems:
                if y == "direct":
                    continue
                x = d[y]
                s = (f"  {LABEL[y]}: added p50 {fmt_us(x['added_p50_us'])}, "
                     f"throughput {fmt_ratio(x['throughput_vs_direct'])} of direct")
                if y.startswith("llmux"):
                    s += (f"; vs nginx: throughput {fmt_ratio(x['throughput_vs_nginx'])}, "
                          f"added p50 {fmt_ratio(x['added_p50_vs_nginx'])}, "
                          f"CPU/req {fmt_ratio(x['cpu_vs_nginx'])}")
                    if "throughput_vs_peer" in x:
                        s += (f"; vs the peer: throughput {fmt_ratio(x['throughput_vs_peer'])}, "
                              f"added p50 {fmt_ratio(x['added_p50_vs_peer'])}, "
                              f"CPU/req {fmt_ratio(x['cpu_vs_peer'])}")
                lines.append(s)
        elif kind == "stream":
            t = Table(["system", "streams/s", "ttfc p50", "ttfc p99", "gap p50", "gap p99", "gap p99.9",
                       "latency p50", "fidelity", "proxy CPU/stream", "syscalls/stream", "connect()/1k",
                       "TLS conns/1k", "full/1k", "resumed/1k", "peak RSS", "errors"])
            for y in systems:
                m = med[sid][y]
                t.add(LABEL[y], f"{m['rps']:,.1f}", fmt_us(m["ttfc_p50"]), fmt_us(m["ttfc_p99"]),
                      fmt_us(m["gap_p50"]), fmt_us(m["gap_p99"]), fmt_us(m["gap_p99_9"]),
                      fmt_us(m["latency_p50"]), f"{m['total_fid_ok']}/{m['total_fid_checked']}",
                      "-" if y == "direct" else fmt_us(m["proxy_cpu_us_per_req"]),
                      fmt_n(m.get("syscalls_per_req")), fmt_n(m.get("connects_per_1k")),
                      *tls_cells(sid, m), fmt_mb(m.get("hwm_kb")), m["total_errors"])
            lines = []
            for y in systems:
                if y == "direct" or "direct" not in med[sid]:
                    continue
                d[y] = {
                    "added_ttfc_p50_us": get(sid, y, "ttfc_p50") - get(sid, "direct", "ttfc_p50"),
                    "added_gap_p99_us": get(sid, y, "gap_p99") - get(sid, "direct", "gap_p99"),
                    "added_gap_p50_us": get(sid, y, "gap_p50") - get(sid, "direct", "gap_p50"),
                    "throughput_vs_direct": ratio(get(sid, y, "rps"), get(sid, "direct", "rps")),
                }
                lines.append(f"  {LABEL[y]}: added ttfc p50 {fmt_us(d[y]['added_ttfc_p50_us'])}, "
                             f"added gap p50 {fmt_us(d[y]['added_gap_p50_us'])}, "
                             f"added gap p99 {fmt_us(d[y]['added_gap_p99_us'])}")
            for y in systems:
                if not y.startswith("llmux") or y not in d:
                    continue
                for other in ("nginx", "peer"):
                    if other in d:
                        d[y][f"throughput_vs_{other}"] = ratio(get(sid, y, "rps"), get(sid, other, "rps"))
                        d[y][f"cpu_vs_{other}"] = ratio(get(sid, y, "proxy_cpu_us_per_req"),
                                                        get(sid, other, "proxy_cpu_us_per_req"))
                        oa = d[other]["added_ttfc_p50_us"]
                        d[y][f"added_ttfc_vs_{other}"] = (d[y]["added_ttfc_p50_us"] / oa) if oa and oa > 0 else None
        else:  # 10k
            t = Table(["system", "completed", "ok", "fidelity", "errors", "unfinished", "ttfc p50",
                       "ttfc p99", "gap p99", "RSS before", "RSS max", "RSS after", "mock streams left"])
            for y in systems:
                m = med[sid][y]
                t.add(LABEL[y], m["total_completed"], m["total_ok"],
                      f"{m['total_fid_ok']}/{m['total_fid_checked']}", m["total_errors"], m["unfinished"],
                      fmt_us(m["ttfc_p50"]), fmt_us(m["ttfc_p99"]), fmt_us(m["gap_p99"]),
                      fmt_mb(m.get("rss_before_kb")), fmt_mb(m.get("rss_max_kb")),
                      fmt_mb(m.get("rss_after_kb")) + (f" ({m['rss_after_s']:.0f} s)"
                                                       if m.get("rss_after_s") is not None else ""),
                      m.get("rss_mock_in_flight_after", "-"))
            lines = [f"  {int(meta.get('conc_10k', '10000')):,} connections, each stream 20 chunks "
                     f"{meta.get('gap_ms_10k', '?')} ms apart; completed/ok count every stream that ended in the "
                     "window (a connection runs its next stream after one ends); unfinished = in flight at the end.",
                     "  RSS: the proxy's (nginx: master + workers summed); for direct, the mock's. "
                     "'before' is read just before the run (the process at rest after the earlier scenarios); "
                     "'after' once the run has ended, as soon as it is back within 10% of 'before', "
                     "else after 10 s (seconds waited in brackets). 'mock streams left': streams the mock "
                     "was still sending then (a proxy that did not cancel the upstream of a client that left)."]
        derived[sid] = d
        head = f"{title} ({'median of ' + str(rounds) + ' rounds' if rounds > 1 else '1 round'}, " \
               f"{meta.get('dur_' + sid.replace('https_', ''), '?')} s each)"
        blocks_txt.append(head + "\n" + t.text() + ("\n" + "\n".join(lines) if lines else ""))
        blocks_md.append(f"**{head}**\n\n" + t.md() + ("\n\n" + "\n".join("- " + l.strip() for l in lines)
                                                         if lines else ""))

    # ---- targets -------------------------------------------------------
    targets = []

    def target(tid, text, goal, value_fn, ok_fn, fmt, alt=True):
        row = {"id": tid, "target": text, "goal": goal}
        for variant, key in (("llmux", "llmux"), ("llmux_noal", "llmux_access_log_off")):
            if variant == "llmux_noal" and not alt:
                continue
            try:
                v = value_fn(variant)
            except (KeyError, TypeError, ZeroDivisionError):
                v = None
            if v is None:
                row[key] = {"value": None, "shown": "n/a", "pass": None}
            else:
                row[key] = {"value": v, "shown": fmt(v, variant), "pass": bool(ok_fn(v))}
        targets.append(row)

    def dv(sid, y, k):
        return derived[sid][y][k]

    for sid, nm in (("ns_c64", "c=64"), ("ns_c1", "c=1")):
        if sid not in derived:
            continue
        target(f"{sid}_throughput", f"non-stream {nm}: throughput vs nginx", ">= 0.90x",
               lambda y, s=sid: dv(s, y, "throughput_vs_nginx"), lambda v: v >= 0.9, fmt_ratio)
        target(f"{sid}_added_p50", f"non-stream {nm}: added p50 latency vs nginx's added p50", "<= 1.50x",
               lambda y, s=sid: dv(s, y, "added_p50_vs_nginx"), lambda v: v <= 1.5,
               lambda v, y, s=sid: f"{v:.2f}x (+{fmt_us(dv(s, y, 'added_p50_us'))} vs "
                                   f"+{fmt_us(dv(s, 'nginx', 'added_p50_us'))})")
        target(f"{sid}_cpu", f"non-stream {nm}: proxy CPU per request vs nginx", "<= 1.50x",
               lambda y, s=sid: dv(s, y, "cpu_vs_nginx"), lambda v: v <= 1.5, fmt_ratio)
    for sid, nm in (("s_c64", "c=64"), ("s_c1000", "c=1,000")):
        if sid not in derived:
            continue
        target(f"{sid}_ttfc", f"stream {nm}: added time to first chunk, p50", "<= 0.2 ms",
               lambda y, s=sid: dv(s, y, "added_ttfc_p50_us"), lambda v: v <= 200, fmt_us, alt=False)
        target(f"{sid}_gap", f"stream {nm}: added inter-chunk gap, p99", "<= 0.5 ms",
               lambda y, s=sid: dv(s, y, "added_gap_p99_us"), lambda v: v <= 500, fmt_us, alt=False)
        target(f"{sid}_fidelity", f"stream {nm}: chunk fidelity", "100%",
               lambda y, s=sid: (get(s, y, "total_fid_ok") / get(s, y, "total_fid_checked"))
               if get(s, y, "total_fid_checked") and not get(s, y, "total_errors") else
               (0.0 if get(s, y, "total_fid_checked") is not None else None),
               lambda v: v == 1.0,
               lambda v, y, s=sid: f"{get(s, y, 'total_fid_ok')}/{get(s, y, 'total_fid_checked')}, "
                                   f"{get(s, y, 'total_errors')} errors", alt=False)
    if "s_c10k" in med and "llmux" in med["s_c10k"]:
        m = med["s_c10k"]["llmux"]
        conc = int(meta.get("conc_10k", "10000"))
        target("s_c10k_complete", f"{conc:,} streams: all complete with full fidelity",
               f">= {conc:,} ok, 0 errors, 100%",
               lambda y: 1.0 if (m["total_ok"] >= conc and m["total_errors"] == 0 and
                                 m["total_fid_ok"] == m["total_fid_checked"] == m["total_completed"]) else 0.0,
               lambda v: v == 1.0,
               lambda v, y: f"{m['total_ok']:,} ok of {m['total_completed']:,} completed, "
                         f"fidelity {m['total_fid_ok']:,}/{m['total_fid_checked']:,}, {m['total_errors']} errors",
               alt=False)
        target("s_c10k_rss_max", f"{conc:,} streams: llmux RSS during", "<= 300 MB",
               lambda y: m.get("rss_max_kb"), lambda v: v <= 300 * 1024, fmt_mb, alt=False)
        target("s_c10k_rss_after", f"{conc:,} streams: llmux RSS after, vs idle before the run", "<= 1.10x",
               lambda y: ratio(m.get("rss_after_kb"), m.get("rss_before_kb")), lambda v: v <= 1.10,
               lambda v, y: f"{v:.2f}x ({fmt_mb(m.get('rss_after_kb'))} vs {fmt_mb(m.get('rss_before_kb'))})",
               alt=False)
    if meta.get("idle_rss_kb"):
        idle = float(meta["idle_rss_kb"])
        target("idle_rss", "llmux idle RSS, default settings (after start-up, before any request)",
               "<= 15 MB", lambda y: idle, lambda v: v <= 15 * 1024, fmt_mb, alt=False)
    if "ns_c64" in med and "llmux_nousage" in med["ns_c64"]:
        target("usage_log_ratio", "usage logging on vs off: throughput (non-stream c=64)", ">= 0.95x",
               lambda y: ratio(get("ns_c64", "llmux", "rps"), get("ns_c64", "llmux_nousage", "rps")),
               lambda v: v >= 0.95, fmt_ratio, alt=False)

    # ---- issue 21: HTTPS upstream, the plain-HTTP floor, the peer ---------
    def has(sid, *ys):
        return sid in derived and all(y in med.get(sid, {}) for y in ys)

    if has("https_ns_c64", "llmux", "nginx"):
        target("https_ns_c64_throughput", "HTTPS upstream, non-stream c=64: throughput vs nginx", ">= 1.00x",
               lambda y: dv("https_ns_c64", y, "throughput_vs_nginx"), lambda v: v >= 1.0, fmt_ratio)
        target("https_ns_c64_cpu", "HTTPS upstream, non-stream c=64: proxy CPU per request vs nginx",
               "<= 1.00x", lambda y: dv("https_ns_c64", y, "cpu_vs_nginx"), lambda v: v <= 1.0, fmt_ratio)
    for sid in ("https_s_c1000",):
        if not has(sid, "llmux", "nginx", "direct"):
            continue
        nm = "c=1,000" if sid.endswith("1000") else "c=64"
        target(f"{sid}_ttfc_vs_nginx", f"HTTPS upstream, stream {nm}: added time to first chunk (p50) "
               "vs nginx's added", "<= nginx's",
               lambda y, s=sid: dv(s, y, "added_ttfc_p50_us") - dv(s, "nginx", "added_ttfc_p50_us"),
               lambda v: v <= 0,
               lambda v, y, s=sid: f"+{fmt_us(dv(s, y, 'added_ttfc_p50_us'))} vs "
                                   f"+{fmt_us(dv(s, 'nginx', 'added_ttfc_p50_us'))}".replace("+-", "-"),
               alt=False)
        target(f"{sid}_gap_vs_nginx", f"HTTPS upstream, stream {nm}: inter-chunk gap p99 vs nginx's",
               "<= nginx's", lambda y, s=sid: get(s, y, "gap_p99") - get(s, "nginx", "gap_p99"),
               lambda v: v <= 0,
               lambda v, y, s=sid: f"{fmt_us(get(s, y, 'gap_p99'))} vs {fmt_us(get(s, 'nginx', 'gap_p99'))}",
               alt=False)
        target(f"{sid}_fidelity", f"HTTPS upstream, stream {nm}: chunk fidelity", "100%",
               lambda y, s=sid: (get(s, y, "total_fid_ok") / get(s, y, "total_fid_checked"))
               if not get(s, y, "total_errors") else 0.0,
               lambda v: v == 1.0,
               lambda v, y, s=sid: f"{get(s, y, 'total_fid_ok')}/{get(s, y, 'total_fid_checked')}, "
                                   f"{get(s, y, 'total_errors')} errors", alt=False)
    conc10k = int(meta.get("conc_10k", "10000"))
    for pre, mname in (("", "plain-HTTP upstream"), ("https_", "HTTPS upstream")):
        sid = pre + "s_c10k"
        if sid not in med or "llmux" not in med[sid]:
            continue
        m = med[sid]["llmux"]
        if pre:  # the plain-HTTP ones are above (s_c10k_complete, s_c10k_rss_max)
            target(f"{sid}_complete", f"{mname}, {conc10k:,} streams: all complete with full fidelity",
                   f">= {conc10k:,} ok, 0 errors, 100%",
                   lambda y, m=m: 1.0 if (m["total_ok"] >= conc10k and m["total_errors"] == 0 and
                                          m["total_fid_ok"] == m["total_fid_checked"] == m["total_completed"])
                   else 0.0, lambda v: v == 1.0,
                   lambda v, y, m=m: f"{m['total_ok']:,} ok of {m['total_completed']:,} completed, "
                                     f"fidelity {m['total_fid_ok']:,}/{m['total_fid_checked']:,}, "
                                     f"{m['total_errors']} errors", alt=False)
            target(f"{sid}_rss_max", f"{mname}, {conc10k:,} streams: llmux RSS during", "<= 300 MB",
                   lambda y, m=m: m.get("rss_max_kb"), lambda v: v <= 300 * 1024, fmt_mb, alt=False)
        if "nginx" in med[sid]:
            target(f"{sid}_ttfc_vs_nginx", f"{mname}, {conc10k:,} streams: time to first chunk p50 vs nginx's",
                   "<= nginx's", lambda y, s=sid: get(s, y, "ttfc_p50") - get(s, "nginx", "ttfc_p50"),
                   lambda v: v <= 0,
                   lambda v, y, s=sid: f"{fmt_us(get(s, y, 'ttfc_p50'))} vs {fmt_us(get(s, 'nginx', 'ttfc_p50'))}",
                   alt=False)
            target(f"{sid}_gap_vs_nginx", f"{mname}, {conc10k:,} streams: inter-chunk gap p99 vs nginx's",
                   "<= nginx's", lambda y, s=sid: get(s, y, "gap_p99") - get(s, "nginx", "gap_p99"),
                   lambda v: v <= 0,
                   lambda v, y, s=sid: f"{fmt_us(get(s, y, 'gap_p99'))} vs {fmt_us(get(s, 'nginx', 'gap_p99'))}",
                   alt=False)
    if has("ns_c64", "llmux", "nginx"):
        target("ns_c64_floor", "plain-HTTP upstream (floor), non-stream c=64: throughput vs nginx",
               ">= 0.60x", lambda y: dv("ns_c64", y, "throughput_vs_nginx"), lambda v: v >= 0.6, fmt_ratio)
    for pre, mname in (("", "plain-HTTP upstream"), ("https_", "HTTPS upstream")):
        sid = pre + "ns_c64"
        if not has(sid, "llmux", "peer"):
            continue
        target(f"{sid}_peer_throughput", f"{mname}, non-stream c=64: throughput vs the peer gateway",
               ">= 20x", lambda y, s=sid: dv(s, y, "throughput_vs_peer"), lambda v: v >= 20, fmt_ratio)
        target(f"{sid}_peer_added", f"{mname}, non-stream c=64: added p50 latency vs the peer's added",
               "<= 0.05x (1/20)", lambda y, s=sid: dv(s, y, "added_p50_vs_peer"), lambda v: v <= 0.05,
               lambda v, y, s=sid: f"{v:.3f}x (+{fmt_us(dv(s, y, 'added_p50_us'))} vs "
                                   f"+{fmt_us(dv(s, 'peer', 'added_p50_us'))})")

    tt = Table(["target", "goal", "llmux", "pass", "llmux, access log off", "pass"], left=2)
    for t in targets:
        a_ = t["llmux"]
        b_ = t.get("llmux_access_log_off")
        pf = lambda x: "-" if x is None or x["pass"] is None else ("PASS" if x["pass"] else "FAIL")
        tt.add(t["target"], t["goal"], a_["shown"], pf(a_), b_["shown"] if b_ else "", pf(b_) if b_ else "")
    passed = sum(1 for t in targets if t["llmux"]["pass"])
    summary = f"targets met by llmux (default settings): {passed} of {len(targets)}"

    header = [
        f"bench/compare  {meta.get('date', '')}",
        f"machine: {meta.get('nproc', '?')} CPUs, {meta.get('cpu', '?')}, Linux {meta.get('kernel', '?')}, "
        f"load average {meta.get('load_start', '?')} at start, {meta.get('load_end', '?')} at end",
        f"llmux {meta.get('git', '?')}, {meta.get('nginx', 'nginx')}, llmux-mock --no-record "
        f"({meta.get('mock_threads', '?')} threads), llmux-bench -t {meta.get('bench_threads', '1')}, "
        f"all on 127.0.0.1",
        f"command: {meta.get('command', '')}",
    ]
    notes = [
        "nginx runs without an access log; llmux keeps its own (one JSON line per request to a file). "
        "'llmux, access log off' (LLMUX_ACCESS_LOG=false) is the like-for-like row.",
        f"llmux runs with production defaults: {meta.get('auth', 'a client API key (api_keys)')} checked on "
        f"every request, routing, usage rows written to Postgres ({format(int(meta['usage_rows']), ',') if meta.get('usage_rows', '').isdigit() else '?'} rows by the end), "
        f"access log on, one worker per CPU.",
        "Each non-stream scenario runs in alternating rounds (direct, nginx, llmux, ...) and every figure "
        "is the median over the rounds; ratios are ratios of those medians. Added = minus direct.",
        "CPU/req: user+system CPU of the proxy process(es) from /proc/PID/stat during the run (nginx: "
        "master + workers) divided by the requests the mock served in the same window. llmux's Postgres "
        "CPU (usage rows) is shown apart and not counted in the ratio.",
        "For streams llmux asks upstream for the usage chunk (stream_options.include_usage) and drops it, "
        "so the mock sends it one more event than to nginx.",
    ]
    if any(MODE_OF.get(sid) == "https" for sid in med):
        notes.append("HTTPS upstream: the mock serves TLS 1.3 with h2 and http/1.1 by ALPN and a certificate of "
                     "a test CA that every client verifies. direct: llmux-bench over TLS, HTTP/1.1 keep-alive; "
                     "nginx 1.22: HTTP/1.1 over TLS (it has no HTTP/2 to upstreams), keepalive 1024 per worker, "
                     "proxy_ssl_session_reuse on, verification on; llmux: its default http2 \"auto\" (HTTP/1.1 "
                     "keep-alive over TLS up to 256 requests at once per worker, of them 64 streams, HTTP/2 past "
                     "them, 100 streams per connection), "
                     "TLS sessions shared per worker; the peer: node's fetch, HTTP/1.1 over TLS. "
                     "'TLS conns/1k', 'full/1k', 'resumed/1k': connections the mock accepted and its handshakes "
                     "per 1,000 requests it served in the run.")
    if any("peer" in med[sid] for sid in med):
        notes.append(f"The peer gateway ({meta.get('peer', 'Portkey')}) is one node process (one core; nginx and "
                     "llmux run one worker per CPU), warmed up before it is measured, and runs in the first round "
                     "of each scenario only (not in the 10,000-stream one); bench/peer/preload.mjs keeps it on "
                     "loopback and lets its streams work (see bench/README.md).")
    if meta.get("counts") and os.path.exists(meta["counts"]) and os.path.getsize(meta["counts"]):
        notes.append(f"syscalls/req and connect()/1k come from separate {meta.get('count_dur', '?')} s runs at c=64 "
                     "(non-stream, streams) under perf stat -e raw_syscalls:sys_enter -e "
                     "syscalls:sys_enter_connect on the proxy's processes, divided by the requests the mock "
                     "served meanwhile; peak RSS is the proxy's VmHWM over each measured run (reset before it).")
    nofile = int(meta.get("nofile", "0") or 0)
    conc = int(meta.get("conc_10k", "10000"))
    if "s_c10k" in med and nofile and nofile < 2 * conc + 1000:
        notes.append(f"Open files were limited to {nofile} in this run (the hard limit; raising it needs "
                     f"CAP_SYS_RESOURCE, which this machine does not give): a proxy holds two sockets per "
                     f"stream, {2 * conc:,} for {conc:,} streams. The limit counts per open-file table: "
                     f"nginx spreads them over {meta.get('nproc', '?')} worker processes, llmux over its "
                     f"{meta.get('llmux_workers', '?')} workers, each with a table of its own.")
    # ---- one summary table: absolute figures, llmux/nginx, llmux/peer, vs direct ----
    st = Table(["upstream", "scenario", "metric", "direct", "nginx", "llmux", "peer", "llmux/nginx",
                "llmux/peer", "nginx vs direct", "llmux vs direct"], left=3)
    short = {"ns_c1": "non-stream c=1", "ns_c64": "non-stream c=64", "ns_c256": "non-stream c=256",
             "s_c64": "stream c=64", "s_c1000": "stream c=1,000", "s_c10k": f"{conc:,} streams"}
    SY = ("direct", "nginx", "llmux", "peer")

    def srow(mode, pre, base, metric, key, fmt, kind):
        sid = pre + base
        v = {y: get(sid, y, key) for y in SY}
        if v["llmux"] is None:
            return
        if kind == "rate":
            nd, ld = ratio(v["nginx"], v["direct"]), ratio(v["llmux"], v["direct"])
            nd, ld = fmt_ratio(nd), fmt_ratio(ld)
        elif kind == "time":
            nd = "+" + fmt_us(v["nginx"] - v["direct"]) if None not in (v["nginx"], v["direct"]) else "-"
            ld = "+" + fmt_us(v["llmux"] - v["direct"]) if v["direct"] is not None else "-"
            nd, ld = nd.replace("+-", "-"), ld.replace("+-", "-")
        else:
            nd = ld = ""
        st.add(mode, short[base], metric,
               "-" if v["direct"] is None or kind in ("proxy", "count") else fmt(v["direct"]),
               fmt(v["nginx"]), fmt(v["llmux"]), fmt(v["peer"]),
               fmt_ratio(ratio(v["llmux"], v["nginx"])), fmt_ratio(ratio(v["llmux"], v["peer"])), nd, ld)

    for mode, pre, _ in MODES:
        for base in ("ns_c1", "ns_c64", "ns_c256"):
            if pre + base in med:
                srow(mode, pre, base, "req/s", "rps", fmt_rps, "rate")
                srow(mode, pre, base, "latency p50", "latency_p50", fmt_us, "time")
                srow(mode, pre, base, "latency p99", "latency_p99", fmt_us, "time")
                srow(mode, pre, base, "proxy CPU/req", "proxy_cpu_us_per_req", fmt_us, "proxy")
                srow(mode, pre, base, "syscalls/req", "syscalls_per_req", fmt_n, "count")
                if mode == "https":
                    srow(mode, pre, base, "TLS conns/1k req", "conns_per_1k", fmt_n, "count")
                srow(mode, pre, base, "peak RSS", "hwm_kb", fmt_mb, "count")
        for base in ("s_c64", "s_c1000"):
            sid = pre + base
            if sid in med:
                srow(mode, pre, base, "streams/s", "rps", fmt_n, "rate")
                srow(mode, pre, base, "ttfc p50", "ttfc_p50", fmt_us, "time")
                srow(mode, pre, base, "gap p99", "gap_p99", fmt_us, "time")
                srow(mode, pre, base, "proxy CPU/stream", "proxy_cpu_us_per_req", fmt_us, "proxy")
                srow(mode, pre, base, "syscalls/stream", "syscalls_per_req", fmt_n, "count")
                if mode == "https":
                    srow(mode, pre, base, "TLS conns/1k streams", "conns_per_1k", fmt_n, "count")
                srow(mode, pre, base, "peak RSS", "hwm_kb", fmt_mb, "count")
                st.add(mode, short[base], "fidelity",
                       *[f"{get(sid, y, 'total_fid_ok')}/{get(sid, y, 'total_fid_checked')}"
                         if get(sid, y, "total_fid_checked") is not None else "-" for y in SY],
                       "", "", "", "")
        sid = pre + "s_c10k"
        if sid in med:
            st.add(mode, short["s_c10k"], "ok streams / errors",
                   *[f"{get(sid, y, 'total_ok')} / {get(sid, y, 'total_errors')}"
                     if get(sid, y, "total_ok") is not None else "-" for y in SY], "", "", "", "")
            srow(mode, pre, "s_c10k", "ttfc p50", "ttfc_p50", fmt_us, "time")
            srow(mode, pre, "s_c10k", "gap p99", "gap_p99", fmt_us, "time")
            srow(mode, pre, "s_c10k", "RSS max", "rss_max_kb", fmt_mb, "rss")

    # ---- ratios: llmux against nginx and the peer, per scenario and mode ----
    rt = Table(["upstream", "scenario", "llmux/nginx throughput", "llmux/nginx CPU/req",
                "llmux/peer throughput", "llmux/peer CPU/req", "llmux/peer added latency"], left=2)
    for mode, pre, _ in MODES:
        for base, kind in (("ns_c1", "ns"), ("ns_c64", "ns"), ("ns_c256", "ns"), ("s_c64", "s"),
                           ("s_c1000", "s"), ("s_c10k", "s")):
            sid = pre + base
            if sid not in med or "llmux" not in med[sid]:
                continue
            x = derived.get(sid, {}).get("llmux", {})
            added = x.get("added_p50_vs_peer") if kind == "ns" else x.get("added_ttfc_vs_peer")
            rt.add(mode, short[base],
                   fmt_ratio(ratio(get(sid, "llmux", "rps"), get(sid, "nginx", "rps"))),
                   fmt_ratio(ratio(get(sid, "llmux", "proxy_cpu_us_per_req"),
                                   get(sid, "nginx", "proxy_cpu_us_per_req"))),
                   fmt_ratio(ratio(get(sid, "llmux", "rps"), get(sid, "peer", "rps"))),
                   fmt_ratio(ratio(get(sid, "llmux", "proxy_cpu_us_per_req"),
                                   get(sid, "peer", "proxy_cpu_us_per_req"))),
                   "-" if added is None else f"{added:.3f}x")
    # ---- syscalls per request, by call (the counted runs) ----
    sc_rows = []
    for mode, pre, _ in MODES:
        for base in ("ns_c64", "s_c64"):
            sid = pre + base
            for y in ("nginx", "llmux", "peer"):
                m = med.get(sid, {}).get(y)
                if not m or m.get("syscalls_per_req") is None:
                    continue
                calls = sorted((m.get("syscalls_by_call") or {}).items(), key=lambda kv: -kv[1])
                top = ", ".join(f"{k} {v:.1f}" for k, v in calls if v >= 0.05)[:160]
                sc_rows.append((mode, short[base], LABEL[y], top, fmt_n(m["syscalls_per_req"])))
    sct = Table(["upstream", "scenario", "system", "by call, per request (streams: per stream)", "syscalls/req"],
                left=4)
    for r in sc_rows:
        sct.add(*r)
    rt_note = ("medians of the alternating rounds (the peer: its one round); CPU/req: lower is better; "
               "added latency: what llmux adds to direct over what the peer adds (p50; streams: time to "
               "first chunk)")
    sum_note = ("medians; llmux with default settings; 'vs direct': throughput as a fraction of "
                "direct's, times as what the proxy adds")
    sum_txt = f"Summary ({sum_note})"

    prof_txt = "".join(f"\nllmux, {sid}: top symbols (perf record, a separate {meta.get('count_dur', '?')} s run)\n"
                       + "\n".join(lines) + "\n" for sid, lines in profiles.items())
    txt = "\n".join(header) + "\n\n" + sum_txt + "\n" + st.text() + "\n\nRatios (" + rt_note + ")\n" + \
        rt.text() + "\n\nTargets\n" + tt.text() + "\n" + \
        (("\nSyscalls per request by call (counted runs, c=64)\n" + sct.text() + "\n") if sc_rows else "") + \
        summary + "\n\n" + "\n\n".join(blocks_txt) + "\n" + prof_txt + "\nNotes\n" + \
        "\n".join("- " + n for n in notes) + "\n"
    md = ["## Latest comparison", "",
          f"{meta.get('date', '')}, {meta.get('nproc', '?')} CPUs ({meta.get('cpu', '?')}), "
          f"Linux {meta.get('kernel', '?')}, load average {meta.get('load_start', '?')} at start and "
          f"{meta.get('load_end', '?')} at end; llmux {meta.get('git', '?')}, {meta.get('nginx', 'nginx')}.",
          "", "Command:", "", "```sh", meta.get("command", ""), "```", "",
          "### Summary", "", sum_note[0].upper() + sum_note[1:] + ".", "", st.md(), "",
          "### Ratios", "", rt_note[0].upper() + rt_note[1:] + ".", "", rt.md(), "",
          "### Targets", "", tt.md(), "", summary + ".", ""]
    if sc_rows:
        md += ["### Syscalls per request, by call", "",
               f"Counted runs at c=64 ({meta.get('count_dur', '?')} s each, apart from the measured runs): "
               "perf stat of the proxy's processes, per request the mock served (streams: per stream).", "",
               sct.md(), ""]
    md += ["### Measurements", ""]
    md.append("\n\n".join(blocks_md))
    if profiles:
        md += ["", "### Where llmux's time goes (perf)", "",
               f"`perf record -F 499 -g` on llmux during a separate {meta.get('count_dur', '?')} s run of each "
               "scenario (HTTPS upstream), `perf report --no-children`: the share of each library "
               "(`--sort dso`), then the top symbols (`--sort dso,sym`).", ""]
        for sid, lines in profiles.items():
            md += [f"**{sid}**", "", "```"] + lines + ["```", ""]
    md += ["", "### Notes", ""] + ["- " + n for n in notes] + ["", "![latency and gap percentiles](latest.png)", ""]

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.txt"), "w") as f:
        f.write(txt)
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write("\n".join(md))
    doc = {
        "meta": meta,
        "scenarios": {
            sid: {
                "title": title,
                "systems": {y: {"median": {k: v for k, v in med[sid][y].items()},
                                "rounds": data[sid][y]} for y in med[sid]},
                "derived": derived.get(sid, {}),
            } for sid, title, _ in SCENARIOS if sid in med
        },
        "targets": targets,
        "summary": {"passed": passed, "total": len(targets)},
        "notes": notes,
    }
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")

    # ---- chart data ----------------------------------------------------
    def dat(name, sid, prefix):
        systems = [y for y, _ in SYSTEMS if y in med.get(sid, {})]
        with open(os.path.join(a.out, name), "w") as f:
            f.write("pct " + " ".join('"%s"' % LABEL[y] for y in systems) + "\n")
            for k, lab in PCTS:
                f.write(lab + " " + " ".join("%.3f" % (med[sid][y][f"{prefix}_{k}"] / 1000.0)
                                             for y in systems) + "\n")
        return len(systems)

    if a.gnuplot and "ns_c64" in med and "s_c64" in med:
        n1 = dat("lat.dat", "ns_c64", "latency")
        n2 = dat("gap.dat", "s_c64", "gap")
        terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        term = "pngcairo" if "pngcairo" in terms.stdout + terms.stderr else "png"
        title = f"bench/compare {meta.get('date', '')} - {meta.get('nproc', '?')} CPUs, {meta.get('cpu', '?')}"
        ex = (f"term='{term}'; out='{os.path.join(a.out, 'latest.png')}'; "
              f"lat='{os.path.join(a.out, 'lat.dat')}'; gap='{os.path.join(a.out, 'gap.dat')}'; "
              f"n1={n1}; n2={n2}; title='{title}'; "
              f"t1='non-stream, concurrency 64: latency percentiles (ms)'; "
              f"t2='stream c=64 (20 chunks, 10 ms apart): inter-chunk gap percentiles (ms)'")
        p = subprocess.run(["gnuplot", "-e", ex, a.gnuplot], capture_output=True, text=True)
        if p.returncode != 0 or not os.path.exists(os.path.join(a.out, "latest.png")):
            sys.stderr.write(p.stderr)
            sys.exit("gnuplot failed")
    sys.stdout.write(txt)


if __name__ == "__main__":
    main()
