"""What the admin UI's monitoring pages read (issue 20): one request's
detail with every upstream attempt (a retried-then-fallback request shows
its three attempts with their reasons), llmux's overhead and the client's
time to first byte; latency percentiles per time bucket; each deployment's
health (breaker, cooling, in-flight, latency, newest error)."""
import json
import time
import unittest

from harness import Llmux, Mock, new_database, psql, sse_events, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]

# Four rows in one minute an hour ago: total 1..4 ms, ttfb 0.1..0.4 ms.
SEED = """
INSERT INTO ai_usage (request_id, provider, model, feature, status, total_us, ttfb_us, created_at)
SELECT 'pct' || i, 'pctprov', 'pm', 'chat', 200, i * 1000, i * 100,
       date_trunc('minute', now() - interval '1 hour') + i * interval '1 second'
FROM generate_series(1, 4) i;
"""


class RequestDetail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)
        psql(cls.lx.db, SEED)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def admin(self, method, path, body=None):
        r = self.lx.req(method, API + path, body=body)
        assert r.status < 300, r
        return r.json()

    def provider(self, name, keys):
        """A provider on the mock with one connection per key (first key
        first) and the catalog model "m"; returns its connections."""
        p = self.admin("POST", "/providers", {"name": name, "kind": "openai_compatible",
                                                    "base_url": self.mock.url + "/v1",
                                                    "status": "disabled"})
        conns = [self.admin("POST", "/connections",
                              {"provider_id": p["id"], "name": f"c{i}", "api_key": k,
                           "priority": i}) for i, k in enumerate(keys)]
        self.admin("POST", "/models", {"provider_id": p["id"], "upstream_name": "m"})
        self.admin("PATCH", f"/providers/{p['id']}", {"status": "active"})

        def ready():
            r = self.lx.chat({"model": f"{name}/probe", "messages": MSG},
                             headers={"x-llmux-provider": "nobody"})
            return r.status == 404 and "requested provider" in r.json()["error"]["message"]
        wait_for(ready, timeout=5, what="provider loaded")
        return conns

    def detail(self, rid):
        out = {}

        def there():
            r = self.lx.req("GET", f"{API}/usage/requests/{rid}")
            out["r"] = r
            return r.status == 200
        wait_for(there, timeout=5, what=f"the usage row of {rid}")
        return out["r"].json()

    def check_three_attempts(self, d, conns, name):
        a = d["attempts"]
        self.assertEqual(len(a), 3, a)
        ids = [c["id"] for c in conns]
        self.assertEqual([x["connection_id"] for x in a], [ids[0], ids[0], ids[1]])
        self.assertEqual([x["provider"] for x in a], [name] * 3)
        self.assertEqual([x["model"] for x in a], ["m"] * 3)
        self.assertEqual([x["status"] for x in a], [503, 503, 200])
        self.assertEqual([x["then"] for x in a], ["retry", "fallback", "end"])
        self.assertEqual([x.get("reason") for x in a], ["HTTP 503", "HTTP 503", None])
        self.assertEqual([x["retry"] for x in a], [False, True, False])
        self.assertEqual([x["fallback"] for x in a], [False, False, True])
        self.assertEqual([x["verdict"] for x in a], ["retry", "retry", "success"])
        for x in a:
            self.assertGreater(x["duration_us"], 0, x)
            self.assertGreaterEqual(x["ttfb_us"], 0, x)
            self.assertLessEqual(x["ttfb_us"], x["duration_us"], x)
        self.assertEqual(d["status"], 200)
        self.assertEqual(d["connection_id"], ids[1])
        self.assertEqual(d["connection_name"], "c1")
        self.assertGreaterEqual(d["overhead_us"], 0)
        self.assertGreater(d["ttfc_us"], 0)
        self.assertLessEqual(d["ttfc_us"], d["total_us"])
        # the attempts took at least their own durations
        self.assertGreaterEqual(d["total_us"], sum(x["duration_us"] for x in a))

    def test_retried_then_fallback_shows_three_attempts(self):
        conns = self.provider("fb", ["sk-fb-a+fault=503", "sk-fb-b"])
        r = self.lx.chat({"model": "fb/m", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-attempts"], "3")
        d = self.detail(r.headers["x-request-id"])
        self.check_three_attempts(d, conns, "fb")
        self.assertEqual(d["requested_model"], "fb/m")

    def test_stream_retried_then_fallback(self):
        conns = self.provider("fbs", ["sk-fbs-a+fault=503", "sk-fbs-b"])
        r = self.lx.chat({"model": "fbs/m", "messages": MSG, "stream": True})
        self.assertEqual(r.status, 200, r)
        d = self.detail(r.headers["x-request-id"])
        self.check_three_attempts(d, conns, "fbs")

    def test_unknown_and_bad_ids(self):
        r = self.lx.req("GET", f"{API}/usage/requests/req_nosuchrequest")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"]["param"], "request_id")
        r = self.lx.req("GET", f"{API}/usage/requests/bad%20id")
        self.assertEqual(r.status, 400, r)
        r = self.lx.req("GET", f"{API}/usage/requests/x?limit=3")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "limit")

    def test_the_list_links_to_the_detail(self):
        self.provider("ld", ["sk-ld"])
        r = self.lx.chat({"model": "ld/m", "messages": MSG})
        rid = r.headers["x-request-id"]
        self.detail(rid)
        rows = self.admin("GET", "/usage/requests?provider=ld&limit=50")["data"]
        row = next(x for x in rows if x["request_id"] == rid)
        d = self.admin("GET", f"/usage/requests/{rid}?from={row['created_at']}")
        self.assertEqual(d["request_id"], rid)

    def test_percentiles_per_bucket(self):
        s = self.admin("GET", "/usage/timeseries?bucket=minute&provider=pctprov")
        self.assertEqual(len(s["data"]), 1, s)
        b = s["data"][0]
        self.assertEqual(b["requests"], 4)
        self.assertAlmostEqual(b["p50_latency_ms"], 2.5)
        self.assertAlmostEqual(b["p90_latency_ms"], 3.7)
        self.assertAlmostEqual(b["p99_latency_ms"], 3.97)
        self.assertAlmostEqual(b["p50_ttfb_ms"], 0.25)
        self.assertAlmostEqual(b["p90_ttfb_ms"], 0.37)
        self.assertAlmostEqual(b["p99_ttfb_ms"], 0.397)
        g = self.admin("GET", "/usage/summary?provider=pctprov&group_by=model")
        self.assertAlmostEqual(g["data"][0]["p99_latency_ms"], 3.97)

    def test_a_day_of_minutes_is_quick(self):
        psql(self.lx.db, """
            INSERT INTO ai_usage (request_id, provider, model, feature, status, total_us, ttfb_us,
                                  created_at)
            SELECT 'day' || i, 'dayprov', 'dm' || (i % 7), 'chat', 200, 1000 + i % 977, i % 331,
                   now() - (i % 1440) * interval '1 minute'
            FROM generate_series(1, 43200) i;
            ANALYZE ai_usage;""")
        t0 = time.monotonic()
        s = self.admin("GET", "/usage/timeseries?bucket=minute&provider=dayprov")
        took = time.monotonic() - t0
        self.assertGreaterEqual(len(s["data"]), 1440)
        self.assertIn("p99_latency_ms", s["data"][0])
        t0 = time.monotonic()
        g = self.admin("GET", "/usage/timeseries?bucket=minute&provider=dayprov&group_by=model")
        took_g = time.monotonic() - t0
        self.assertGreaterEqual(len(g["data"]), 7 * 1440 - 7)
        print(f"\n1,440 minute buckets over 43,200 rows: {took * 1000:.0f} ms; "
              f"by model (10,080 points): {took_g * 1000:.0f} ms")
        self.assertLess(took, 5.0)

    def test_health_lists_each_deployment(self):
        conns = self.provider("hp", ["sk-hp-a+fault=503", "sk-hp-b"])
        self.lx.chat({"model": "hp/m", "messages": MSG})
        h = self.admin("GET", "/health")
        rows = {(x["provider"], x["connection"]): x for x in h["data"]}
        a, b = rows[("hp", "c0")], rows[("hp", "c1")]
        self.assertEqual(a["model"], "m")
        self.assertEqual(a["connection_id"], conns[0]["id"])
        self.assertIn(a["state"], ("ok", "open", "half_open"))
        self.assertIn(a["breaker"], ("closed", "open", "half_open"))
        self.assertEqual(a["credential"]["last_error"], "upstream_unavailable")
        self.assertIsNotNone(a["credential"]["last_error_at"])
        self.assertGreaterEqual(a["credential"]["error_total"], 2)
        self.assertEqual(b["state"], "ok")
        self.assertIsNone(b["credential"]["last_error"])
        self.assertGreaterEqual(b["credential"]["success_total"], 1)
        self.assertIsNotNone(b["ttfb_ewma_ms"])
        self.assertEqual(b["in_flight"], 0)

    def test_health_roles(self):
        r = self.lx.req("GET", API + "/health", key="sk-not-the-admin-key")
        self.assertEqual(r.status, 401)


class TasksForTheAdmin(unittest.TestCase):
    """The tasks page lists every caller's tasks with the admin key,
    filtered by status and type and paged, and follows one's events."""

    def test_admin_lists_all_tasks_and_follows_events(self):
        db = new_database()
        psql(db, "CREATE TABLE llmux_test_jobs (id BIGSERIAL PRIMARY KEY, idem TEXT UNIQUE, "
                 "task TEXT, polls INT NOT NULL DEFAULT 0, polls_needed INT NOT NULL, fail TEXT, "
                 "cancelled BOOLEAN NOT NULL DEFAULT false, submits INT NOT NULL DEFAULT 1)")
        lx = Llmux(db=db, env={"LLMUX_TEST_TASKS": "1", "LLMUX_TASK_POLL_MIN_MS": "50",
                               "LLMUX_TASK_POLL_MAX_MS": "100", "LLMUX_TASK_CLAIM_MS": "100"})
        try:
            key = lx.req("POST", API + "/keys", body={"name": "tk"}).json()["key"]
            wait_for(lambda: lx.req("GET", "/api/v1/tasks", key=key).status == 200,
                     what="key known")
            ids = []
            for n in (1, 1, 3):
                r = lx.req("POST", "/api/v1/tasks", key=key,
                           body={"type": "test.job", "input": {"polls": n}})
                self.assertEqual(r.status, 202, r)
                ids.append(r.json()["id"])

            def done():
                r = lx.req("GET", "/api/v1/tasks?status=succeeded&type=test.job&limit=100")
                return {x["id"] for x in r.json()["data"]} >= set(ids)
            wait_for(done, timeout=15, what="the key's tasks listed for the admin")
            p1 = lx.req("GET", "/api/v1/tasks?status=succeeded&limit=2").json()
            self.assertEqual(len(p1["data"]), 2)
            self.assertTrue(p1["has_more"])
            p2 = lx.req("GET", f"/api/v1/tasks?status=succeeded&limit=2&after={p1['last_id']}")
            self.assertEqual({x["id"] for x in p1["data"]} & {x["id"] for x in p2.json()["data"]},
                             set())
            self.assertEqual(lx.req("GET", "/api/v1/tasks?status=running").json()["data"], [])
            r = lx.req("GET", f"/api/v1/tasks/{ids[2]}/events")
            self.assertEqual(r.status, 200, r)
            evs = sse_events(r.body)
            self.assertTrue(evs, r.body)
            self.assertEqual(json.loads(evs[-1][1])["status"], "succeeded")
            # the admin API's tasks routes: the same view for the UI's sign-in
            r = lx.req("GET", API + "/tasks?status=succeeded&type=test.job&limit=100")
            self.assertEqual(r.status, 200, r)
            self.assertGreaterEqual({x["id"] for x in r.json()["data"]}, set(ids))
            r = lx.req("GET", API + f"/tasks/{ids[0]}")
            self.assertEqual((r.status, r.json()["id"]), (200, ids[0]))
            r = lx.req("GET", API + f"/tasks/{ids[2]}/events")
            self.assertEqual(json.loads(sse_events(r.body)[-1][1])["status"], "succeeded")
            self.assertEqual(lx.req("DELETE", API + f"/tasks/{ids[0]}").status, 409)
            self.assertEqual(lx.req("GET", API + "/tasks/no..such").status, 404)
            self.assertEqual(lx.req("GET", API + "/tasks?bogus=1").status, 400)
            self.assertEqual(lx.req("GET", API + "/tasks", key=key).status, 403)
        finally:
            assert lx.stop() == 0


if __name__ == "__main__":
    unittest.main()
