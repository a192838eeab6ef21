"""Budgets of API keys, users and teams (issue 18): spend per period from
model prices, enforced on the request path from a process-wide spend table
synced through Postgres (ai_spend) every 250 ms, so that one budget holds
across instances. Refusals are 429 insufficient_quota / budget_exceeded
(Anthropic shape on /v1/messages), Retry-After to the period's end (none
for total), recorded as zero-token usage rows and counted in /metrics.
reset-spend, period rollover, and budget alert webhooks (HMAC-signed,
retried) are checked here too."""
import calendar
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import unittest

from harness import Llmux, Mock, new_database, psql, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
# The mock answers one output token per chunk; the priced model costs $1
# per output token and nothing per input token, so $1 per request.
PRICED = "demo/priced"
FREE = "demo/free"  # the same upstream at no cost: probes admission only
SLOW = "demo/slow"  # $1 per request, its first token 1.5 s late (in flight longer)


def admin(lx, method, path, body=None, status=None):
    r = lx.req(method, API + path, body=body)
    if status is not None:
        assert r.status == status, r
    else:
        assert r.status < 300, r
    return r.json()


def chat(lx, key, model=PRICED, **kw):
    return lx.chat({"model": model, "messages": MSG}, key=key, **kw)


def messages(lx, key):
    return lx.req("POST", "/v1/messages", key=key,
                  body={"model": PRICED, "max_tokens": 16, "messages": MSG})


def budget_refusals(lx, subject):
    text = lx.req("GET", "/metrics", key=None).body.decode()
    return sum(int(v) for v in re.findall(
        r'^llmux_ai_budget_refusals_total\{worker="\d+",subject="' + subject + r'"\} (\d+)$',
        text, re.M))


def setup_models(lx):
    prov = admin(lx, "GET", "/providers?name=demo")["data"][0]["id"]
    for name, up, cost in (("priced", "mock-model+chunks=1", 1000000),
                           ("free", "mock-model+chunks=1", 0),
                           ("slow", "mock-model+chunks=1+ttft_ms=1500", 1000000)):
        admin(lx, "POST", "/models", {"provider_id": prov, "upstream_name": up,
                                      "public_name": name, "input_cost_per_1m": 0,
                                      "output_cost_per_1m": cost,
                                      "capabilities": ["chat", "stream"]})


def spend_in_db(lx, subject):
    v = psql(lx.db, f"SELECT coalesce(sum(spend_usd), 0) FROM ai_spend WHERE subject = '{subject}'")
    return float(v)


class Base(unittest.TestCase):
    env = {}

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=cls.env)
        setup_models(cls.lx)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def new_key(self, lx=None, **fields):
        lx = lx or self.lx
        k = admin(lx, "POST", "/keys", {"name": f"k{time.monotonic_ns()}", **fields})
        wait_for(lambda: chat(lx, k["key"], FREE).status == 200, timeout=10,
                 what="key and models loaded")
        return k


class OneInstance(Base):
    def test_key_budget_total_openai_shape_usage_row_metrics(self):
        k = self.new_key(budget_usd=3)
        self.assertEqual(k["budget_period"], "total")
        before = budget_refusals(self.lx, "key")
        rs = [chat(self.lx, k["key"]) for _ in range(5)]
        self.assertEqual([r.status for r in rs], [200] * 3 + [429] * 2, rs)
        err = rs[3].json()["error"]
        self.assertEqual((err["type"], err["code"]), ("insufficient_quota", "budget_exceeded"))
        self.assertIn("this API key", err["message"])
        self.assertNotIn("retry-after", rs[3].headers)  # total: no period end
        self.assertEqual(budget_refusals(self.lx, "key") - before, 2)
        wait_for(lambda: psql(self.lx.db, "SELECT count(*) FROM ai_usage WHERE api_key_id = "
                              f"{k['id']} AND error_code = 'budget_exceeded'") == "2",
                 timeout=10, what="refusal usage rows")
        self.assertEqual(psql(self.lx.db, "SELECT max(status), sum(tokens_in + tokens_out) "
                              f"FROM ai_usage WHERE api_key_id = {k['id']} "
                              "AND error_code = 'budget_exceeded'"), "429|0")
        # spend_usd shown (after the sync), reset_at null for total
        wait_for(lambda: admin(self.lx, "GET", f"/keys/{k['id']}")["spend_usd"] == 3,
                 timeout=10, what="spend_usd 3")
        self.assertIsNone(admin(self.lx, "GET", f"/keys/{k['id']}")["budget_reset_at"])

    def test_anthropic_shape(self):
        k = self.new_key(budget_usd=1)
        self.assertEqual(messages(self.lx, k["key"]).status, 200)
        r = messages(self.lx, k["key"])
        self.assertEqual(r.status, 429, r)
        body = r.json()
        self.assertEqual(body["type"], "error")
        self.assertEqual(body["error"]["type"], "rate_limit_error")
        self.assertIn("budget exceeded", body["error"]["message"])

    def test_daily_budget_retry_after_and_reset_at(self):
        k = self.new_key(budget_usd=1, budget_period="daily")
        self.assertEqual(chat(self.lx, k["key"]).status, 200)
        r = chat(self.lx, k["key"])
        self.assertEqual(r.status, 429)
        now = time.time()
        midnight = (int(now) // 86400 + 1) * 86400
        ra = int(r.headers["retry-after"])
        self.assertTrue(abs(ra - (midnight - now)) <= 5, (ra, midnight - now))
        got = admin(self.lx, "GET", f"/keys/{k['id']}")
        want = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(midnight))
        self.assertTrue(got["budget_reset_at"].startswith(want), got["budget_reset_at"])

    def test_zero_budget_refuses_at_once(self):
        k = admin(self.lx, "POST", "/keys", {"name": "zero", "budget_usd": 0})
        wait_for(lambda: chat(self.lx, k["key"], FREE).status == 429, timeout=10,
                 what="zero budget refuses")

    def test_team_and_user_budgets_refuse_the_key(self):
        team = admin(self.lx, "POST", "/teams", {"name": f"t{time.monotonic_ns()}",
                                                  "budget_usd": 2, "budget_period": "monthly"})
        k1 = self.new_key(team_id=team["id"])
        k2 = self.new_key(team_id=team["id"])
        self.assertEqual(chat(self.lx, k1["key"]).status, 200)
        self.assertEqual(chat(self.lx, k2["key"]).status, 200)
        r = chat(self.lx, k1["key"])
        self.assertEqual(r.status, 429)
        self.assertIn("this key's team", r.json()["error"]["message"])
        self.assertEqual(chat(self.lx, k2["key"]).status, 429)
        wait_for(lambda: admin(self.lx, "GET", f"/teams/{team['id']}")["spend_usd"] == 2,
                 timeout=10, what="team spend_usd")
        self.assertIsNotNone(admin(self.lx, "GET", f"/teams/{team['id']}")["budget_reset_at"])

        user = admin(self.lx, "POST", "/users", {"name": f"u{time.monotonic_ns()}",
                                                  "budget_usd": 1, "budget_period": "weekly"})
        k3 = self.new_key(user_id=user["id"])
        self.assertEqual(chat(self.lx, k3["key"]).status, 200)
        r = chat(self.lx, k3["key"])
        self.assertEqual(r.status, 429)
        self.assertIn("this key's user", r.json()["error"]["message"])
        wait_for(lambda: admin(self.lx, "GET", f"/users/{user['id']}")["spend_usd"] == 1,
                 timeout=10, what="user spend_usd")
        # reset-spend of the user restores service
        got = admin(self.lx, "POST", f"/users/{user['id']}/reset-spend")
        self.assertEqual(got["spend_usd"], 0)
        wait_for(lambda: chat(self.lx, k3["key"], FREE).status == 200, timeout=10,
                 what="served after the user's reset")
        self.assertEqual(admin(self.lx, "POST", "/users/999999/reset-spend", status=404)
                         ["error"]["code"], "not_found")

    def test_in_flight_overshoot_bound(self):
        """Spend just under the budget, then N concurrent streams: all are
        admitted and complete, the overshoot is at most their own cost, and
        the next request is refused."""
        k = self.new_key(budget_usd=5)
        for _ in range(4):
            self.assertEqual(chat(self.lx, k["key"]).status, 200)
        n = 4
        out = [None] * n

        def one(i):
            out[i] = self.lx.chat({"model": SLOW, "messages": MSG, "stream": True},
                                  key=k["key"])
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for r in out:
            self.assertEqual(r.status, 200, r)
            self.assertIn(b"[DONE]", r.body)
        self.assertEqual(chat(self.lx, k["key"]).status, 429)
        wait_for(lambda: spend_in_db(self.lx, f"key:{k['id']}") == 8, timeout=10,
                 what="spend 8")
        overshoot = spend_in_db(self.lx, f"key:{k['id']}") - 5
        self.assertLessEqual(overshoot, n * 1.0)  # at most the in-flight requests' own cost

    def test_admin_fields_validated(self):
        r = self.lx.req("POST", API + "/keys", body={"name": "x", "budget_period": "hourly"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["param"], "budget_period")
        r = self.lx.req("POST", API + "/keys", body={"name": "x", "budget_webhook_url": "ftp://a"})
        self.assertEqual(r.status, 400)
        r = self.lx.req("POST", API + "/keys", body={"name": "x", "budget_webhook_secret": "short"})
        self.assertEqual(r.status, 400)
        k = admin(self.lx, "POST", "/keys", {"name": "hooked",
                                              "budget_webhook_url": "http://127.0.0.1:9/h",
                                              "budget_webhook_secret": "s" * 20})
        self.assertTrue(k["has_budget_webhook_secret"])
        self.assertNotIn("budget_webhook_secret", k)
        self.assertNotIn("s" * 20, json.dumps(admin(self.lx, "GET", f"/keys/{k['id']}")))
        stored = psql(self.lx.db, f"SELECT budget_webhook_secret FROM api_keys WHERE id = {k['id']}")
        self.assertNotIn(("s" * 20).encode().hex(), stored)  # sealed, not plain


class TwoInstances(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        db = new_database()
        cls.a = Llmux(db=db, mock=cls.mock)
        cls.b = Llmux(db=db, mock=cls.mock)
        setup_models(cls.a)

    @classmethod
    def tearDownClass(cls):
        assert cls.a.stop() == 0
        assert cls.b.stop() == 0
        cls.mock.stop()

    def test_shared_budget_and_reset_on_both(self):
        k = admin(self.a, "POST", "/keys", {"name": "shared", "budget_usd": 4})
        for lx in (self.a, self.b):
            wait_for(lambda: chat(lx, k["key"], FREE).status == 200, timeout=10,
                     what="key loaded")
        for _ in range(4):
            self.assertEqual(chat(self.a, k["key"]).status, 200)
        # b learns a's spend within one sync: probed with the free model,
        # which spends nothing, so the probe itself cannot overshoot
        t0 = time.monotonic()
        wait_for(lambda: chat(self.b, k["key"], FREE).status == 429, timeout=5,
                 what="b refuses after a spent the budget")
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(chat(self.b, k["key"]).status, 429)
        self.assertEqual(chat(self.a, k["key"]).status, 429)
        self.assertEqual(spend_in_db(self.a, f"key:{k['id']}"), 4)
        # reset-spend on a restores service on both
        admin(self.a, "POST", f"/keys/{k['id']}/reset-spend")
        for lx in (self.a, self.b):
            wait_for(lambda: chat(lx, k["key"], FREE).status == 200, timeout=5,
                     what="served after reset-spend")
        self.assertEqual(psql(self.a.db, "SELECT action FROM audit_log WHERE entity = 'keys' "
                              f"AND entity_id = '{k['id']}' ORDER BY id DESC LIMIT 1"),
                         "reset-spend")
        # spending alternately on both: never more served than the budget
        # allows once both know (each waits for the other's spend to land)
        served = 0
        for i in range(8):
            lx = (self.a, self.b)[i % 2]
            if chat(lx, k["key"]).status == 200:
                served += 1
                wait_for(lambda: spend_in_db(self.a, f"key:{k['id']}") == served, timeout=5,
                         what="spend synced")
                other = (self.b, self.a)[i % 2]
                if served >= 4:
                    wait_for(lambda: chat(other, k["key"], FREE).status == 429, timeout=5,
                             what="the other refuses")
        self.assertEqual(served, 4)


class Shutdown(unittest.TestCase):
    def test_spend_of_the_last_requests_reaches_ai_spend(self):
        """A clean stop sends the spend not yet synced (every 250 ms) before
        the process ends: the requests answered just before SIGTERM are in
        ai_spend, not only in ai_usage."""
        mock = Mock()
        lx = Llmux(db=True, mock=mock)
        try:
            setup_models(lx)
            k = admin(lx, "POST", "/keys", {"name": "shutdown", "budget_usd": 100})
            wait_for(lambda: chat(lx, k["key"], FREE).status == 200, timeout=10,
                     what="key and models loaded")
            self.assertEqual([chat(lx, k["key"]).status for _ in range(3)], [200] * 3)
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()
        self.assertEqual(spend_in_db(lx, f"key:{k['id']}"), 3)


class Rollover(Base):
    # The budget clock starts 6 s before the next UTC midnight.
    env = {"LLMUX_TEST_BUDGET_CLOCK_MS":
           str(((int(time.time()) // 86400 + 1) * 86400 - 6) * 1000)}

    def test_daily_rollover_restores_service(self):
        k = self.new_key(budget_usd=1, budget_period="daily")
        self.assertEqual(chat(self.lx, k["key"]).status, 200)
        r = chat(self.lx, k["key"])
        self.assertEqual(r.status, 429, r)
        self.assertLessEqual(int(r.headers["retry-after"]), 6)
        wait_for(lambda: chat(self.lx, k["key"], FREE).status == 200, timeout=20,
                 what="served after the rollover")
        self.assertEqual(chat(self.lx, k["key"]).status, 200)  # the new day's dollar
        self.assertEqual(chat(self.lx, k["key"]).status, 429)


class Receiver:
    """A local webhook receiver: answers 500 to the first `fail` posts."""

    def __init__(self, fail=1):
        self.posts, self.fail = [], fail
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(n)
                outer.posts.append((dict((k.lower(), v) for k, v in self.headers.items()), body))
                code = 500 if len(outer.posts) <= outer.fail else 200
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()


class Webhooks(Base):
    def test_thresholds_signed_and_retried(self):
        rcv = Receiver(fail=1)
        self.addCleanup(rcv.stop)
        secret = "whsec-0123456789abcdef"
        k = self.new_key(budget_usd=10, budget_webhook_url=rcv.url,
                         budget_webhook_secret=secret)
        for _ in range(10):
            self.assertEqual(chat(self.lx, k["key"]).status, 200)
        # 50, 80 and 100 %: the first post failed (500) and was retried
        wait_for(lambda: len({json.loads(b)["threshold"] for h, b in rcv.posts}) == 3
                 and psql(self.lx.db, "SELECT count(*) FROM ai_budget_alerts WHERE "
                          "delivered_at IS NOT NULL") == "3",
                 timeout=30, what="three alerts delivered")
        self.assertEqual(len(rcv.posts), 4, [json.loads(b) for h, b in rcv.posts])
        bodies = [b for h, b in rcv.posts]
        self.assertEqual(bodies.count(bodies[0]), 2)  # the one refused (500) came again
        seen = []
        for h, body in rcv.posts:
            want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            self.assertEqual(h["x-llmux-signature"], "sha256=" + want)
            self.assertTrue(abs(int(h["x-llmux-timestamp"]) - time.time()) < 120)
            doc = json.loads(body)
            self.assertEqual(doc["subject"], f"key:{k['id']}")
            self.assertEqual(doc["budget_usd"], 10)
            self.assertEqual(doc["budget_period"], "total")
            self.assertIsNone(doc["budget_reset_at"])
            self.assertGreaterEqual(doc["spend_usd"], doc["threshold"] / 10)
            seen.append(doc["threshold"])
        self.assertEqual(sorted(set(seen)), [50, 80, 100])
        self.assertEqual(psql(self.lx.db, "SELECT max(attempts) FROM ai_budget_alerts"), "2")


if __name__ == "__main__":
    unittest.main()
