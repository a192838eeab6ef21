"""OpenTelemetry traces (README "Traces"): llmux exports spans as OTLP/HTTP
JSON to a local receiver (a http.server thread on 127.0.0.1 that keeps every
POSTed ExportTraceServiceRequest). The span tree of a retried-then-fallback
stream, the W3C context from the client and to the upstream, the samplers,
content capture, and a dead receiver that must not slow requests down."""
import json
import os
import socket
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Llmux, Mock, free_port, http, sse_events, wait_for

MSG = [{"role": "user", "content": "the secret prompt text"}]
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Receiver:
    """A local OTLP/HTTP receiver: every span of every POST, with its path and headers."""

    def __init__(self, status=200):
        self.spans, self.posts, self.lock = [], [], threading.Lock()
        self.status = status
        rcv = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                doc = json.loads(body)
                with rcv.lock:
                    rcv.posts.append({"path": self.path, "headers": dict(self.headers), "doc": doc})
                    for rs in doc["resourceSpans"]:
                        res = {a["key"]: list(a["value"].values())[0]
                               for a in rs["resource"]["attributes"]}
                        for ss in rs["scopeSpans"]:
                            for s in ss["spans"]:
                                s["_resource"] = res
                                s["_attrs"] = {a["key"]: list(a["value"].values())[0]
                                               for a in s.get("attributes", [])}
                                rcv.spans.append(s)
                self.send_response(rcv.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def trace(self, trace_id, n, timeout=10):
        """The spans of trace_id, once there are n of them."""
        def have():
            with self.lock:
                got = [s for s in self.spans if s["traceId"] == trace_id]
            return got if len(got) >= n else None
        return wait_for(have, timeout=timeout, what=f"{n} spans of trace {trace_id}")

    def all(self):
        with self.lock:
            return list(self.spans)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def config_file(mock):
    """Two providers on the mock and a group: p1's model always answers 503
    (a retry, then the fallback), p2 answers."""
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({
        "providers": {
            "p1": {"kind": "openai_compatible", "base_url": mock.url + "/v1",
                   "api_key": "sk-p1-secret-key"},
            "p2": {"kind": "openai_compatible", "base_url": mock.url + "/v1",
                   "api_key": "sk-p2-secret-key"},
        },
        "groups": {"g": {"strategy": "priority", "members": [
            {"provider": "p1", "model": "m1+fault=503", "priority": 0},
            {"provider": "p2", "model": "m2+chunks=3", "priority": 1}]}},
    }, f)
    f.close()
    return f.name


class Traces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.rcv = Receiver()
        cls.cfg = config_file(cls.mock)
        cls.lx = Llmux(mock=cls.mock, env={
            "LLMUX_CONFIG": cls.cfg,
            "OTEL_EXPORTER_OTLP_ENDPOINT": cls.rcv.url,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-otlp-token=tok%20en%2Cvalue, x-other = 2",
            "OTEL_SERVICE_NAME": "llmux-test",
            "LLMUX_RETRY_SAME": "1"})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()
        cls.rcv.stop()
        os.unlink(cls.cfg)

    def stream(self, headers=None, model="g"):
        r = self.lx.chat({"model": model, "messages": MSG, "stream": True}, headers=headers or {})
        self.assertEqual(r.status, 200, r)
        return r

    def test_retried_then_fallback_stream(self):
        tp = f"00-{CLIENT_TRACE[:-4]}aaaa-{CLIENT_SPAN}-01"
        trace = CLIENT_TRACE[:-4] + "aaaa"
        self.mock.reset()
        r = self.stream({"traceparent": tp})
        self.assertEqual(r.headers["x-llmux-attempts"], "3")
        chunks = [json.loads(d) for _, d in sse_events(r.body) if d != "[DONE]"]
        text = "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in chunks if c.get("choices"))
        spans = self.rcv.trace(trace, 4)
        self.assertEqual(len(spans), 4, spans)
        root = [s for s in spans if s["kind"] == 2]
        self.assertEqual(len(root), 1)
        root = root[0]
        self.assertEqual(root["name"], "chat g")
        self.assertEqual(root["parentSpanId"], CLIENT_SPAN)  # the client's span
        atts = sorted([s for s in spans if s["kind"] == 3], key=lambda s: s["startTimeUnixNano"])
        self.assertEqual(len(atts), 3)
        for a in atts:
            self.assertEqual(a["parentSpanId"], root["spanId"])
            self.assertEqual(a["traceId"], trace)
            self.assertLessEqual(int(root["startTimeUnixNano"]), int(a["startTimeUnixNano"]))
            self.assertLessEqual(int(a["endTimeUnixNano"]), int(root["endTimeUnixNano"]))
        a1, a2, a3 = (a["_attrs"] for a in atts)
        # attempt 1: p1 fails with 503, retried
        self.assertEqual(a1["llmux.provider"], "p1")
        self.assertEqual(a1["http.response.status_code"], "503")
        self.assertEqual(a1["error.type"], "503")
        self.assertIn("503 from p1", a1["llmux.retry_reason"])
        self.assertNotIn("llmux.retry", a1)
        self.assertEqual(atts[0]["status"]["code"], 2)
        # attempt 2: the retry on p1, fails too; then the fallback
        self.assertEqual(a2["llmux.provider"], "p1")
        self.assertIs(a2["llmux.retry"], True)
        self.assertIn("503 from p1", a2["llmux.retry_reason"])
        self.assertNotIn("llmux.fallback", a2)
        # attempt 3: the fallback provider, succeeds
        self.assertEqual(a3["llmux.provider"], "p2")
        self.assertIs(a3["llmux.fallback"], True)
        self.assertEqual(a3["http.response.status_code"], "200")
        self.assertNotIn("error.type", a3)
        self.assertNotEqual(atts[2]["status"]["code"], 2)
        self.assertEqual(a3["gen_ai.request.model"], "m2+chunks=3")
        self.assertEqual(a3["gen_ai.system"], "p2")
        self.assertEqual(a3["server.address"], "127.0.0.1")
        for a in (a1, a2, a3):
            self.assertEqual(a["gen_ai.operation.name"], "chat")
        # the request span: GenAI attributes, tokens, overhead
        ra = root["_attrs"]
        self.assertEqual(ra["gen_ai.operation.name"], "chat")
        self.assertEqual(ra["gen_ai.request.model"], "g")
        self.assertEqual(ra["gen_ai.response.model"], "m2+chunks=3")
        self.assertEqual(ra["gen_ai.system"], "p2")
        self.assertEqual(ra["llmux.provider"], "p2")
        self.assertTrue(ra["llmux.deployment"].startswith("p2/"), ra)
        self.assertEqual(ra["http.response.status_code"], "200")
        self.assertEqual(ra["gen_ai.usage.output_tokens"], "3")
        self.assertGreater(int(ra["gen_ai.usage.input_tokens"]), 0)
        self.assertEqual(a3["gen_ai.usage.output_tokens"], "3")
        self.assertGreaterEqual(int(ra["llmux.overhead_us"]), 0)
        self.assertEqual(ra["llmux.attempts"], "3")
        self.assertEqual(root["_resource"]["service.name"], "llmux-test")
        # no prompt or answer text, no key, anywhere
        dump = json.dumps(spans)
        self.assertNotIn("secret prompt", dump)
        self.assertNotIn("tok1", dump)
        self.assertIn("tok1", text)
        self.assertNotIn("sk-p1", dump)
        self.assertNotIn("gen_ai.input.messages", dump)
        # the upstream got our context: same trace, each attempt's span as parent
        reqs = self.mock.requests()[-3:]
        sent = [q["headers"].get("traceparent") for q in reqs]
        self.assertEqual(sent, [f"00-{trace}-{a['spanId']}-01" for a in atts])

    def test_collector_headers_and_path(self):
        self.stream(model="p2/m+chunks=1")
        wait_for(lambda: self.rcv.posts, what="an export")
        p = self.rcv.posts[-1]
        self.assertEqual(p["path"], "/v1/traces")
        h = {k.lower(): v for k, v in p["headers"].items()}
        self.assertEqual(h["content-type"], "application/json")
        self.assertEqual(h["x-otlp-token"], "tok en,value")  # percent-decoded
        self.assertEqual(h["x-other"], "2")
        self.assertNotIn("tok en", self.lx.proc.log())  # never logged

    def test_new_trace_without_or_with_bad_traceparent(self):
        for tp in (None, "00-" + "0" * 32 + "-" + CLIENT_SPAN + "-01",
                   "00-" + CLIENT_TRACE.upper() + "-" + CLIENT_SPAN + "-01",
                   "01-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01x", "garbage"):
            self.mock.reset()
            h = {"traceparent": tp} if tp else {}
            r = self.lx.chat({"model": "p2/m+chunks=1", "messages": MSG}, headers=h)
            self.assertEqual(r.status, 200)
            sent = self.mock.requests()[-1]["headers"]["traceparent"]
            self.assertRegex(sent, r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
            trace = sent[3:35]
            self.assertNotEqual(trace, CLIENT_TRACE)
            spans = self.rcv.trace(trace, 2)
            root = [s for s in spans if s["kind"] == 2][0]
            self.assertNotIn("parentSpanId", root)

    def test_tracestate_is_passed_on(self):
        self.mock.reset()
        tp = f"00-{CLIENT_TRACE[:-4]}bbbb-{CLIENT_SPAN}-01"
        r = self.lx.chat({"model": "p2/m+chunks=1", "messages": MSG},
                         headers={"traceparent": tp, "tracestate": "vendor=abc,other@sys=x1"})
        self.assertEqual(r.status, 200)
        h = self.mock.requests()[-1]["headers"]
        self.assertEqual(h["tracestate"], "vendor=abc,other@sys=x1")
        self.assertTrue(h["traceparent"].startswith(f"00-{CLIENT_TRACE[:-4]}bbbb-"))
        # an invalid tracestate is dropped
        r = self.lx.chat({"model": "p2/m+chunks=1", "messages": MSG},
                         headers={"traceparent": tp, "tracestate": "Bad Key=1"})
        self.assertNotIn("tracestate", self.mock.requests()[-1]["headers"])

    def test_parentbased_honours_unsampled_client(self):
        self.mock.reset()
        trace = CLIENT_TRACE[:-4] + "cccc"
        r = self.lx.chat({"model": "p2/m+chunks=1", "messages": MSG},
                         headers={"traceparent": f"00-{trace}-{CLIENT_SPAN}-00"})
        self.assertEqual(r.status, 200)
        # the upstream still sees the trace, not sampled
        self.assertEqual(self.mock.requests()[-1]["headers"]["traceparent"],
                         f"00-{trace}-{CLIENT_SPAN}-00")
        # a sampled request after it is exported; the unsampled one never is
        marker = CLIENT_TRACE[:-4] + "dddd"
        self.lx.chat({"model": "p2/m+chunks=1", "messages": MSG},
                     headers={"traceparent": f"00-{marker}-{CLIENT_SPAN}-01"})
        self.rcv.trace(marker, 2)
        self.assertEqual([s for s in self.rcv.all() if s["traceId"] == trace], [])

    def test_messages_embeddings_and_refusals(self):
        for path, body, name in [
            ("/v1/messages", {"model": "p2/m+chunks=1", "max_tokens": 10, "messages": MSG},
             "chat p2/m+chunks=1"),
            ("/v1/embeddings", {"model": "p2/e", "input": "hello"}, "embeddings p2/e")]:
            with self.subTest(path=path):
                self.mock.reset()
                r = self.lx.req("POST", path, body=body,
                                headers={"anthropic-version": "2023-06-01"})
                self.assertEqual(r.status, 200, r)
                tp = self.mock.requests()[-1]["headers"]["traceparent"]
                spans = self.rcv.trace(tp[3:35], 2)
                root = [s for s in spans if s["kind"] == 2][0]
                self.assertEqual(root["name"], name)
                att = [s for s in spans if s["kind"] == 3][0]
                self.assertEqual(att["spanId"], tp[36:52])
                self.assertGreater(int(root["_attrs"]["gen_ai.usage.input_tokens"]), 0)
        # refused before any call: the request's span alone, with the error
        trace = CLIENT_TRACE[:-4] + "eeee"
        r = self.lx.chat({"model": "nosuch/model", "messages": MSG},
                         headers={"traceparent": f"00-{trace}-{CLIENT_SPAN}-01"})
        self.assertEqual(r.status, 404, r)
        (span,) = self.rcv.trace(trace, 1)
        self.assertEqual(span["name"], "chat nosuch/model")
        self.assertEqual(span["parentSpanId"], CLIENT_SPAN)
        self.assertEqual(span["status"]["code"], 2)
        self.assertEqual(span["_attrs"]["http.response.status_code"], "404")
        self.assertEqual(span["_attrs"]["error.type"], r.json()["error"]["code"])

    def test_metrics_count_exported_spans(self):
        self.stream(model="p2/m+chunks=1")

        def exported():
            m = self.lx.req("GET", "/metrics").body.decode()
            for line in m.splitlines():
                if line.startswith("llmux_trace_spans_exported_total "):
                    return int(line.split()[1]) >= 2
            return False
        wait_for(exported, what="llmux_trace_spans_exported_total")
        m = self.lx.req("GET", "/metrics").body.decode()
        self.assertIn("# TYPE llmux_trace_spans_dropped_total counter", m)


class Capture(unittest.TestCase):
    def test_capture_switch_puts_text_on_the_request_span(self):
        """Set in the config file's tracing object this time."""
        mock, rcv = Mock(), Receiver()
        cfg = config_file(mock)
        with open(cfg) as f:
            doc = json.load(f)
        doc["tracing"] = {"traces_endpoint": rcv.url + "/custom", "capture_message_content": True,
                          "headers": {"x-file": "from-file"}, "service_name": "file-svc"}
        with open(cfg, "w") as f:
            json.dump(doc, f)
        try:
            lx = Llmux(mock=mock, env={"LLMUX_CONFIG": cfg})
            try:
                r = lx.chat({"model": "g", "messages": MSG, "stream": True})
                self.assertEqual(r.status, 200)
                trace = mock.requests()[-1]["headers"]["traceparent"][3:35]
                spans = rcv.trace(trace, 4)
                root = [s for s in spans if s["kind"] == 2][0]
                self.assertIn("secret prompt text", root["_attrs"]["gen_ai.input.messages"])
                out = json.loads(root["_attrs"]["gen_ai.output.messages"])
                chunks = [json.loads(d) for _, d in sse_events(r.body) if d != "[DONE]"]
                text = "".join(c["choices"][0]["delta"].get("content") or ""
                               for c in chunks if c.get("choices"))
                self.assertEqual(text, "tok0 tok1 tok2 ")
                self.assertEqual(out[0]["parts"][0]["content"], text)
                self.assertEqual(rcv.posts[-1]["path"], "/custom")
                h = {k.lower(): v for k, v in rcv.posts[-1]["headers"].items()}
                self.assertEqual(h["x-file"], "from-file")
                self.assertEqual(root["_resource"]["service.name"], "file-svc")
                self.assertNotIn("sk-p", json.dumps(spans))
                # a whole (non-stream) answer is captured too
                r = lx.chat({"model": "p2/m+chunks=2", "messages": MSG})
                self.assertEqual(r.status, 200)
                trace = mock.requests()[-1]["headers"]["traceparent"][3:35]
                root = [s for s in rcv.trace(trace, 2) if s["kind"] == 2][0]
                out = json.loads(root["_attrs"]["gen_ai.output.messages"])
                self.assertEqual(out[0]["parts"][0]["content"],
                                 r.json()["choices"][0]["message"]["content"])
            finally:
                self.assertEqual(lx.stop(), 0)
        finally:
            mock.stop()
            rcv.stop()
            os.unlink(cfg)


class Samplers(unittest.TestCase):
    def run_with(self, env, headers=None, n=3):
        mock, rcv = Mock(), Receiver()
        try:
            lx = Llmux(mock=mock, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.url + "/", **env})
            try:
                for _ in range(n):
                    r = lx.chat({"model": "demo/m+chunks=1", "messages": MSG},
                                headers=headers or {})
                    self.assertEqual(r.status, 200)
                sent = [q["headers"]["traceparent"] for q in mock.requests()[-n:]]
            finally:
                self.assertEqual(lx.stop(), 0)  # shutdown flushes what is queued
            return rcv.all(), sent
        finally:
            mock.stop()
            rcv.stop()

    def test_always_off_exports_nothing(self):
        spans, sent = self.run_with({"OTEL_TRACES_SAMPLER": "always_off"})
        self.assertEqual(spans, [])
        self.assertTrue(all(s.endswith("-00") for s in sent), sent)

    def test_ratio_zero_exports_nothing(self):
        spans, _ = self.run_with({"OTEL_TRACES_SAMPLER": "traceidratio",
                                  "OTEL_TRACES_SAMPLER_ARG": "0"})
        self.assertEqual(spans, [])

    def test_always_on_ignores_unsampled_parent_and_flushes_at_shutdown(self):
        tp = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"
        spans, sent = self.run_with({"OTEL_TRACES_SAMPLER": "always_on"}, {"traceparent": tp}, 2)
        self.assertEqual(len(spans), 4)  # exported by the shutdown flush at the latest
        self.assertTrue(all(s["traceId"] == CLIENT_TRACE for s in spans))

    def test_parentbased_ratio_zero_follows_sampled_parent(self):
        tp = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
        spans, _ = self.run_with({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                  "OTEL_TRACES_SAMPLER_ARG": "0"}, {"traceparent": tp}, 1)
        self.assertEqual(len(spans), 2)

    def test_disabled_sdk_exports_nothing_and_sends_no_traceparent(self):
        mock, rcv = Mock(), Receiver()
        try:
            lx = Llmux(mock=mock, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.url,
                                       "OTEL_SDK_DISABLED": "true"})
            r = lx.chat({"model": "demo/m+chunks=1", "messages": MSG})
            self.assertEqual(r.status, 200)
            self.assertNotIn("traceparent", mock.requests()[-1]["headers"])
            self.assertEqual(lx.stop(), 0)
            self.assertEqual(rcv.all(), [])
        finally:
            mock.stop()
            rcv.stop()


class BadSettings(unittest.TestCase):
    def check(self, env, needle):
        lx = Llmux(env=env, args=("check-config",), wait=False)
        rc = lx.proc.p.wait(timeout=20)
        log = lx.proc.log()
        self.assertEqual(rc, 2, log)
        self.assertIn(needle, log)
        return rc, log

    def test_bad_values_fail_at_start(self):
        for env, needle in [
            ({"OTEL_TRACES_SAMPLER": "sometimes", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"},
             "OTEL_TRACES_SAMPLER"),
            ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
             "OTEL_TRACES_SAMPLER_ARG"),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            ({"OTEL_EXPORTER_OTLP_HEADERS": "a=b,hunter2secret"}, "entry 2 has no '='"),
            ({"OTEL_EXPORTER_OTLP_HEADERS": "k=hunter2%zz"}, "bad %XX"),
            ({"OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED"),
        ]:
            with self.subTest(env=env):
                _, log = self.check(env, needle)
                self.assertNotIn("hunter2", log)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"tracing": {"endpoint": "http://x", "sampler": "sometimes"}}, f)
            f.flush()
            self.check({"LLMUX_CONFIG": f.name}, "OTEL_TRACES_SAMPLER (tracing.sampler)")
        # a good configuration says whether tracing is on
        lx = Llmux(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
                   args=("check-config",), wait=False)
        self.assertEqual(lx.proc.p.wait(timeout=20), 0)
        self.assertIn("traces: on", lx.proc.log())


class TaskPolls(unittest.TestCase):
    def test_video_task_submit_and_polls_share_one_trace(self):
        mock, rcv = Mock(), Receiver()
        try:
            lx = Llmux(db=True, mock=mock, env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rcv.url, "LLMUX_TASK_POLL_MIN_MS": "50",
                "LLMUX_TASK_POLL_MAX_MS": "100", "LLMUX_TASK_CLAIM_MS": "100"})
            try:
                r = lx.req("POST", "/api/v1/media/videos",
                           body={"model": "demo/sora-2+duration_ms=300", "prompt": "p",
                                 "seconds": 4})
                self.assertEqual(r.status, 202, r)
                tid = r.json()["id"]
                wait_for(lambda: lx.req("GET", f"/api/v1/tasks/{tid}").json()["status"]
                         in ("succeeded", "failed"), timeout=20, what="the task's end")
                calls = [q for q in mock.requests() if "/videos" in q["path"]]
                sent = [q["headers"]["traceparent"] for q in calls]
                self.assertGreaterEqual(len(sent), 2)  # the submit and at least one poll
                trace = sent[0][3:35]
                self.assertTrue(all(tp[3:35] == trace for tp in sent), sent)
                spans = rcv.trace(trace, len(sent))
                names = sorted({s["name"] for s in spans})
                self.assertEqual(names, ["video.generate poll", "video.generate submit"])
                self.assertEqual({tp[36:52] for tp in sent}, {s["spanId"] for s in spans})
                last = max(spans, key=lambda s: int(s["startTimeUnixNano"]))
                self.assertEqual(last["_attrs"]["llmux.task.id"], tid)
                self.assertEqual(last["_attrs"]["llmux.task.state"], "succeeded")
                self.assertEqual(last["_attrs"]["http.response.status_code"], "200")
                self.assertEqual(last["kind"], 3)
            finally:
                self.assertEqual(lx.stop(), 0)
        finally:
            mock.stop()
            rcv.stop()


class DeadReceiver(unittest.TestCase):
    def test_dead_receiver_does_not_slow_or_break_requests(self):
        mock = Mock()
        # a port that refuses, and one that accepts and never answers
        dead = f"http://127.0.0.1:{free_port()}"
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        try:
            for url in (dead, f"http://127.0.0.1:{silent.getsockname()[1]}"):
                lx = Llmux(mock=mock, workers=1, env={"OTEL_EXPORTER_OTLP_ENDPOINT": url})
                try:
                    worst = 0.0
                    deadline = time.monotonic() + 3.5  # spans several export ticks and retries
                    n = 0
                    while time.monotonic() < deadline:
                        t0 = time.monotonic()
                        r = lx.chat({"model": "demo/m+chunks=2", "messages": MSG, "stream": True})
                        worst = max(worst, time.monotonic() - t0)
                        self.assertEqual(r.status, 200)
                        n += 1
                    self.assertLess(worst, 0.5, f"slowest of {n} requests")
                    m = lx.req("GET", "/metrics").body.decode()
                    self.assertIn("llmux_trace_exports_failed_total", m)
                finally:
                    t0 = time.monotonic()
                    self.assertEqual(lx.stop(), 0)
                    self.assertLess(time.monotonic() - t0, 15)  # the shutdown flush is bounded
        finally:
            silent.close()
            mock.stop()


if __name__ == "__main__":
    unittest.main()
