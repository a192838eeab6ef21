"""Hostile clients at the HTTP layer: methods evhtp does not know, form
bodies, stalled bodies, too many connections, request smuggling shapes and
pipelining. Each case here crashed, hung or desynchronised llmux before."""
import os
import re
import signal
import socket
import time
import unittest

from harness import ADMIN_KEY, Llmux, Mock, http, wait_for


def raw(port, data, timeout=5, pause=0.0):
    """Sends data (bytes, or a list of pieces with a pause between) and
    returns everything the server sends until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        for piece in data if isinstance(data, list) else [data]:
            s.sendall(piece)
            if pause:
                time.sleep(pause)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                return out + b"<quiet>"
            except ConnectionResetError:
                return out + b"<reset>"
            if not b:
                return out + b"<closed>"
            out += b


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def statuses(out):
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", out)]


class HostileHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lx = Llmux(env={"LLMUX_BODY_TIMEOUT_MS": "600", "LLMUX_MAX_BODY_BYTES": str(8 << 20)})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0

    def alive(self):
        self.assertEqual(http("GET", self.lx.url + "/healthz").status, 200)

    def test_unknown_method_gets_501_not_a_crash(self):
        out = raw(self.lx.port, b"FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2)
        self.assertTrue(out.startswith(b"HTTP/1.1 501 "), out[:200])
        self.assertIn(b'"code":"not_implemented"', out)
        out = raw(self.lx.port, b"PROPFIND /nope HTTP/1.1\r\nHost: x\r\n\r\n", timeout=1)
        self.assertEqual(statuses(out), [404])
        self.alive()

    def test_wrong_method_gets_405_with_allow(self):
        r = http("DELETE", self.lx.url + "/healthz")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers["allow"], "GET")
        r = http("GET", self.lx.url + "/v1/chat/completions")
        self.assertEqual(r.status, 405)
        self.assertIn("POST", r.headers["allow"])

    def test_large_form_body_is_not_parsed_as_a_query(self):
        # 7 MB: libevhtp parsed it into stack arrays as large as the body
        body = b"a" * 7_000_000
        head = (b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        out = raw(self.lx.port, head + body, timeout=10)
        self.assertEqual(statuses(out)[:1], [405])
        self.alive()

    def test_form_body_on_an_api_route_gets_415_before_the_body(self):
        # Only the head is sent: the answer must not wait for the body.
        out = raw(self.lx.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 100000\r\n\r\n", timeout=3)
        self.assertTrue(out.startswith(b"HTTP/1.1 415 "), out[:200])
        self.assertIn(b"application/json", out)
        self.assertTrue(out.endswith(b"<closed>"), out[-50:])
        # Anthropic routes answer in the Anthropic shape
        out = raw(self.lx.port, b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
                  b"content-type: Application/X-WWW-Form-Urlencoded; charset=utf-8\r\n"
                  b"Content-Length: 10\r\n\r\n", timeout=3)
        self.assertTrue(out.startswith(b"HTTP/1.1 415 "), out[:200])
        self.assertIn(b'"type":"error"', out)

    def test_stalled_body_gets_408(self):
        t0 = time.monotonic()
        out = raw(self.lx.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{", timeout=5)
        self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out[:200])
        self.assertIn(b"body", out)
        self.assertTrue(out.endswith(b"<closed>"))
        self.assertLess(time.monotonic() - t0, 4)
        # a chunked body that stops is timed out the same way
        out = raw(self.lx.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n5\r\nab", timeout=5)
        self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out[:200])

    def test_transfer_encoding_other_than_chunked_is_refused(self):
        out = raw(self.lx.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                  b"\r\nGET /smuggled-path HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        self.assertEqual(statuses(out), [501])
        self.assertTrue(out.endswith(b"<closed>"))
        time.sleep(0.2)
        self.assertNotIn("/smuggled-path", self.lx.log())

    def test_ambiguous_lengths_get_400_and_close(self):
        cases = [
            b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"Content-Length: -1\r\n\r\n",
            b"Content-Length: +5\r\n\r\nhello",
            b"Content-Length: 0x10\r\n\r\n",
            b"Content-Length: 99999999999999999999999\r\n\r\n",
            b"Content-Length: a, b\r\n\r\n",
        ]
        for extra in cases:
            with self.subTest(extra=extra):
                out = raw(self.lx.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\n" + extra, timeout=3)
                self.assertEqual(statuses(out), [400], out[:300])
                self.assertTrue(out.endswith(b"<closed>"))

    def test_malformed_header_lines_get_a_400_reply(self):
        cases = [b"NoColonHere\r\n", b"X-A: 1\r\n\tfolded\r\n", b"X-A: 1\r\n folded\r\n",
                 b": empty-name\r\n"]
        for line in cases:
            with self.subTest(line=line):
                out = raw(self.lx.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n",
                          timeout=3)
                self.assertEqual(statuses(out), [400], out[:300])
                self.assertIn(b"invalid_request_error", out)

    def test_chunk_size_overflow_gets_400_not_a_hang(self):
        for size in (b"ffffffffffffffffffff", b"10000000000000005"):
            out = raw(self.lx.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n",
                      timeout=3)
            self.assertEqual(statuses(out), [400], out[:300])

    def test_pipelined_requests_all_get_answers_in_order(self):
        get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        out = raw(self.lx.port, get * 3, timeout=1)
        self.assertEqual(statuses(out), [200, 200, 200])
        out = raw(self.lx.port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
                  + get, timeout=1)
        self.assertEqual(statuses(out), [404, 404, 200])
        ka10 = b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        out = raw(self.lx.port, ka10 * 2, timeout=1)
        self.assertEqual(statuses(out), [200, 200])
        # a chunked body, then a request right behind it
        out = raw(self.lx.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                  b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get, timeout=1)
        self.assertEqual(statuses(out), [405, 200])
        # the same, one byte at a time
        out = raw(self.lx.port, [bytes([b]) for b in get * 2], timeout=1)
        self.assertEqual(statuses(out), [200, 200])
        # empty lines before a request line are allowed (evhtp's parser
        # stopped at each such byte: the second request hung)
        out = raw(self.lx.port, get + b"\r\n\r\n" + get, timeout=1)
        self.assertEqual(statuses(out), [200, 200])
        out = raw(self.lx.port, [get, b"\r\n", b"\n" + get], timeout=1, pause=0.1)
        self.assertEqual(statuses(out), [200, 200])
        # deeper than llmux keeps request ends for (16)
        out = raw(self.lx.port, get * 40, timeout=1)
        self.assertEqual(statuses(out), [200] * 40)
        # evhtp is handed one request at a time: it logged an "ODDITY" line
        # for each request pipelined behind another
        self.assertLessEqual(self.lx.log().count("ODDITY"), 24, "only beyond the 16 kept ends")


class PipelinedProxied(unittest.TestCase):
    """Requests that wait for the upstream, pipelined behind each other."""

    def test_pipelined_chat_requests_and_streams_all_answered(self):
        mock = Mock()
        lx = Llmux(mock=mock)
        try:
            def req(stream, model=b"demo/mock-model"):
                body = (b'{"model":"' + model + b'","messages":[{"role":"user","content":"hi"}]'
                        + (b',"stream":true}' if stream else b'}'))
                return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                        b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
                        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                        + body)
            get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            out = raw(lx.port, req(False) * 3, timeout=2)
            self.assertEqual(statuses(out), [200, 200, 200])
            out = raw(lx.port, req(True) * 2 + req(False) + b"GET /healthz HTTP/1.1\r\n\r\n",
                      timeout=2)
            self.assertEqual(statuses(out), [200, 200, 200, 200])
            self.assertEqual(out.count(b"data: [DONE]"), 2)
            # A head that is not whole yet stays with llmux (evhtp's parser
            # splits heads badly) while the request before it is answered,
            # and is read once the rest arrives.
            slow = req(True, b"demo/mock-model+chunks=5+gap_ms=40")
            out = raw(lx.port, [slow + b"GET /healthz HTTP/1.1\r\nHo", b"st: x\r\n\r\n"],
                      timeout=2, pause=0.6)
            self.assertEqual(statuses(out), [200, 200])
            self.assertIn(b"data: [DONE]", out)
            out = raw(lx.port, [get + b"GET /healthz HTTP/1.1\r\nHo", b"st: x\r\n\r\n"],
                      timeout=2, pause=0.3)
            self.assertEqual(statuses(out), [200, 200])
            self.assertEqual(http("GET", lx.url + "/healthz").status, 200)
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()


class ConnectionLimits(unittest.TestCase):
    def test_connections_over_the_limit_get_503(self):
        lx = Llmux(workers=1, env={"LLMUX_MAX_CONNECTIONS": "4"})
        try:
            held = [socket.create_connection(("127.0.0.1", lx.port)) for _ in range(4)]
            # once llmux has accepted all four, the next connection is over the cap
            def over_cap():
                o = raw(lx.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
                return o if o.startswith(b"HTTP/1.1 503 ") else None
            out = wait_for(over_cap, timeout=5, what="a 503 over max_connections")
            self.assertIn(b"Retry-After: 1", out)
            self.assertIn(b"max_connections", out)
            held.pop().close()
            wait_for(lambda: http("GET", lx.url + "/healthz").status == 200, timeout=5,
                     what="a slot after one connection closed")
            for s in held:
                s.close()
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_out_of_descriptors_pauses_accepting_and_logs_rarely(self):
        # A limit above what the fd table allows: accept() itself fails.
        lx = Llmux(workers=1, nofile=200, env={"LLMUX_MAX_CONNECTIONS": "100000"})
        try:
            held = []
            for _ in range(260):
                try:
                    held.append(socket.create_connection(("127.0.0.1", lx.port), timeout=1))
                except OSError:
                    break
            time.sleep(2.0)
            log = lx.log()
            n = log.count("accept failed")
            self.assertGreaterEqual(n, 1, log[-2000:])
            self.assertLessEqual(n, 4, "logged more than once a second")
            self.assertNotIn("Error from accept", log)
            for s in held:
                s.close()
            wait_for(lambda: http("GET", lx.url + "/healthz").status == 200, timeout=10,
                     what="serving again")
        finally:
            self.assertEqual(lx.stop(), 0)


class ShutdownAsClientsLeave(unittest.TestCase):
    def test_sigterm_as_many_clients_close_frees_every_connection(self):
        # evhtp's bufferevents defer their callbacks, and each one pending
        # holds a reference; libevent runs 32 deferred callbacks in a loop
        # pass, the rest in the next. Many clients leaving in the pass that
        # takes the SIGTERM leave some waiting when the loop ends: unless the
        # worker lets them run, those bufferevents are never freed
        # (LeakSanitizer: indirect leaks from bufferevent_socket_new).
        lx = Llmux(workers=1)
        pid = lx.proc.p.pid
        try:
            held = [socket.create_connection(("127.0.0.1", lx.port), timeout=5)
                    for _ in range(200)]
            # one worker accepts in order: served means the 200 are accepted
            self.assertEqual(http("GET", lx.url + "/healthz").status, 200)
            # Stopped, llmux sees the 200 EOFs and the SIGTERM together.
            os.kill(pid, signal.SIGSTOP)
            wait_for(lambda: proc_state(pid) == "T", timeout=5, what="llmux stopped")
            for s in held:
                s.close()
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)
            lx.proc.p.wait(timeout=30)
        finally:
            if lx.proc.alive():
                os.kill(pid, signal.SIGCONT)  # stop() must find it running
            self.assertEqual(lx.stop(), 0)


if __name__ == "__main__":
    unittest.main()
