"""Chat completions through the demo (OpenAI-compatible) provider on the mock:
non-stream, SSE pass-through, usage handling, errors, HTTP/1.0 streams,
client disconnects and a graceful stop under live streams."""
import json
import signal
import socket
import threading
import time
import unittest

from harness import ADMIN_KEY, Llmux, Mock, http, sse_events, wait_for

MSG = [{"role": "user", "content": "hello"}]


def stream_request(port, body, version="1.1", extra_headers=""):
    data = json.dumps(body).encode()
    head = (f"POST /v1/chat/completions HTTP/{version}\r\nHost: x\r\n"
            f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n{extra_headers}\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(head + data)
    return s


class Chat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(mock=cls.mock)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0

    def test_non_stream(self):
        r = self.lx.chat({"model": "demo/mock-a+chunks=3", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["object"], "chat.completion")
        self.assertEqual(body["choices"][0]["message"]["content"], "tok0 tok1 tok2 ")
        self.assertEqual(r.headers["x-llmux-provider"], "demo")
        self.assertEqual(r.headers["x-llmux-model"], "mock-a+chunks=3")
        self.assertGreaterEqual(int(r.headers["x-llmux-overhead-us"]), 0)
        # upstream got the client's body with only the model rewritten
        last = self.mock.last()
        sent = json.loads(last["body"])
        self.assertEqual(sent["model"], "mock-a+chunks=3")
        self.assertEqual(sent["messages"], MSG)
        self.assertEqual(last["headers"].get("x-request-id"), r.headers["x-request-id"])

    def test_stream_passthrough_without_usage(self):
        r = self.lx.chat({"model": "demo/m+chunks=5", "messages": MSG, "stream": True})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/event-stream")
        self.assertEqual(r.headers["transfer-encoding"], "chunked")
        events = sse_events(r.body)
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(d) for _, d in events[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                       if c["choices"])
        self.assertEqual(text, "tok0 tok1 tok2 tok3 tok4 ")
        # we asked upstream for usage, the client did not: no usage chunk
        self.assertFalse(any("usage" in c and c["usage"] for c in chunks))
        sent = json.loads(self.mock.last()["body"])
        self.assertTrue(sent["stream_options"]["include_usage"])

    def test_stream_with_usage_when_asked(self):
        r = self.lx.chat({"model": "demo/m+chunks=2", "messages": MSG, "stream": True,
                          "stream_options": {"include_usage": True}})
        chunks = [json.loads(d) for _, d in sse_events(r.body)[:-1]]
        usage = [c for c in chunks if c.get("usage")]
        self.assertEqual(len(usage), 1)
        self.assertEqual(usage[0]["usage"]["completion_tokens"], 2)

    def test_usage_record_logged(self):
        r = self.lx.chat({"model": "demo/m+chunks=4", "messages": MSG, "stream": True})
        rid = r.headers["x-request-id"]

        def record():
            for line in self.lx.log().splitlines():
                if '"msg":"usage"' in line and rid in line:
                    return json.loads(line)
        u = wait_for(record, timeout=3, what="usage record")
        self.assertEqual(u["tokens_out"], 4)
        self.assertGreater(u["tokens_in"], 0)
        self.assertEqual(u["status"], 200)
        self.assertEqual(u["provider"], "demo")
        # every field of the line (it is built without printf)
        self.assertEqual((u["level"], u["request_id"], u["model"], u["requested_model"],
                          u["feature"], u["error"], u["error_code"], u["tokens_cached"]),
                         ("info", rid, "m+chunks=4", "demo/m+chunks=4", "chat", "", "", 0))
        self.assertGreater(u["total_us"], 0)
        self.assertGreaterEqual(u["total_us"], u["ttfb_us"])
        self.assertIsInstance(u["key_id"], str)

    def test_http10_stream_is_plain_body_and_closes(self):
        s = stream_request(self.lx.port, {"model": "demo/m+chunks=3", "messages": MSG,
                                          "stream": True}, version="1.0")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"))
        self.assertNotIn(b"chunked", head.lower())
        self.assertIn(b"Connection: close", head)
        events = sse_events(body)
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertEqual(len(events), 1 + 3 + 1 + 1)  # role, 3 tokens, finish, [DONE]

    def test_errors_in_openai_shape(self):
        cases = [
            (b"{not json", 400, "invalid_json"),
            (json.dumps({"messages": MSG}).encode(), 400, "missing_field"),
            (json.dumps({"model": "demo/x"}).encode(), 400, "missing_field"),
            (json.dumps({"model": 5, "messages": MSG}).encode(), 400, "invalid_type"),
            (json.dumps({"model": "demo/x", "messages": "hi"}).encode(), 400, "invalid_type"),
            # the same through the tree (an escape in the model name)
            (b'{"model":"demo/\\u0078","messages":"hi"}', 400, "invalid_type"),
            (b'{"model":["\\u0078"],"messages":[]}', 400, "invalid_type"),
            (json.dumps({"model": "nope/x", "messages": MSG}).encode(), 404, "model_not_found"),
            (json.dumps({"model": "bare-name", "messages": MSG}).encode(), 404,
             "model_not_found"),
            (b"[" * 200 + b"]" * 200, 400, "invalid_json"),
        ]
        for body, status, code in cases:
            r = self.lx.chat(body)
            self.assertEqual(r.status, status, (body[:40], r))
            self.assertEqual(r.json()["error"]["code"], code, body)
        r = self.lx.chat(json.dumps({"model": 5, "messages": MSG}).encode())
        self.assertEqual(r.json()["error"]["message"], "'model' must be a string")
        self.assertEqual(r.json()["error"]["param"], "model")
        r = self.lx.req("POST", "/v1/messages", body=json.dumps(
            {"model": 5, "max_tokens": 5, "messages": MSG}).encode())
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["type"], "invalid_request_error")
        self.assertIn("model", r.json()["error"]["message"])

    def test_bodies_the_scan_leaves_to_jansson(self):
        # Read without a tree or parsed: the same answers either way.
        cases = [
            # duplicate keys, also nested, are refused as before
            (b'{"model":"demo/m","messages":[{"role":"user","role":"user","content":"x"}]}',
             400, "invalid_json", "duplicate object key"),
            (b'{"model":"demo/m","messages":[],"model":"demo/m"}', 400, "invalid_json",
             "duplicate object key"),
            (b'{"model":"demo/m","messages":[{"role":"user","content":"a\\u0000b"}]}',
             400, "invalid_json", "\\u0000"),
            (b'{"model":"demo/m","messages":[]} x', 400, "invalid_json", "end of file"),
            (b'{"model":"demo/m","messages":["\xc0\xaf"]}', 400, "invalid_json", "0xc0"),
            (b'[{"model":"demo/m","messages":[]}]', 400, "bad_request", "JSON object"),
        ]
        for body, status, code, text in cases:
            r = self.lx.chat(body)
            self.assertEqual(r.status, status, (body, r))
            err = r.json()["error"]
            self.assertEqual(err["code"], code, (body, r))
            self.assertIn(text, err["message"], (body, r))
        # A model name written with escapes, and an escaped key: parsed, routed.
        r = self.lx.chat(b'{"model":"demo\\/m+chunks=2","m\\u0065ssages":[{"role":"user",'
                         b'"content":"hi"}],"big":1234567890123456789}')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(self.mock.last()["body"])["model"], "m+chunks=2")

    def test_stream_options_spliced_into_the_clients_bytes(self):
        for so, want in [
            ({"include_usage": False, "x": 1}, {"include_usage": True, "x": 1}),
            ({}, {"include_usage": True}),
            (None, {"include_usage": True}),
            ("yes", {"include_usage": True}),
        ]:
            r = self.lx.chat({"model": "demo/m+chunks=2", "messages": MSG, "stream": True,
                              "stream_options": so})
            self.assertEqual(r.status, 200, r)
            chunks = [json.loads(d) for _, d in sse_events(r.body)[:-1]]
            self.assertFalse(any(c.get("usage") for c in chunks))
            sent = json.loads(self.mock.last()["body"])
            self.assertEqual(sent["stream_options"], want)
            self.assertEqual(sent["messages"], MSG)

    def test_auth(self):
        r = self.lx.chat({"model": "demo/m", "messages": MSG}, key=None)
        self.assertEqual(r.status, 401)
        r = self.lx.chat({"model": "demo/m", "messages": MSG}, key="wrong-key")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], "invalid_api_key")
        r = self.lx.chat({"model": "demo/m+chunks=1", "messages": MSG}, key=None,
                         headers={"x-api-key": ADMIN_KEY})
        self.assertEqual(r.status, 200)

    def test_upstream_429_keeps_retry_after(self):
        r = self.lx.chat({"model": "demo/m+fault=429+retry_after=7", "messages": MSG})
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["retry-after"], "7")
        self.assertEqual(r.json()["error"]["type"], "rate_limit_error")

    def test_upstream_5xx(self):
        for fault in ("500", "503"):
            r = self.lx.chat({"model": f"demo/m+fault={fault}", "messages": MSG})
            self.assertEqual(r.status, int(fault))
            self.assertIn("error", r.json())

    def test_upstream_down(self):
        lx = Llmux(env={"LLMUX_DEMO_BASE_URL": "http://127.0.0.1:1/v1"})
        try:
            r = lx.chat({"model": "demo/m", "messages": MSG})
            self.assertEqual(r.status, 502)
            self.assertIn("connect_failed", r.json()["error"]["message"])
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_midstream_drop_ends_with_error_event(self):
        r = self.lx.chat({"model": "demo/m+chunks=6+fault=drop+after=2", "messages": MSG,
                          "stream": True})
        self.assertEqual(r.status, 200)
        events = sse_events(r.body)
        self.assertNotEqual(events[-1][1], "[DONE]")
        self.assertIn("error", json.loads(events[-1][1]))

    def test_client_disconnect_cancels_upstream(self):
        for fault, stream in (("stall_headers", False), ("stall_mid", True),
                              ("stall_headers", True)):
            before = self.mock.stats()["client_gone"]
            sent = self.mock.stats()["requests_total"]
            s = stream_request(self.lx.port, {"model": f"demo/m+chunks=5+fault={fault}+after=1",
                                              "messages": MSG, "stream": stream})
            wait_for(lambda: self.mock.stats()["requests_total"] > sent, timeout=5,
                     what="the request upstream")
            s.close()
            t0 = time.monotonic()
            wait_for(lambda: self.mock.stats()["client_gone"] > before, timeout=3,
                     what=f"upstream cancelled ({fault}, stream={stream})")
            self.assertLess(time.monotonic() - t0, 1.5)


class GracefulStop(unittest.TestCase):
    def test_sigterm_during_50_streams(self):
        mock = Mock()
        lx = Llmux(mock=mock)
        results = [None] * 50

        def client(i):
            s = stream_request(lx.port, {"model": "demo/m+chunks=20+gap_ms=50",
                                         "messages": MSG, "stream": True})
            data = b""
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
                    if data.endswith(b"0\r\n\r\n"):
                        break
            finally:
                s.close()
            results[i] = data

        threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        wait_for(lambda: mock.stats()["streams_started"] >= 50, timeout=10, what="50 streams")
        lx.proc.p.send_signal(signal.SIGTERM)

        def refused():  # no new connections once draining
            try:
                http("GET", lx.url + "/healthz", timeout=2)
                return False
            except OSError:
                return True
        wait_for(refused, timeout=5, what="the listener closed")
        for t in threads:
            t.join(timeout=30)
        rc = lx.stop()
        self.assertEqual(rc, 0)
        for i, data in enumerate(results):
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), (i, head[:50]))
            self.assertTrue(body.endswith(b"0\r\n\r\n"), i)
            text = body.decode(errors="replace")
            self.assertIn("data: [DONE]", text, i)
            self.assertEqual(text.count("tok"), 20, i)
        mock.stop()



def upstream_connections(mock_port):
    """Established TCP connections to the mock (the client side: remote port
    is the mock's), from /proc/net/tcp."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            rem_port = int(parts[2].split(":")[1], 16)
            if rem_port == mock_port and parts[3] == "01":
                n += 1
    return n


class OneWorker(unittest.TestCase):
    """A mock and an llmux with one worker (so that one curl cache holds
    every upstream connection), for the classes below."""

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(mock=cls.mock, workers=1)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0


class IdleTrim(OneWorker):
    """After a burst, a worker that has been quiet for a second closes the
    upstream connections the burst left in curl's cache (beyond a few), and
    the next requests still work on fresh ones."""

    def burst(self, n):
        results = []

        def one():
            r = self.lx.chat({"model": "demo/m+chunks=3+latency_ms=300", "messages": MSG})
            results.append(r.status)

        threads = [threading.Thread(target=one) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_burst_connections_closed_when_quiet(self):
        self.assertEqual(self.burst(40), [200] * 40)
        self.assertGreaterEqual(upstream_connections(self.mock.port), 30)
        wait_for(lambda: upstream_connections(self.mock.port) == 0, timeout=5)
        # and the worker goes on with new connections
        self.assertEqual(self.burst(5), [200] * 5)
        r = self.lx.chat({"model": "demo/m+chunks=2", "messages": MSG, "stream": True})
        self.assertEqual(r.status, 200)
        self.assertEqual(sse_events(r.body)[-1][1], "[DONE]")

    def test_a_few_idle_connections_are_kept(self):
        wait_for(lambda: upstream_connections(self.mock.port) == 0, timeout=5)
        self.assertEqual(self.burst(8), [200] * 8)
        time.sleep(1.6)
        self.assertGreaterEqual(upstream_connections(self.mock.port), 1)


class UpstreamGone(OneWorker):
    """Idle upstream connections stay watched while curl keeps them for reuse;
    when the server closes them all (a restart), the next requests must go
    out on new connections at once, streams included, many times over (new
    sockets reuse the fd numbers of the old ones)."""

    def test_requests_after_upstream_restarts(self):
        for round_ in range(3):
            statuses = []

            def one(stream):
                body = {"model": "demo/m+chunks=3", "messages": MSG, "stream": stream}
                r = self.lx.chat(body)
                ok = r.status == 200 and (not stream or sse_events(r.body)[-1][1] == "[DONE]")
                statuses.append(ok)

            threads = [threading.Thread(target=one, args=(i % 2 == 0,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(statuses, [True] * 8, f"round {round_}")
            self.assertGreaterEqual(upstream_connections(self.mock.port), 1)
            self.assertEqual(self.mock.restart(), 0)
            wait_for(lambda: upstream_connections(self.mock.port) == 0, timeout=5,
                     what="old upstream connections closed")
        t0 = time.monotonic()
        r = self.lx.chat({"model": "demo/m+chunks=2", "messages": MSG})
        self.assertEqual(r.status, 200)
        self.assertLess(time.monotonic() - t0, 2.0)

if __name__ == "__main__":
    unittest.main()
