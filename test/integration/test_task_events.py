"""Task events across instances and clean-shutdown leases (issue 19, part Z):
a subscriber on instance B is woken by Postgres NOTIFY when instance A
writes a task's progress (sql/018's trigger, src/task/sub.c's hub), well
before the 5 s safety-net read; SIGTERM gives a worker's leases back so a
second instance takes the tasks over at its next claim, not after the lease
time; the task metrics in /metrics."""
from datetime import datetime, timezone
import http.client
import json
import signal
import threading
import time
import unittest

from harness import ADMIN_KEY, psql, wait_for
from test_tasks import API, TERMINAL, fresh_db, jobs, start, submit, wait_status

SAFETY_NET_S = 5.0  # LX_TASK_EVENTS_SAFETY_MS


def parse_ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def stream_events(lx, tid, out, timeout=40):
    """Reads the SSE stream of tid on lx as it arrives: out gets
    (receipt time, event, task object) for each event."""
    c = http.client.HTTPConnection("127.0.0.1", lx.port, timeout=timeout)
    c.request("GET", f"{API}/{tid}/events", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    r = c.getresponse()
    out.append(("status", r.status, None))
    ev, data = None, []
    while True:
        line = r.readline()
        if not line:
            break
        now = time.time()
        line = line.decode().rstrip("\r\n")
        if line.startswith("event:"):
            ev = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line == "" and data:
            out.append((now, ev, json.loads("\n".join(data))))
            if ev in TERMINAL:
                break
            ev, data = None, []
    c.close()


class Events(unittest.TestCase):
    def test_subscriber_on_b_is_woken_by_a_notify(self):
        db = fresh_db()
        a = start(db)
        # b runs no executor: every change it reports was written by a
        b = start(db, LLMUX_TEST_TASKS="0")
        try:
            # ~12 progress changes, 500 ms apart: ~6 s, longer than the safety net
            t = submit(a, {"polls": 12, "hint_ms": 500})
            wait_for(lambda: psql(db, f"SELECT status FROM ai_tasks WHERE public_id = '{t['id']}'")
                     == "running", timeout=10, interval=0.02, what="task running")
            out = []
            th = threading.Thread(target=stream_events, args=(b, t["id"], out))
            th.start()
            th.join(60)
            self.assertFalse(th.is_alive())
            self.assertEqual(out[0][1], 200, out)
            evs = out[1:]
            names = [e for _, e, _ in evs]
            self.assertEqual(names[-1], "succeeded", names)
            self.assertTrue(all(n == "progress" for n in names[:-1]), names)
            progress = [o["progress"] for _, _, o in evs]
            self.assertEqual(progress, sorted(progress), progress)
            self.assertEqual(progress[-1], 100)
            # b saw the steps, not only a sample every safety-net period
            self.assertGreaterEqual(len(set(progress)), 8, progress)
            # from a's write (updated_at, set by a's UPDATE) to b's event;
            # the first event is the state at subscription time
            lat = [recv - parse_ts(o["updated_at"]) for recv, _, o in evs[1:]]
            self.assertTrue(lat, evs)
            self.assertLess(max(lat), 2.0, lat)
            self.assertLess(sorted(lat)[len(lat) // 2], 0.5, lat)
            self.assertLess(max(lat), SAFETY_NET_S / 2, lat)
        finally:
            a.stop()
            b.stop()


class CleanShutdown(unittest.TestCase):
    def test_sigterm_gives_leases_back(self):
        lease_s = 20
        db = fresh_db()
        env = {"LLMUX_TASK_LEASE_MS": str(lease_s * 1000)}
        a = start(db, **env)
        b = None
        try:
            ids = [submit(a, {"polls": 20})["id"] for _ in range(10)]
            q = "SELECT count(*) FROM ai_tasks WHERE status = 'running' AND progress > 0"
            wait_for(lambda: int(psql(db, q)) == 10, timeout=20, interval=0.02,
                     what="a polls all 10")
            b = start(db, **env)
            owners_a = psql(db, "SELECT string_agg(DISTINCT split_part(lease_owner, '.', 1), ',') "
                                "FROM ai_tasks")
            self.assertNotIn(",", owners_a)
            t0 = time.monotonic()
            a.stop(sig=signal.SIGTERM)
            for i in ids:
                left = 8 - (time.monotonic() - t0)
                self.assertGreater(left, 0, "not done within 8 s")
                self.assertEqual(wait_status(b, i, TERMINAL, timeout=left)["status"], "succeeded")
                self.assertEqual(jobs(db, i), (1, 1, False), i)
            self.assertLess(time.monotonic() - t0, 8)
            self.assertLess(time.monotonic() - t0, lease_s / 2)
            self.assertIn("task leases released", a.log())
        finally:
            a.stop()
            if b:
                b.stop()


def metric(lx, name, **labels):
    """The value of one sample in /metrics (None if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    text = lx.req("GET", "/metrics", key=None).body.decode()
    for line in text.splitlines():
        if line.startswith(name + "{" + want + "}"):
            return float(line.rsplit(" ", 1)[1])
    return None


class Metrics(unittest.TestCase):
    def test_task_counts_polls_and_latency(self):
        db = fresh_db()
        lx = start(db)
        try:
            T = "test.job"
            self.assertEqual(metric(lx, "llmux_task_polls_total", type=T, result="answered"), 0)
            long = submit(lx, {"polls": 1000, "hint_ms": 200})
            done = [submit(lx, {"polls": 3}) for _ in range(2)]
            bad = submit(lx, {"polls": 1, "fail": "content_policy"})
            for t in done + [bad]:
                wait_status(lx, t["id"], TERMINAL)
            wait_for(lambda: metric(lx, "llmux_tasks_active", type=T, status="running") == 1,
                     timeout=10, interval=0.05, what="one task running")
            wait_for(lambda: metric(lx, "llmux_tasks_finished_total", type=T,
                                    status="succeeded") == 2, timeout=10, interval=0.05,
                     what="two succeeded")
            self.assertEqual(metric(lx, "llmux_tasks_finished_total", type=T, status="failed"), 1)
            self.assertEqual(metric(lx, "llmux_tasks_finished_total", type=T, status="expired"), 0)
            self.assertEqual(metric(lx, "llmux_tasks_active", type=T, status="submitting"), 0)
            polls = metric(lx, "llmux_task_polls_total", type=T, result="answered")
            # 3 + 3 + 1 polls to finish, and the long one's so far
            self.assertGreaterEqual(polls, 8)
            n = metric(lx, "llmux_task_poll_seconds_count", type=T)
            self.assertGreaterEqual(n, polls)  # read later: more may have come
            self.assertGreater(metric(lx, "llmux_task_poll_seconds_sum", type=T), 0)
            # a poll of the test provider is one local UPDATE: well under 1 s
            self.assertGreaterEqual(metric(lx, "llmux_task_poll_seconds_bucket", type=T, le="1"),
                                    polls)
            lx.req("DELETE", f"{API}/{long['id']}")
            wait_for(lambda: metric(lx, "llmux_tasks_active", type=T, status="running") == 0,
                     timeout=10, interval=0.05, what="the cancelled task let go")
        finally:
            lx.stop()


if __name__ == "__main__":
    unittest.main()
