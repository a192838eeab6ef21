"""A hostile or broken upstream must not reach the client: header values
that smuggle a line break, statuses that are no answer (101, 204, 304, 600,
999) or that ask to be followed (302), a single streamed event or a whole
answer larger than the configured limits. Every case ends in a well-framed
response, checked by sending another request on the same client
connection."""
import json
import socket
import unittest

from harness import ADMIN_KEY, Llmux, Mock, _read_response, sse_events

MSG = [{"role": "user", "content": "hello"}]
EVENT_CAP = 65536
RESPONSE_CAP = 100000


def raw_exchange(port, bodies):
    """Sends the chat requests one after another on ONE client connection;
    returns (raw bytes of each response head, parsed responses)."""
    heads, out = [], []
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        with s.makefile("rb") as f:
            for body in bodies:
                data = json.dumps(body).encode()
                s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: Bearer {ADMIN_KEY}\r\n"
                           f"Content-Type: application/json\r\n"
                           f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
                # the head byte-exact, then the parser reads it again
                raw = bytearray()
                while not raw.endswith(b"\r\n\r\n"):
                    b = f.read(1)
                    if not b:
                        raise ConnectionError("closed inside a head")
                    raw += b
                head = bytes(raw)
                heads.append(head)
                out.append(_read_response(_Prefixed(head, f)))
    return heads, out


class _Prefixed:
    """A reader that first replays bytes already read, then the socket file."""

    def __init__(self, pre, f):
        self.pre, self.f = pre, f

    def _take(self, n=None, line=False):
        if not self.pre:
            return None
        if line:
            i = self.pre.find(b"\n")
            n = len(self.pre) if i < 0 else i + 1
        n = len(self.pre) if n is None else min(n, len(self.pre))
        out, self.pre = self.pre[:n], self.pre[n:]
        return out

    def readline(self):
        b = self._take(line=True)
        return b if b is not None else self.f.readline()

    def read(self, n=-1):
        b = self._take(None if n < 0 else n)
        if b is not None:
            if n >= 0 and len(b) < n:
                b += self.f.read(n - len(b))
            return b
        return self.f.read(n) if n >= 0 else self.f.read()


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(mock=cls.mock, env={
            "LLMUX_BREAKER_FAILURES": "0", "LLMUX_COOLING_CAP_MS": "0", "LLMUX_RETRY_SAME": "0",
            "LLMUX_MAX_EVENT_BYTES": str(EVENT_CAP),
            "LLMUX_UPSTREAM_MAX_RESPONSE_BYTES": str(RESPONSE_CAP),
        })

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0

    def body(self, opts, stream=False):
        b = {"model": "demo/mock-model" + opts, "messages": MSG}
        if stream:
            b["stream"] = True
        return b

    def then_ok(self, opts, stream=False):
        """The faulty request, then a normal one on the same connection."""
        heads, rs = raw_exchange(self.lx.port, [self.body(opts, stream), self.body("")])
        self.assertEqual(rs[1].status, 200, (heads, rs))
        self.assertIn("tok0", rs[1].json()["choices"][0]["message"]["content"])
        return heads[0], rs[0]

    def assert_502(self, r, part):
        self.assertEqual(r.status, 502, repr(r)[:300])
        err = r.json()["error"]
        self.assertIn(part, err["message"], err)
        return err

    # ---- headers ----

    def test_retry_after_with_bare_cr_never_reaches_the_client(self):
        head, r = self.then_ok("+fault=cr_header")
        self.assertEqual(r.status, 429, r)
        self.assertNotIn(b"injected", head.lower(), head)
        self.assertNotIn(b"set-cookie", head.lower(), head)
        # every CR in the head is part of a CRLF
        self.assertEqual(head.count(b"\r"), head.count(b"\r\n"), head)

    def test_valid_retry_after_still_passed_on(self):
        head, r = self.then_ok("+fault=429+retry_after=7")
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.headers.get("retry-after"), "7", head)

    # ---- statuses that are no answer ----

    def test_statuses_that_are_no_answer_become_502(self):
        for status in (101, 204, 304, 600, 999, 201, 302):
            with self.subTest(status=status):
                self.mock.reset()
                head, r = self.then_ok(f"+fault=raw_{status}")
                self.assertEqual(r.status, 502, (status, head, r))
                self.assertEqual(r.headers.get("content-type"), "application/json", head)
                r.json()  # a whole JSON error body, framed by its Content-Length
                # never followed (redirects stay off): one call each
                self.assertEqual(self.mock.stats()["chat"], 2, status)

    def test_statuses_that_are_no_answer_on_a_stream_become_502(self):
        for status in (204, 304, 999):
            with self.subTest(status=status):
                head, r = self.then_ok(f"+fault=raw_{status}", stream=True)
                self.assertEqual(r.status, 502, (status, head, r))
                r.json()

    def test_a_real_upstream_error_status_still_passes(self):
        head, r = self.then_ok("+fault=raw_503")
        self.assertEqual(r.status, 503, (head, r))

    # ---- sizes ----

    def test_one_event_larger_than_the_cap_ends_the_stream(self):
        r = self.lx.chat(self.body(f"+fault=huge_event+size={EVENT_CAP * 3}+after=2",
                                   stream=True))
        self.assertEqual(r.status, 200, r)
        events = sse_events(r.body)
        datas = [d[:200] for _, d in events]
        self.assertNotIn("[DONE]", datas, r.body[-300:])
        self.assertFalse(any("xxxxxxxx" in d for d in datas), "the huge event was forwarded")
        self.assertIn("error", datas[-1], datas[-1])
        last = json.loads(events[-1][1])
        self.assertIn("limits.max_event_bytes", last["error"]["message"], last)
        self.assertLess(len(r.body), EVENT_CAP, "more than the cap reached the client")

    def test_an_event_under_the_cap_passes(self):
        r = self.lx.chat(self.body(f"+fault=huge_event+size={EVENT_CAP // 2}+after=2",
                                   stream=True))
        datas = [d[:200] for _, d in sse_events(r.body)]
        self.assertEqual(datas[-1], "[DONE]")
        self.assertTrue(any("xxxxxxxx" in d for d in datas))

    def test_a_whole_answer_larger_than_the_cap_is_502(self):
        head, r = self.then_ok(f"+fault=huge_body+size={RESPONSE_CAP * 2}")
        self.assert_502(r, "upstream.max_response_bytes")

    def test_a_whole_answer_under_the_cap_passes(self):
        head, r = self.then_ok(f"+fault=huge_body+size={RESPONSE_CAP // 2}")
        self.assertEqual(r.status, 200, r)
        self.assertGreater(len(r.body), RESPONSE_CAP // 2)


if __name__ == "__main__":
    unittest.main()
