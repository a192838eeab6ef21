"""Upstream faults, end to end: every mock fault mode through the
OpenAI-compatible `demo` provider (pass-through) and the Anthropic provider
(translated), per-provider timeouts from a config file, backpressure against a
client that stops reading, the headers upstream sees, the images endpoint, and
exactly one usage record per request whatever way it ends."""
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest

from harness import ADMIN_KEY, Llmux, Mock, _read_response, sse_events, wait_for

MSG = [{"role": "user", "content": "hello"}]

# The mock's error messages per status (bench/mock/reply.c).
UPSTREAM_MSG = {
    400: "Invalid request (mock fault)",
    401: "Incorrect API key provided (mock fault)",
    403: "Permission denied (mock fault)",
    404: "Not found (mock fault)",
    413: "Request too large (mock fault)",
    422: "Unprocessable entity (mock fault)",
    429: "Rate limit reached (mock fault)",
    500: "Internal server error (mock fault)",
    502: "Bad gateway (mock fault)",
    503: "Service unavailable (mock fault)",
    529: "Overloaded (mock fault)",
}

SHORT_MS = 300  # first-byte and idle limits of the "slow" provider
TOTAL_MS = 500  # whole-call limit of the "capped" provider
SLOW_KEY = "sk-slow-upstream-key"
ANT_KEY = "sk-ant-upstream-key"


def raw_request(port, path, body, headers="", rcvbuf=None):
    """Sends one request on a raw socket and returns the socket unread."""
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"Connection: close\r\n{headers}\r\n").encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(head + data)
    return s


def keepalive_chats(port, bodies):
    """Sends the chat requests one after another on ONE client connection
    (so one llmux worker, whose curl keeps its upstream connection)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        with s.makefile("rb") as f:
            for body in bodies:
                data = json.dumps(body).encode()
                s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: Bearer {ADMIN_KEY}\r\n"
                           f"Content-Type: application/json\r\n"
                           f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
                out.append(_read_response(f))
    return out


def read_until_close(s):
    data = bytearray()
    while True:
        b = s.recv(1 << 20)
        if not b:
            return bytes(data)
        data += b


def dechunk(body):
    """Decodes a chunked body; fails on a truncated one."""
    out, i = bytearray(), 0
    while True:
        j = body.index(b"\r\n", i)
        size = int(body[i:j].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += body[j + 2:j + 2 + size]
        if body[j + 2 + size:j + 4 + size] != b"\r\n":
            raise AssertionError(f"bad chunk framing at byte {j + 2 + size}")
        i = j + 2 + size + 2


def chunk_texts(events):
    """The content pieces of OpenAI chunks, in order (error/[DONE] skipped)."""
    out = []
    for _, d in events:
        if d == "[DONE]":
            continue
        c = json.loads(d)
        for ch in c.get("choices") or []:
            t = ch.get("delta", {}).get("content")
            if t:
                out.append(t)
    return out


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.tmp = tempfile.mkdtemp(prefix="lx-faults-")
        cls.cfg = os.path.join(cls.tmp, "llmux.json")
        up = cls.mock.url
        with open(cls.cfg, "w") as f:
            json.dump({"providers": {
                # short timeouts, an upstream key and an extra header
                "slow": {"kind": "openai_compatible", "base_url": up + "/v1",
                         "api_key": SLOW_KEY, "first_byte_timeout_ms": SHORT_MS,
                         "idle_timeout_ms": SHORT_MS, "headers": {"X-Test-Team": "a"}},
                # the same mock with the default timeouts (120 s)
                "patient": {"kind": "openai_compatible", "base_url": up + "/v1"},
                # a whole-call limit only
                "capped": {"kind": "openai_compatible", "base_url": up + "/v1",
                           "total_timeout_ms": TOTAL_MS},
                # an Anthropic-kind provider with an extra header
                "claude2": {"kind": "anthropic", "base_url": up, "api_key": ANT_KEY,
                            "headers": {"X-Test-Team": "b"}},
            }}, f)
        cls.lx = Llmux(mock=cls.mock, args=("--config", cls.cfg), env={
            "ANTHROPIC_API_KEY": ANT_KEY, "ANTHROPIC_BASE_URL": up,
            # These tests are about how each fault reaches the client, request by
            # request: no breaker, no cooling (test_routing covers those).
            "LLMUX_BREAKER_FAILURES": "0", "LLMUX_COOLING_CAP_MS": "0", "LLMUX_RETRY_SAME": "0",
            "LLMUX_STREAM_HIGH_WATER": "8192",
        })

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.lx.stop() == 0
            assert cls.mock.stop() == 0
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ----

    def chat(self, model, stream=False, **kw):
        body = {"model": model, "messages": MSG}
        if stream:
            body["stream"] = True
        t0 = time.monotonic()
        r = self.lx.chat(body, **kw)
        return r, time.monotonic() - t0

    def assert_openai_error(self, r, status, code=None, msg_part=None):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("content-type"), "application/json", r.headers)
        b = r.json()
        self.assertEqual(set(b), {"error"}, b)
        self.assertEqual(set(b["error"]), {"message", "type", "param", "code"}, b)
        self.assertIsInstance(b["error"]["message"], str)
        self.assertIsInstance(b["error"]["type"], str)
        if code is not None:
            self.assertEqual(b["error"]["code"], code, b)
        if msg_part is not None:
            self.assertIn(msg_part, b["error"]["message"], b)
        return b["error"]

    def assert_stream_error_end(self, r, msg_part=None):
        """A started stream that ends with a data: {"error":...} event and no [DONE]."""
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "text/event-stream")
        events = sse_events(r.body)
        self.assertNotIn("[DONE]", [d for _, d in events], r.body[-400:])
        last = json.loads(events[-1][1])
        self.assertEqual(set(last), {"error"}, last)
        self.assertIsInstance(last["error"]["message"], str)
        if msg_part is not None:
            self.assertIn(msg_part, last["error"]["message"])
        return events

    def usage_records(self, rid):
        out = []
        for line in self.lx.log().splitlines():
            if '"msg":"usage"' in line and rid in line:
                rec = json.loads(line)
                if rec.get("request_id") == rid:
                    out.append(rec)
        return out

    def assert_one_usage(self, rid, status):
        """Exactly one usage record for rid (worker logs flush every 100 ms:
        wait for it, then long enough that a second one would show)."""
        wait_for(lambda: self.usage_records(rid), timeout=5, what=f"usage record of {rid}")
        time.sleep(0.35)
        recs = self.usage_records(rid)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["status"], status, recs[0])
        return recs[0]

    # ---- 1. status faults through demo (pass-through) ----

    def test_demo_429_keeps_retry_after(self):
        for stream in (False, True):
            r, _ = self.chat("demo/m+fault=429+retry_after=9", stream=stream)
            e = self.assert_openai_error(r, 429, "rate_limit_exceeded", UPSTREAM_MSG[429])
            self.assertEqual(e["type"], "rate_limit_error")
            self.assertEqual(r.headers.get("retry-after"), "9", stream)
            self.assertEqual(r.headers.get("x-llmux-provider"), "demo")

    def test_demo_5xx_passed_through(self):
        for status in (500, 502, 503, 529):
            for stream in (False, True):
                with self.subTest(status=status, stream=stream):
                    r, _ = self.chat(f"demo/m+fault={status}", stream=stream)
                    e = self.assert_openai_error(r, status, msg_part=UPSTREAM_MSG[status])
                    self.assertEqual(e["type"], "server_error")
                    self.assertNotIn("retry-after", r.headers)

    def test_demo_4xx_passed_through_with_upstream_message(self):
        for status in (400, 401, 403, 404, 413, 422):
            for stream in (False, True):
                with self.subTest(status=status, stream=stream):
                    r, _ = self.chat(f"demo/m+fault={status}", stream=stream)
                    self.assert_openai_error(r, status, msg_part=UPSTREAM_MSG[status])

    # ---- 1. transport faults through an OpenAI-compatible provider ----

    def test_stall_headers_times_out_with_504(self):
        for stream in (False, True):
            gone = self.mock.stats()["client_gone"]
            r, dt = self.chat("slow/m+fault=stall_headers", stream=stream)
            self.assert_openai_error(r, 504, "upstream_timeout", "first_byte_timeout")
            self.assertGreaterEqual(dt, SHORT_MS / 1000 * 0.9, stream)
            self.assertLess(dt, 1.0, stream)
            # the stalled upstream call was cancelled
            wait_for(lambda: self.mock.stats()["client_gone"] > gone, timeout=2,
                     what="upstream connection closed after the timeout")
            self.assert_one_usage(r.headers["x-request-id"], 504)

    def test_stall_mid_stream_ends_with_error_event(self):
        r, dt = self.chat("slow/m+chunks=5+fault=stall_mid+after=2", stream=True)
        events = self.assert_stream_error_end(r, "idle_timeout")
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 "])
        self.assertLess(dt, 1.0)
        self.assert_one_usage(r.headers["x-request-id"], 200)  # a stream: what the client saw

    def test_stall_mid_non_stream_is_504(self):
        # headers and half the body, then silence
        r, dt = self.chat("slow/m+chunks=5+fault=stall_mid")
        self.assert_openai_error(r, 504, "upstream_timeout", "idle_timeout")
        self.assertLess(dt, 1.0)

    def test_drop(self):
        r, _ = self.chat("demo/m+chunks=6+fault=drop+after=3", stream=True)
        events = self.assert_stream_error_end(r)
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 ", "tok2 "])
        r, _ = self.chat("demo/m+chunks=6+fault=drop")
        self.assert_openai_error(r, 502, "upstream_error")
        self.assert_one_usage(r.headers["x-request-id"], 502)

    def test_malformed_stream_is_passed_through(self):
        # Pass-through forwards upstream's bytes: the broken frame reaches the
        # client as upstream sent it, between intact chunks, and the [DONE]
        # at the end is upstream's own.
        r, _ = self.chat("demo/m+chunks=4+fault=malformed+after=2", stream=True)
        self.assertEqual(r.status, 200)
        self.assertIn(b'\n\ndata: {"choices":[{"delta":{"content":"x"\n\n', r.body)
        events = sse_events(r.body)
        self.assertEqual(events[-1][1], "[DONE]")
        good = [(e, d) for e, d in events if d != '{"choices":[{"delta":{"content":"x"']
        self.assertEqual(len(good), len(events) - 1)
        self.assertEqual(chunk_texts(good), ["tok0 ", "tok1 ", "tok2 ", "tok3 "])

    def test_malformed_non_stream_is_502(self):
        r, _ = self.chat("demo/m+chunks=4+fault=malformed")
        self.assert_openai_error(r, 502, "upstream_error")
        self.assert_one_usage(r.headers["x-request-id"], 502)

    def test_malformed_image_answer_is_502(self):
        r = self.lx.req("POST", "/v1/images/generations",
                        body={"model": "demo/dall-e-3+fault=malformed", "prompt": "a cat"})
        self.assert_openai_error(r, 502, "upstream_error")

    def test_error_event_ends_stream(self):
        r, _ = self.chat("demo/m+chunks=5+fault=error_event+after=2", stream=True)
        events = self.assert_stream_error_end(r, "upstream failure")  # upstream's own event
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 "])
        self.assert_one_usage(r.headers["x-request-id"], 200)  # the status the client saw

    def test_slow_body_still_succeeds(self):
        # the two halves come 200 ms apart: under the slow provider's 300 ms idle limit
        for model in ("demo/m+chunks=5+fault=slow_body", "slow/m+chunks=5+fault=slow_body"):
            r, dt = self.chat(model)
            self.assertEqual(r.status, 200, (model, r))
            b = r.json()
            self.assertEqual(b["choices"][0]["message"]["content"],
                             "tok0 tok1 tok2 tok3 tok4 ")
            self.assertEqual(b["usage"]["completion_tokens"], 5)
            self.assertGreaterEqual(dt, 0.18)

    # ---- 1. the same faults through the Anthropic provider (translated) ----

    def test_anthropic_status_faults(self):
        for status in (429, 529, 500):
            for stream in (False, True):
                with self.subTest(status=status, stream=stream):
                    r, _ = self.chat(f"anthropic/claude-x+fault={status}+retry_after=4",
                                     stream=stream)
                    e = self.assert_openai_error(r, status, msg_part=UPSTREAM_MSG[status])
                    self.assertEqual(r.headers.get("x-llmux-provider"), "anthropic")
                    if status == 429:
                        self.assertEqual(e["type"], "rate_limit_error")
                        self.assertEqual(r.headers.get("retry-after"), "4")

    def test_anthropic_error_event_mid_stream(self):
        r, _ = self.chat("anthropic/claude-x+chunks=5+fault=error_event+after=2", stream=True)
        events = self.assert_stream_error_end(r, "Overloaded")
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 "])
        self.assert_one_usage(r.headers["x-request-id"], 200)  # the status the client saw

    def test_anthropic_drop_and_malformed(self):
        r, _ = self.chat("anthropic/claude-x+chunks=5+fault=drop+after=2", stream=True)
        events = self.assert_stream_error_end(r)
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 "])
        # a translated stream cannot pass a broken frame on: it ends with an error
        r, _ = self.chat("anthropic/claude-x+chunks=5+fault=malformed+after=2", stream=True)
        events = self.assert_stream_error_end(r, "malformed")
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 "])
        r, _ = self.chat("anthropic/claude-x+chunks=5+fault=malformed")
        self.assert_openai_error(r, 502, "upstream_error")
        r, _ = self.chat("anthropic/claude-x+chunks=5+fault=drop")
        self.assert_openai_error(r, 502, "upstream_error")

    # ---- 2. per-provider timeouts from the config file ----

    def test_per_provider_timeouts(self):
        # time to first byte 600 ms: over "slow"'s 300 ms, under the default
        r, dt = self.chat("slow/m+chunks=3+ttft_ms=600", stream=True)
        self.assert_openai_error(r, 504, "upstream_timeout")
        self.assertLess(dt, 1.0)
        r, dt = self.chat("slow/m+chunks=3+latency_ms=600")
        self.assert_openai_error(r, 504, "upstream_timeout")
        self.assertLess(dt, 1.0)

        r, dt = self.chat("patient/m+chunks=3+ttft_ms=600", stream=True)
        self.assertEqual(r.status, 200, r)
        events = sse_events(r.body)
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 ", "tok2 "])
        self.assertGreaterEqual(dt, 0.55)
        r, dt = self.chat("patient/m+chunks=3+latency_ms=600")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["choices"][0]["message"]["content"], "tok0 tok1 tok2 ")

        # a 600 ms gap between chunks: idle limit
        r, dt = self.chat("slow/m+chunks=3+gap_ms=600", stream=True)
        events = self.assert_stream_error_end(r, "idle_timeout")
        self.assertEqual(chunk_texts(events), ["tok0 "])
        r, dt = self.chat("patient/m+chunks=3+gap_ms=600", stream=True)
        events = sse_events(r.body)
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertEqual(chunk_texts(events), ["tok0 ", "tok1 ", "tok2 "])

    def test_per_provider_total_timeout(self):
        r, dt = self.chat("capped/m+chunks=20+gap_ms=100", stream=True)
        events = self.assert_stream_error_end(r)
        self.assertLess(len(chunk_texts(events)), 20)
        self.assertGreaterEqual(dt, TOTAL_MS / 1000 * 0.9)
        self.assertLess(dt, 1.0)
        self.assert_one_usage(r.headers["x-request-id"], 200)  # a stream: what the client saw
        r, dt = self.chat("capped/m+chunks=2+latency_ms=1000")
        self.assert_openai_error(r, 504, "upstream_timeout")
        self.assertLess(dt, 1.0)
        r, _ = self.chat("patient/m+chunks=20+gap_ms=30", stream=True)  # 600 ms: no limit
        self.assertEqual(chunk_texts(sse_events(r.body)), [f"tok{i} " for i in range(20)])

    def test_total_timeout_named_as_such_on_a_reused_connection(self):
        warm = {"model": "capped/m+chunks=1", "messages": MSG}
        late = {"model": "capped/m+chunks=2+latency_ms=1000", "messages": MSG}
        cut = {"model": "capped/m+chunks=20+gap_ms=100", "messages": MSG, "stream": True}
        ok, r1, ok2, r2 = keepalive_chats(self.lx.port, [warm, late, warm, cut])
        self.assertEqual((ok.status, ok2.status), (200, 200))
        e = self.assert_openai_error(r1, 504, "upstream_timeout")
        self.assertIn("total_timeout", e["message"])
        self.assertIn("total_timeout", json.loads(sse_events(r2.body)[-1][1])["error"]["message"])
        for r, status in ((r1, 504), (r2, 200)):  # r2 failed after its stream started
            u = self.assert_one_usage(r.headers["x-request-id"], status)
            self.assertEqual(u["error"], "total_timeout")

    # ---- 3. backpressure ----

    def metric_sum(self, name):
        """The sum over workers of a /metrics series, or None if it is absent."""
        text = self.lx.req("GET", "/metrics").body.decode()
        vals = re.findall(rf"^{name}(?:\{{[^}}]*\}})?\s+(\d+)\s*$", text, re.M)
        return sum(int(v) for v in vals) if vals else None

    _slow_clients = None

    def slow_clients(self):
        """Two clients that read nothing for 1.5 s, then everything: through
        demo (default timeouts) and through "slow", whose 300 ms idle limit
        must not fire while it is our client, not upstream, that holds the
        stream. Run once; two tests check its result."""
        cls = type(self)
        if cls._slow_clients is not None:
            return cls._slow_clients
        # The kernel absorbs up to tcp_wmem[max] (4 MiB by default) of what
        # llmux writes before its own buffer grows: send more than that. The
        # mock echoes the model in every frame, so a long one makes big frames.
        try:
            with open("/proc/sys/net/ipv4/tcp_wmem") as f:
                wmem_max = int(f.read().split()[2])
        except (OSError, ValueError, IndexError):
            wmem_max = 4 << 20
        model = "m+pad=" + "x" * 150
        n = max(3000, (wmem_max + (1 << 20)) // (200 + len(model)) + 1)
        r = {"n": n, "pauses_before": self.metric_sum("llmux_upstream_pauses_total"),
             "active_before": self.metric_sum("llmux_streams_active"), "data": {}}
        provs = ("demo", "slow")
        socks = [raw_request(self.lx.port, "/v1/chat/completions",
                             {"model": f"{prov}/{model}+chunks={n}+gap_ms=0", "messages": MSG,
                              "stream": True}, rcvbuf=4096)
                 for prov in provs]
        try:
            time.sleep(1.5)  # read nothing
            r["pauses_held"] = self.metric_sum("llmux_upstream_pauses_total")
            r["active_held"] = self.metric_sum("llmux_streams_active")
            for prov, s in zip(provs, socks):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # now read fast
                r["data"][prov] = read_until_close(s)
        finally:
            for s in socks:
                s.close()
        cls._slow_clients = r
        return r

    def test_backpressure_holds_stream_and_loses_nothing(self):
        r = self.slow_clients()
        n = r["n"]
        for prov, data in r["data"].items():
            with self.subTest(provider=prov):
                head, _, body = data.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:100])
                events = sse_events(dechunk(body))
                self.assertEqual(events[-1][1], "[DONE]", events[-1][1][:300])
                texts = chunk_texts(events)
                self.assertEqual(len(texts), n)
                self.assertEqual(texts, [f"tok{i} " for i in range(n)])
                rid = re.search(rb"(?im)^x-request-id:\s*(\S+)", head).group(1).decode()
                u = self.assert_one_usage(rid, 200)
                self.assertEqual(u["tokens_out"], n)
        self.assertEqual(r["active_held"] - r["active_before"], 2,
                         "the streams were not held while the clients slept")

    def test_backpressure_pauses_counted_in_metrics(self):
        r = self.slow_clients()
        self.assertIsNotNone(r["pauses_before"], "llmux_upstream_pauses_total is not in /metrics")
        self.assertGreater(r["pauses_held"], r["pauses_before"], "no upstream pause counted")

    # ---- 4. headers upstream sees ----

    def test_extra_headers_reach_upstream_client_auth_never_does(self):
        def sent_headers():
            h = self.mock.last()["headers"]
            self.assertNotIn(ADMIN_KEY, json.dumps(h))
            return h

        for stream in (False, True):
            r, _ = self.chat("slow/m+chunks=2", stream=stream)
            self.assertEqual(r.status, 200, r)
            h = sent_headers()
            self.assertEqual(h.get("x-test-team"), "a")
            self.assertEqual(h.get("authorization"), f"Bearer {SLOW_KEY}")
        r = self.lx.req("POST", "/v1/embeddings", body={"model": "slow/mock-embed", "input": "a"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sent_headers().get("x-test-team"), "a")

        # demo has no key: upstream gets no Authorization at all, whichever
        # header the client authenticated with
        for hdrs, key in (({}, ADMIN_KEY), ({"x-api-key": ADMIN_KEY}, None)):
            r = self.lx.chat({"model": "demo/m+chunks=1", "messages": MSG}, key=key,
                             headers=hdrs)
            self.assertEqual(r.status, 200, r)
            h = sent_headers()
            self.assertNotIn("authorization", h)
            self.assertNotIn("x-api-key", h)

        # Anthropic kind: its own x-api-key, the extra header, no Authorization
        r, _ = self.chat("claude2/claude-x+chunks=2")
        self.assertEqual(r.status, 200, r)
        h = sent_headers()
        self.assertEqual(self.mock.last()["path"], "/v1/messages")
        self.assertEqual(h.get("x-api-key"), ANT_KEY)
        self.assertEqual(h.get("x-test-team"), "b")
        self.assertNotIn("authorization", h)
        r, _ = self.chat("anthropic/claude-x+chunks=2", stream=True)
        self.assertEqual(r.status, 200, r)
        h = sent_headers()
        self.assertEqual(h.get("x-api-key"), ANT_KEY)
        self.assertNotIn("x-test-team", h)  # the other provider's header stays there

    # ---- 5. images ----

    def test_images(self):
        r = self.lx.req("POST", "/v1/images/generations",
                        body={"model": "demo/dall-e-3", "prompt": "a red cat", "n": 2})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(len(b["data"]), 2)
        self.assertTrue(all("url" in d or "b64_json" in d for d in b["data"]), b)
        last = self.mock.last()
        self.assertEqual(last["path"], "/v1/images/generations")
        sent = json.loads(last["body"])
        self.assertEqual((sent["model"], sent["prompt"], sent["n"]), ("dall-e-3", "a red cat", 2))
        u = self.assert_one_usage(r.headers["x-request-id"], 200)
        self.assertEqual(u["feature"], "image")

        r = self.lx.req("POST", "/v1/images/generations", body={"model": "demo/dall-e-3"})
        e = self.assert_openai_error(r, 400)
        self.assertEqual(e["param"], "prompt")

        r = self.lx.req("POST", "/v1/images/generations",
                        body={"model": "anthropic/claude-x", "prompt": "a cat"})
        e = self.assert_openai_error(r, 400)
        self.assertEqual(e["param"], "model")

        r = self.lx.req("POST", "/v1/images/generations",
                        body={"model": "demo/dall-e-3+fault=429+retry_after=5", "prompt": "x"})
        self.assert_openai_error(r, 429, "rate_limit_exceeded", UPSTREAM_MSG[429])
        self.assertEqual(r.headers.get("retry-after"), "5")

    # ---- 6. exactly one usage record, with the right status ----

    def test_usage_success(self):
        r, _ = self.chat("demo/m+chunks=3", stream=True)
        self.assertEqual(r.status, 200)
        u = self.assert_one_usage(r.headers["x-request-id"], 200)
        self.assertEqual(u["tokens_out"], 3)
        self.assertEqual(u["error"], "")
        r, _ = self.chat("demo/m+chunks=3")
        self.assertEqual(self.assert_one_usage(r.headers["x-request-id"], 200)["tokens_out"], 3)

    def test_usage_upstream_500(self):
        for stream in (False, True):
            r, _ = self.chat("demo/m+fault=500", stream=stream)
            self.assertEqual(r.status, 500)
            u = self.assert_one_usage(r.headers["x-request-id"], 500)
            self.assertNotEqual(u["error"], "")

    def test_usage_client_disconnect_mid_stream(self):
        rid = "faults-disconnect-" + str(int(time.time() * 1000))
        gone = self.mock.stats()["client_gone"]
        s = raw_request(self.lx.port, "/v1/chat/completions",
                        {"model": "demo/m+chunks=40+gap_ms=50", "messages": MSG,
                         "stream": True}, headers=f"X-Request-Id: {rid}\r\n")
        try:
            got = b""
            while got.count(b"tok") < 2:
                b = s.recv(65536)
                self.assertTrue(b, "stream ended early")
                got += b
            self.assertIn(rid.encode(), got)
        finally:
            s.close()
        wait_for(lambda: self.mock.stats()["client_gone"] > gone, timeout=3,
                 what="upstream cancelled")
        self.assert_one_usage(rid, 499)

        # a non-stream client that leaves while upstream has not answered yet
        rid2 = rid + "-wait"
        st = self.mock.stats()
        s = raw_request(self.lx.port, "/v1/chat/completions",
                        {"model": "demo/m+latency_ms=5000", "messages": MSG},
                        headers=f"X-Request-Id: {rid2}\r\n")
        wait_for(lambda: self.mock.stats()["chat"] > st["chat"], timeout=3,
                 what="upstream call in flight")
        s.close()
        wait_for(lambda: self.mock.stats()["client_gone"] > st["client_gone"], timeout=3,
                 what="upstream cancelled")
        self.assert_one_usage(rid2, 499)

    def test_usage_client_leaves_while_upstream_is_paused(self):
        rid = f"faults-paused-leave-{time.time_ns()}"
        active = self.metric_sum("llmux_streams_active")
        s = raw_request(self.lx.port, "/v1/chat/completions",
                        {"model": "demo/m+pad=" + "x" * 150 + "+chunks=20000",
                         "messages": MSG, "stream": True},
                        headers=f"X-Request-Id: {rid}\r\n", rcvbuf=4096)
        try:
            wait_for(lambda: self.metric_sum("llmux_streams_active") > active, timeout=3,
                     what="stream started")
            time.sleep(0.8)  # upstream is held now (see the backpressure tests)
        finally:
            s.close()
        self.assertEqual(self.assert_one_usage(rid, 499)["error"],
                         "client closed the connection")
        wait_for(lambda: self.metric_sum("llmux_streams_active") == active, timeout=3,
                 what="stream finalized")
        r, _ = self.chat("demo/m+chunks=2", stream=True)
        self.assertEqual(chunk_texts(sse_events(r.body)), ["tok0 ", "tok1 "])

    def test_usage_ttfb_kept_when_client_leaves_mid_stream(self):
        rid = f"faults-ttfb-leave-{time.time_ns()}"
        s = raw_request(self.lx.port, "/v1/chat/completions",
                        {"model": "demo/m+chunks=40+gap_ms=50", "messages": MSG,
                         "stream": True}, headers=f"X-Request-Id: {rid}\r\n")
        try:
            got = b""
            while got.count(b"tok") < 2:
                b = s.recv(65536)
                self.assertTrue(b, "stream ended early")
                got += b
        finally:
            s.close()
        u = self.assert_one_usage(rid, 499)
        self.assertGreaterEqual(u["ttfb_us"], 0, u)

    def test_usage_stream_failing_mid_way(self):
        r, _ = self.chat("demo/m+chunks=6+fault=drop+after=2", stream=True)
        self.assert_stream_error_end(r)
        u = self.assert_one_usage(r.headers["x-request-id"], 200)  # what the client saw
        self.assertNotEqual(u["error"], "")
        self.assertEqual(u["error_code"], "upstream_error")

    def test_usage_concurrent_mix(self):
        # many requests ending in different ways at once: one record each
        models = [("demo/m+chunks=5+gap_ms=10", 200), ("demo/m+fault=500", 500),
                  ("demo/m+chunks=6+fault=drop+after=2", 200),  # failed after the stream
                  ("demo/m+chunks=5+fault=error_event+after=1", 200)] * 5  # started
        out = [None] * len(models)

        def go(i, model):
            out[i] = self.lx.chat({"model": model, "messages": MSG, "stream": True})

        threads = [threading.Thread(target=go, args=(i, m)) for i, (m, _) in enumerate(models)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        rids = [r.headers["x-request-id"] for r in out]
        self.assertEqual(len(set(rids)), len(rids))
        wait_for(lambda: all(self.usage_records(rid) for rid in rids), timeout=5,
                 what="all usage records")
        time.sleep(0.35)
        for rid, (model, status) in zip(rids, models):
            recs = self.usage_records(rid)
            self.assertEqual([u["status"] for u in recs], [status], (model, recs))


if __name__ == "__main__":
    unittest.main()
