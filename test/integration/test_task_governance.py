"""Governance limits apply to media tasks (issue 19): a submission
(POST /api/v1/media/videos|images, POST /v1/videos) is admitted as one
request of its key, user and team (rpm, rpd, the model's model_limits
entry, the key's allowed models), refused with 429 in the OpenAI shape and
counted in the same metrics; a finished task's cost reaches ai_spend
(sql/019) for the key, its user and its team, so budgets refuse the next
submission and the next chat, and the budget alert trigger fires."""
import re
import time
import unittest
import uuid

from harness import Llmux, Mock, psql, wait_for

FAST = {
    "LLMUX_TASK_POLL_MIN_MS": "50",
    "LLMUX_TASK_POLL_MAX_MS": "200",
    "LLMUX_TASK_CLAIM_MS": "100",
    "LLMUX_TASK_POOL": "100",
}
API = "/api/v1/admin/ai"
VIDEO = "demo/vid-dollar"  # $0.25 a second: a 4 s video costs $1
MSG = [{"role": "user", "content": "hi"}]


def admin(lx, method, path, body=None):
    r = lx.req(method, API + path, body=body)
    assert r.status < 300, r
    return r.json()


def refusals(lx, metric, subject):
    text = lx.req("GET", "/metrics", key=None).body.decode()
    return sum(int(v) for v in re.findall(
        r'^' + metric + r'\{worker="\d+",subject="' + subject + r'"[^}]*\} (\d+)$', text, re.M))


class TaskGovernance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=FAST)
        prov = admin(cls.lx, "GET", "/providers?name=demo")["data"][0]["id"]
        admin(cls.lx, "POST", "/models", {"provider_id": prov, "public_name": "vid-dollar",
                                          "upstream_name": "sora-2+duration_ms=300",
                                          "unit_cost_usd": 0.25})
        admin(cls.lx, "POST", "/models", {"provider_id": prov, "public_name": "free",
                                          "upstream_name": "mock-model+chunks=1",
                                          "capabilities": ["chat", "stream"]})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def new_key(self, **fields):
        k = admin(self.lx, "POST", "/keys", {"name": f"k{time.monotonic_ns()}", **fields})
        # loaded (a listing is not admitted: it spends no allowance)
        wait_for(lambda: self.lx.req("GET", "/v1/videos", key=k["key"]).status == 200,
                 timeout=10, what="key loaded")
        return k

    def video(self, key, route="native"):
        body = {"model": VIDEO, "prompt": "gov-" + uuid.uuid4().hex[:8],
                "seconds": 4 if route == "native" else "4"}
        path = "/api/v1/media/videos" if route == "native" else "/v1/videos"
        return self.lx.req("POST", path, body=body, key=key)

    def settled(self, key, level, want_left, model=None):
        """This instance knows what is left of level's ('key', 'user',
        'team') minute window (of model's entry): the lease asked for by
        the last submission came back (a submission borrows against a
        lease on its way, so a client faster than the database would see
        refusals, or admissions, a paced one would not)."""
        last = {}

        def known():
            lv = self.lx.req("GET", "/v1/key/info", key=key).json()["levels"][level]
            last["w"] = (lv["models"][model] if model else lv)["usage"]["requests_minute"]
            return last["w"]["remaining"] == want_left
        wait_for(known, timeout=10, what=f"the lease of the {level} ({want_left} left): {last}")

    def known_spend(self, key, level, usd):
        """This instance's budget sync read level's spend back from ai_spend
        (within one 250 ms tick of the task's end)."""
        wait_for(lambda: self.lx.req("GET", "/v1/key/info", key=key).json()["levels"][level]
                 ["spend"]["spend_usd"] == usd, timeout=10, what=f"the {level}'s spend known")

    def wait_task(self, tid, key):
        out = {}

        def done():
            out["t"] = self.lx.req("GET", f"/api/v1/tasks/{tid}", key=key).json()
            return out["t"]["status"] in ("succeeded", "failed", "cancelled", "expired")
        wait_for(done, timeout=30, interval=0.05, what=f"{tid} finished")
        return out["t"]

    def test_key_rpm_2_on_video_submissions(self):
        # the four submissions within one minute window
        wait_for(lambda: time.time() % 60 < 40, timeout=30, interval=0.5, what="a fresh minute")
        k = self.new_key(rate_limit_per_minute=2)
        before = refusals(self.lx, "llmux_ai_limit_refusals_total", "key")
        rs = []
        for route in ("native", "openai", "native", "openai"):
            rs.append(self.video(k["key"], route))
            if rs[-1].status in (200, 202):
                self.settled(k["key"], "key", 2 - len(rs))
        self.assertEqual([r.status for r in rs], [202, 200, 429, 429], rs)
        err = rs[2].json()["error"]
        self.assertEqual((err["type"], err["code"]), ("rate_limit_error", "rate_limit_exceeded"))
        self.assertIn("this API key", err["message"])
        self.assertIn("2 requests per minute", err["message"])
        ra = int(rs[2].headers["retry-after"])
        self.assertTrue(1 <= ra <= 60, ra)
        self.assertEqual(rs[3].json()["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(refusals(self.lx, "llmux_ai_limit_refusals_total", "key") - before, 2)
        # two tasks stored, none for the refusals; the refusals are usage rows
        self.assertEqual(psql(self.lx.db, "SELECT count(*) FROM ai_tasks WHERE api_key_id = "
                              f"{k['id']}"), "2")
        wait_for(lambda: psql(self.lx.db, "SELECT count(*) FROM ai_usage WHERE api_key_id = "
                              f"{k['id']} AND error_code = 'rate_limit_exceeded' "
                              "AND feature = 'video' AND status = 429") == "2",
                 timeout=10, what="refusal usage rows")

    def test_model_entry_rpm_and_allowed_models(self):
        k = self.new_key(model_limits={VIDEO: {"rpm": 1}})
        r1 = self.video(k["key"])
        self.assertEqual(r1.status, 202, r1)
        self.settled(k["key"], "key", 0, VIDEO)
        r2 = self.video(k["key"])
        self.assertEqual(r2.status, 429, r2)
        self.assertIn(f"on model '{VIDEO}'", r2.json()["error"]["message"])
        chat_only = self.new_key(allowed_models=["demo/free"])
        r = self.video(chat_only["key"])
        self.assertEqual(r.status, 403, r)
        self.assertIn("may not use model", r.json()["error"]["message"])

    def test_key_budget_reached_by_a_video(self):
        k = self.new_key(budget_usd=1)
        r = self.video(k["key"])
        self.assertEqual(r.status, 202, r)
        t = self.wait_task(r.json()["id"], k["key"])
        self.assertEqual(t["status"], "succeeded", t)
        self.assertEqual(float(psql(self.lx.db, "SELECT cost_usd FROM ai_usage WHERE "
                                    f"record_id = 'task:{t['id']}'")), 1.0)
        wait_for(lambda: admin(self.lx, "GET", f"/keys/{k['id']}")["spend_usd"] == 1,
                 timeout=10, what="the key's spend_usd is the video's cost")
        before = refusals(self.lx, "llmux_ai_budget_refusals_total", "key")
        self.known_spend(k["key"], "key", 1)
        out = {"r": self.video(k["key"])}
        self.assertEqual(out["r"].status, 429, out["r"])
        err = out["r"].json()["error"]
        self.assertEqual((err["type"], err["code"]), ("insufficient_quota", "budget_exceeded"))
        self.assertIn("this API key", err["message"])
        c = self.lx.chat({"model": "demo/free", "messages": MSG}, key=k["key"])
        self.assertEqual(c.status, 429, c)
        self.assertEqual(c.json()["error"]["code"], "budget_exceeded")
        self.assertEqual(refusals(self.lx, "llmux_ai_budget_refusals_total", "key") - before, 2)
        self.assertEqual(psql(self.lx.db, "SELECT count(*) FROM ai_tasks WHERE api_key_id = "
                              f"{k['id']}"), "1")

    def test_team_budget_and_alerts(self):
        team = admin(self.lx, "POST", "/teams", {"name": f"t{time.monotonic_ns()}",
                                                  "budget_usd": 1, "budget_period": "total",
                                                  "budget_webhook_url": "http://127.0.0.1:9/h"})
        user = admin(self.lx, "POST", "/users", {"name": f"u{time.monotonic_ns()}"})
        k1 = self.new_key(team_id=team["id"], user_id=user["id"])
        k2 = self.new_key(team_id=team["id"])
        r = self.video(k1["key"], "openai")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.wait_task(r.json()["id"], k1["key"])["status"], "succeeded")
        wait_for(lambda: admin(self.lx, "GET", f"/teams/{team['id']}")["spend_usd"] == 1,
                 timeout=10, what="the team's spend_usd is the video's cost")
        self.assertEqual(float(psql(self.lx.db, "SELECT spend_usd FROM ai_spend WHERE subject = "
                                    f"'user:{user['id']}'")), 1.0)
        self.assertEqual(float(psql(self.lx.db, "SELECT spend_usd FROM ai_spend WHERE subject = "
                                    f"'key:{k1['id']}'")), 1.0)
        # the budget alert trigger fired for the team (50, 80 and 100 %)
        self.assertEqual(psql(self.lx.db, "SELECT string_agg(threshold::text, ',' ORDER BY "
                              "threshold) FROM ai_budget_alerts WHERE subject = "
                              f"'team:{team['id']}'"), "50,80,100")
        self.known_spend(k2["key"], "team", 1)
        out = {"r": self.video(k2["key"])}
        self.assertEqual(out["r"].status, 429, out["r"])
        err = out["r"].json()["error"]
        self.assertEqual(err["code"], "budget_exceeded")
        self.assertIn("team", err["message"])
        self.assertEqual(psql(self.lx.db, "SELECT count(*) FROM ai_tasks WHERE api_key_id = "
                              f"{k2['id']}"), "0")


if __name__ == "__main__":
    unittest.main()
