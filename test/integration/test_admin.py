"""The admin REST API (/api/v1/admin/ai/...) against a real Postgres and the
mock upstream: auth, CRUD with validation for every resource, pagination and
filters, API-key lifecycle through the registry (NOTIFY), sealed connection
credentials, connection tests, audit rows, usage analytics, client
disconnects, and no secret in the log."""
import json
import os
import socket
import subprocess
import time
import unittest
from unittest import mock

import harness
from harness import ADMIN_KEY, Llmux, Mock, new_database, psql, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
PROVIDER_KEY = "sk-provider-secret-0123456789abcdefXYZ"


class NoDatabase(unittest.TestCase):
    def test_every_route_is_503_without_a_database(self):
        lx = Llmux()
        try:
            for method, path in (("GET", "/providers"), ("POST", "/keys"), ("GET", "/usage/summary"),
                                 ("DELETE", "/models/1")):
                r = lx.req(method, API + path, body={} if method == "POST" else None)
                self.assertEqual(r.status, 503, r)
                self.assertIn("database", r.json()["error"]["message"])
            self.assertEqual(lx.req("GET", API + "/providers", key=None).status, 401)
        finally:
            self.assertEqual(lx.stop(), 0)


class _ProcWithoutMasterKey(harness.Proc):
    def __init__(self, argv, env, name, **kw):
        super().__init__(argv, {k: v for k, v in env.items() if k != "LLMUX_MASTER_KEY"}, name, **kw)


class NoMasterKey(unittest.TestCase):
    def test_api_key_needs_the_master_key(self):
        with mock.patch.object(harness, "Proc", _ProcWithoutMasterKey):
            lx = Llmux(db=True)
        try:
            pid = lx.req("GET", API + "/providers?name=openai").json()["data"][0]["id"]
            r = lx.req("POST", API + "/connections",
                       {"provider_id": pid, "name": "k", "api_key": PROVIDER_KEY})
            self.assertIn(r.status, (400, 503), r)
            self.assertIn("LLMUX_MASTER_KEY", r.json()["error"]["message"])
            self.assertEqual(r.json()["error"]["param"], "api_key")
            r = lx.req("POST", API + "/connections", {"provider_id": pid, "name": "keyless"})
            self.assertEqual(r.status, 201, r)
            r = lx.req("PATCH", API + f"/connections/{r.json()['id']}", {"api_key": PROVIDER_KEY})
            self.assertIn(r.status, (400, 503), r)
        finally:
            self.assertEqual(lx.stop(), 0)
        self.assertNotIn(PROVIDER_KEY, lx.log())


class DatabaseGone(unittest.TestCase):
    def test_503_when_the_database_goes_away(self):
        db = new_database()
        lx = Llmux(db=db)
        try:
            self.assertEqual(lx.req("GET", API + "/providers").status, 200)
            name = db.split("dbname=")[1].split()[0]
            psql(os.environ["LLMUX_TEST_PG"], f"DROP DATABASE {name} WITH (FORCE)")
            t0 = time.monotonic()
            r = lx.req("GET", API + "/providers", timeout=30)
            self.assertEqual(r.status, 503, r)
            self.assertLess(time.monotonic() - t0, 20)
            self.assertEqual(lx.req("GET", "/healthz").status, 200)
        finally:
            self.assertEqual(lx.stop(), 0)


    def test_503_at_once_while_the_database_is_known_down(self):
        # Once a worker's connection is lost (or its reconnects fail), an
        # admin call does not wait out the 15 s deadline: 503 at once, in
        # the OpenAI error shape, with Retry-After; back to 200 when
        # Postgres returns.
        pg = harness.PrivatePostgres()
        lx = Llmux(db=pg.conninfo)
        try:
            self.assertEqual(lx.req("GET", API + "/providers").status, 200)
            pg.stop()
            wait_for(lambda: lx.log().count("postgres connection lost") >= 2, timeout=10,
                     what="both workers see the connection lost")
            for _ in range(6):  # both workers, while they keep failing to reconnect
                t0 = time.monotonic()
                r = lx.req("GET", API + "/providers", timeout=30)
                took = time.monotonic() - t0
                self.assertEqual(r.status, 503, r)
                self.assertLess(took, 3, took)
                e = r.json()["error"]
                self.assertEqual(e["type"], "server_error")
                self.assertEqual(e["code"], "unavailable")
                self.assertIn("database", e["message"])
                self.assertIn("retry-after", r.headers)
                r = lx.req("POST", API + "/providers", timeout=30, body={
                    "name": "p", "kind": "openai", "base_url": "http://127.0.0.1:1/v1"})
                self.assertEqual(r.status, 503, r)
                time.sleep(0.3)
            self.assertEqual(lx.req("GET", "/healthz").status, 200)
            pg.start()
            wait_for(lambda: lx.req("GET", API + "/providers").status == 200, timeout=20,
                     what="admin answers again")
        finally:
            self.assertEqual(lx.stop(), 0)
            pg.destroy()


class Admin(unittest.TestCase):
    secrets = []

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)
        cls.secrets = [ADMIN_KEY, PROVIDER_KEY]

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0
        log = cls.lx.log()
        for s in cls.secrets:
            assert s not in log, "a secret appears in the llmux log"

    # ---- helpers ----

    def call(self, method, path, body=None, key=ADMIN_KEY, **kw):
        return self.lx.req(method, API + path, body=body, key=key, **kw)

    def ok(self, method, path, body=None, status=200):
        r = self.call(method, path, body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def bad(self, method, path, body, param, status=400):
        r = self.call(method, path, body)
        self.assertEqual(r.status, status, r)
        err = r.json()["error"]
        self.assertEqual(err["param"], param, err)
        self.assertTrue(err["message"])
        return err

    def provider(self, name, **kw):
        body = {"name": name, "kind": "openai_compatible", "base_url": self.mock.url + "/v1"}
        body.update(kw)
        return self.ok("POST", "/providers", body, 201)

    def demo_id(self):
        return self.ok("GET", "/providers?name=demo")["data"][0]["id"]

    def sql(self, q):
        return psql(self.lx.db, q)

    # ---- auth and routing ----

    def test_auth(self):
        self.assertEqual(self.call("GET", "/providers", key=None).status, 401)
        r = self.call("GET", "/providers", key="not-the-admin-key-at-all")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], "invalid_api_key")
        r = self.lx.req("GET", API + "/providers", key=None, headers={"x-api-key": ADMIN_KEY})
        self.assertEqual(r.status, 200, r)
        # a valid client API key is refused here
        k = self.ok("POST", "/keys", {"name": "client"}, 201)["key"]
        self.secrets.append(k)
        wait_for(lambda: self.call("GET", "/providers", key=k).status == 403, timeout=10,
                 what="the new key in the registry")
        self.assertEqual(self.call("GET", "/keys", key=k).status, 403)

    def test_routes_and_methods(self):
        self.assertEqual(self.call("GET", "/nothing").status, 404)
        self.assertEqual(self.call("GET", "/providers/1/2/3/4/5").status, 404)
        r = self.call("PUT", "/providers", {})
        self.assertEqual(r.status, 405)
        self.assertIn("GET", r.headers.get("allow", ""))
        self.assertEqual(self.call("GET", "/providers/abc").json()["error"]["param"], "id")
        self.assertEqual(self.call("GET", "/providers/999999").status, 404)
        self.assertEqual(self.call("PATCH", "/providers/999999", {"status": "active"}).status, 404)
        self.assertEqual(self.call("DELETE", "/providers/999999").status, 404)
        r = self.call("POST", "/providers", "{not json")
        self.assertEqual(r.status, 400)
        r = self.call("POST", "/providers", [1, 2])
        self.assertEqual(r.status, 400)

    # ---- providers ----

    def test_providers_crud(self):
        p = self.provider("prov-crud", extra_headers={"X-Team": "search"},
                          first_byte_timeout_ms=30000)
        self.assertEqual(p["status"], "active")
        self.assertEqual(p["extra_headers"], {"X-Team": "***"})  # write-only
        self.assertEqual(p["first_byte_timeout_ms"], 30000)
        self.assertIsNone(p["connect_timeout_ms"])
        self.assertIsInstance(p["id"], int)
        got = self.ok("GET", f"/providers/{p['id']}")
        self.assertEqual(got, p)
        upd = self.ok("PATCH", f"/providers/{p['id']}",
                      {"status": "disabled", "base_url": "https://example.com/v1/",
                       "first_byte_timeout_ms": None})
        self.assertEqual(upd["status"], "disabled")
        self.assertEqual(upd["base_url"], "https://example.com/v1")
        self.assertIsNone(upd["first_byte_timeout_ms"])
        self.assertEqual(upd["name"], "prov-crud")
        lst = self.ok("GET", "/providers?status=disabled&name=prov-crud")
        self.assertEqual([x["id"] for x in lst["data"]], [p["id"]])
        self.assertEqual(lst["total"], 1)
        kinds = self.ok("GET", "/providers?kind=anthropic")["data"]
        self.assertTrue(all(x["kind"] == "anthropic" for x in kinds))
        d = self.ok("DELETE", f"/providers/{p['id']}")
        self.assertTrue(d["deleted"])
        self.assertEqual(self.call("GET", f"/providers/{p['id']}").status, 404)

    def test_providers_validation(self):
        good = {"name": "prov-val", "kind": "openai", "base_url": "https://api.example.com/v1"}
        for field, value in (("name", "Bad Name"), ("name", "x" * 65), ("name", 5),
                             ("kind", "cohere"), ("base_url", "ftp://x"), ("base_url", "http://"),
                             ("status", "paused"), ("extra_headers", {"X-A": 1}),
                             ("extra_headers", ["x"]), ("extra_headers", {"Bad Name": "v"}),
                             ("extra_headers", {"X-A": "a\r\nb"}),
                             ("connect_timeout_ms", 0), ("idle_timeout_ms", -5),
                             ("total_timeout_ms", "100"), ("default_connection_id", "x"),
                             ("bogus", 1), ("created_at", "2020-01-01T00:00:00Z"),
                             ("name", None)):
            body = dict(good, **{field: value})
            self.bad("POST", "/providers", body, field)
        for missing in ("name", "kind", "base_url"):
            body = {k: v for k, v in good.items() if k != missing}
            self.assertEqual(self.bad("POST", "/providers", body, missing)["code"],
                             "missing_field")
        self.ok("POST", "/providers", good, 201)
        err = self.bad("POST", "/providers", good, "name", 409)
        self.assertIn("already exists", err["message"])
        self.assertEqual(err["code"], "conflict")
        pid = self.ok("GET", "/providers?name=prov-val")["data"][0]["id"]
        self.bad("PATCH", f"/providers/{pid}", {}, None)
        self.bad("PATCH", f"/providers/{pid}", {"kind": "x"}, "kind")
        self.bad("PATCH", f"/providers/{pid}", {"name": "demo"}, "name", 409)
        self.bad("PATCH", f"/providers/{pid}", {"default_connection_id": 987654},
                 "default_connection_id", 422)

    def test_pagination(self):
        ids = [self.provider(f"page-{i}")["id"] for i in range(7)]
        total = self.ok("GET", "/providers")["total"]
        self.assertGreaterEqual(total, 7)
        seen = []
        for off in range(0, total, 3):
            page = self.ok("GET", f"/providers?limit=3&offset={off}")
            self.assertEqual(page["limit"], 3)
            self.assertEqual(page["offset"], off)
            self.assertEqual(page["total"], total)
            self.assertLessEqual(len(page["data"]), 3)
            seen += [x["id"] for x in page["data"]]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertTrue(set(ids) <= set(seen))
        self.assertEqual(self.ok("GET", "/providers")["limit"], 50)
        self.bad("GET", "/providers?limit=100000", None, "limit")  # not clamped: refused
        self.assertEqual(self.ok("GET", f"/providers?offset={total}")["data"], [])
        for q, param in (("limit=0", "limit"), ("limit=abc", "limit"), ("limit=-1", "limit"),
                         ("offset=x", "offset"), ("status=weird", "status"),
                         ("kind=nope", "kind")):
            self.bad("GET", "/providers?" + q, None, param)

    # ---- connections ----

    def test_connections_credential_is_sealed(self):
        pid = self.provider("conn-prov")["id"]
        c = self.ok("POST", "/connections",
                    {"provider_id": pid, "name": "main", "api_key": PROVIDER_KEY, "priority": 5,
                     "weight": 3, "rate_limit_per_minute": 60}, 201)
        self.assertTrue(c["has_credential"])
        self.assertEqual((c["priority"], c["weight"], c["rate_limit_per_minute"]), (5, 3, 60))
        for f in ("last_used_at", "last_error_at", "last_error", "success_count", "error_count"):
            self.assertIn(f, c)
        self.assertEqual(c["success_count"], 0)
        self.assertNotIn("api_key", c)
        self.assertNotIn("credential", c)
        raw = self.sql(f"SELECT encode(credential, 'escape') || ' ' || encode(credential, 'hex') "
                       f"FROM ai_connections WHERE id = {c['id']}")
        self.assertTrue(raw)
        self.assertNotIn(PROVIDER_KEY, raw)
        self.assertNotIn(PROVIDER_KEY.encode().hex(), raw)
        for r in (self.call("GET", f"/connections/{c['id']}"),
                  self.call("GET", f"/connections?provider_id={pid}"),
                  self.call("PATCH", f"/connections/{c['id']}", {"status": "cooling"})):
            self.assertEqual(r.status, 200, r)
            self.assertNotIn(PROVIDER_KEY.encode(), r.body)
            self.assertNotIn(b'"credential"', r.body)
        lst = self.ok("GET", f"/connections?provider_id={pid}&status=cooling")
        self.assertEqual([x["id"] for x in lst["data"]], [c["id"]])
        # a new key re-seals; null removes it
        new_key = PROVIDER_KEY + "-rotated"
        self.secrets.append(new_key)
        c2 = self.ok("PATCH", f"/connections/{c['id']}", {"api_key": new_key})
        self.assertTrue(c2["has_credential"])
        raw2 = self.sql(f"SELECT encode(credential, 'hex') FROM ai_connections "
                        f"WHERE id = {c['id']}")
        self.assertNotEqual(raw, raw2)
        c3 = self.ok("PATCH", f"/connections/{c['id']}", {"api_key": None})
        self.assertFalse(c3["has_credential"])
        self.assertEqual(self.sql(f"SELECT credential IS NULL FROM ai_connections "
                                  f"WHERE id = {c['id']}"), "t")
        err = self.bad("POST", "/connections", {"provider_id": pid, "name": "main"}, "name", 409)
        self.assertEqual(err["code"], "conflict")
        self.ok("DELETE", f"/connections/{c['id']}")

    def test_connections_validation(self):
        pid = self.provider("conn-val")["id"]
        good = {"provider_id": pid, "name": "c1"}
        self.bad("POST", "/connections", {"name": "x"}, "provider_id")
        self.bad("POST", "/connections", {"provider_id": pid}, "name")
        self.bad("POST", "/connections", dict(good, provider_id=987654), "provider_id", 422)
        self.bad("POST", "/connections", dict(good, provider_id=987654, api_key="k-123456"),
                 "provider_id", 422)
        for field, value in (("provider_id", "1"), ("provider_id", 0), ("weight", -1),
                             ("priority", 1.5), ("status", "on"), ("rate_limit_per_day", 0),
                             ("api_key", ""), ("api_key", 42), ("success_count", 3),
                             ("has_credential", True), ("settings", [])):
            self.bad("POST", "/connections", dict(good, **{field: value}), field)
        c = self.ok("POST", "/connections", good, 201)
        self.assertFalse(c["has_credential"])
        self.bad("PATCH", f"/connections/{c['id']}", {"weight": "heavy"}, "weight")
        self.bad("GET", "/connections?provider_id=abc", None, "provider_id")

    def test_connection_test_against_mock(self):
        demo = self.demo_id()
        key = "sk-conn-test-key-abcdef0123456789"
        self.secrets.append(key)
        c = self.ok("POST", "/connections",
                    {"provider_id": demo, "name": "tested", "api_key": key}, 201)
        self.mock.reset()
        r = self.call("POST", f"/connections/{c['id']}/test")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(key.encode(), r.body)
        res = r.json()
        self.assertTrue(res["ok"], res)
        self.assertEqual(res["status"], 200)
        self.assertGreater(res["latency_ms"], 0)
        self.assertIsInstance(res["answer"], str)
        self.assertIsNone(res["error"])
        # then the provider's model list, asked with the same credential
        self.assertEqual(res["models"], ["mock-model", "gpt-4o-mini", "gpt-4o",
                                         "text-embedding-3-small", "dall-e-3", "sora-2"])
        self.assertIsNone(res["models_error"])
        reqs = self.mock.requests()
        self.assertEqual([(q["method"], q["path"]) for q in reqs],
                         [("POST", "/v1/chat/completions"), ("GET", "/v1/models")])
        self.assertEqual(reqs[1]["headers"]["authorization"], f"Bearer {key}")
        last = reqs[0]
        self.assertEqual(last["headers"]["authorization"], f"Bearer {key}")
        sent = json.loads(last["body"])
        self.assertEqual(sent["max_tokens"], 1)
        self.assertEqual(sent["messages"], [{"role": "user", "content": "ping"}])
        self.assertEqual(sent["model"], "mock-model")
        self.assertEqual(self.call("GET", f"/connections/{c['id']}/test").status, 405)
        self.assertEqual(self.call("POST", "/connections/987654/test").status, 404)
        self.ok("PATCH", f"/connections/{c['id']}", {"status": "disabled"})

    def test_connection_test_failures(self):
        # an upstream error status
        p = self.provider("conn-fail")
        self.ok("POST", "/models", {"provider_id": p["id"], "upstream_name": "m+fault=401"}, 201)
        c = self.ok("POST", "/connections",
                    {"provider_id": p["id"], "name": "x", "api_key": "sk-wrong-key-000"}, 201)
        res = self.ok("POST", f"/connections/{c['id']}/test")
        self.assertFalse(res["ok"])
        self.assertEqual(res["status"], 401)
        self.assertTrue(res["error"])
        self.assertNotIn("sk-wrong-key-000", json.dumps(res))
        self.assertIsNone(res["models"])  # the list is asked only after a call that worked
        # nothing listening
        p2 = self.provider("conn-down", base_url="http://127.0.0.1:1/v1")
        c2 = self.ok("POST", "/connections", {"provider_id": p2["id"], "name": "x"}, 201)
        res = self.ok("POST", f"/connections/{c2['id']}/test")
        self.assertFalse(res["ok"])
        self.assertEqual(res["status"], 0)
        self.assertTrue(res["error"])
        self.assertIsNone(res["answer"])

    # ---- models ----

    def test_models_crud(self):
        pid = self.provider("model-prov")["id"]
        m = self.ok("POST", "/models", {"provider_id": pid, "upstream_name": "up-1",
                                        "capabilities": ["chat", "stream", "tools"],
                                        "input_cost_per_1m": 2.5, "output_cost_per_1m": 10,
                                        "context_window": 128000}, 201)
        self.assertEqual(m["public_name"], "up-1")
        self.assertEqual(m["capabilities"], ["chat", "stream", "tools"])
        self.assertEqual(m["input_cost_per_1m"], 2.5)
        self.assertEqual(m["output_cost_per_1m"], 10)
        self.assertEqual(m["cached_cost_per_1m"], 0)
        self.assertIsInstance(m["input_cost_per_1m"], (int, float))
        self.assertEqual(m["context_window"], 128000)
        self.assertEqual(m["status"], "active")
        m2 = self.ok("POST", "/models", {"provider_id": pid, "upstream_name": "up-2",
                                         "public_name": "nice-name", "status": "disabled"}, 201)
        self.assertEqual(m2["capabilities"], ["chat", "stream"])
        lst = self.ok("GET", f"/models?provider_id={pid}")
        self.assertEqual([x["id"] for x in lst["data"]], [m["id"], m2["id"]])
        self.assertEqual(self.ok("GET", "/models?public_name=nice-name")["data"][0]["id"], m2["id"])
        self.assertEqual(self.ok("GET", f"/models?provider_id={pid}&status=disabled")["total"], 1)
        upd = self.ok("PATCH", f"/models/{m['id']}", {"cached_cost_per_1m": 0.125,
                                                     "capabilities": ["embeddings"],
                                                     "max_output_tokens": None})
        self.assertEqual(upd["cached_cost_per_1m"], 0.125)
        self.assertEqual(upd["capabilities"], ["embeddings"])
        # unique by public name (which defaults to the upstream name): aliases
        # of one upstream model may sit side by side (test_models.py)
        err = self.bad("POST", "/models", {"provider_id": pid, "upstream_name": "up-1"},
                       "public_name", 409)
        self.assertEqual(err["code"], "conflict")
        good = {"provider_id": pid, "upstream_name": "up-3"}
        for field, value in (("capabilities", ["chat", "telepathy"]), ("capabilities", "chat"),
                             ("capabilities", ["chat", "chat"]), ("input_cost_per_1m", -1),
                             ("output_cost_per_1m", "1"), ("context_window", 0),
                             ("upstream_name", "has space"), ("public_name", ""),
                             ("status", "gone"), ("provider_id", None)):
            self.bad("POST", "/models", dict(good, **{field: value}), field)
        self.bad("POST", "/models", {"upstream_name": "x"}, "provider_id")
        self.bad("POST", "/models", dict(good, provider_id=987654), "provider_id", 422)
        self.ok("DELETE", f"/models/{m2['id']}")
        self.assertEqual(self.ok("GET", f"/models?provider_id={pid}")["total"], 1)

    # ---- groups and members ----

    def test_groups_and_members(self):
        pid = self.provider("group-prov")["id"]
        g = self.ok("POST", "/groups", {"name": "fast-chat", "strategy": "least_latency",
                                        "description": "quick ones"}, 201)
        self.assertEqual(g["members"], [])
        self.assertEqual(g["status"], "active")
        self.bad("POST", "/groups", {"name": "fast-chat"}, "name", 409)
        self.bad("POST", "/groups", {"name": "g2", "strategy": "random"}, "strategy")
        self.bad("POST", "/groups", {"strategy": "priority"}, "name")
        self.bad("POST", "/groups", {"name": "g2", "members": [{}]}, "members[0].provider_id")
        c = self.ok("POST", "/connections", {"provider_id": pid, "name": "gc"}, 201)
        m1 = self.ok("POST", f"/groups/{g['id']}/members",
                     {"provider_id": pid, "upstream_name": "a", "weight": 3, "priority": 1}, 201)
        m2 = self.ok("POST", f"/groups/{g['id']}/members",
                     {"provider_id": pid, "upstream_name": "b", "connection_id": c["id"]}, 201)
        self.assertEqual(m1["group_id"], g["id"])
        self.assertEqual(m2["connection_id"], c["id"])
        self.bad("POST", f"/groups/{g['id']}/members", {"provider_id": 987654,
                                                        "upstream_name": "a"}, "provider_id", 422)
        self.bad("POST", f"/groups/{g['id']}/members", {"provider_id": pid,
                                                        "upstream_name": "a",
                                                        "connection_id": 987654},
                 "connection_id", 422)
        self.bad("POST", f"/groups/{g['id']}/members", {"provider_id": pid}, "upstream_name")
        self.bad("POST", f"/groups/{g['id']}/members", {"provider_id": pid, "upstream_name": "a",
                                                        "weight": -2}, "weight")
        self.assertEqual(self.call("POST", "/groups/987654/members",
                                   {"provider_id": pid, "upstream_name": "a"}).status, 404)
        self.assertEqual(self.call("GET", "/groups/987654/members").status, 404)
        got = self.ok("GET", f"/groups/{g['id']}")
        self.assertEqual([m["id"] for m in got["members"]], [m2["id"], m1["id"]])  # priority
        lst = self.ok("GET", f"/groups/{g['id']}/members")
        self.assertEqual(lst["total"], 2)
        self.assertEqual(self.ok("GET", f"/groups/{g['id']}/members/{m1['id']}")["weight"], 3)
        self.assertEqual(self.ok("PATCH", f"/groups/{g['id']}/members/{m1['id']}",
                                 {"weight": 7})["weight"], 7)
        self.ok("DELETE", f"/groups/{g['id']}/members/{m1['id']}")
        self.assertEqual(self.call("DELETE", f"/groups/{g['id']}/members/{m1['id']}").status, 404)
        self.assertEqual([m["id"] for m in self.ok("GET", f"/groups/{g['id']}")["members"]],
                         [m2["id"]])
        upd = self.ok("PATCH", f"/groups/{g['id']}", {"strategy": "priority", "description": None})
        self.assertEqual(upd["strategy"], "priority")
        self.assertIsNone(upd["description"])
        self.assertEqual(len(upd["members"]), 1)
        self.assertEqual(self.ok("GET", "/groups?name=fast-chat")["total"], 1)
        self.ok("DELETE", f"/groups/{g['id']}")
        self.assertEqual(self.sql(f"SELECT count(*) FROM ai_group_members "
                                  f"WHERE group_id = {g['id']}"), "0")

    # ---- API keys ----

    def chat_status(self, key, model="demo/mock-model"):
        return self.lx.chat({"model": model, "messages": MSG}, key=key).status

    def wait_status(self, key, status, model="demo/mock-model"):
        wait_for(lambda: self.chat_status(key, model) == status, timeout=10,
                 what=f"chat with the key to answer {status}")

    def test_key_lifecycle(self):
        self.ok("POST", "/teams", {"name": "search"}, 201)  # a key's team must exist
        k = self.ok("POST", "/keys", {"name": "app", "owner": "alice", "team": "search"}, 201)
        key = k["key"]
        self.secrets.append(key)
        self.assertRegex(key, r"^lx-[0-9A-Za-z]{40}$")
        self.assertEqual(k["prefix"], key[:11])
        self.assertNotIn("key_hash", k)
        self.assertEqual((k["owner"], k["team"], k["status"]), ("alice", "search", "active"))
        self.assertEqual(self.sql(f"SELECT encode(key_hash, 'hex') FROM api_keys "
                                  f"WHERE id = {k['id']}"),
                         __import__("hashlib").sha256(key.encode()).hexdigest())
        for r in (self.call("GET", f"/keys/{k['id']}"), self.call("GET", "/keys"),
                  self.call("GET", f"/keys?prefix={k['prefix']}")):
            self.assertEqual(r.status, 200)
            self.assertNotIn(key.encode(), r.body)
            self.assertNotIn(b"key_hash", r.body)
        self.assertEqual(self.ok("GET", "/keys?owner=alice")["data"][0]["id"], k["id"])
        # the registry reloads on NOTIFY: the key works as a client key
        self.wait_status(key, 200)
        self.assertEqual(self.call("GET", "/providers", key=key).status, 403)
        # disabled -> 401
        upd = self.ok("PATCH", f"/keys/{k['id']}", {"status": "disabled"})
        self.assertNotIn("key", upd)
        self.wait_status(key, 401)
        # expired -> 401
        self.ok("PATCH", f"/keys/{k['id']}", {"status": "active",
                                              "expires_at": "2001-02-03T04:05:06Z"})
        def expired():
            r = self.lx.chat({"model": "demo/mock-model", "messages": MSG}, key=key)
            return r.status == 401 and "expired" in r.json()["error"]["message"]
        wait_for(expired, timeout=10, what="401 for an expired key")
        # future expiry and a model allow-list
        upd = self.ok("PATCH", f"/keys/{k['id']}", {"expires_at": "2999-01-01T00:00:00+02:00",
                                                    "allowed_models": ["demo/mock-model"],
                                                    "name": "app-2"})
        self.assertEqual(upd["allowed_models"], ["demo/mock-model"])
        self.assertEqual(upd["name"], "app-2")
        self.assertTrue(upd["expires_at"].startswith("2998-12-31"))
        self.wait_status(key, 200)
        self.assertEqual(self.chat_status(key, "demo/other-model"), 403)
        self.ok("PATCH", f"/keys/{k['id']}", {"allowed_models": None, "expires_at": None})
        self.wait_status(key, 200, "demo/other-model")
        self.ok("DELETE", f"/keys/{k['id']}")
        self.wait_status(key, 401)
        self.assertEqual(self.call("GET", f"/keys/{k['id']}").status, 404)

    def test_key_validation(self):
        for field, value in (("name", ""), ("name", 1), ("status", "revoked"),
                             ("expires_at", "tomorrow"), ("expires_at", "2030-02-30T00:00:00Z"),
                             ("expires_at", 5), ("allowed_models", "demo/x"),
                             ("allowed_models", [1]), ("allowed_models", ["bad model"]),
                             ("key", "lx-mine"), ("prefix", "lx-1"), ("budget_usd", -3),
                             ("rate_limit_per_minute", 0)):
            self.bad("POST", "/keys", {"name": "v", field: value}, field)
        self.bad("POST", "/keys", {}, "name")
        k = self.ok("POST", "/keys", {"name": "v", "allowed_models": [], "budget_usd": 12.5}, 201)
        self.secrets.append(k["key"])
        self.assertEqual(k["allowed_models"], [])
        self.assertEqual(k["budget_usd"], 12.5)
        self.bad("PATCH", f"/keys/{k['id']}", {"expires_at": "2030-01-01"}, "expires_at")
        k2 = self.ok("POST", "/keys", {"name": "v"}, 201)
        self.secrets.append(k2["key"])
        self.assertNotEqual(k["key"], k2["key"])

    # ---- audit ----

    def test_audit_log(self):
        pid = self.provider("audit-prov", extra_headers={"X-Token": "hdr-secret-value"})["id"]
        self.ok("PATCH", f"/providers/{pid}", {"status": "disabled"})
        key = "sk-audit-secret-abcdef123456"
        self.secrets.append(key)
        c = self.ok("POST", "/connections", {"provider_id": pid, "name": "a", "api_key": key}, 201)
        self.ok("PATCH", f"/connections/{c['id']}", {"api_key": key + "2"})
        k = self.ok("POST", "/keys", {"name": "audited"}, 201)
        self.secrets.append(k["key"])
        self.ok("DELETE", f"/providers/{pid}")
        rows = self.sql(f"SELECT actor || '|' || action || '|' || entity FROM audit_log "
                        f"WHERE entity = 'providers' AND entity_id = '{pid}' ORDER BY id")
        self.assertEqual(rows.split("\n"), ["admin|create|providers", "admin|update|providers",
                                            "admin|delete|providers"])
        before, after = self.sql(f"SELECT (before->>'status') || ',' || (after->>'status') FROM "
                                 f"audit_log WHERE entity = 'providers' AND entity_id = '{pid}' "
                                 f"AND action = 'update'").split(",")
        self.assertEqual((before, after), ("active", "disabled"))
        conn_rows = self.sql(f"SELECT action, before::text, after::text FROM audit_log "
                             f"WHERE entity = 'connections' AND entity_id = '{c['id']}'")
        self.assertIn("has_credential", conn_rows)
        self.assertEqual(self.sql(f"SELECT count(*) FROM audit_log WHERE entity = 'keys' "
                                  f"AND entity_id = '{k['id']}' AND action = 'create'"), "1")
        everything = self.sql("SELECT string_agg(coalesce(before::text, '') || "
                              "coalesce(after::text, ''), ' ') FROM audit_log")
        for s in (key, key + "2", k["key"], "hdr-secret-value", ADMIN_KEY):
            self.assertNotIn(s, everything)
        self.assertNotIn('"credential"', everything)
        self.assertNotIn('"key_hash"', everything)

    def test_writes_notify_and_failed_writes_leave_no_trace(self):
        listener = subprocess.Popen(
            ["psql", self.lx.db, "-Atq", "-c", "LISTEN llmux_config", "-c", "SELECT pg_sleep(3)"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: self.sql("SELECT count(*) FROM pg_stat_activity "
                                  "WHERE query = 'SELECT pg_sleep(3)'") != "0",
                 what="the listener to be listening")
        pid = self.provider("notify-prov")["id"]
        c = self.ok("POST", "/connections", {"provider_id": pid, "name": "n", "api_key": "k-1234"},
                    201)
        self.ok("POST", "/models", {"provider_id": pid, "upstream_name": "n-model"}, 201)
        g = self.ok("POST", "/groups", {"name": "notify-group"}, 201)
        self.ok("POST", f"/groups/{g['id']}/members", {"provider_id": pid, "upstream_name": "x"},
                201)
        k = self.ok("POST", "/keys", {"name": "notify"}, 201)
        self.secrets.append(k["key"])
        self.ok("DELETE", f"/connections/{c['id']}")
        out = listener.communicate(timeout=20)[0]
        payloads = set()
        for line in out.splitlines():
            if "llmux_config" in line and "payload" in line:
                payloads.add(line.split('payload "')[1].split('"')[0])
        self.assertEqual(payloads, {"providers", "connections", "models", "groups", "keys"}, out)
        # a refused write changes nothing: no row, no audit entry
        n = self.sql("SELECT count(*) FROM audit_log")
        self.bad("POST", "/providers", {"name": "notify-prov", "kind": "openai",
                                        "base_url": "http://x"}, "name", 409)
        self.bad("PATCH", f"/providers/{pid}", {"default_connection_id": 987654},
                 "default_connection_id", 422)
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log"), n)

    # ---- usage ----

    def test_usage_summary_and_timeseries(self):
        self.sql("""
            INSERT INTO ai_usage (request_id, api_key_id, connection_id, provider, model, feature,
                                  tokens_in, tokens_out, tokens_cached, cost_usd, status, error,
                                  ttfb_us, total_us, created_at) VALUES
            ('u1', 901, NULL, 'uprov', 'um-a', 'chat', 10, 5, 2, 0.001, 200, NULL, 1000, 10000,
             now() - interval '2 hours'),
            ('u2', 901, NULL, 'uprov', 'um-a', 'chat', 20, 7, 0, 0.002, 200, NULL, 3000, 20000,
             now() - interval '2 hours'),
            ('u3', 902, NULL, 'uprov', 'um-b', 'chat', 30, 0, 0, 0, 502, 'boom', NULL, 30000,
             now() - interval '1 hour'),
            ('u4', 902, NULL, 'uprov', 'um-b', 'embed', 1, 0, 0, 0.5, 200, NULL, NULL, 1000,
             now() - interval '3 days')""")
        s = self.ok("GET", "/usage/summary?group_by=model")
        rows = {r["model"]: r for r in s["data"] if r["provider"] == "uprov"}
        self.assertEqual(set(rows), {"um-a", "um-b"})  # u4 is older than the default 24 h
        a = rows["um-a"]
        self.assertEqual((a["requests"], a["errors"], a["tokens_in"], a["tokens_out"],
                          a["tokens_cached"]), (2, 0, 30, 12, 2))
        self.assertAlmostEqual(a["cost_usd"], 0.003)
        self.assertAlmostEqual(a["avg_latency_ms"], 15.0)
        self.assertAlmostEqual(a["p50_latency_ms"], 15.0)
        self.assertAlmostEqual(a["p95_latency_ms"], 19.5)
        self.assertAlmostEqual(a["avg_ttfb_ms"], 2.0)
        b = rows["um-b"]
        self.assertEqual((b["requests"], b["errors"]), (1, 1))
        self.assertIsNone(b["avg_ttfb_ms"])
        self.assertIsInstance(s["totals"]["requests"], int)
        self.assertGreaterEqual(s["totals"]["requests"], 3)
        frm = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5 * 86400))
        s = self.ok("GET", f"/usage/summary?group_by=key&from={frm}")
        keys = {r["api_key_id"]: r for r in s["data"]}
        self.assertEqual(keys[902]["requests"], 2)
        self.assertAlmostEqual(keys[902]["cost_usd"], 0.5)
        s = self.ok("GET", "/usage/summary?group_by=provider")
        self.assertEqual([r["requests"] for r in s["data"] if r["provider"] == "uprov"], [3])
        s = self.ok("GET", "/usage/summary")
        self.assertEqual(len(s["data"]), 1)
        self.assertEqual(s["data"][0]["requests"], s["totals"]["requests"])
        ts = self.ok("GET", "/usage/timeseries?bucket=hour&group_by=model")
        mine = [r for r in ts["data"] if r.get("provider") == "uprov"]
        self.assertEqual(sorted(r["requests"] for r in mine), [1, 2])
        for r in mine:
            self.assertRegex(r["bucket"], r"^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$")
        ts = self.ok("GET", f"/usage/timeseries?bucket=day&from={frm}")
        self.assertGreaterEqual(sum(r["requests"] for r in ts["data"]), 4)
        self.bad("GET", "/usage/summary?group_by=colour", None, "group_by")
        self.bad("GET", "/usage/summary?from=yesterday", None, "from")
        self.bad("GET", "/usage/summary?to=2020-13-01T00:00:00Z", None, "to")
        self.bad("GET", "/usage/summary?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z",
                 None, "from")
        self.bad("GET", "/usage/timeseries?bucket=week", None, "bucket")
        self.bad("GET", "/usage/timeseries?bucket=minute&from=2000-01-01T00:00:00Z", None,
                 "bucket")
        self.assertEqual(self.call("POST", "/usage/summary", {}).status, 405)

    # ---- clients that leave ----

    def test_client_leaves_before_the_answer(self):
        p = self.provider("stall-prov")
        self.ok("POST", "/models", {"provider_id": p["id"],
                                    "upstream_name": "m+fault=stall_headers"}, 201)
        c = self.ok("POST", "/connections", {"provider_id": p["id"], "name": "s"}, 201)
        before = self.mock.stats().get("client_gone", 0)
        paths = [f"{API}/connections/{c['id']}/test"] * 3 + [f"{API}/providers"] * 10 + \
                [f"{API}/usage/summary?group_by=model"] * 5
        for i, path in enumerate(paths):
            method = "POST" if path.endswith("/test") else "GET"
            chats = self.mock.stats()["chat"]
            s = socket.create_connection(("127.0.0.1", self.lx.port), timeout=5)
            s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}"
                      f"\r\nContent-Length: 0\r\n\r\n".encode())
            if method == "POST":  # close only once the upstream call is in the mock
                wait_for(lambda: self.mock.stats()["chat"] > chats, timeout=5,
                         what="the test call to reach the mock")
            s.close()
        # the stalled upstream calls were cancelled when their clients left
        wait_for(lambda: self.mock.stats().get("client_gone", 0) >= before + 3, timeout=5,
                 what="upstream calls cancelled")
        self.assertEqual(self.call("GET", "/providers?limit=1").status, 200)


if __name__ == "__main__":
    unittest.main()
