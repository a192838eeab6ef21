"""Models as clients name them (issue 16, item 2): /v1/models lists every
name the caller's key may use (provider/model, catalog names, groups,
aliases); /v1/models/{id} (ids may hold '/') answers the model object or a
404 in the OpenAI shape; aliases (a public name that differs from the
upstream name, several public names for one upstream model) through the
admin API and the config file, with their own prices and usage rows that
name both; conflicts answer 409 `conflict`."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import LLMUX_BIN, Llmux, Mock, psql, wait_for

MSG = [{"role": "user", "content": "hi"}]
ADMIN = "/api/v1/admin/ai"


class Models(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)
        cls.demo = cls.admin("GET", "/providers?name=demo")["data"][0]["id"]

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    @classmethod
    def admin(cls, method, path, body=None, status=None):
        r = cls.lx.req(method, ADMIN + path, body=body)
        if status is None:
            assert r.status < 300, r
        else:
            assert r.status == status, r
        return r.json()

    def key(self, allowed):
        k = self.admin("POST", "/keys", {"name": "models-test", "allowed_models": allowed})["key"]
        wait_for(lambda: self.lx.req("GET", "/v1/models", key=k).status == 200, timeout=3,
                 what="key loaded")
        return k

    def alias(self, name, upstream="mock-model", **kw):
        body = {"provider_id": self.demo, "public_name": name, "upstream_name": upstream}
        body.update(kw)
        m = self.admin("POST", "/models", body, status=201)
        wait_for(lambda: self.lx.chat({"model": name, "messages": MSG}).status == 200,
                 timeout=3, what=f"alias {name} loaded")
        return m

    def group(self, name):
        g = self.admin("POST", "/groups", {"name": name, "status": "disabled"}, status=201)
        self.admin("POST", f"/groups/{g['id']}/members",
                   {"provider_id": self.demo, "upstream_name": "mock-model"}, status=201)
        self.admin("PATCH", f"/groups/{g['id']}", {"status": "active"})
        wait_for(lambda: self.lx.chat({"model": name, "messages": MSG}).status == 200,
                 timeout=3, what=f"group {name} loaded")
        return g

    def ids(self, key=None):
        kw = {"key": key} if key else {}
        r = self.lx.req("GET", "/v1/models", **kw)
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["object"], "list")
        for m in b["data"]:
            self.assertEqual(set(m), {"id", "object", "created", "owned_by"}, m)
            self.assertEqual(m["object"], "model")
            self.assertIsInstance(m["created"], int)
        ids = [m["id"] for m in b["data"]]
        self.assertEqual(len(ids), len(set(ids)), ids)  # each name once
        return set(ids)

    # ---- /v1/models ----

    def test_list_has_groups_aliases_and_catalog_names(self):
        self.group("smart-list")
        self.alias("chat-list")
        ids = self.ids()
        for name in ("demo/mock-model", "mock-model", "smart-list", "chat-list",
                     "demo/chat-list"):
            self.assertIn(name, ids)

    def test_list_is_what_the_key_may_use(self):
        self.group("smart")
        self.alias("chat-hidden")
        k = self.key(["smart", "demo/mock-model"])
        self.assertEqual(self.ids(k), {"smart", "demo/mock-model"})
        k2 = self.key(["demo/*"])
        ids = self.ids(k2)
        self.assertIn("demo/mock-model", ids)
        self.assertIn("demo/chat-hidden", ids)
        self.assertNotIn("smart", ids)
        self.assertNotIn("chat-hidden", ids)  # the bare name is not under demo/*

    # ---- /v1/models/{id} ----

    def test_retrieve(self):
        self.group("smart-get")
        for mid in ("demo/mock-model", "mock-model", "smart-get"):
            r = self.lx.req("GET", "/v1/models/" + mid)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["id"], mid)
            self.assertEqual(r.json()["object"], "model")
        r = self.lx.req("GET", "/v1/models/demo%2Fmock-model")  # as SDKs encode it
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], "demo/mock-model")
        self.assertEqual(r.json()["owned_by"], "demo")

    def test_retrieve_unknown_is_404_in_openai_shape(self):
        for mid in ("no-such-model", "demo/no-such-model", "nope/x", "demo%2F"):
            r = self.lx.req("GET", "/v1/models/" + mid)
            self.assertEqual(r.status, 404, r)
            err = r.json()["error"]
            self.assertEqual(err["code"], "model_not_found", err)
            self.assertEqual(err["type"], "invalid_request_error")
            self.assertTrue(err["message"])
        self.assertEqual(self.lx.req("GET", "/v1/models/demo/mock-model", key=None).status, 401)

    def test_retrieve_a_name_the_key_may_not_use_is_404(self):
        self.alias("chat-secret")
        k = self.key(["demo/mock-model"])
        self.assertEqual(self.lx.req("GET", "/v1/models/demo/mock-model", key=k).status, 200)
        for mid in ("chat-secret", "mock-model", "demo/chat-secret"):
            r = self.lx.req("GET", "/v1/models/" + mid, key=k)
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json()["error"]["code"], "model_not_found")
            self.assertNotIn("may not", r.json()["error"]["message"])

    # ---- aliases ----

    def test_alias_goes_upstream_by_its_upstream_name(self):
        m = self.alias("my-chat")
        self.assertEqual(m["public_name"], "my-chat")
        self.assertEqual(m["upstream_name"], "mock-model")
        # the catalog's entry for mock-model is still there
        both = self.admin("GET", f"/models?provider_id={self.demo}&upstream_name=mock-model")
        self.assertEqual({x["public_name"] for x in both["data"]} >= {"mock-model", "my-chat"},
                         True, both)
        for name in ("my-chat", "demo/my-chat"):
            r = self.lx.chat({"model": name, "messages": MSG})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-llmux-model"], "mock-model")
            self.assertEqual(json.loads(self.mock.last()["body"])["model"], "mock-model")
        # a second alias of the same upstream model
        self.alias("my-chat-2")
        r = self.lx.chat({"model": "my-chat-2", "messages": MSG})
        self.assertEqual(r.status, 200, r)

    def test_alias_prices_and_usage_row(self):
        self.alias("priced-chat", input_cost_per_1m=1000000, output_cost_per_1m=2000000,
                   cached_cost_per_1m=0)
        rid = "alias-usage-0001"
        r = self.lx.chat({"model": "priced-chat", "messages": MSG},
                         headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 200, r)
        q = ("SELECT requested_model, model, tokens_in, tokens_out, tokens_cached, cost_usd "
             f"FROM ai_usage WHERE request_id = '{rid}'")
        wait_for(lambda: psql(self.lx.db, q) != "", timeout=5, what="usage row")
        asked, model, tin, tout, cached, cost = psql(self.lx.db, q).split("|")
        self.assertEqual(asked, "priced-chat")
        self.assertEqual(model, "mock-model")
        want = (int(tin) - int(cached)) * 1.0 + int(tout) * 2.0
        self.assertGreater(want, 0)
        self.assertAlmostEqual(float(cost), want, places=4)
        # the catalog entry keeps its own (small) prices
        rid2 = "alias-usage-0002"
        self.lx.chat({"model": "demo/mock-model", "messages": MSG},
                     headers={"X-Request-Id": rid2})
        q2 = f"SELECT requested_model, cost_usd FROM ai_usage WHERE request_id = '{rid2}'"
        wait_for(lambda: psql(self.lx.db, q2) != "", timeout=5, what="usage row")
        asked2, cost2 = psql(self.lx.db, q2).split("|")
        self.assertEqual(asked2, "demo/mock-model")
        self.assertLess(float(cost2), 1.0)

    # ---- conflicts ----

    def test_conflicts_are_409_conflict(self):
        self.alias("taken-name")
        body = {"provider_id": self.demo, "public_name": "taken-name", "upstream_name": "other"}
        err = self.admin("POST", "/models", body, status=409)["error"]
        self.assertEqual(err["code"], "conflict", err)
        self.assertEqual(err["param"], "public_name", err)
        self.assertIn("already exists", err["message"])
        # same for a PATCH onto a taken name
        other = self.admin("POST", "/models", {"provider_id": self.demo,
                                               "upstream_name": "other-up"}, status=201)
        err = self.admin("PATCH", f"/models/{other['id']}", {"public_name": "taken-name"},
                         status=409)["error"]
        self.assertEqual(err["code"], "conflict", err)
        # and for the other entities' unique names
        err = self.admin("POST", "/providers", {"name": "demo", "kind": "openai_compatible",
                                                "base_url": self.mock.url + "/v1"},
                         status=409)["error"]
        self.assertEqual(err["code"], "conflict", err)
        g = self.admin("POST", "/groups", {"name": "dup-group"}, status=201)
        self.assertTrue(g["id"])
        err = self.admin("POST", "/groups", {"name": "dup-group"}, status=409)["error"]
        self.assertEqual(err["code"], "conflict", err)


def write_config(doc):
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(doc, f)
    f.close()
    return f.name


class ConfigAliases(unittest.TestCase):
    """"models": {"my-chat": {"provider": ..., "model": ...}} in the config
    file: served without a database, synced into it with one."""

    def run_with(self, db):
        mock = Mock()
        cfg = write_config({"models": {
            "cfg-chat": {"provider": "demo", "model": "mock-model"},
            "cfg-priced": {"provider": "demo", "model": "mock-model",
                           "input_cost_per_1m": 5, "output_cost_per_1m": 7}}})
        lx = Llmux(db=db, mock=mock, env={"LLMUX_CONFIG": cfg})
        try:
            for name in ("cfg-chat", "demo/cfg-chat", "cfg-priced"):
                r = lx.chat({"model": name, "messages": MSG})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers["x-llmux-model"], "mock-model")
                self.assertEqual(json.loads(mock.last()["body"])["model"], "mock-model")
            ids = {m["id"] for m in lx.req("GET", "/v1/models").json()["data"]}
            self.assertTrue({"cfg-chat", "cfg-priced", "demo/cfg-chat", "mock-model"} <= ids, ids)
            if db:
                rows = lx.req("GET", ADMIN + "/models?public_name=cfg-priced").json()["data"]
                self.assertEqual(len(rows), 1, rows)
                self.assertEqual(rows[0]["upstream_name"], "mock-model")
                self.assertEqual(rows[0]["input_cost_per_1m"], 5)
                self.assertEqual(rows[0]["output_cost_per_1m"], 7)
                # the alias inherits the rest from the catalog entry
                self.assertEqual(rows[0]["context_window"], 128000)
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()
        return lx

    def test_without_database(self):
        self.run_with(False)

    def test_synced_into_database(self):
        self.run_with(True)

    def check(self, doc):
        cfg = write_config(doc)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
        return subprocess.run([LLMUX_BIN, "check-config", "--config", cfg], env=env,
                              capture_output=True, text=True, timeout=20)

    def test_bad_aliases_name_the_field(self):
        prov = {"providers": {"p": {"kind": "openai_compatible",
                                    "base_url": "http://127.0.0.1:1/v1"}}}
        cases = [
            ({"models": []}, "models: expected an object"),
            ({"models": {"a": "p/m"}}, "models.a: expected an object"),
            ({"models": {"a": {"model": "m"}}}, "models.a.provider: required"),
            ({"models": {"a": {"provider": "p"}}}, "models.a.model: required"),
            ({"models": {"a": {"provider": "nope", "model": "m"}}},
             "models.a.provider: no provider 'nope' is configured"),
            ({"models": {"a": {"provider": "p", "model": 5}}}, "models.a.model: expected a string"),
            ({"models": {"a": {"provider": "p", "model": "m", "colour": 1}}},
             "models.a.colour: unknown setting"),
            ({"models": {"a": {"provider": "p", "model": "m", "input_cost_per_1m": -1}}},
             "models.a.input_cost_per_1m"),
            ({"models": {"has space": {"provider": "p", "model": "m"}}}, "models.has space"),
            ({"models": {"g": {"provider": "p", "model": "m"}},
              "groups": {"g": {"members": [{"provider": "p", "model": "m"}]}}},
             "models.g: a group has that name"),
        ]
        for doc, want in cases:
            r = self.check(dict(prov, **doc))
            self.assertEqual(r.returncode, 2, (doc, r.stdout, r.stderr))
            self.assertIn(want, r.stderr, doc)
        r = self.check(dict(prov, models={"a": {"provider": "p", "model": "m"}}))
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
