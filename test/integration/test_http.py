"""HTTP layer: limits with real replies, request ids, errors in the client's
shape, keep-alive, HTTP/1.0."""
import socket
import time
import unittest

from harness import Llmux, http


class HttpLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lx = Llmux(env={"LLMUX_MAX_BODY_BYTES": "4096", "LLMUX_HEADER_TIMEOUT_MS": "400",
                            "LLMUX_MAX_HEADERS": "20", "LLMUX_MAX_HEADER_BYTES": "4096",
                            "LLMUX_KEEPALIVE_TIMEOUT_MS": "800"})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0

    def raw(self, data, timeout=5):
        with socket.create_connection(("127.0.0.1", self.lx.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except ConnectionResetError:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)

    def test_healthz(self):
        r = http("GET", self.lx.url + "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})
        self.assertTrue(r.headers["x-request-id"].startswith("req_"))

    def test_request_id_echoed(self):
        r = http("GET", self.lx.url + "/healthz", headers={"X-Request-Id": "client-id-42"})
        self.assertEqual(r.headers["x-request-id"], "client-id-42")
        # an unsafe id is replaced by a generated one
        r = http("GET", self.lx.url + "/healthz", headers={"X-Request-Id": "bad id\"x"})
        self.assertTrue(r.headers["x-request-id"].startswith("req_"))

    def test_known_headers_any_case_first_wins_per_request(self):
        with socket.create_connection(("127.0.0.1", self.lx.port), timeout=5) as s:
            f = s.makefile("rb")

            def get(extra):
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
                self.assertTrue(f.readline().startswith(b"HTTP/1.1 200"))
                hdrs = {}
                while (line := f.readline()) not in (b"\r\n", b""):
                    k, v = line.decode().split(":", 1)
                    hdrs[k.strip().lower()] = v.strip()
                f.read(int(hdrs["content-length"]))
                return hdrs

            h = get(b"x-REQUEST-id: first-1\r\nX-Request-Id: second-2\r\n")
            self.assertEqual(h["x-request-id"], "first-1")
            # the next request on the connection does not see the last one's
            self.assertTrue(get(b"").get("x-request-id", "").startswith("req_"))
            self.assertEqual(get(b"X-REQUEST-ID: third-3\r\n")["x-request-id"], "third-3")
        out = self.raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                       b"content-LENGTH: 99999\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:100])

    def test_not_found_and_method_in_openai_shape(self):
        r = http("GET", self.lx.url + "/nope")
        self.assertEqual(r.status, 404)
        err = r.json()["error"]
        self.assertEqual(set(err), {"message", "type", "param", "code"})
        r = http("DELETE", self.lx.url + "/healthz")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.json()["error"]["code"], "method_not_allowed")

    def test_body_too_large_decided_from_content_length(self):
        # Only the head is sent: the 413 must come without the body.
        head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                b"\r\nContent-Length: 100000\r\n\r\n")
        out = self.raw(head)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:100])
        self.assertIn(b"Connection: close", out)
        self.assertIn(b'"code":"request_too_large"', out)
        self.assertIn(b"the limit is 4096 bytes (limits.max_body_bytes)", out)

    def test_body_too_large_with_body_sent(self):
        r = http("POST", self.lx.url + "/v1/chat/completions", body=b"x" * 20000)
        self.assertEqual(r.status, 413)

    def test_chunked_body_too_large(self):
        chunk = b"x" * 3000
        data = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 3 + b"0\r\n\r\n")
        out = self.raw(data)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:100])

    def test_too_many_headers(self):
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(40))
        out = self.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out[:100])

    def test_header_too_large(self):
        out = self.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out[:100])

    def test_header_line_over_parser_buffer(self):
        # evhtp's parser drops lines over 8 KiB without a word; we still answer.
        out = self.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out[:100])

    def test_slow_header_gets_408(self):
        with socket.create_connection(("127.0.0.1", self.lx.port), timeout=5) as s:
            t0 = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
            out = s.recv(4096)
            elapsed = time.monotonic() - t0
            self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out[:100])
            self.assertIn(b"Connection: close", out)
            self.assertGreater(elapsed, 0.3)
            self.assertEqual(s.recv(4096), b"")  # and the connection is closed

    def test_silent_connection_closed_after_header_timeout(self):
        with socket.create_connection(("127.0.0.1", self.lx.port), timeout=5) as s:
            out = s.recv(4096)
            self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out[:100])

    def test_malformed_request_line(self):
        out = self.raw(b"GARBAGE\x01\x02 / HTTP/9\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:100])

    def test_keepalive_then_idle_close(self):
        with socket.create_connection(("127.0.0.1", self.lx.port), timeout=5) as s:
            f = s.makefile("rb")
            for _ in range(3):
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(f.readline().startswith(b"HTTP/1.1 200"))
                while f.readline() not in (b"\r\n", b""):
                    pass
                f.read(15)
            # idle keep-alive timeout closes the connection quietly
            t0 = time.monotonic()
            self.assertEqual(s.recv(100), b"")
            self.assertLess(time.monotonic() - t0, 3)

    def test_http10_plain_body(self):
        r = http("GET", self.lx.url + "/healthz", version="1.0")
        self.assertEqual(r.status, 200)
        self.assertNotIn("transfer-encoding", r.headers)
        self.assertEqual(r.headers["content-length"], "15")

    def test_readyz_without_database(self):
        r = http("GET", self.lx.url + "/readyz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["database"], "disabled")

    def test_access_log_has_no_secret(self):
        http("GET", self.lx.url + "/healthz", headers={"Authorization": "Bearer sk-secret-999"})
        time.sleep(0.3)  # workers flush their log buffers every 100 ms
        log = self.lx.log()
        self.assertIn('"msg":"access"', log)
        self.assertNotIn("sk-secret-999", log)
        self.assertNotIn("test-admin-key", log)


if __name__ == "__main__":
    unittest.main()
