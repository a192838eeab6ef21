"""Requests per minute of API keys, users and teams (issue 18): enforced on
the request path from local allowances leased through Postgres
(ai_limit_windows), so that one limit holds across instances sharing a
database. Refusals are 429 rate_limit_error / rate_limit_exceeded with
Retry-After, in the Anthropic shape on /v1/messages, recorded as zero-token
usage rows."""
import re
import threading
import time
import unittest

from harness import Llmux, Mock, new_database, psql, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
MODEL = "demo/mock-model+chunks=1"


def fixed_rate_clock():
    """Windows read the middle of the current minute: no test straddles one."""
    now_ms = int(time.time() * 1000)
    return {"LLMUX_TEST_RATE_CLOCK_MS": str(now_ms - now_ms % 60000 + 30000)}


def admin(lx, method, path, body=None):
    r = lx.req(method, API + path, body=body)
    assert r.status < 300, r
    return r.json()


def chat(lx, key):
    return lx.chat({"model": MODEL, "messages": MSG}, key=key)


def messages(lx, key):
    return lx.req("POST", "/v1/messages", key=key,
                  body={"model": MODEL, "max_tokens": 16, "messages": MSG})


def limit_refusals(lx, subject):
    """llmux_ai_limit_refusals_total of subject's minute windows, all workers."""
    text = lx.req("GET", "/metrics", key=None).body.decode()
    return sum(int(v) for v in re.findall(
        r'^llmux_ai_limit_refusals_total\{worker="\d+",subject="' + subject +
        r'",window="minute"\} (\d+)$', text, re.M))


def loaded(lx, key):
    """The key is in lx's snapshot and its first slice is leased (the lease
    tick runs every 250 ms): a GET that only authenticates."""
    return lx.req("GET", "/v1/models", key=key).status == 200


class OneInstance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=fixed_rate_clock())

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def new_key(self, **fields):
        k = admin(self.lx, "POST", "/keys", {"name": f"k{time.monotonic_ns()}", **fields})
        wait_for(lambda: loaded(self.lx, k["key"]), timeout=5, what="key loaded")
        return k

    def settled(self, subject, want):
        """The leases asked so far for subject came back: its minute window
        was granted at least want (a request never waits for a lease: it
        borrows against it, one slice at most, so a test that sends faster
        than the database answers would see refusals a client pacing itself
        would not)."""
        wait_for(lambda: int(psql(self.lx.db, "SELECT coalesce(max(granted), 0) FROM "
                                  f"ai_limit_windows WHERE subject = '{subject}' "
                                  "AND win LIKE 'm:%'") or 0) >= want,
                 timeout=10, what=f"the lease of {subject}")

    def served(self, send, key, n, subject=None, limit=0):
        """Sends n requests one after another; after each one served, waits
        for the lease it asked for (subject: 'key:<id>', 'team:<id>', ...)."""
        out, ok = [], 0
        for _ in range(n):
            out.append(send(self.lx, key))
            if out[-1].status == 200 and subject:
                ok += 1
                self.settled(subject, min(ok, limit))
        return out

    def test_key_rpm_openai_shape_and_usage_row(self):
        k = self.new_key(rate_limit_per_minute=5)
        before = limit_refusals(self.lx, "key")
        rs = self.served(chat, k["key"], 7, f"key:{k['id']}", 5)
        self.assertEqual([r.status for r in rs], [200] * 5 + [429] * 2, rs)
        self.assertEqual(limit_refusals(self.lx, "key") - before, 2)  # counted in /metrics
        r = rs[5]
        err = r.json()["error"]
        self.assertEqual((err["type"], err["code"]), ("rate_limit_error", "rate_limit_exceeded"))
        self.assertIn("this API key", err["message"])
        ra = int(r.headers["retry-after"])
        self.assertTrue(1 <= ra <= 60, ra)
        wait_for(lambda: psql(self.lx.db, "SELECT count(*) FROM ai_usage WHERE api_key_id = "
                              f"{k['id']} AND error_code = 'rate_limit_exceeded'") == "2",
                 timeout=10, what="refusal usage rows")
        self.assertEqual(psql(self.lx.db, "SELECT max(status), sum(tokens_in + tokens_out) "
                              f"FROM ai_usage WHERE api_key_id = {k['id']} "
                              "AND error_code = 'rate_limit_exceeded'"), "429|0")
        self.assertEqual(psql(self.lx.db, "SELECT granted FROM ai_limit_windows "
                              f"WHERE subject = 'key:{k['id']}'"), "5")

    def test_key_rpm_anthropic_shape(self):
        k = self.new_key(rate_limit_per_minute=3)
        rs = self.served(messages, k["key"], 4, f"key:{k['id']}", 3)
        self.assertEqual([r.status for r in rs], [200] * 3 + [429], rs)
        body = rs[3].json()
        self.assertEqual(body["type"], "error")
        self.assertEqual(body["error"]["type"], "rate_limit_error")
        self.assertTrue(int(rs[3].headers["retry-after"]) >= 1)

    def test_team_rpm_shared_by_two_keys(self):
        t = admin(self.lx, "POST", "/teams", {"name": f"t{time.monotonic_ns()}", "rpm": 4})
        k1 = self.new_key(team_id=t["id"])
        k2 = self.new_key(team_id=t["id"])
        statuses = []
        for i in range(6):
            statuses.append(chat(self.lx, (k1, k2)[i % 2]["key"]).status)
            if statuses[-1] == 200:
                self.settled(f"team:{t['id']}", min(statuses.count(200), 4))
        self.assertEqual(statuses, [200] * 4 + [429] * 2, statuses)
        r = chat(self.lx, k1["key"])
        self.assertIn("team", r.json()["error"]["message"])

    def test_lowered_limit_is_spent_not_an_error(self):
        k = self.new_key(rate_limit_per_minute=5)
        self.assertEqual([r.status for r in self.served(chat, k["key"], 3, f"key:{k['id']}", 5)],
                         [200] * 3)
        admin(self.lx, "PATCH", f"/keys/{k['id']}", {"rate_limit_per_minute": 2})
        time.sleep(1.5)  # the snapshot reloads on NOTIFY
        # what was leased before is kept; after that the window is spent (not
        # a failing lease, which would say more allowance is on its way)
        wait_for(lambda: chat(self.lx, k["key"]).status == 429, timeout=5, what="refused")
        time.sleep(0.3)
        r = chat(self.lx, k["key"])
        self.assertEqual(r.status, 429, r)
        self.assertNotIn("on its way", r.json()["error"]["message"])
        self.assertEqual(psql(self.lx.db, "SELECT lim FROM ai_limit_windows "
                              f"WHERE subject = 'key:{k['id']}'"), "2")

    def test_user_rpm_and_unlimited_key(self):
        u = admin(self.lx, "POST", "/users", {"name": f"u{time.monotonic_ns()}", "rpm": 2})
        k = self.new_key(user_id=u["id"])
        free = self.new_key()
        self.assertEqual([r.status for r in self.served(chat, k["key"], 3, f"user:{u['id']}", 2)],
                         [200, 200, 429])
        self.assertEqual([r.status for r in self.served(chat, free["key"], 8)], [200] * 8)


class TwoInstances(unittest.TestCase):
    def test_key_rpm_60_across_two_instances(self):
        mock, db = Mock(), new_database()
        clock = fixed_rate_clock()
        a = Llmux(db=db, mock=mock, env=clock)
        b = Llmux(db=db, mock=mock, env=clock)
        try:
            k = admin(a, "POST", "/keys", {"name": "shared", "rate_limit_per_minute": 60})
            wait_for(lambda: loaded(a, k["key"]) and loaded(b, k["key"]), timeout=5,
                     what="key loaded on both")
            time.sleep(0.6)
            results = []
            lock = threading.Lock()

            def client(lx, n):  # 100 requests over ~10 s from each side
                for _ in range(n):
                    s = chat(lx, k["key"]).status
                    with lock:
                        results.append(s)
                    time.sleep(0.1)
            threads = [threading.Thread(target=client, args=(lx, 50)) for lx in (a, b, a, b)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertLess(time.monotonic() - t0, 20)
            served = results.count(200)
            self.assertEqual(len(results), 200)
            self.assertEqual(set(results) - {200, 429}, set(), results)
            print(f"served {served} of 200 at rpm 60 over two instances")
            self.assertTrue(54 <= served <= 66, served)  # L -+ instances x slice
            self.assertEqual(psql(db, "SELECT granted FROM ai_limit_windows "
                                  f"WHERE subject = 'key:{k['id']}'"), "60")
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)
            mock.stop()


if __name__ == "__main__":
    unittest.main()
