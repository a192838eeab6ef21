"""Per-model overrides of a key's, user's and team's limits (issue 18):
{"model_limits": {"<model>": {"rpm": 10, "budget_usd": 5}}} is validated by
the admin API, stored, shown, and enforced on requests that name that
model, on top of the owner's own limits."""
import re
import threading
import time
import unittest

from harness import Llmux, Mock, new_database, psql, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
MODEL = "demo/mock-model"  # in the catalog: full name demo/mock-model, public mock-model
OTHER = "demo/other"  # an alias of the same upstream: another model
PRICED, FREE = "demo/mpriced", "demo/mfree"  # $1 per request, $0


def fixed_rate_clock():
    """Windows read the middle of the current minute: no test straddles one."""
    now_ms = int(time.time() * 1000)
    return {"LLMUX_TEST_RATE_CLOCK_MS": str(now_ms - now_ms % 60000 + 30000)}


def admin(lx, method, path, body=None):
    r = lx.req(method, API + path, body=body)
    assert r.status < 300, r
    return r.json()


def chat(lx, key, model=MODEL, **kw):
    return lx.chat({"model": model, "messages": MSG, **kw}, key=key)


def setup_models(lx):
    prov = admin(lx, "GET", "/providers?name=demo")["data"][0]["id"]
    for name, cost in (("other", 0), ("mpriced", 1000000), ("mfree", 0)):
        admin(lx, "POST", "/models", {"provider_id": prov, "upstream_name": "mock-model+chunks=1",
                                      "public_name": name, "input_cost_per_1m": 0,
                                      "output_cost_per_1m": cost,
                                      "capabilities": ["chat", "stream"]})


def granted(db, subject, win="m"):
    return int(psql(db, "SELECT coalesce(max(granted), 0) FROM ai_limit_windows WHERE "
                    f"subject = '{subject}' AND win LIKE '{win}:%'") or 0)


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def post(self, what, body):
        return self.lx.req("POST", f"{API}/{what}", body={"name": f"m{time.monotonic_ns()}", **body})

    def test_stored_and_shown_on_keys_users_teams(self):
        ml = {"demo/mock-model": {"rpm": 10, "budget_usd": 5}, "smart": {"tpm": 1000, "rpd": 7}}
        for what in ("keys", "users", "teams"):
            r = self.post(what, {"model_limits": ml})
            self.assertEqual(r.status, 201, (what, r.body))
            got = self.lx.req("GET", f"{API}/{what}/{r.json()['id']}").json()
            self.assertEqual(got["model_limits"], ml, what)
            r = self.lx.req("PATCH", f"{API}/{what}/{got['id']}",
                            body={"model_limits": {"smart": {"rpm": 3}}})
            self.assertEqual(r.status, 200, (what, r.body))
            self.assertEqual(r.json()["model_limits"], {"smart": {"rpm": 3}}, what)

    def test_default_is_empty(self):
        r = self.post("keys", {})
        self.assertEqual(r.json()["model_limits"], {})

    def test_bad_shapes_are_400_naming_the_field(self):
        bad = [
            ([1, 2], "must be a JSON object"),
            ({"gpt 4o": {"rpm": 1}}, "not a valid model name"),
            ({"gpt-4o": 5}, "must be an object"),
            ({"gpt-4o": {}}, "must be an object"),
            ({"gpt-4o": {"rpm": 0}}, "positive integer"),
            ({"gpt-4o": {"rpm": 1.5}}, "integer"),
            ({"gpt-4o": {"budget_usd": -1}}, ">= 0"),
            ({"gpt-4o": {"budget_usd": "5"}}, ">= 0"),
            ({"gpt-4o": {"max_tokens": 5}}, "is not a limit"),
            ({f"m{i}": {"rpm": 1} for i in range(65)}, "more than 64"),
        ]
        for ml, words in bad:
            for what in ("keys", "teams"):
                r = self.post(what, {"model_limits": ml})
                self.assertEqual(r.status, 400, (what, ml, r.body))
                err = r.json()["error"]
                self.assertEqual(err["param"], "model_limits", (ml, err))
                self.assertIn(words, err["message"], ml)


class Enforced(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=fixed_rate_clock())
        setup_models(cls.lx)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def new(self, what, **fields):
        return admin(self.lx, "POST", f"/{what}", {"name": f"m{time.monotonic_ns()}", **fields})

    def new_key(self, **fields):
        k = self.new("keys", **fields)
        wait_for(lambda: chat(self.lx, k["key"], FREE).status == 200, timeout=10,
                 what="key and models loaded")
        return k

    def served(self, key, n, model, subject, limit, **kw):
        """n requests one after another; after each one served, waits for
        the lease it asked for (a request borrows one slice at most against
        a lease on its way: a client faster than the database would see
        refusals a client pacing itself would not)."""
        out, ok = [], 0
        for _ in range(n):
            out.append(chat(self.lx, key, model, **kw))
            if out[-1].status == 200:
                ok += 1
                wait_for(lambda: granted(self.lx.db, subject) >= min(ok, limit), timeout=10,
                         what=f"the lease of {subject}")
        return out

    def test_key_model_rpm_other_model_served(self):
        k = self.new_key(model_limits={MODEL: {"rpm": 2}})
        sub = f"key:{k['id']}@{MODEL}"
        rs = self.served(k["key"], 3, MODEL, sub, 2)
        self.assertEqual([r.status for r in rs], [200, 200, 429], rs)
        err = rs[2].json()["error"]
        self.assertEqual((err["type"], err["code"]), ("rate_limit_error", "rate_limit_exceeded"))
        self.assertIn(f"rate limit reached for this API key on model '{MODEL}': 2 requests "
                      "per minute", err["message"])
        self.assertIn("retry-after", rs[2].headers)
        # another model is not held to that entry
        self.assertEqual([chat(self.lx, k["key"], OTHER).status for _ in range(3)], [200] * 3)
        # the Anthropic shape on /v1/messages
        r = self.lx.req("POST", "/v1/messages", key=k["key"],
                        body={"model": MODEL, "max_tokens": 16, "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()["error"]["type"], "rate_limit_error")
        self.assertIn(f"on model '{MODEL}'", r.json()["error"]["message"])
        # /v1/key/info shows the entry with its use
        info = self.lx.req("GET", "/v1/key/info", key=k["key"]).json()
        m = info["levels"]["key"]["models"][MODEL]
        self.assertEqual(m["limits"], {"rpm": 2, "rpd": None, "tpm": None, "budget_usd": None})
        self.assertEqual((m["usage"]["requests_minute"]["limit"],
                          m["usage"]["requests_minute"]["used"]), (2, 2), m)
        self.assertIsNone(m["usage"]["tokens_minute"])
        # the catalog prices mock-model: both requests' cost, as the key's own
        self.assertGreater(m["spend"]["spend_usd"], 0)
        self.assertEqual(m["spend"]["spend_usd"], info["levels"]["key"]["spend"]["spend_usd"])
        self.assertEqual(info["levels"]["user"], None)

    def test_team_model_entry_limits_all_its_keys(self):
        team = self.new("teams", model_limits={MODEL: {"rpm": 2}})
        k1 = self.new_key(team_id=team["id"])
        k2 = self.new_key(team_id=team["id"])
        sub = f"team:{team['id']}@{MODEL}"
        self.assertEqual([r.status for r in self.served(k1["key"], 1, MODEL, sub, 2)], [200])
        self.assertEqual([r.status for r in self.served(k2["key"], 1, MODEL, sub, 2)], [200])
        r = chat(self.lx, k1["key"])
        self.assertEqual(r.status, 429, r)
        self.assertIn(f"this key's team on model '{MODEL}'", r.json()["error"]["message"])
        self.assertEqual(chat(self.lx, k2["key"]).status, 429)
        self.assertEqual(chat(self.lx, k2["key"], OTHER).status, 200)
        info = self.lx.req("GET", "/v1/key/info", key=k2["key"]).json()
        self.assertEqual(info["levels"]["team"]["models"][MODEL]["limits"]["rpm"], 2, info)

    def test_model_budget_refuses_that_model_only(self):
        k = self.new_key(model_limits={PRICED: {"budget_usd": 2}}, budget_period="daily")
        rs = [chat(self.lx, k["key"], PRICED) for _ in range(3)]
        self.assertEqual([r.status for r in rs], [200, 200, 429], rs)
        err = rs[2].json()["error"]
        self.assertEqual((err["type"], err["code"]), ("insufficient_quota", "budget_exceeded"))
        self.assertIn(f"budget exceeded for this API key on model '{PRICED}': spent $2.0",
                      err["message"])
        self.assertIn("retry-after", rs[2].headers)  # the owner's period: daily
        self.assertEqual(chat(self.lx, k["key"], FREE).status, 200)
        info = self.lx.req("GET", "/v1/key/info", key=k["key"]).json()
        spend = info["levels"]["key"]["models"][PRICED]["spend"]
        self.assertEqual((spend["spend_usd"], spend["budget_usd"], spend["budget_period"]),
                         (2, 2, "daily"), spend)
        self.assertEqual(info["levels"]["key"]["spend"]["spend_usd"], 2)
        sub = f"key:{k['id']}@{PRICED}"
        wait_for(lambda: float(psql(self.lx.db, "SELECT coalesce(sum(spend_usd), 0) FROM "
                                    f"ai_spend WHERE subject = '{sub}'")) == 2,
                 timeout=10, what="the entry's spend in ai_spend")
        # reset-spend of the key resets its model entries too
        admin(self.lx, "POST", f"/keys/{k['id']}/reset-spend")
        wait_for(lambda: chat(self.lx, k["key"], PRICED).status == 200, timeout=10,
                 what="served after reset-spend")

    def test_model_tpm(self):
        """Each request is held to its estimate (prompt + max_tokens) and
        settled with its real use (~15 tokens here): a tpm of 50 refuses
        within a few requests, that model only."""
        k = self.new_key(model_limits={MODEL: {"tpm": 50}})
        rs = []
        while len(rs) < 8 and (not rs or rs[-1].status == 200):
            rs.append(chat(self.lx, k["key"], MODEL, max_tokens=100))
        self.assertEqual(rs[-1].status, 429, rs)
        self.assertLessEqual(len(rs), 6, rs)
        self.assertIn(f"on model '{MODEL}': 50 tokens per minute", rs[-1].json()["error"]["message"])
        self.assertEqual(rs[-1].headers["x-ratelimit-limit-tokens"], "50")
        self.assertEqual(chat(self.lx, k["key"], OTHER, max_tokens=100).status, 200)

    def test_match_by_public_name(self):
        k = self.new_key(model_limits={"mock-model": {"rpm": 1}})
        rs = [chat(self.lx, k["key"], MODEL) for _ in range(2)]  # sent as provider/model
        self.assertEqual([r.status for r in rs], [200, 429], rs)
        self.assertIn("on model 'mock-model'", rs[1].json()["error"]["message"])
        self.assertEqual(chat(self.lx, k["key"], "mock-model").status, 429)  # sent bare
        self.assertEqual(chat(self.lx, k["key"], OTHER).status, 200)

    def test_user_entry_and_strictest_headers(self):
        user = self.new("users", model_limits={MODEL: {"rpm": 3}})
        k = self.new_key(user_id=user["id"], rpm=100)
        r = chat(self.lx, k["key"], OTHER)  # the key's own window only
        self.assertEqual(r.headers["x-ratelimit-limit-requests"], "100")
        r = chat(self.lx, k["key"], MODEL)  # the user's model entry is the strictest
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-ratelimit-limit-requests"], "3")
        self.assertIn(r.headers["x-ratelimit-remaining-requests"], ("1", "2"))
        info = self.lx.req("GET", "/v1/key/info", key=k["key"]).json()
        self.assertEqual(info["levels"]["user"]["models"][MODEL]["limits"]["rpm"], 3, info)
        self.assertEqual(info["levels"]["key"]["models"], {})


class TwoInstances(unittest.TestCase):
    def test_model_rpm_shared_across_two_instances(self):
        mock, db = Mock(), new_database()
        clock = fixed_rate_clock()
        a = Llmux(db=db, mock=mock, env=clock)
        b = Llmux(db=db, mock=mock, env=clock)
        try:
            k = admin(a, "POST", "/keys", {"name": "shared", "rpm": 1000,
                                           "model_limits": {MODEL: {"rpm": 20}}})
            sub = f"key:{k['id']}@{MODEL}"
            wait_for(lambda: all(lx.req("GET", "/v1/models", key=k["key"]).status == 200
                                 for lx in (a, b)), timeout=10, what="key loaded on both")
            # the lease tick leased the entry's first slice on both
            wait_for(lambda: granted(db, sub) >= 2, timeout=10, what="first slices")
            results, lock = [], threading.Lock()

            def client(lx, n):
                for _ in range(n):
                    s = chat(lx, k["key"]).status
                    with lock:
                        results.append(s)
                    time.sleep(0.05)  # pacing, not waiting for a condition
            threads = [threading.Thread(target=client, args=(lx, 15)) for lx in (a, b, a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            served = results.count(200)
            self.assertEqual(set(results) - {200, 429}, set(), results)
            print(f"served {served} of 60 at a model rpm of 20 over two instances")
            self.assertTrue(18 <= served <= 22, served)  # L -+ instances x slice (1)
            self.assertEqual(granted(db, sub), 20)
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)
            mock.stop()


if __name__ == "__main__":
    unittest.main()
