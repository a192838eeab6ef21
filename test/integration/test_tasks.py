"""The generic task system (src/task, issue 19) with the test-only executor
"test.job", whose fake provider is the table llmux_test_jobs in the same
database (src/task/testexec.c), so that submissions are counted across
kill -9 and restarts: submit -> poll -> succeeded with SSE progress, owner
checks, cancel reaching the provider, the per-credential pool, expiry,
provider_unreachable, kill -9 of one instance with 20 tasks polling,
takeover by a second instance within the lease time, the crash between
submit and storing the job id (reconcile, or submission_uncertain), and a
subscriber on a second instance."""
import hashlib
import hmac
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import threading
import time
import unittest

from harness import ADMIN_KEY, Llmux, new_database, psql, sse_events, wait_for

API = "/api/v1/tasks"
LEASE_MS = 2000
FAST = {
    "LLMUX_TEST_TASKS": "1",
    "LLMUX_TASK_POLL_MIN_MS": "50",
    "LLMUX_TASK_POLL_MAX_MS": "200",
    "LLMUX_TASK_CLAIM_MS": "100",
    "LLMUX_TASK_LEASE_MS": str(LEASE_MS),
    "LLMUX_TASK_RENEW_MS": "300",
    "LLMUX_TASK_POOL": "100",
}
JOBS_TABLE = """CREATE TABLE llmux_test_jobs (id BIGSERIAL PRIMARY KEY, idem TEXT UNIQUE,
  task TEXT, polls INT NOT NULL DEFAULT 0, polls_needed INT NOT NULL, fail TEXT,
  cancelled BOOLEAN NOT NULL DEFAULT false, submits INT NOT NULL DEFAULT 1)"""
TERMINAL = {"succeeded", "failed", "cancelled", "expired"}


def holds_for(pred, seconds):
    """pred stays true on every check for seconds (a bounded observation)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert pred(), "invariant broken"


def fresh_db():
    db = new_database()
    psql(db, JOBS_TABLE)
    return db


def start(db, **env):
    e = dict(FAST)
    e.update(env)
    return Llmux(db=db, env=e)


def submit(lx, input=None, key=ADMIN_KEY, **extra):
    body = {"type": "test.job", "input": input or {}}
    body.update(extra)
    r = lx.req("POST", API, body=body, key=key)
    assert r.status == 202, r
    return r.json()


def task(lx, tid, key=ADMIN_KEY):
    return lx.req("GET", f"{API}/{tid}", key=key)


def wait_status(lx, tid, statuses, timeout=20):
    out = {}

    def done():
        out["t"] = task(lx, tid).json()
        return out["t"]["status"] in statuses
    wait_for(done, timeout=timeout, interval=0.05, what=f"{tid} in {statuses}")
    return out["t"]


def jobs(db, tid):
    """(rows, total submits, cancelled) the fake provider saw for a task."""
    out = psql(db, f"SELECT count(*), coalesce(sum(submits), 0), coalesce(bool_or(cancelled), false) "
                   f"FROM llmux_test_jobs WHERE task = '{tid}'")
    n, s, c = out.split("|")
    return int(n), int(s), c == "t"


def row(db, tid, cols):
    return psql(db, f"SELECT {cols} FROM ai_tasks WHERE public_id = '{tid}'").split("|")


class Basics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = fresh_db()
        cls.lx = start(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.lx.stop()

    def test_submit_poll_succeed_with_events(self):
        t = submit(self.lx, {"polls": 4})
        self.assertTrue(t["id"].startswith("task_"))
        self.assertIn(t["status"], ("queued", "submitting", "running"))
        self.assertEqual(t["links"]["events"], f"{API}/{t['id']}/events")
        r = self.lx.req("GET", f"{API}/{t['id']}/events", timeout=30)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/event-stream"))
        ev = sse_events(r.body)
        names = [e for e, _ in ev]
        self.assertEqual(names[-1], "succeeded", ev)
        self.assertTrue(all(n == "progress" for n in names[:-1]), names)
        progress = [json.loads(d)["progress"] for _, d in ev]
        self.assertEqual(progress, sorted(progress), ev)
        self.assertEqual(progress[-1], 100)
        # 0 -> 25 -> 50 -> 75 -> 100: at least some steps seen on the way
        self.assertGreaterEqual(len(ev), 2, ev)
        final = task(self.lx, t["id"]).json()
        self.assertEqual(final["status"], "succeeded")
        self.assertEqual(final["output"]["polls"], 4)
        self.assertIsNone(final["error"])
        self.assertIsNotNone(final["finished_at"])
        self.assertEqual(jobs(self.db, t["id"]), (1, 1, False))
        # the stored row: job id, lease given back
        ext, owner, attempts = row(self.db, t["id"], "external_id, coalesce(lease_owner, ''), attempts")
        self.assertNotEqual(ext, "")
        self.assertEqual(owner, "")
        self.assertEqual(attempts, "1")

    def test_failed_job(self):
        t = submit(self.lx, {"polls": 1, "fail": "content_policy"})
        final = wait_status(self.lx, t["id"], TERMINAL)
        self.assertEqual(final["status"], "failed")
        self.assertEqual(final["error"]["code"], "content_policy")

    def test_owner_checks(self):
        admin = "/api/v1/admin/ai/keys"
        ka = self.lx.req("POST", admin, body={"name": "a"}).json()["key"]
        kb = self.lx.req("POST", admin, body={"name": "b"}).json()["key"]
        wait_for(lambda: self.lx.req("GET", API, key=ka).status == 200, what="key a known")
        wait_for(lambda: self.lx.req("GET", API, key=kb).status == 200, what="key b known")
        t = submit(self.lx, {"polls": 1}, key=ka)
        self.assertEqual(task(self.lx, t["id"], key=ka).status, 200)
        r = task(self.lx, t["id"], key=kb)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"]["message"], "no such task")
        self.assertEqual(task(self.lx, t["id"]).status, 200)  # the admin key sees all
        self.assertEqual(self.lx.req("DELETE", f"{API}/{t['id']}", key=kb).status, 404)
        self.assertEqual(self.lx.req("GET", f"{API}/{t['id']}/events", key=kb).status, 404)
        mine = [x["id"] for x in self.lx.req("GET", API, key=ka).json()["data"]]
        self.assertIn(t["id"], mine)
        theirs = [x["id"] for x in self.lx.req("GET", API, key=kb).json()["data"]]
        self.assertNotIn(t["id"], theirs)
        self.assertEqual(self.lx.req("GET", API, key="nope").status, 401)

    def test_list_filters_and_pages(self):
        ids = [submit(self.lx, {"polls": 1}, priority=1)["id"] for _ in range(3)]
        for i in ids:
            wait_status(self.lx, i, TERMINAL)
        r = self.lx.req("GET", f"{API}?status=succeeded&type=test.job&limit=2").json()
        self.assertEqual(len(r["data"]), 2)
        self.assertTrue(r["has_more"])
        self.assertTrue(all(x["status"] == "succeeded" for x in r["data"]))
        r2 = self.lx.req("GET", f"{API}?status=succeeded&limit=2&after={r['last_id']}").json()
        self.assertFalse(set(x["id"] for x in r2["data"]) & set(x["id"] for x in r["data"]))
        bad = self.lx.req("GET", f"{API}?status=nope")
        self.assertEqual(bad.status, 400)
        self.assertEqual(bad.json()["error"]["param"], "status")
        self.assertEqual(self.lx.req("GET", f"{API}?limit=0").status, 400)

    def test_bad_submissions(self):
        for body, param in (({"input": {}}, "type"), ({"type": "nope"}, "type"),
                            ({"type": "test.job", "input": []}, "input"),
                            ({"type": "test.job", "priority": "x"}, "priority"),
                            ({"type": "test.job", "callback_url": "ftp://x"}, "callback_url"),
                            ({"type": "test.job", "input": {"polls": -1}}, "input")):
            r = self.lx.req("POST", API, body=body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json()["error"]["param"], param, body)
        self.assertEqual(self.lx.req("POST", API, body=b"{").status, 400)
        self.assertEqual(self.lx.req("GET", f"{API}/task_doesnotexist").status, 404)
        self.assertEqual(self.lx.req("PUT", f"{API}/task_x").status, 405)

    def test_cancel_reaches_provider(self):
        t = submit(self.lx, {"polls": 100000})
        wait_status(self.lx, t["id"], {"running"})
        r = self.lx.req("DELETE", f"{API}/{t['id']}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "cancelled")
        wait_for(lambda: jobs(self.db, t["id"])[2], timeout=10, what="provider told of cancel")
        wait_for(lambda: row(self.db, t["id"], "cancel_pending, coalesce(lease_owner, '')") == ["f", ""],
                 timeout=10, what="lease given back")
        again = self.lx.req("DELETE", f"{API}/{t['id']}")
        self.assertEqual(again.status, 409, again)
        self.assertIn("already finished", again.json()["error"]["message"])
        self.assertEqual(task(self.lx, t["id"]).json()["status"], "cancelled")


class Timeouts(unittest.TestCase):
    def test_unreachable_then_expired(self):
        db = fresh_db()
        lx = start(db, LLMUX_TASK_UNREACHABLE_MS="800", LLMUX_TASK_MAX_AGE_MS="2500")
        try:
            t = submit(lx, {"unreachable": True})
            final = wait_status(lx, t["id"], TERMINAL)
            self.assertEqual(final["status"], "failed")
            self.assertEqual(final["error"]["code"], "provider_unreachable")
            self.assertIn("did not answer", final["error"]["message"])
            t2 = submit(lx, {"polls": 100000})
            final = wait_status(lx, t2["id"], TERMINAL, timeout=20)
            self.assertEqual(final["status"], "expired")
            self.assertEqual(final["error"]["code"], "expired")
        finally:
            lx.stop()

    def test_pool_per_credential(self):
        db = fresh_db()
        lx = start(db, LLMUX_TASK_POOL="2")
        try:
            a = [submit(lx, {"polls": 100000, "credential": "c1"})["id"] for _ in range(5)]
            b = submit(lx, {"polls": 2, "credential": "c2"})["id"]
            wait_status(lx, b, {"succeeded"})  # another credential is not held up
            q = "SELECT count(*) FROM ai_tasks WHERE credential_id = 'c1' AND status = '{}'"
            wait_for(lambda: psql(db, q.format("running")) == "2", what="two running")
            # over ten claim periods, never more than two in flight for c1
            holds_for(lambda: int(psql(db, q.format("running"))) +
                      int(psql(db, q.format("submitting"))) <= 2, 1.0)
            self.assertEqual(psql(db, q.format("queued")), "3")
            # FIFO: the first two submitted are the ones running
            running = psql(db, "SELECT string_agg(public_id, ',' ORDER BY id) FROM ai_tasks "
                               "WHERE credential_id = 'c1' AND status = 'running'").split(",")
            self.assertEqual(running, a[:2])
            # a queued task cancelled never reaches the provider
            r = lx.req("DELETE", f"{API}/{a[4]}")
            self.assertEqual(r.json()["status"], "cancelled")
            lx.req("DELETE", f"{API}/{a[0]}")
            wait_for(lambda: task(lx, a[2]).json()["status"] == "running", what="next one runs")
            self.assertEqual(task(lx, a[3]).json()["status"], "queued")
            self.assertEqual(jobs(db, a[4]), (0, 0, False))
            wait_for(lambda: jobs(db, a[0]) == (1, 1, True), what="provider told of the cancel")
        finally:
            lx.stop()


class Crashes(unittest.TestCase):
    def test_kill9_with_20_tasks_then_restart(self):
        db = fresh_db()
        lx = start(db)
        ids = [submit(lx, {"polls": 15})["id"] for _ in range(20)]
        q = "SELECT count(*) FROM ai_tasks WHERE status = 'running' AND progress > 0"
        wait_for(lambda: int(psql(db, q)) >= 15, timeout=20, what="tasks polling")
        lx.proc.p.kill()
        lx.proc.p.wait()
        self.assertGreater(int(psql(db, "SELECT count(*) FROM ai_tasks WHERE status NOT IN "
                                        "('succeeded','failed','cancelled','expired')")), 0)
        lx2 = start(db)
        try:
            for i in ids:
                self.assertEqual(wait_status(lx2, i, TERMINAL, timeout=30)["status"], "succeeded")
                self.assertEqual(jobs(db, i), (1, 1, False), i)
            self.assertIn("task taken over", lx2.log())
        finally:
            lx2.stop()

    def test_takeover_by_second_instance_within_lease(self):
        db = fresh_db()
        a = start(db)
        ids = [submit(a, {"polls": 40})["id"] for _ in range(6)]
        wait_for(lambda: psql(db, "SELECT count(*) FROM ai_tasks WHERE status = 'running' "
                                  "AND progress > 0") == "6", timeout=20, what="a polls all")
        owners_a = psql(db, "SELECT string_agg(DISTINCT split_part(lease_owner, '.', 1), ',') FROM ai_tasks")
        b = start(db)
        try:
            a.proc.p.kill()
            a.proc.p.wait()
            killed = time.monotonic()
            # every task has a lease of b's within the lease time (+ claim period and slack)
            wait_for(lambda: psql(db, "SELECT count(*) FROM ai_tasks WHERE status IN "
                                      "('succeeded') OR (lease_owner IS NOT NULL AND "
                                      f"split_part(lease_owner, '.', 1) <> '{owners_a}')") == "6",
                     timeout=LEASE_MS / 1000 + 3, interval=0.05, what="b took every task over")
            self.assertLess(time.monotonic() - killed, LEASE_MS / 1000 + 3)
            for i in ids:
                self.assertEqual(wait_status(b, i, TERMINAL, timeout=30)["status"], "succeeded")
                self.assertEqual(jobs(db, i), (1, 1, False))
        finally:
            b.stop()

    def crash_after_submit(self, input):
        db = fresh_db()
        lx = start(db, LLMUX_TEST_TASK_CRASH="after_submit")
        r = lx.req("POST", API, body={"type": "test.job", "input": input})
        tid = r.json()["id"] if r.status == 202 else None
        wait_for(lambda: not lx.proc.alive(), timeout=10, what="llmux killed by the hook")
        if tid is None:
            tid = psql(db, "SELECT public_id FROM ai_tasks")
        self.assertEqual(row(db, tid, "status, coalesce(external_id, '')"), ["submitting", ""])
        self.assertEqual(jobs(db, tid), (1, 1, False))  # the provider has the job
        lx2 = start(db)
        try:
            return db, tid, wait_status(lx2, tid, TERMINAL, timeout=30), lx2.log()
        finally:
            lx2.stop()

    def test_crash_between_submit_and_store_reconciles(self):
        db, tid, final, log = self.crash_after_submit({"polls": 2})
        self.assertEqual(final["status"], "succeeded", final)
        self.assertEqual(jobs(db, tid), (1, 1, False))  # found again, not submitted twice

    def test_crash_between_submit_and_store_uncertain(self):
        db, tid, final, log = self.crash_after_submit({"polls": 2, "reconcile": "none"})
        self.assertEqual(final["status"], "failed")
        self.assertEqual(final["error"]["code"], "submission_uncertain")
        self.assertEqual(jobs(db, tid), (1, 1, False))  # never resubmitted


class SecondInstance(unittest.TestCase):
    def test_sse_subscriber_on_another_instance(self):
        db = fresh_db()
        a = start(db)
        # b runs no executor: it only serves the subscription
        b = start(db, LLMUX_TEST_TASKS="0")
        try:
            t = submit(a, {"polls": 6})
            out = {}

            def listen():
                out["r"] = b.req("GET", f"{API}/{t['id']}/events", timeout=30)
            th = threading.Thread(target=listen)
            th.start()
            th.join(40)
            r = out["r"]
            self.assertEqual(r.status, 200, r)
            ev = sse_events(r.body)
            self.assertEqual(ev[-1][0], "succeeded", ev)
            self.assertGreaterEqual(len([e for e, _ in ev if e == "progress"]), 1, ev)
            self.assertEqual(row(db, t["id"], "lease_owner IS NULL"), ["t"])
        finally:
            a.stop()
            b.stop()


class Hook(BaseHTTPRequestHandler):
    """Answers 500 to the first delivery, 200 afterwards; keeps them all."""
    got = []

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        Hook.got.append((dict((k.lower(), v) for k, v in self.headers.items()), body))
        code = 500 if len(Hook.got) == 1 else 200
        self.send_response(code)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class Webhooks(unittest.TestCase):
    SECRET = "task-hook-secret-123"

    def test_signed_webhook_retried_after_500_and_a_restart(self):
        Hook.got = []
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        db = fresh_db()
        lx = start(db, LLMUX_TASK_WEBHOOK_SECRET=self.SECRET)
        try:
            url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
            t = submit(lx, {"polls": 1}, callback_url=url)
            wait_for(lambda: len(Hook.got) >= 1, timeout=15, what="first delivery")
            # the 500 is recorded; then the process dies: the outbox keeps it
            wait_for(lambda: psql(db, "SELECT count(*) FROM ai_task_webhooks "
                                      "WHERE last_error IS NOT NULL") == "1", what="retry noted")
            lx.proc.p.kill()
            lx.proc.p.wait()
            lx = start(db, LLMUX_TASK_WEBHOOK_SECRET=self.SECRET)
            wait_for(lambda: len(Hook.got) >= 2, timeout=15, what="delivery after the 500")
            wait_for(lambda: psql(db, "SELECT count(*) FROM ai_task_webhooks") == "0",
                     what="outbox emptied")
            for headers, body in Hook.got[:2]:
                mac = hmac.new(self.SECRET.encode(), body, hashlib.sha256).hexdigest()
                self.assertEqual(headers.get("x-llmux-signature"), "sha256=" + mac)
                self.assertEqual(headers.get("x-llmux-event"), "task.succeeded")
                obj = json.loads(body)
                self.assertEqual(obj["id"], t["id"])
                self.assertEqual(obj["status"], "succeeded")
            self.assertEqual(len(Hook.got), 2)  # delivered once answered 2xx
        finally:
            lx.stop()
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    unittest.main()
