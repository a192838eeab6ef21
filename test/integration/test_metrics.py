"""/metrics is valid Prometheus text exposition (issue 20): llmux with a
database and the mock produces every family it has (chat whole and
streamed, an error, a rate-limit and a budget refusal on limited keys, a
task through the test-only executor test.job), then the scrape is piped to
`promtool check metrics` (Debian's prometheus package, installed by
scripts/test), which must exit 0 and print nothing: no lint problem such
as a counter without _total, a missing HELP or a non-snake_case name."""
import re
import shutil
import subprocess
import time
import unittest

from harness import ADMIN_KEY, Llmux, Mock, new_database, psql, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
MODEL = "demo/mock-model+chunks=1"
JOBS_TABLE = """CREATE TABLE llmux_test_jobs (id BIGSERIAL PRIMARY KEY, idem TEXT UNIQUE,
  task TEXT, polls INT NOT NULL DEFAULT 0, polls_needed INT NOT NULL, fail TEXT,
  cancelled BOOLEAN NOT NULL DEFAULT false, submits INT NOT NULL DEFAULT 1)"""
ENV = {
    "LLMUX_TEST_TASKS": "1",
    "LLMUX_TASK_POLL_MIN_MS": "50",
    "LLMUX_TASK_POLL_MAX_MS": "200",
    "LLMUX_TASK_CLAIM_MS": "100",
}


def promtool():
    path = shutil.which("promtool")
    if path is None:
        raise AssertionError("promtool not found: install Debian's prometheus package "
                             "(./scripts/test installs it)")
    return path


def family_samples(text, name):
    return [ln for ln in text.splitlines() if re.match(re.escape(name) + r"(\{| )", ln)]


class Exposition(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.promtool = promtool()
        cls.mock = Mock()
        db = new_database()
        psql(db, JOBS_TABLE)
        cls.lx = Llmux(db=db, mock=cls.mock, env=ENV)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def admin(self, method, path, body=None):
        r = self.lx.req(method, API + path, body=body)
        assert r.status < 300, r
        return r.json()

    def chat(self, key=ADMIN_KEY, **extra):
        return self.lx.chat({"model": MODEL, "messages": MSG, **extra}, key=key)

    def produce_everything(self):
        self.assertEqual(self.chat().status, 200)
        r = self.chat(stream=True)
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"[DONE]", r.body)
        bad = self.lx.chat({"model": "nosuchprovider/zz", "messages": MSG})
        self.assertGreaterEqual(bad.status, 400, bad)
        self.assertEqual(self.lx.req("POST", "/v1/chat/completions", key="sk-wrong",
                                     body={"model": MODEL, "messages": MSG}).status, 401)
        # a rate-limit refusal: one request a minute, sent until one is refused
        rl = self.admin("POST", "/keys", {"name": "rl", "rate_limit_per_minute": 1})
        wait_for(lambda: self.chat(rl["key"]).status == 429, timeout=20,
                 interval=0.1, what="a rate-limit refusal")
        # a budget refusal: a zero budget refuses at once
        bz = self.admin("POST", "/keys", {"name": "bz", "budget_usd": 0})
        wait_for(lambda: self.chat(bz["key"]).status == 429, timeout=20,
                 interval=0.1, what="a budget refusal")
        # a task through test.job, polled to success
        r = self.lx.req("POST", "/api/v1/tasks",
                        body={"type": "test.job", "input": {"polls": 2}})
        self.assertEqual(r.status, 202, r)
        tid = r.json()["id"]
        wait_for(lambda: self.lx.req("GET", f"/api/v1/tasks/{tid}").json()["status"]
                 == "succeeded", timeout=20, interval=0.05, what="the task succeeded")

    def scrape(self):
        r = self.lx.req("GET", "/metrics", key=None)
        self.assertEqual(r.status, 200, r)
        return r.body.decode()

    def test_promtool_check_metrics_is_silent(self):
        self.produce_everything()
        text = self.scrape()

        def nonzero(name, extra=""):
            return any(not ln.endswith(" 0") and extra in ln
                       for ln in family_samples(text, name))
        # every family has samples, and the ones this test fed are not zero
        for name in ("llmux_ai_limit_refusals_total", "llmux_ai_budget_refusals_total",
                     "llmux_ai_unauthenticated_total", "llmux_http_requests_total"):
            self.assertTrue(nonzero(name), name + "\n" + text)
        deadline = time.monotonic() + 10
        while not (nonzero("llmux_tasks_finished_total", 'status="succeeded"')
                   and nonzero("llmux_task_poll_seconds_count")):
            self.assertLess(time.monotonic(), deadline, "task families\n" + text)
            time.sleep(0.05)
            text = self.scrape()
        p = subprocess.run([self.promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode()
        self.assertEqual((p.returncode, out), (0, ""), "promtool check metrics:\n" + out)

    def test_promtool_catches_a_broken_exposition(self):
        """The check is real: promtool complains about a counter without
        _total and a metric without HELP."""
        bad = "# TYPE llmux_broken counter\nllmux_broken 1\n"
        p = subprocess.run([self.promtool, "check", "metrics"], input=bad.encode(),
                           capture_output=True, timeout=30)
        self.assertNotEqual((p.stdout + p.stderr).decode(), "")


if __name__ == "__main__":
    unittest.main()
