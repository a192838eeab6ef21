"""The mock upstream's HTTPS listener (bench/mock/tls.c, h2.c): ALPN h2 and
http/1.1 (and http/1.1 only with --alpn), every kind of route and a fault over
HTTP/2 the same as over plain HTTP, a stream delivered chunk by chunk over h2,
200 concurrent streams on one connection, SETTINGS_MAX_CONCURRENT_STREAMS,
flow control with a 1 KiB window, session resumption (TLS 1.3 and 1.2) seen
in the counters, a client without the test CA refused, a client leaving a
stream, a drop fault as a stream reset, and a clean exit with streams open.
Clients: the curl CLI (Debian builds it with nghttp2), h2load (nghttp2-client)
and Python's ssl."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import unittest

from harness import Mock, wait_for

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def curl(mock, path, body=None, *extra, http2=True, ca=True, timeout=20):
    """curl against the mock's https URL; returns (exit code, status, http
    version, body)."""
    argv = ["curl", "-sS", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code} %{http_version}",
            "--http2" if http2 else "--http1.1"]
    if ca:
        argv += ["--cacert", mock.ca]
    if body is not None:
        argv += ["-H", "content-type: application/json", "--data-binary",
                 body if isinstance(body, str) else json.dumps(body)]
    argv += [*extra, mock.https_url + path]
    out = subprocess.run(argv, capture_output=True, timeout=timeout + 10)
    text = out.stdout.decode(errors="replace")
    head, _, tail = text.rpartition("\n")
    parts = tail.split()
    status = int(parts[0]) if parts else 0
    version = parts[1] if len(parts) > 1 else ""
    return out.returncode, status, version, head


def h2load(mock, n, conns, streams, body, *extra):
    """h2load (no certificate check: it is a load tool) over h2; returns its
    output; asserts every request succeeded."""
    if shutil.which("h2load") is None:
        raise unittest.SkipTest("h2load (Debian nghttp2-client) not installed")
    with open(os.path.join(os.path.dirname(mock.ca), f"body-{os.getpid()}.json"), "w") as f:
        f.write(json.dumps(body))
    argv = ["h2load", "-n", str(n), "-c", str(conns), "-m", str(streams), "-d", f.name,
            "-H", "content-type: application/json", *extra,
            mock.https_url + "/v1/chat/completions"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    os.unlink(f.name)
    want = f"requests: {n} total, {n} started, {n} done, {n} succeeded, 0 failed"
    if out.returncode != 0 or want not in out.stdout:
        raise AssertionError(f"h2load: {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out.stdout


def tls_get(mock, path, ctx, session=None):
    """One HTTP/1.1 GET over a TLS socket; returns (response bytes, the
    socket's session after the reply, session_reused)."""
    with socket.create_connection(("127.0.0.1", mock.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                      .encode())
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ssl.SSLEOFError:
                    break
                if not chunk:
                    break
                data += chunk
            return data, s.session, s.session_reused


class MockTlsBase(unittest.TestCase):
    mock_kw = {}

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock(tls=True, **cls.mock_kw)

    @classmethod
    def tearDownClass(cls):
        rc = cls.mock.stop()
        assert rc == 0, f"mock exit {rc}\n{cls.mock.proc.log()}"

    def setUp(self):
        self.mock.reset()

    def settle(self):
        """Waits until no TLS connection and no request is open any more."""
        wait_for(lambda: self.mock.stats()["tls_open"] == 0 and self.mock.stats()["in_flight"] == 0,
                 what="connections closed")
        return self.mock.stats()


class TestMockTls(MockTlsBase):
    def test_h2_every_kind_of_route(self):
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions", CHAT)
        self.assertEqual((rc, st, ver), (0, 200, "2"), body)
        self.assertEqual(json.loads(body)["choices"][0]["message"]["content"],
                         "tok0 tok1 tok2 tok3 tok4 ")
        rc, st, ver, body = curl(self.mock, "/v1/embeddings",
                                 {"model": "text-embedding-3-small", "input": "a"})
        self.assertEqual((st, ver), (200, "2"))
        self.assertEqual(len(json.loads(body)["data"][0]["embedding"]), 8)
        rc, st, ver, body = curl(self.mock, "/v1/messages",
                                 {"model": "claude", "max_tokens": 10,
                                  "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual((st, ver), (200, "2"))
        self.assertEqual(json.loads(body)["type"], "message")
        rc, st, ver, body = curl(self.mock, "/v1beta/models/gemini-2.0-flash:generateContent",
                                 {"contents": [{"parts": [{"text": "hi"}]}]})
        self.assertEqual((st, ver), (200, "2"))
        self.assertIn("candidates", json.loads(body))
        rc, st, ver, body = curl(self.mock, "/v1/videos", {"model": "sora-2", "prompt": "p"})
        self.assertEqual((st, ver), (200, "2"), body)
        vid = json.loads(body)["id"]
        rc, st, ver, body = curl(self.mock, "/v1/videos/" + vid)
        self.assertEqual((st, json.loads(body)["id"]), (200, vid))
        rc, st, ver, body = curl(self.mock, "/v1/models")
        self.assertEqual((st, json.loads(body)["object"]), (200, "list"))
        # A fault: the provider's error shape and header, over h2.
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions",
                                 dict(CHAT, model="m+fault=429+retry_after=7"), "-i")
        self.assertEqual((st, ver), (429, "2"))
        self.assertIn("retry-after: 7", body.lower())
        self.assertEqual(json.loads(body.split("\r\n\r\n", 1)[1])["error"]["code"],
                         "rate_limit_exceeded")
        # Unknown route, wrong method: the same 404/405 as over plain HTTP;
        # a HEAD answer has no body; Expect: 100-continue is not passed on
        # (100 is no final status in HTTP/2).
        self.assertEqual(curl(self.mock, "/v1/nothing")[1], 404)
        self.assertEqual(curl(self.mock, "/v1/chat/completions")[1], 405)
        self.assertEqual(curl(self.mock, "/v1/models", None, "-I")[:2], (0, 405))
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions", CHAT,
                                 "-H", "Expect: 100-continue")
        self.assertEqual((rc, st), (0, 200), body)
        s = self.settle()
        self.assertEqual(s["alpn_h2"], s["tls_accepted"])
        self.assertEqual(s["alpn_http1"], 0)
        self.assertEqual(s["h2_streams"], 12)
        self.assertEqual((s["chat"], s["embeddings"], s["messages"], s["gemini_generate"]),
                         (3, 1, 1, 1))

    def test_http11_over_tls(self):
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions", CHAT, http2=False)
        self.assertEqual((rc, st, ver), (0, 200, "1.1"), body)
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions",
                                 dict(CHAT, stream=True), http2=False)
        self.assertEqual(st, 200)
        self.assertTrue(body.rstrip().endswith("data: [DONE]"), body)
        s = self.settle()
        self.assertEqual((s["alpn_http1"], s["alpn_h2"], s["h2_streams"]), (2, 0, 0))

    def test_stream_chunk_by_chunk_over_h2(self):
        body = json.dumps(dict(CHAT, stream=True, model="m+chunks=5+gap_ms=150"))
        p = subprocess.Popen(["curl", "-sS", "-N", "--http2", "--cacert", self.mock.ca,
                              "-H", "content-type: application/json", "--data-binary", body,
                              self.mock.https_url + "/v1/chat/completions"],
                             stdout=subprocess.PIPE)
        times = {}
        try:
            for line in p.stdout:
                if line.startswith(b"data: {"):
                    delta = json.loads(line[6:])["choices"][0]["delta"]
                    if delta.get("content"):
                        times[delta["content"]] = time.monotonic()
                elif line.startswith(b"data: [DONE]"):
                    break
        finally:
            p.wait(timeout=10)
        self.assertEqual(list(times), [f"tok{i} " for i in range(5)])
        gaps = [b - a for a, b in zip(list(times.values()), list(times.values())[1:])]
        # Each piece arrives on its own, about 150 ms after the one before: a
        # buffered answer would arrive all at once.
        self.assertTrue(all(g > 0.09 for g in gaps), gaps)
        s = self.settle()
        self.assertEqual((s["chat_stream"], s["streams_completed"], s["alpn_h2"]), (1, 1, 1))

    def test_default_max_concurrent_streams_is_100(self):
        h2load(self.mock, 200, 1, 200, dict(CHAT, model="m+chunks=10+gap_ms=30", stream=True))
        s = self.settle()
        self.assertEqual((s["tls_accepted"], s["h2_streams"]), (1, 200))
        self.assertEqual(s["h2_max_concurrent_streams"], 100)

    def test_flow_control_small_window(self):
        # 1 KiB stream windows, 64 KiB connection window: 4 answers of 1 MB each
        # arrive whole, paced by the client's WINDOW_UPDATEs.
        out = h2load(self.mock, 4, 1, 4,
                     dict(CHAT, model="m+fault=huge_body+size=1000000"), "-w", "10", "-W", "16")
        data = int(out.split("traffic:")[1].split("data")[0].split("(")[-1].split(")")[0])
        self.assertGreater(data, 4 * 1000000)
        self.assertEqual(self.settle()["h2_streams"], 4)

    def test_session_resumption(self):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            with self.subTest(version=version.name):
                self.mock.reset()
                ctx = ssl.create_default_context(cafile=self.mock.ca)
                ctx.minimum_version = ctx.maximum_version = version
                data, sess, reused = tls_get(self.mock, "/v1/models", ctx)
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
                self.assertFalse(reused)
                self.assertIsNotNone(sess)
                data, _, reused = tls_get(self.mock, "/v1/models", ctx, session=sess)
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
                self.assertTrue(reused)
                s = self.settle()
                self.assertEqual((s["tls_accepted"], s["tls_handshakes_full"],
                                  s["tls_handshakes_resumed"]), (2, 1, 1))

    def test_client_without_the_ca_is_refused(self):
        rc, st, _, _ = curl(self.mock, "/v1/models", ca=False)
        self.assertEqual((rc, st), (60, 0))  # curl: peer certificate cannot be authenticated
        with self.assertRaises(ssl.SSLCertVerificationError):
            tls_get(self.mock, "/v1/models", ssl.create_default_context())
        # The right CA but a name the certificate does not hold.
        ctx = ssl.create_default_context(cafile=self.mock.ca)
        with socket.create_connection(("127.0.0.1", self.mock.tls_port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="example.com")
        s = self.settle()
        self.assertEqual((s["tls_accepted"], s["tls_handshakes_failed"]), (3, 3))
        self.assertEqual(s["requests_total"], 0)

    def test_client_leaves_h2_stream(self):
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions",
                                 dict(CHAT, stream=True, model="m+chunks=100+gap_ms=50"),
                                 timeout=1)
        self.assertEqual(rc, 28, body)  # curl gave up after 1 s
        wait_for(lambda: self.mock.stats()["client_gone"] == 1, what="client_gone")
        s = self.settle()
        self.assertEqual((s["streams_started"], s["streams_completed"]), (1, 0))

    def test_drop_resets_the_stream(self):
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions",
                                 dict(CHAT, stream=True, model="m+fault=drop+gap_ms=100"), "-N")
        self.assertEqual(rc, 92, body)  # HTTP/2 stream not closed cleanly: RST_STREAM
        # The units before the fault were delivered (curl drops what arrives
        # in the same read as the reset, hence the gap).
        self.assertIn("tok1 ", body)
        self.assertNotIn("tok2 ", body)
        s = self.settle()
        self.assertEqual((s["streams_faulted"], s["faults"]), (1, 1))


class TestMockTlsOpenFiles(MockTlsBase):
    # The TLS front runs in a process of its own: each h2 stream holds one
    # descriptor there (its loopback connection) and one in the plain
    # listener's process, so 200 streams fit in 320 open files per process
    # (in one process they would need 400+).
    mock_kw = {"h2_max_streams": 256, "nofile": 320}

    def test_200_streams_under_a_low_open_file_limit(self):
        h2load(self.mock, 200, 1, 200, dict(CHAT, model="m+chunks=10+gap_ms=50", stream=True))
        s = self.settle()
        self.assertEqual((s["h2_max_concurrent_streams"], s["streams_completed"]), (200, 200))


class TestMockTlsReuse(MockTlsBase):
    # A mock of its own: its pool of idle loopback connections starts empty.
    def test_h2_streams_reuse_loopback_connections(self):
        # One stream at a time: every request after the first goes over the
        # same keep-alive loopback connection to the plain listener, also
        # after error replies; a reply that closes its connection (raw_503
        # sends Connection: close) is not reused.
        out = h2load(self.mock, 50, 1, 1, dict(CHAT, model="m"))
        self.assertIn("status codes: 50 2xx", out)
        s = self.settle()
        self.assertEqual((s["tls_accepted"], s["h2_streams"], s["chat"]), (1, 50, 50))
        self.assertEqual(s["tls_inner_connects"], 1)
        for model, status in (("m", 200), ("m+fault=429", 429), ("m+fault=raw_503", 503),
                              ("m", 200), ("m+fault=500", 500), ("m", 200)):
            rc, st, ver, body = curl(self.mock, "/v1/chat/completions", dict(CHAT, model=model))
            self.assertEqual((st, ver), (status, "2"), body)
            self.assertIn("tok0" if status == 200 else "error", body)
        s = self.settle()
        # The first stream takes the idle one, raw_503 closes it, the 4th opens one.
        self.assertEqual((s["h2_streams"], s["tls_inner_connects"]), (56, 2))


class TestMockTlsManyStreams(MockTlsBase):
    mock_kw = {"h2_max_streams": 256}

    def test_200_concurrent_streams_on_one_connection(self):
        h2load(self.mock, 200, 1, 200, dict(CHAT, model="m+chunks=10+gap_ms=30", stream=True))
        s = self.settle()
        self.assertEqual((s["tls_accepted"], s["alpn_h2"]), (1, 1))
        self.assertEqual((s["h2_streams"], s["chat_stream"], s["streams_completed"]),
                         (200, 200, 200))
        self.assertEqual(s["h2_max_concurrent_streams"], 200)


class TestMockTlsHttp1Only(MockTlsBase):
    mock_kw = {"alpn": "http/1.1"}

    def test_alpn_offers_only_http11(self):
        rc, st, ver, body = curl(self.mock, "/v1/chat/completions", CHAT, http2=True)
        self.assertEqual((rc, st, ver), (0, 200, "1.1"), body)
        ctx = ssl.create_default_context(cafile=self.mock.ca)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", self.mock.tls_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        s = self.settle()
        self.assertEqual((s["alpn_h2"], s["alpn_http1"]), (0, 2))


class TestMockTlsGoaway(MockTlsBase):
    mock_kw = {"h2_max_requests": 10}

    def test_goaway_after_max_requests(self):
        # 25 requests one after another in one curl: the mock retires each
        # connection with a GOAWAY at its 10th stream, curl opens a new one.
        argv = ["curl", "-sS", "--http2", "--cacert", self.mock.ca,
                "-w", "%{http_code} %{http_version}\n"]
        for i in range(25):
            argv += ["-o", "/dev/null", self.mock.https_url + f"/v1/models?i={i}"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split("\n")[:25], ["200 2"] * 25)
        s = self.settle()
        self.assertEqual((s["tls_accepted"], s["h2_streams"], s["h2_goaway_sent"]), (3, 25, 2))

    def test_goaway_lets_open_streams_finish(self):
        # 10 streams at once on one connection: the 10th brings the GOAWAY,
        # and all ten answers still arrive whole.
        h2load(self.mock, 10, 1, 10, dict(CHAT, model="m+chunks=5+gap_ms=50", stream=True))
        s = self.settle()
        self.assertEqual((s["tls_accepted"], s["h2_goaway_sent"], s["streams_completed"]),
                         (1, 1, 10))


class TestMockTlsShutdown(unittest.TestCase):
    def test_clean_exit_with_streams_open(self):
        mock = Mock(tls=True)
        body = json.dumps(dict(CHAT, stream=True, model="m+chunks=1000+gap_ms=100"))
        clients = [subprocess.Popen(["curl", "-sS", "-N", v, "--cacert", mock.ca,
                                     "--data-binary", body,
                                     mock.https_url + "/v1/chat/completions"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for v in ("--http2", "--http1.1")]
        try:
            wait_for(lambda: mock.stats()["in_flight"] == 2, what="two streams open")
            self.assertEqual(mock.stats()["tls_open"], 2)
            self.assertEqual(mock.stop(), 0)  # and no sanitizer report (Proc.stop)
        finally:
            for c in clients:
                c.wait(timeout=30)


if __name__ == "__main__":
    unittest.main()
