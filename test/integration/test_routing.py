"""Retries, rotation and fallbacks before the first byte; breakers; cooling;
the overall deadline. Providers and credentials are made through the admin
API; the mock fails per credential through options in the key itself
(e.g. "sk-a+fault=429"), so one credential of a provider can fail while the
next one works."""
import json
import time
import unittest

from harness import Llmux, Mock, sse_events, wait_for

MSG = [{"role": "user", "content": "hi"}]


def fixed_rate_clock():
    """Rate-limit windows read this fixed time (the middle of the current
    minute): a test never straddles a window boundary, however long it runs."""
    now_ms = int(time.time() * 1000)
    return {"LLMUX_TEST_RATE_CLOCK_MS": str(now_ms - now_ms % 60000 + 30000)}


class Routing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env={"LLMUX_BREAKER_FAILURES": "3",
                                                    "LLMUX_BREAKER_OPEN_MS": "600",
                                                    **fixed_rate_clock()})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def admin(self, method, path, body=None):
        r = self.lx.req(method, "/api/v1/admin/ai" + path, body=body)
        self.assertLess(r.status, 300, r)
        return r.json()

    def provider(self, name, keys, conn_extra=None, **extra):
        """A provider on the mock with one connection per key, first key first.
        It is created disabled and enabled last: a snapshot that has it enabled
        has every one of its connections too. conn_extra: fields for the first
        connection (e.g. rate limits)."""
        p = self.admin("POST", "/providers", {"name": name, "kind": "openai_compatible",
                                              "base_url": self.mock.url + "/v1",
                                              "status": "disabled", **extra})
        conns = []
        for i, key in enumerate(keys):
            body = {"provider_id": p["id"], "name": f"c{i}", "api_key": key,
                    "priority": i}  # lowest value first
            if i == 0 and conn_extra:
                body.update(conn_extra)
            conns.append(self.admin("POST", "/connections", body))
        self.admin("PATCH", f"/providers/{p['id']}", {"status": "active"})

        def ready():  # refused by the provider filter: no attempt, no token taken
            r = self.lx.chat({"model": f"{name}/probe", "messages": MSG},
                             headers={"x-llmux-provider": "nobody"})
            return r.status == 404 and "requested provider" in r.json()["error"]["message"]
        wait_for(ready, timeout=3, what="provider loaded")
        return p, conns

    def sent_keys(self, n):
        return [r["headers"].get("authorization", "")[7:] for r in self.mock.requests()[-n:]]

    def test_429_rotates_to_the_next_connection(self):
        self.provider("rot", ["sk-rot-a+fault=429+retry_after=30", "sk-rot-b"])
        self.mock.reset()
        r = self.lx.chat({"model": "rot/m+chunks=2", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-attempts"], "2")
        self.assertIn("429", r.headers["x-llmux-fallback-reason"])
        self.assertEqual(self.sent_keys(2), ["sk-rot-a+fault=429+retry_after=30", "sk-rot-b"])
        # the first connection is cooling now: the next request goes straight to b
        r = self.lx.chat({"model": "rot/m+chunks=2", "messages": MSG})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["x-llmux-attempts"], "1")
        self.assertEqual(self.sent_keys(1), ["sk-rot-b"])

    def test_all_cooling_gives_429_with_retry_after(self):
        self.provider("cool", ["sk-cool+fault=429+retry_after=20"])
        r = self.lx.chat({"model": "cool/m", "messages": MSG})
        self.assertEqual(r.status, 429)
        before = self.mock.stats()["requests_total"]
        r = self.lx.chat({"model": "cool/m", "messages": MSG})
        self.assertEqual(r.status, 429)
        self.assertIn("cooling", r.json()["error"]["message"])
        self.assertGreater(int(r.headers["retry-after"]), 10)
        self.assertEqual(self.mock.stats()["requests_total"], before)  # upstream spared

    def test_5xx_retries_then_falls_back(self):
        self.provider("fb", ["sk-fb-a+fault=503", "sk-fb-b"])
        self.mock.reset()
        r = self.lx.chat({"model": "fb/m+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-attempts"], "3")  # a, a again, then b
        self.assertEqual(self.sent_keys(3), ["sk-fb-a+fault=503", "sk-fb-a+fault=503",
                                             "sk-fb-b"])
        self.assertIn("503", r.headers["x-llmux-fallback-reason"])

    def test_400_is_not_retried(self):
        self.provider("bad", ["sk-bad-a+fault=400", "sk-bad-b"])
        self.mock.reset()
        r = self.lx.chat({"model": "bad/m", "messages": MSG})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.headers["x-llmux-attempts"], "1")
        self.assertEqual(len(self.mock.requests()), 1)

    def test_breaker_opens_half_opens_and_closes(self):
        _, conns = self.provider("brk", ["sk-brk+fault=500"])
        cid = conns[0]["id"]
        # 3 consecutive failures open the breaker (each request retries once, so
        # it opens during the second request at the latest)
        statuses = [self.lx.chat({"model": "brk/m", "messages": MSG}).status for _ in range(2)]
        self.assertEqual(statuses[0], 500)
        before = self.mock.stats()["requests_total"]
        r = self.lx.chat({"model": "brk/m", "messages": MSG})
        self.assertEqual(r.status, 503)
        self.assertIn("circuit breaker", r.json()["error"]["message"])
        self.assertEqual(self.mock.stats()["requests_total"], before)  # not sent upstream
        # the upstream recovers (new key); after open_ms one probe goes through
        self.admin("PATCH", f"/connections/{cid}", {"api_key": "sk-brk-fixed"})
        seen = []  # 503 while open; a probe before the new key loaded fails and reopens it

        def probe_ok():
            seen.append(self.lx.chat({"model": "brk/m+chunks=1", "messages": MSG}).status)
            return seen[-1] == 200
        wait_for(probe_ok, timeout=5, interval=0.1, what="a probe through the breaker")
        self.assertLessEqual(set(seen), {200, 500, 503}, seen)
        # closed again: traffic flows
        for _ in range(3):
            self.assertEqual(self.lx.chat({"model": "brk/m+chunks=1", "messages": MSG}).status,
                             200)

    def test_failure_after_first_byte_is_not_retried(self):
        self.provider("mid", ["sk-mid-a+fault=drop+after=2", "sk-mid-b"])
        self.mock.reset()
        r = self.lx.chat({"model": "mid/m+chunks=6", "messages": MSG, "stream": True})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["x-llmux-attempts"], "1")
        events = sse_events(r.body)
        self.assertIn("error", json.loads(events[-1][1]))
        self.assertEqual(len(self.mock.requests()), 1)

    def test_overall_deadline(self):
        self.provider("dl", ["sk-dl-a+fault=stall_headers", "sk-dl-b+fault=stall_headers"],
                      first_byte_timeout_ms=300, total_timeout_ms=800)
        t0 = time.monotonic()
        r = self.lx.chat({"model": "dl/m", "messages": MSG})
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 504, r)
        self.assertLess(elapsed, 1.5)

    def test_rate_limit_per_minute_moves_to_the_next_connection(self):
        self.provider("rl", ["sk-rl-a", "sk-rl-b"], conn_extra={"rate_limit_per_minute": 2})
        self.mock.reset()
        for _ in range(5):
            r = self.lx.chat({"model": "rl/m+chunks=1", "messages": MSG})
            self.assertEqual(r.status, 200, r)
        keys = self.sent_keys(5)
        self.assertEqual(keys.count("sk-rl-a"), 2, keys)
        self.assertEqual(keys.count("sk-rl-b"), 3, keys)

    def test_context_window_filter(self):
        r = self.lx.chat({"model": "demo/mock-model", "messages": MSG, "max_tokens": 500000})
        self.assertEqual(r.status, 400, r)
        msg = r.json()["error"]["message"]
        self.assertIn("context window", msg)
        self.assertIn("max_tokens (500000)", msg)
        self.assertRegex(msg, r"the largest is [0-9]+ tokens")
        self.assertNotIn(" now", msg)  # it is not temporary

    def test_stream_429_falls_back_before_first_byte(self):
        self.provider("srot", ["sk-srot-a+fault=429+retry_after=30", "sk-srot-b"])
        r = self.lx.chat({"model": "srot/m+chunks=3", "messages": MSG, "stream": True})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["x-llmux-attempts"], "2")
        text = "".join((json.loads(d)["choices"][0]["delta"].get("content") or "")
                       for _, d in sse_events(r.body)[:-1] if json.loads(d)["choices"])
        self.assertEqual(text, "tok0 tok1 tok2 ")



class SharedLimits(unittest.TestCase):
    """rate_limit_per_minute holds across instances sharing one database."""

    def test_rpm_across_two_instances(self):
        from harness import http, new_database
        mock, db = Mock(), new_database()
        clock = fixed_rate_clock()  # one minute window for both, for the whole test
        a = Llmux(db=db, mock=mock, env=clock)
        b = Llmux(db=db, mock=mock, env=clock)
        try:
            def admin(method, path, body=None):
                r = a.req(method, "/api/v1/admin/ai" + path, body=body)
                self.assertLess(r.status, 300, r)
                return r.json()
            p = admin("POST", "/providers", {"name": "shared", "kind": "openai_compatible",
                                             "base_url": mock.url + "/v1", "status": "disabled"})
            ca = admin("POST", "/connections", {"provider_id": p["id"], "name": "a",
                                                "api_key": "sk-sh-a", "priority": 0,
                                                "rate_limit_per_minute": 6})
            admin("POST", "/connections", {"provider_id": p["id"], "name": "b",
                                           "api_key": "sk-sh-b", "priority": 1})
            admin("PATCH", f"/providers/{p['id']}", {"status": "active"})

            def ready(lx):  # refused by the provider filter: no attempt, no token taken
                r = lx.chat({"model": "shared/m", "messages": MSG},
                            headers={"x-llmux-provider": "nobody"})
                return r.status == 404 and "requested provider" in r.json()["error"]["message"]
            wait_for(lambda: ready(a) and ready(b), timeout=3, what="both instances loaded")
            mock.reset()
            for _ in range(4):
                self.assertEqual(a.chat({"model": "shared/m+chunks=1", "messages": MSG}).status,
                                 200)
            # a publishes its 4 within a tick (1 s); then b absorbs them on its next tick
            from harness import psql
            wait_for(lambda: psql(db, "SELECT coalesce(sum(minute_n), 0) FROM ai_rate_windows "
                                      f"WHERE connection_id = {ca['id']}") == "4",
                     timeout=5, what="a's count published")
            # b has absorbed them once the tick after its first tick since then has
            # run (ticks never overlap, so the first one's reply was handled)
            def b_tick_after(ts):
                return psql(db, "SELECT max(updated_at) FROM ai_rate_windows WHERE "
                                f"connection_id = {ca['id']} AND minute_n = 0 "
                                f"AND updated_at > '{ts}'")
            published = psql(db, "SELECT now()")
            first = wait_for(lambda: b_tick_after(published), timeout=5,
                             what="b's tick after a's publication")
            wait_for(lambda: b_tick_after(first), timeout=5, what="b's next tick")
            for _ in range(4):
                self.assertEqual(b.chat({"model": "shared/m+chunks=1", "messages": MSG}).status,
                                 200)
            keys = [r["headers"].get("authorization", "")[7:] for r in mock.requests()]
            self.assertEqual(keys[:4], ["sk-sh-a"] * 4)
            self.assertEqual(keys[4:].count("sk-sh-a"), 2, keys)  # 6 in all, then b's turn
            self.assertEqual(keys[4:].count("sk-sh-b"), 2, keys)
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)
            mock.stop()


if __name__ == "__main__":
    unittest.main()
