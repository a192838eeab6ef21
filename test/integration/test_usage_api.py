"""Usage and audit that answer the question asked (issue 16, item 4):
usage/summary and usage/timeseries honour every filter and group_by; the
per-request log and the audit log, filtered and cursor-paged; a usage row
for every request llmux refuses itself once the key is known (401s only
counted in /metrics); one input-token figure across an Anthropic stream and
its usage row."""
import json
import re
import time
import unittest

from harness import ADMIN_KEY, Llmux, Mock, psql, sse_events, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hello there"}]

# (the ALTER is a no-op once sql/008 ran: it lets this file run against
# older builds, to see each test fail there)
SEED = """
ALTER TABLE ai_usage ADD COLUMN IF NOT EXISTS error_code TEXT;
INSERT INTO teams (id, name) VALUES (7201, 'team-red'), (7202, 'team-blue');
INSERT INTO api_keys (id, key_hash, prefix, name, team_id) VALUES
  (7101, '\\x7101', 'lx-7101', 'k-a', 7201),
  (7102, '\\x7102', 'lx-7102', 'k-b', 7201),
  (7103, '\\x7103', 'lx-7103', 'k-c', 7202);
INSERT INTO ai_usage (request_id, api_key_id, provider, model, feature, tokens_in, tokens_out,
                      cost_usd, status, error_code, total_us, created_at) VALUES
  ('f1', 7101, 'fprov', 'fm-a', 'chat', 10, 1, 0.01, 200, NULL, 1000, now() - interval '50 min'),
  ('f2', 7101, 'fprov', 'fm-b', 'chat', 20, 2, 0.02, 200, NULL, 1000, now() - interval '40 min'),
  ('f3', 7102, 'fprov', 'fm-a', 'chat', 30, 3, 0.03, 429, 'rate_limit_exceeded', 1000,
   now() - interval '30 min'),
  ('f4', 7103, 'gprov', 'fm-a', 'embed', 40, 0, 0.04, 200, NULL, 1000, now() - interval '20 min'),
  ('f5', 7103, 'gprov', 'gm-c', 'chat', 50, 5, 0.05, 503, 'unavailable', 1000,
   now() - interval '10 min'),
  ('f6', 7101, 'fprov', 'fm-a', 'chat', 60, 6, 0.06, 200, NULL, 1000, now() - interval '30 hours');
"""


def rfc(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class UsageApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)
        psql(cls.lx.db, SEED)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def get(self, path, status=200):
        r = self.lx.req("GET", API + path)
        self.assertEqual(r.status, status, r)
        return r.json()

    def bad(self, path, param):
        err = self.get(path, 400)["error"]
        self.assertEqual(err["param"], param, err)

    def sql(self, q):
        return psql(self.lx.db, q)

    def row(self, rid, cols="status, error_code, tokens_in, tokens_out, api_key_id, provider, "
                            "model, feature"):
        q = f"SELECT {cols} FROM ai_usage WHERE request_id = '{rid}'"
        wait_for(lambda: self.sql(q) != "", timeout=5, what=f"the usage row of {rid}")
        time.sleep(0.2)
        out = self.sql(q).splitlines()
        self.assertEqual(len(out), 1, out)
        return out[0].split("|")

    # ---- summary and timeseries: filters and group_by ----

    def test_summary_filters(self):
        def total(q):
            return self.get("/usage/summary?" + q)["totals"]["requests"]
        self.assertEqual(total("api_key_id=7101"), 2)  # f6 is older than 24 h
        self.assertEqual(total("team=team-red"), 3)
        self.assertEqual(total("team=team-blue&status=5xx"), 1)
        self.assertEqual(total("provider=gprov"), 2)
        self.assertEqual(total("provider=fprov&model=fm-a"), 2)
        self.assertEqual(total("model=fprov/fm-a"), 2)  # provider/model works too
        self.assertEqual(total("status=429&team=team-red"), 1)
        self.assertEqual(total("api_key_id=7101&from=" + rfc(time.time() - 2 * 86400)), 3)
        self.assertEqual(total("api_key_id=7101&from=" + rfc(time.time() - 2 * 86400) + "&to="
                               + rfc(time.time() - 45 * 60)), 2)
        s = self.get("/usage/summary?team=team-red&provider=fprov")
        self.assertAlmostEqual(s["totals"]["cost_usd"], 0.06)
        self.assertEqual(s["totals"]["tokens_in"], 60)

    def test_summary_group_by_every_dimension(self):
        s = self.get("/usage/summary?group_by=model&provider=fprov")
        self.assertEqual(sorted((r["model"], r["requests"]) for r in s["data"]),
                         [("fm-a", 2), ("fm-b", 1)])
        s = self.get("/usage/summary?group_by=team&team=team-red")
        self.assertEqual([(r["team"], r["requests"]) for r in s["data"]], [("team-red", 3)])
        s = self.get("/usage/summary?group_by=api_key_id&provider=fprov")
        self.assertEqual(sorted((r["api_key_id"], r["requests"]) for r in s["data"]),
                         [(7101, 2), (7102, 1)])
        s = self.get("/usage/summary?group_by=status&api_key_id=7103")
        self.assertEqual(sorted((r["status"], r["requests"]) for r in s["data"]),
                         [(200, 1), (503, 1)])
        s = self.get("/usage/summary?group_by=provider,status&model=fm-a")
        self.assertEqual(sorted((r["provider"], r["status"], r["requests"]) for r in s["data"]),
                         [("fprov", 200, 1), ("fprov", 429, 1), ("gprov", 200, 1)])
        s = self.get("/usage/summary?group_by=error_code&status=4xx&team=team-red")
        self.assertEqual([(r["error_code"], r["requests"]) for r in s["data"]],
                         [("rate_limit_exceeded", 1)])
        self.bad("/usage/summary?group_by=model,colour", "group_by")
        self.bad("/usage/summary?group_by=model,model", "group_by")
        self.bad("/usage/summary?status=4x", "status")
        self.bad("/usage/summary?api_key_id=abc", "api_key_id")
        self.bad("/usage/summary?team=", "team")

    def test_timeseries_filters(self):
        ts = self.get("/usage/timeseries?bucket=minute&team=team-blue&group_by=model")
        self.assertEqual(sorted((r["model"], r["requests"]) for r in ts["data"]),
                         [("fm-a", 1), ("gm-c", 1)])
        for r in ts["data"]:
            self.assertRegex(r["bucket"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$")
        ts = self.get("/usage/timeseries?bucket=day&status=200&provider=gprov")
        self.assertEqual(sum(r["requests"] for r in ts["data"]), 1)

    # ---- the per-request log ----

    def test_requests_newest_first_filtered_and_paged(self):
        page = self.get("/usage/requests?provider=fprov&limit=2")
        self.assertEqual([r["request_id"] for r in page["data"]], ["f3", "f2"])
        r0 = page["data"][0]
        self.assertEqual((r0["status"], r0["error_code"], r0["api_key_id"], r0["team"],
                          r0["key_name"], r0["model"]),
                         (429, "rate_limit_exceeded", 7102, "team-red", "k-b", "fm-a"))
        self.assertRegex(r0["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertNotIn("_pos", r0)
        cur = page["next_cursor"]
        self.assertTrue(cur)
        # a row written meanwhile (newer) does not shift the next page
        self.sql("INSERT INTO ai_usage (request_id, provider, model, feature, status, total_us) "
                 "VALUES ('f-new', 'fprov', 'fm-a', 'chat', 200, 1)")
        page = self.get(f"/usage/requests?provider=fprov&limit=2&cursor={cur}")
        self.assertEqual([r["request_id"] for r in page["data"]], ["f1"])
        self.assertIsNone(page["next_cursor"])
        page = self.get("/usage/requests?provider=fprov&limit=1")
        self.assertEqual(page["data"][0]["request_id"], "f-new")
        page = self.get("/usage/requests?team=team-blue&status=503")
        self.assertEqual([r["request_id"] for r in page["data"]], ["f5"])
        page = self.get("/usage/requests?api_key_id=7101&from=" + rfc(time.time() - 2 * 86400))
        self.assertEqual([r["request_id"] for r in page["data"]], ["f2", "f1", "f6"])
        self.bad("/usage/requests?cursor=zz", "cursor")
        self.bad("/usage/requests?cursor=" + "v1|x".encode().hex(), "cursor")
        self.bad("/usage/requests?limit=0", "limit")
        self.bad("/usage/requests?limit=501", "limit")
        self.assertEqual(self.lx.req("POST", API + "/usage/requests", body={}).status, 405)
        self.sql("DELETE FROM ai_usage WHERE request_id = 'f-new'")

    # ---- the audit log ----

    def test_audit_filtered_paged_and_redacted(self):
        def ok(method, path, body=None, status=None):
            r = self.lx.req(method, API + path, body=body)
            self.assertLess(r.status, 300, r)
            return r.json()
        secret = "sk-audit-api-secret-0123456789"
        p = ok("POST", "/providers", {"name": "audit-api", "kind": "openai_compatible",
                                      "base_url": self.mock.url + "/v1",
                                      "extra_headers": {"X-Tok": "hdr-secret-123"}})
        c = ok("POST", "/connections", {"provider_id": p["id"], "name": "c", "api_key": secret})
        ok("PATCH", f"/providers/{p['id']}", {"status": "disabled"})
        k = ok("POST", "/keys", {"name": "audit-key"})
        # a row as an older version wrote it: header values in plain text
        self.sql("INSERT INTO audit_log (actor, action, entity, entity_id, after) VALUES "
                 "('admin', 'create', 'providers', 'legacy', "
                 "'{\"name\":\"old\",\"extra_headers\":{\"X-Old\":\"old-secret-456\"},"
                 "\"credential\":\"\\\\x00\"}')")
        a = self.get(f"/audit?entity=providers&entity_id={p['id']}")
        self.assertEqual([(r["action"], r["actor"]) for r in a["data"]],
                         [("update", "admin"), ("create", "admin")])
        upd = a["data"][0]
        self.assertEqual((upd["before"]["status"], upd["after"]["status"]), ("active", "disabled"))
        self.assertEqual(upd["after"]["extra_headers"], {"X-Tok": "***"})
        self.assertRegex(upd["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        a = self.get("/audit?entity=connections&action=create&entity_id=" + str(c["id"]))
        self.assertEqual(len(a["data"]), 1)
        self.assertTrue(a["data"][0]["after"]["has_credential"])
        legacy = self.get("/audit?entity_id=legacy")["data"][0]["after"]
        self.assertEqual(legacy["extra_headers"], {"X-Old": "***"})
        self.assertNotIn("credential", legacy)
        everything = json.dumps(self.get("/audit?limit=500"))
        for s in (secret, "hdr-secret-123", "old-secret-456", k["key"], ADMIN_KEY):
            self.assertNotIn(s, everything)
        # newest first, one at a time, nothing repeated or skipped
        ids, cur = [], ""
        while True:
            page = self.get("/audit?actor=admin&limit=1" + (f"&cursor={cur}" if cur else ""))
            ids += [r["id"] for r in page["data"]]
            cur = page["next_cursor"]
            if not cur:
                break
        every = [int(x) for x in self.sql(
            "SELECT id FROM audit_log WHERE actor = 'admin' ORDER BY id DESC").split()]
        self.assertEqual(ids, every)
        self.assertGreaterEqual(len(ids), 5)
        since = self.get("/audit?entity=keys&from=" + rfc(time.time() - 60))
        self.assertIn(str(k["id"]), [r["entity_id"] for r in since["data"]])
        self.assertEqual(self.get("/audit?entity=keys&to=2001-01-01T00:00:00Z")["data"], [])
        self.bad("/audit?from=yesterday", "from")
        self.bad("/audit?cursor=abc", "cursor")
        self.bad("/audit?limit=100000", "limit")

    # ---- requests llmux refuses itself ----

    def test_local_refusals_leave_a_usage_row(self):
        r = self.lx.req("POST", API + "/keys", body={"name": "refused",
                                                      "allowed_models": ["demo/mock-model"]})
        self.assertEqual(r.status, 201, r)
        key, kid = r.json()["key"], r.json()["id"]

        def chat(body, path="/v1/chat/completions", **kw):
            return self.lx.req("POST", path, body=body, key=key, **kw)
        wait_for(lambda: chat({"model": "demo/mock-model", "messages": MSG}).status == 200,
                 timeout=5, what="the key to load")
        r = chat({"model": "demo/other-model", "messages": MSG})
        self.assertEqual(r.status, 403)
        self.assertEqual(self.row(r.headers["x-request-id"]),
                         ["403", "forbidden", "0", "0", str(kid), "demo", "other-model", "chat"])
        r = self.lx.chat({"model": "nope/x", "messages": MSG})  # the admin key
        self.assertEqual(r.status, 404)
        self.assertEqual(self.row(r.headers["x-request-id"]),
                         ["404", "model_not_found", "0", "0", "", "", "nope/x", "chat"])
        r = chat({"model": "demo/mock-model", "messages": "hi"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.row(r.headers["x-request-id"])[:5],
                         ["400", "invalid_type", "0", "0", str(kid)])
        r = chat({"model": "demo/mock-model"}, path="/v1/messages",
                 headers={"anthropic-version": "2023-06-01"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.row(r.headers["x-request-id"])[:5] + [self.row(
            r.headers["x-request-id"])[7]], ["400", "missing_field", "0", "0", str(kid),
                                             "messages"])
        r = chat("{not json")
        self.assertEqual(r.status, 400)
        self.assertEqual(self.row(r.headers["x-request-id"])[:2], ["400", "invalid_json"])
        # visible per key through the API
        s = self.get(f"/usage/summary?api_key_id={kid}&group_by=error_code&status=4xx")
        self.assertEqual(sorted((x["error_code"], x["requests"]) for x in s["data"]),
                         [("forbidden", 1), ("invalid_json", 1), ("invalid_type", 1),
                          ("missing_field", 1)])

    def test_local_429_leaves_a_usage_row(self):
        def ok(method, path, body=None):
            r = self.lx.req(method, API + path, body=body)
            self.assertLess(r.status, 300, r)
            return r.json()
        p = ok("POST", "/providers", {"name": "cooler", "kind": "openai_compatible",
                                      "base_url": self.mock.url + "/v1", "status": "disabled"})
        ok("POST", "/connections", {"provider_id": p["id"], "name": "c",
                                    "api_key": "sk-cool+fault=429+retry_after=20"})
        ok("PATCH", f"/providers/{p['id']}", {"status": "active"})
        wait_for(lambda: self.lx.chat({"model": "cooler/m", "messages": MSG}).status == 429,
                 timeout=5, what="the provider to load and cool")
        before = self.mock.stats()["requests_total"]
        r = self.lx.chat({"model": "cooler/m", "messages": MSG})
        self.assertEqual(r.status, 429)
        self.assertEqual(self.mock.stats()["requests_total"], before)  # refused locally
        self.assertEqual(self.row(r.headers["x-request-id"]),
                         ["429", "rate_limit_exceeded", "0", "0", "", "cooler", "m", "chat"])

    def test_unauthenticated_refusals_are_counted_not_stored(self):
        def counted():
            m = self.lx.req("GET", "/metrics").body.decode()
            return sum(int(v) for v in re.findall(
                r'^llmux_ai_unauthenticated_total\{worker="\d+"\} (\d+)$', m, re.M))
        n0 = counted()
        rows0 = self.sql("SELECT count(*) FROM ai_usage")
        ids = []
        for key in (None, "wrong-key-0123456789"):
            r = self.lx.req("POST", "/v1/chat/completions", key=key,
                            body={"model": "demo/mock-model", "messages": MSG})
            self.assertEqual(r.status, 401)
            ids.append(r.headers["x-request-id"])
        self.assertEqual(counted(), n0 + 2)
        time.sleep(0.4)  # two usage flushes
        self.assertEqual(self.sql("SELECT count(*) FROM ai_usage WHERE request_id IN ('"
                                  + "','".join(ids) + "')"), "0")
        self.assertEqual(self.sql("SELECT count(*) FROM ai_usage"), rows0)

    # ---- one token count across an Anthropic stream ----

    def test_anthropic_stream_counts_agree_with_the_row(self):
        body = {"model": "demo/mock-model+chunks=4", "max_tokens": 50, "stream": True,
                "messages": [{"role": "user", "content": "count my tokens " * 5}]}
        r = self.lx.req("POST", "/v1/messages", body=body,
                        headers={"anthropic-version": "2023-06-01"})
        self.assertEqual(r.status, 200, r)
        ev = {name: json.loads(data) for name, data in sse_events(r.body)
              if name in ("message_start", "message_delta")}
        start = ev["message_start"]["message"]["usage"]["input_tokens"]
        delta = ev["message_delta"]["usage"]
        self.assertEqual(delta["input_tokens"], start)
        tin, tout = self.row(r.headers["x-request-id"], "tokens_in, tokens_out")
        self.assertEqual(int(tin), start)
        self.assertEqual(int(tout), delta["output_tokens"])
        self.assertEqual(int(tout), 4)


if __name__ == "__main__":
    unittest.main()
