"""Exactly-once with the real media executors (src/media/exec.c) against the
mock's job APIs (bench/mock), counted by the mock per prompt (its tag):
kill -9 of llmux while 20 video tasks poll, then a restart on the same
database; two instances sharing the database where the one holding the
tasks is killed and the other takes them over within the lease time; and
the crash between submitting and storing the job id
(LLMUX_TEST_TASK_CRASH=after_submit) with the OpenAI videos adapter (it
takes an Idempotency-Key: reconciled by resubmitting with the same key)
and with Runway (it takes none: submission_uncertain, never resubmitted)."""
import sys
import time
import unittest
import uuid

from harness import Llmux, Mock, new_database, psql, wait_for

LEASE_MS = 2000
FAST = {
    "LLMUX_TASK_POLL_MIN_MS": "50",
    "LLMUX_TASK_POLL_MAX_MS": "200",
    "LLMUX_TASK_CLAIM_MS": "100",
    "LLMUX_TASK_LEASE_MS": str(LEASE_MS),
    "LLMUX_TASK_RENEW_MS": "300",
    "LLMUX_TASK_POOL": "100",
}
TERMINAL = {"succeeded", "failed", "cancelled", "expired"}
ADMIN = "/api/v1/admin/ai"
UNFINISHED = ("SELECT count(*) FROM ai_tasks WHERE status NOT IN "
              "('succeeded','failed','cancelled','expired')")


def start(db, mock, **env):
    e = dict(FAST)
    e.update(env)
    return Llmux(db=db, mock=mock, env=e)


def kill9(lx):
    lx.proc.p.kill()
    lx.proc.p.wait()


def submit_video(lx, model, prompt, seconds=4):
    """Submits once the registry serves the model: a refused submit (404)
    leaves no task, so retrying until accepted submits once."""
    out = {}

    def accepted():
        out["r"] = lx.req("POST", "/api/v1/media/videos",
                          body={"model": model, "prompt": prompt, "seconds": seconds})
        return out["r"].status != 404
    wait_for(accepted, timeout=5, interval=0.05, what=f"{model} served")
    assert out["r"].status == 202, out["r"]
    return out["r"].json()["id"]


def wait_task(lx, tid, statuses, timeout=30):
    out = {}

    def done():
        out["t"] = lx.req("GET", f"/api/v1/tasks/{tid}").json()
        return out["t"]["status"] in statuses
    wait_for(done, timeout=timeout, interval=0.05, what=f"{tid} in {statuses}")
    return out["t"]


class Recovery(unittest.TestCase):
    def setUp(self):
        self.mock = Mock()
        self.db = new_database()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.proc.alive():
                p.stop()
        self.mock.stop()

    def llmux(self, **env):
        lx = start(self.db, self.mock, **env)
        self.procs.append(lx)
        return lx

    def assert_once(self, tags, api="openai"):
        """One job per prompt at the mock; returns the duplicate submits
        (a resubmission with the same Idempotency-Key, answered with the
        same job) summed over the prompts."""
        dups = 0
        for tag in tags:
            j = self.mock.jobs(tag)
            self.assertEqual(j["count"], 1, (tag, j))
            self.assertEqual(j["jobs"][0]["api"], api, j)
            dups += j["submissions"] - 1
        self.assertEqual(self.mock.stats()["jobs_created"], len(tags))
        return dups

    def test_kill9_with_20_video_tasks_then_restart(self):
        lx = self.llmux()
        run = uuid.uuid4().hex[:8]
        tags = [f"k9-{run}-{i}" for i in range(20)]
        ids = [submit_video(lx, "demo/sora-2+duration_ms=4000", t) for t in tags]
        q = "SELECT count(*) FROM ai_tasks WHERE status = 'running' AND progress > 0"
        wait_for(lambda: int(psql(self.db, q)) >= 15, timeout=20, what="tasks polling")
        kill9(lx)
        self.assertGreater(int(psql(self.db, UNFINISHED)), 0)
        lx2 = self.llmux()
        for i in ids:
            self.assertEqual(wait_task(lx2, i, TERMINAL)["status"], "succeeded", i)
        dups = self.assert_once(tags)
        self.assertEqual(dups, self.mock.stats()["job_duplicate_submits"])
        print(f"\nkill -9 + restart: 20 tasks, 20 jobs, {dups} duplicate submits", file=sys.stderr)
        self.assertIn("task taken over", lx2.log())

    def test_kill9_while_submissions_in_flight(self):
        """The mock creates each job, then holds its answer (latency_ms):
        llmux dies with every task `submitting` and no job id stored. The
        restart reconciles them: the same Idempotency-Key, the same job."""
        lx = self.llmux()
        run = uuid.uuid4().hex[:8]
        tags = [f"inflight-{run}-{i}" for i in range(10)]
        ids = [submit_video(lx, "demo/sora-2+duration_ms=500+latency_ms=3000", t) for t in tags]
        wait_for(lambda: self.mock.stats()["jobs_created"] == 10, timeout=10, what="jobs created")
        self.assertEqual(psql(self.db, "SELECT count(*) FROM ai_tasks WHERE status = 'submitting' "
                                       "AND external_id IS NULL"), "10")
        kill9(lx)
        lx2 = self.llmux()
        for i in ids:
            self.assertEqual(wait_task(lx2, i, TERMINAL)["status"], "succeeded", i)
        dups = self.assert_once(tags)
        self.assertEqual(dups, 10)  # each reconciled once, with its key
        print(f"\nkill -9 mid-submit: 10 tasks, 10 jobs, {dups} duplicate submits", file=sys.stderr)

    def add_runway(self):
        boot = self.llmux()
        r = boot.req("POST", ADMIN + "/providers",
                     body={"name": "rw", "kind": "openai_compatible",
                           "base_url": self.mock.url + "/v1",
                           "settings": {"jobs": {"adapter": "runway"}}})
        self.assertIn(r.status, (200, 201), r)
        return boot

    def test_runway_kill9_polling_and_mid_submit(self):
        """Runway takes no idempotency key: tasks polling when llmux dies
        resume by job id and succeed; tasks whose submission was answered
        after the death fail submission_uncertain and are never resubmitted."""
        lx = self.add_runway()
        run = uuid.uuid4().hex[:8]
        polling = [f"rwp-{run}-{i}" for i in range(5)]
        ids = [submit_video(lx, "rw/gen4_turbo+duration_ms=4000", t) for t in polling]
        wait_for(lambda: psql(self.db, "SELECT count(*) FROM ai_tasks WHERE status = 'running' "
                                       "AND progress > 0") == "5", timeout=20, what="polling")
        held = [f"rwh-{run}-{i}" for i in range(3)]
        hids = [submit_video(lx, "rw/gen4_turbo+duration_ms=500+latency_ms=3000", t) for t in held]
        wait_for(lambda: self.mock.stats()["jobs_created"] == 8, timeout=10, what="jobs created")
        kill9(lx)
        lx2 = self.llmux()
        for i in ids:
            self.assertEqual(wait_task(lx2, i, TERMINAL)["status"], "succeeded", i)
        for i in hids:
            final = wait_task(lx2, i, TERMINAL)
            self.assertEqual(final["status"], "failed", final)
            self.assertEqual(final["error"]["code"], "submission_uncertain", final)
        self.assertEqual(self.assert_once(polling + held, api="runway"), 0)

    def test_takeover_by_second_instance_within_lease(self):
        a = self.llmux()
        run = uuid.uuid4().hex[:8]
        tags = [f"to-{run}-{i}" for i in range(6)]
        ids = [submit_video(a, "demo/sora-2+duration_ms=6000", t) for t in tags]
        wait_for(lambda: psql(self.db, "SELECT count(*) FROM ai_tasks WHERE status = 'running' "
                                       "AND progress > 0") == "6", timeout=20, what="a polls all")
        owner_a = psql(self.db, "SELECT string_agg(DISTINCT split_part(lease_owner, '.', 1), ',') "
                                "FROM ai_tasks")
        self.assertNotIn(",", owner_a)
        b = self.llmux()
        kill9(a)
        killed = time.monotonic()
        took = ("SELECT count(*) FROM ai_tasks WHERE status = 'succeeded' OR "
                f"(lease_owner IS NOT NULL AND split_part(lease_owner, '.', 1) <> '{owner_a}')")
        wait_for(lambda: psql(self.db, took) == "6", timeout=LEASE_MS / 1000 + 3, interval=0.05,
                 what="b took every task over")
        self.assertLess(time.monotonic() - killed, LEASE_MS / 1000 + 3)
        for i in ids:
            self.assertEqual(wait_task(b, i, TERMINAL)["status"], "succeeded", i)
        dups = self.assert_once(tags)
        print(f"\ntakeover: 6 tasks, 6 jobs, {dups} duplicate submits", file=sys.stderr)

    def crash_after_submit(self, model, tag):
        lx = self.llmux(LLMUX_TEST_TASK_CRASH="after_submit")
        out = {}

        def sent():
            out["r"] = lx.req("POST", "/api/v1/media/videos",
                              body={"model": model, "prompt": tag, "seconds": 4})
            return out["r"].status != 404
        try:
            wait_for(sent, timeout=5, interval=0.05, what=f"{model} served")
        except OSError:
            pass  # killed by the hook while answering: the task is in the table
        wait_for(lambda: not lx.proc.alive(), timeout=10, what="llmux killed by the hook")
        tid = psql(self.db, "SELECT public_id FROM ai_tasks")
        self.assertEqual(psql(self.db, "SELECT status, coalesce(external_id, '') FROM ai_tasks"),
                         "submitting|")
        j = self.mock.jobs(tag)
        self.assertEqual((j["count"], j["submissions"]), (1, 1), j)  # the provider has the job
        lx2 = self.llmux()
        return tid, wait_task(lx2, tid, TERMINAL), lx2

    def test_crash_between_submit_and_store_openai_resubmits_same_key(self):
        tag = "crash-oa-" + uuid.uuid4().hex[:8]
        tid, final, lx2 = self.crash_after_submit("demo/sora-2+duration_ms=300", tag)
        self.assertEqual(final["status"], "succeeded", final)
        j = self.mock.jobs(tag)
        self.assertEqual(j["count"], 1, j)
        self.assertEqual(j["submissions"], 2, j)  # the same key again: the same job
        self.assertEqual(self.mock.stats()["job_duplicate_submits"], 1)
        self.assertEqual(psql(self.db, "SELECT external_id FROM ai_tasks"), j["jobs"][0]["id"])
        c = lx2.req("GET", f"/v1/videos/{tid}/content")
        self.assertEqual(c.status, 200, c)

    def test_crash_between_submit_and_store_runway_uncertain(self):
        self.add_runway().stop()
        tag = "crash-rw-" + uuid.uuid4().hex[:8]
        tid, final, lx2 = self.crash_after_submit("rw/gen4_turbo+duration_ms=300", tag)
        self.assertEqual(final["status"], "failed", final)
        self.assertEqual(final["error"]["code"], "submission_uncertain", final)
        j = self.mock.jobs(tag)
        self.assertEqual((j["count"], j["submissions"]), (1, 1), j)  # never resubmitted
        self.assertEqual(j["jobs"][0]["api"], "runway", j)
        self.assertEqual(self.mock.stats()["jobs_created"], 1)


if __name__ == "__main__":
    unittest.main()
