"""/metrics is valid Prometheus text exposition (issue 20): llmux with a
database and the mock produces every family it has (chat whole and
streamed, an error, a rate-limit and a budget refusal on limited keys, a
task through the test-only executor test.job), then the scrape is piped to
`promtool check metrics` (Debian's prometheus package, installed by
scripts/test), which must exit 0 and print nothing: no lint problem such
as a counter without _total, a missing HELP or a non-snake_case name.

The figures move (class Moves): a chat raises the 2xx counter of its
endpoint, provider and model, the duration histogram, and the tokens and
cost by its usage; an upstream 500 raises the 5xx counter with its reason
and a retry; a 503 on a provider's first credential raises the retry and
fallback counters; a stream raises the first-chunk and chunk-gap
histograms; a model outside the catalog is counted as "other"; per-key
series appear only with LLMUX_METRICS_PER_KEY; a deployment's in-flight
gauge reads 1 while a slow stream is open on it and 0 after.

Off the loop (class OffTheLoop): the text is rendered on the scrape thread,
not on the worker that took the scrape (LLMUX_TEST_SCRAPE_DELAY_MS makes
each render last 1.5 s): with one worker, /healthz answers at once while a
scrape is being rendered, and so does a stream; a client that leaves during
a scrape, and a shutdown with a scrape in flight, end cleanly (the ASan
build and the exit status say so)."""
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest

from harness import ADMIN_KEY, Llmux, Mock, _read_response, new_database, psql, wait_for

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


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def value(text, name, **labels):
    """The sum of the samples of name whose labels include labels (0: none)."""
    total = 0.0
    for ln in text.splitlines():
        m = SAMPLE.match(ln)
        if not m or m.group(1) != name:
            continue
        have = dict(LABEL.findall(m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


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
        self.assertEqual(self.chat(model="demo/mock-model+fault=500").status, 500)
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
                     "llmux_ai_unauthenticated_total", "llmux_http_requests_total",
                     "llmux_ai_requests_total", "llmux_ai_request_duration_seconds_count",
                     "llmux_ai_stream_first_chunk_seconds_count", "llmux_ai_tokens_total",
                     "llmux_ai_cost_usd_total", "llmux_ai_retries_total",
                     "llmux_postgres_up", "llmux_postgres_query_seconds_count",
                     "llmux_registry_version", "process_resident_memory_bytes",
                     "process_open_fds", "process_threads", "process_cpu_seconds_total"):
            self.assertTrue(nonzero(name), name + "\n" + text)
        deadline = time.monotonic() + 10
        while not (nonzero("llmux_tasks_finished_total", 'status="succeeded"')
                   and nonzero("llmux_task_poll_seconds_count")
                   and nonzero("llmux_usage_written_total")
                   and nonzero("llmux_usage_flush_seconds_count")):
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


class Moves(unittest.TestCase):
    """Each test scrapes before and after what it does and asserts the
    difference."""
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def scrape(self):
        r = self.lx.req("GET", "/metrics", key=None)
        self.assertEqual(r.status, 200, r)
        return r.body.decode()

    def delta(self, before, after, name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    def test_chat_moves_requests_duration_tokens_and_cost(self):
        before = self.scrape()
        r = self.lx.chat({"model": "demo/mock-model", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        usage = r.json()["usage"]
        after = self.scrape()
        self.assertEqual(self.delta(before, after, "llmux_ai_requests_total", endpoint="chat",
                                    provider="demo", model="mock-model", status_class="2xx",
                                    reason="ok"), 1, after)
        self.assertEqual(self.delta(before, after, "llmux_ai_request_duration_seconds_count",
                                    endpoint="chat", provider="demo"), 1)
        self.assertEqual(self.delta(before, after, "llmux_ai_overhead_seconds_count",
                                    endpoint="chat", provider="demo"), 1)
        self.assertEqual(self.delta(before, after, "llmux_ai_upstream_ttfb_seconds_count",
                                    endpoint="chat", provider="demo"), 1)
        self.assertEqual(self.delta(before, after, "llmux_ai_tokens_total", provider="demo",
                                    model="mock-model", direction="in"), usage["prompt_tokens"])
        self.assertEqual(self.delta(before, after, "llmux_ai_tokens_total", provider="demo",
                                    model="mock-model", direction="out"),
                         usage["completion_tokens"])
        cost = (usage["prompt_tokens"] * 0.10 + usage["completion_tokens"] * 0.20) / 1e6
        self.assertAlmostEqual(self.delta(before, after, "llmux_ai_cost_usd_total",
                                          provider="demo", model="mock-model"), cost, places=9)

    def test_upstream_error_moves_5xx_and_its_reason(self):
        before = self.scrape()
        r = self.lx.chat({"model": "demo/mock-model+fault=500", "messages": MSG})
        self.assertEqual(r.status, 500, r)
        after = self.scrape()
        self.assertEqual(self.delta(before, after, "llmux_ai_requests_total", endpoint="chat",
                                    provider="demo", status_class="5xx",
                                    reason="upstream_error"), 1, after)
        self.assertEqual(self.delta(before, after, "llmux_ai_requests_total",
                                    status_class="2xx"), 0)
        # a 500 is retried once on the same target (the demo provider has one)
        self.assertEqual(r.headers["x-llmux-attempts"], "2")
        self.assertEqual(self.delta(before, after, "llmux_ai_retries_total",
                                    reason="upstream_error"), 1)

    def test_retry_then_fallback_moves_both_with_the_reason(self):
        p = self.lx.req("POST", API + "/providers", body={
            "name": "mfb", "kind": "openai_compatible", "base_url": self.mock.url + "/v1",
            "status": "disabled"}).json()
        for i, key in enumerate(["sk-mfb-a+fault=503", "sk-mfb-b"]):
            r = self.lx.req("POST", API + "/connections", body={
                "provider_id": p["id"], "name": f"c{i}", "api_key": key, "priority": i})
            self.assertLess(r.status, 300, r)
        self.lx.req("PATCH", API + f"/providers/{p['id']}", body={"status": "active"})
        def ready():  # refused by the provider filter once the provider is loaded
            r = self.lx.chat({"model": "mfb/probe", "messages": MSG},
                             headers={"x-llmux-provider": "nobody"})
            return r.status == 404 and "requested provider" in r.json()["error"]["message"]
        wait_for(ready, timeout=5, what="provider loaded")
        before = self.scrape()
        r = self.lx.chat({"model": "mfb/m+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-attempts"], "3")  # a, a again, then b
        after = self.scrape()
        self.assertEqual(self.delta(before, after, "llmux_ai_retries_total",
                                    reason="unavailable"), 1, after)
        self.assertEqual(self.delta(before, after, "llmux_ai_fallbacks_total",
                                    reason="unavailable"), 1)
        self.assertEqual(self.delta(before, after, "llmux_ai_requests_total", provider="mfb",
                                    model="other", status_class="2xx", reason="ok"), 1)
        self.assertEqual(self.delta(before, after, "llmux_ai_upstream_ttfb_seconds_count",
                                    provider="mfb"), 3)  # every attempt's first byte

    def test_deployment_breaker_and_cooling_gauges(self):
        """A catalog model whose upstream fails opens its deployment's
        breaker (2); one that answers 429 cools (1); both read 0 before."""
        p = self.lx.req("POST", API + "/providers", body={
            "name": "mbrk", "kind": "openai_compatible", "base_url": self.mock.url + "/v1",
            "status": "disabled"}).json()
        self.lx.req("POST", API + "/connections", body={
            "provider_id": p["id"], "name": "only", "api_key": "sk-mbrk"})
        for up in ("a+fault=500", "b+fault=429+retry_after=30"):
            r = self.lx.req("POST", API + "/models", body={"provider_id": p["id"],
                                                           "upstream_name": up})
            self.assertLess(r.status, 300, r)
        self.lx.req("PATCH", API + f"/providers/{p['id']}", body={"status": "active"})
        a = {"provider": "mbrk", "credential": "only", "model": "a+fault=500"}
        b = {"provider": "mbrk", "credential": "only", "model": "b+fault=429+retry_after=30"}
        wait_for(lambda: 'model="b+fault=429+retry_after=30"' in self.scrape(), timeout=5,
                 what="the models in the deployment gauges")
        before = self.scrape()
        self.assertIn('llmux_ai_deployment_breaker_state{provider="mbrk",credential="only",'
                      'model="a+fault=500"} 0', before)
        self.assertEqual(value(before, "llmux_ai_deployment_cooling", **b), 0)
        self.assertEqual(value(before, "llmux_ai_credential_breaker_state", provider="mbrk",
                               credential="only"), 0)
        for _ in range(10):  # two failed attempts per request; the breaker opens at 5
            r = self.lx.chat({"model": "mbrk/a+fault=500", "messages": MSG})
            if r.status == 503:
                break
        after = self.scrape()
        self.assertEqual(value(after, "llmux_ai_deployment_breaker_state", **a), 2, after)
        self.assertEqual(value(after, "llmux_ai_credential_breaker_state", provider="mbrk",
                               credential="only"), 0)  # the deployment's, not the credential's
        self.assertEqual(self.lx.chat({"model": "mbrk/b+fault=429+retry_after=30",
                                       "messages": MSG}).status, 429)
        self.assertEqual(value(self.scrape(), "llmux_ai_deployment_cooling", **b), 1)
        self.assertEqual(value(self.scrape(), "llmux_ai_credential_inflight", provider="mbrk",
                               credential="only"), 0)

    def test_deployment_in_flight_gauge(self):
        """A catalog model whose stream is slow to open counts 1 in flight on
        its deployment while it is open, and 0 once it ended."""
        def admin(method, path, body):
            r = self.lx.req(method, API + path, body=body)
            self.assertLess(r.status, 300, r)
            return r.json()
        p = admin("POST", "/providers", {
            "name": "minf", "kind": "openai_compatible", "base_url": self.mock.url + "/v1",
            "status": "disabled"})
        admin("POST", "/connections", {"provider_id": p["id"], "name": "c1",
                                       "api_key": "sk-minf"})
        up = "slow+ttft_ms=1500+chunks=2"
        admin("POST", "/models", {"provider_id": p["id"], "upstream_name": up})
        admin("PATCH", f"/providers/{p['id']}", {"status": "active"})
        d = {"provider": "minf", "credential": "c1", "model": up}
        gauge = "llmux_ai_deployment_in_flight"
        wait_for(lambda: f'model="{up}"' in self.scrape(), timeout=5,
                 what="the model in the deployment gauges")
        line = gauge + '{provider="minf",credential="c1",model="' + up + '"} 0'
        self.assertTrue(line in self.scrape().splitlines(), "no line " + line)
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("r", self.lx.chat(
            {"model": "minf/" + up, "messages": MSG, "stream": True})))
        t.start()
        try:
            wait_for(lambda: value(self.scrape(), gauge, **d) == 1, timeout=5, interval=0.05,
                     what="the deployment's in-flight gauge at 1")
            self.assertEqual(value(self.scrape(), "llmux_ai_credential_inflight",
                                   provider="minf", credential="c1"), 1)
        finally:
            t.join(20)
        self.assertEqual(out["r"].status, 200, out["r"])
        self.assertIn(b"[DONE]", out["r"].body)
        wait_for(lambda: value(self.scrape(), gauge, **d) == 0, timeout=5, interval=0.05,
                 what="the deployment's in-flight gauge back at 0")

    def test_stream_moves_first_chunk_and_gap(self):
        before = self.scrape()
        r = self.lx.chat({"model": "demo/mock-model+chunks=4+gap_ms=150", "messages": MSG,
                          "stream": True})
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"[DONE]", r.body)
        after = self.scrape()
        self.assertEqual(self.delta(before, after, "llmux_ai_stream_first_chunk_seconds_count",
                                    endpoint="chat", provider="demo"), 1, after)

        def gap(name, **kw):
            return self.delta(before, after, "llmux_ai_stream_chunk_gap_seconds" + name,
                              endpoint="chat", provider="demo", **kw)
        # Four pieces 150 ms apart. A loaded machine may read two pieces in
        # one go or late, so the figures that must hold whatever the timing:
        # some gaps, their sum about the stream's 450 ms (less what the first
        # read was late), every gap in +Inf, and at least one above 100 ms.
        gaps = gap("_count")
        self.assertGreaterEqual(gaps, 1)
        self.assertEqual(gap("_bucket", le="+Inf"), gaps)
        self.assertGreaterEqual(gap("_sum"), 0.3)
        self.assertLess(gap("_bucket", le="0.1"), gaps)

    def test_models_outside_the_catalog_are_other(self):
        before = self.scrape()
        self.assertEqual(self.lx.chat({"model": "demo/mock-model+chunks=1",
                                       "messages": MSG}).status, 200)
        bad = self.lx.chat({"model": "nosuchprovider/zz", "messages": MSG})
        self.assertEqual(bad.status, 404, bad)
        after = self.scrape()
        self.assertEqual(self.delta(before, after, "llmux_ai_requests_total", provider="demo",
                                    model="other", status_class="2xx"), 1, after)
        self.assertEqual(self.delta(before, after, "llmux_ai_requests_total", provider="other",
                                    model="other", status_class="4xx",
                                    reason="model_not_found"), 1)
        self.assertNotIn("chunks=1", after)
        self.assertNotIn("nosuchprovider", after)
        self.assertNotIn("llmux_ai_key_requests_total", after)  # per key: off by default


class OffTheLoop(unittest.TestCase):
    DELAY = 1.5

    def setUp(self):
        self.mock = Mock()
        self.lx = Llmux(mock=self.mock, workers=1,
                        env={"LLMUX_TEST_SCRAPE_DELAY_MS": str(int(self.DELAY * 1000))})

    def tearDown(self):
        if self.lx.proc.alive():
            self.assertEqual(self.lx.stop(), 0, self.lx.log())
        self.mock.stop()
        self.assertNotIn("ERROR: AddressSanitizer", self.lx.log())

    def open_scrape(self):
        s = socket.create_connection(("127.0.0.1", self.lx.port), timeout=15)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s

    def test_worker_serves_while_a_scrape_renders(self):
        s = self.open_scrape()
        t0 = time.monotonic()
        out = {}

        def read():
            with s.makefile("rb") as f:
                out["r"] = _read_response(f)
            out["t"] = time.monotonic() - t0
        reader = threading.Thread(target=read)
        reader.start()
        slowest, during = 0.0, 0
        try:
            while reader.is_alive() and time.monotonic() - t0 < 10:
                h0 = time.monotonic()
                self.assertEqual(self.lx.req("GET", "/healthz", key=None).status, 200)
                slowest = max(slowest, time.monotonic() - h0)
                during += reader.is_alive()
            # a stream on the same worker while the next scrape renders
            s2 = self.open_scrape()
            r = self.lx.chat({"model": "demo/mock-model+chunks=3+gap_ms=20", "messages": MSG,
                              "stream": True})
            self.assertEqual(r.status, 200, r)
            self.assertIn(b"[DONE]", r.body)
            with s2.makefile("rb") as f:
                r2 = _read_response(f)
            s2.close()
        finally:
            reader.join(15)
            s.close()
        self.assertEqual(out["r"].status, 200, out["r"])
        self.assertIn(b"llmux_uptime_seconds", out["r"].body)
        self.assertGreaterEqual(out["t"], self.DELAY * 0.9)
        self.assertGreater(during, 0)
        self.assertLess(slowest, self.DELAY / 3, "a /healthz waited behind the scrape")
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(value(r2.body.decode(), "llmux_ai_requests_total", provider="demo",
                               status_class="2xx"), 1)

    def test_client_leaves_during_a_scrape(self):
        s = self.open_scrape()
        # the worker has read it once a later request on it is answered
        self.assertEqual(self.lx.req("GET", "/healthz", key=None).status, 200)
        s.close()
        r = self.lx.req("GET", "/metrics", key=None)  # renders after the abandoned one
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.lx.proc.alive())

    def test_shutdown_with_a_scrape_in_flight(self):
        s = self.open_scrape()
        self.assertEqual(self.lx.req("GET", "/healthz", key=None).status, 200)
        self.assertEqual(self.lx.stop(), 0, self.lx.log())
        with s.makefile("rb") as f:  # answered (the drain waits for it) or closed
            try:
                r = _read_response(f)
                self.assertIn(r.status, (200, 503), r)
            except ConnectionError:
                pass
        s.close()


class PerKey(unittest.TestCase):
    def test_per_key_series_when_enabled(self):
        mock = Mock()
        lx = Llmux(mock=mock, workers=1, env={"LLMUX_METRICS_PER_KEY": "true"})
        try:
            self.assertEqual(lx.chat({"model": "demo/mock-model", "messages": MSG}).status, 200)
            text = lx.req("GET", "/metrics", key=None).body.decode()
            self.assertEqual(value(text, "llmux_ai_key_requests_total", key="admin"), 1, text)
            self.assertGreater(value(text, "llmux_ai_key_tokens_total", key="admin",
                                     direction="out"), 0)
            p = subprocess.run([promtool(), "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=30)
            self.assertEqual((p.returncode, (p.stdout + p.stderr).decode()), (0, ""))
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()


if __name__ == "__main__":
    unittest.main()
