"""The admin API's consistency rules (issue 16, item 3): group members by
name or by id (and given with a new group), a member's connection must be
its provider's, deletes refused while groups or keys refer to the row
(unless ?cascade=true), deleted built-in providers stay deleted across a
restart, shortest round-trip JSON numbers, RFC 3339 UTC timestamps with Z,
and strict list parameters (limit range, unknown parameters)."""
import json
import re
import unittest
import urllib.parse

from harness import ADMIN_KEY, Llmux, Mock, new_database, psql

API = "/api/v1/admin/ai"
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class AdminConsistency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0

    def call(self, method, path, body=None, **kw):
        return self.lx.req(method, API + path, body=body, key=ADMIN_KEY, **kw)

    def ok(self, method, path, body=None, status=200):
        r = self.call(method, path, body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def bad(self, method, path, body, param, status=400, code=None):
        r = self.call(method, path, body)
        self.assertEqual(r.status, status, r)
        err = r.json()["error"]
        self.assertEqual(err["param"], param, err)
        self.assertTrue(err["message"])
        if code:
            self.assertEqual(err["code"], code, err)
        return err

    def provider(self, name):
        return self.ok("POST", "/providers", {"name": name, "kind": "openai_compatible",
                                              "base_url": self.mock.url + "/v1"}, 201)

    def sql(self, q):
        return psql(self.lx.db, q)

    # ---- group members ----

    def test_members_by_name_or_id(self):
        p = self.provider("mem-by-name")
        g = self.ok("POST", "/groups", {"name": "by-name"}, 201)
        m = self.ok("POST", f"/groups/{g['id']}/members",
                    {"provider": "mem-by-name", "model": "m-one", "weight": 2}, 201)
        self.assertEqual((m["provider_id"], m["upstream_name"], m["weight"]),
                         (p["id"], "m-one", 2))
        m2 = self.ok("POST", f"/groups/{g['id']}/members",
                     {"provider_id": p["id"], "upstream_name": "m-two"}, 201)
        self.assertEqual(m2["upstream_name"], "m-two")
        self.bad("POST", f"/groups/{g['id']}/members", {"provider": "no-such-prov", "model": "x"},
                 "provider", 422)
        self.bad("POST", f"/groups/{g['id']}/members",
                 {"provider": "mem-by-name", "provider_id": p["id"], "model": "x"}, "provider")
        self.bad("POST", f"/groups/{g['id']}/members",
                 {"provider": "mem-by-name", "model": "x", "upstream_name": "x"}, "model")
        self.bad("POST", f"/groups/{g['id']}/members", {"provider": "mem-by-name"}, "model")
        self.bad("POST", f"/groups/{g['id']}/members", {"model": "x"}, "provider_id")
        # a PATCH may rename the model the same way
        m3 = self.ok("PATCH", f"/groups/{g['id']}/members/{m['id']}", {"model": "m-three"})
        self.assertEqual(m3["upstream_name"], "m-three")

    def test_group_created_with_members(self):
        p = self.provider("with-members")
        g = self.ok("POST", "/groups", {"name": "with-members", "strategy": "priority", "members": [
            {"provider": "with-members", "model": "a", "priority": 1},
            {"provider_id": p["id"], "upstream_name": "b"}]}, 201)
        self.assertEqual([(x["upstream_name"], x["provider_id"]) for x in g["members"]],
                         [("b", p["id"]), ("a", p["id"])])
        self.assertEqual(self.ok("GET", f"/groups/{g['id']}")["members"], g["members"])
        audit = self.sql("SELECT entity || ':' || action FROM audit_log WHERE "
                         f"(entity = 'groups' AND entity_id = '{g['id']}') OR "
                         f"(entity = 'group_members' AND after->>'group_id' = '{g['id']}') "
                         "ORDER BY id").split("\n")
        self.assertEqual(sorted(audit), ["group_members:create", "group_members:create",
                                         "groups:create"])
        self.assertEqual(self.ok("POST", "/groups", {"name": "no-members", "members": []},
                                 201)["members"], [])
        # a bad member refuses the whole group
        self.bad("POST", "/groups", {"name": "half", "members": [
            {"provider": "with-members", "model": "a"}, {"provider": "ghost", "model": "a"}]},
                 "members[1].provider", 422)
        self.bad("POST", "/groups", {"name": "half", "members": [{"provider": "with-members"}]},
                 "members[0].model")
        self.bad("POST", "/groups", {"name": "half", "members": {"a": 1}}, "members")
        self.bad("POST", "/groups", {"name": "half", "members": [
            {"provider_id": 987654, "upstream_name": "a"}]}, "members[0].provider_id", 422)
        self.bad("POST", "/groups", {"name": "half", "members": [
            {"provider_id": p["id"], "upstream_name": "a", "connection_id": 987654}]},
                 "members[0].connection_id", 422)
        self.assertEqual(self.sql("SELECT count(*) FROM ai_groups WHERE name = 'half'"), "0")

    def test_member_connection_must_belong_to_its_provider(self):
        p1 = self.provider("own-a")
        p2 = self.provider("own-b")
        c1 = self.ok("POST", "/connections", {"provider_id": p1["id"], "name": "c1"}, 201)
        c2 = self.ok("POST", "/connections", {"provider_id": p2["id"], "name": "c2"}, 201)
        g = self.ok("POST", "/groups", {"name": "owned"}, 201)
        err = self.bad("POST", f"/groups/{g['id']}/members",
                       {"provider_id": p1["id"], "upstream_name": "x",
                        "connection_id": c2["id"]}, "connection_id")
        self.assertIn("own-b", err["message"])
        m = self.ok("POST", f"/groups/{g['id']}/members",
                    {"provider_id": p1["id"], "upstream_name": "x", "connection_id": c1["id"]},
                    201)
        self.bad("PATCH", f"/groups/{g['id']}/members/{m['id']}", {"connection_id": c2["id"]},
                 "connection_id")
        self.bad("PATCH", f"/groups/{g['id']}/members/{m['id']}", {"provider_id": p2["id"]},
                 "connection_id")
        self.bad("POST", "/groups", {"name": "owned2", "members": [
            {"provider": "own-a", "model": "x", "connection_id": c2["id"]}]},
                 "members[0].connection_id")
        # the credential cannot move to another provider under its member
        self.bad("PATCH", f"/connections/{c1['id']}", {"provider_id": p2["id"]}, "provider_id",
                 409)
        self.assertEqual(self.ok("GET", f"/groups/{g['id']}/members/{m['id']}")["connection_id"],
                         c1["id"])

    # ---- deletes and references ----

    def test_delete_refused_while_referenced(self):
        p = self.provider("refd")
        mod = self.ok("POST", "/models", {"provider_id": p["id"], "upstream_name": "rm"}, 201)
        c = self.ok("POST", "/connections", {"provider_id": p["id"], "name": "rc"}, 201)
        g = self.ok("POST", "/groups", {"name": "smart-ref", "members": [
            {"provider": "refd", "model": "rm", "connection_id": c["id"]}]}, 201)
        mid = g["members"][0]["id"]
        k = self.ok("POST", "/keys", {"name": "ci-ref", "allowed_models": ["refd/rm", "other"]},
                    201)
        for path in (f"/providers/{p['id']}", f"/models/{mod['id']}"):
            err = self.bad("DELETE", path, None, None, 409, "conflict")
            self.assertIn(f"group 'smart-ref' (member {mid})", err["message"])
            self.assertIn("key 'ci-ref'", err["message"])
        err = self.bad("DELETE", f"/connections/{c['id']}", None, None, 409, "conflict")
        self.assertIn(f"group 'smart-ref' (member {mid})", err["message"])
        self.assertNotIn("key", err["message"])
        self.bad("DELETE", f"/connections/{c['id']}?cascade=maybe", None, "cascade")
        # nothing was deleted
        self.ok("GET", f"/providers/{p['id']}")
        self.ok("GET", f"/models/{mod['id']}")
        self.ok("GET", f"/connections/{c['id']}")
        # cascade removes the references with the row, audited
        self.ok("DELETE", f"/connections/{c['id']}?cascade=true")
        self.assertEqual(self.ok("GET", f"/groups/{g['id']}")["members"], [])
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE entity = "
                                  f"'group_members' AND action = 'delete' AND entity_id = "
                                  f"'{mid}'"), "1")
        self.ok("DELETE", f"/models/{mod['id']}?cascade=true")
        self.assertEqual(self.ok("GET", f"/keys/{k['id']}")["allowed_models"], ["other"])
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE entity = 'keys' AND "
                                  f"action = 'update' AND entity_id = '{k['id']}'"), "1")
        # unreferenced now: a plain delete works
        self.ok("DELETE", f"/providers/{p['id']}")

    def test_provider_cascade_drops_members_and_key_entries(self):
        p = self.provider("refp")
        g = self.ok("POST", "/groups", {"name": "refp-g", "members": [
            {"provider": "refp", "model": "a"}, {"provider": "refp", "model": "b"}]}, 201)
        k = self.ok("POST", "/keys", {"name": "refp-k", "allowed_models": ["refp/*", "x"]}, 201)
        err = self.bad("DELETE", f"/providers/{p['id']}", None, None, 409, "conflict")
        self.assertIn("refp-g", err["message"])
        self.ok("DELETE", f"/providers/{p['id']}?cascade=true")
        self.assertEqual(self.ok("GET", f"/groups/{g['id']}")["members"], [])
        self.assertEqual(self.ok("GET", f"/keys/{k['id']}")["allowed_models"], ["x"])
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE entity = "
                                  "'group_members' AND action = 'delete' AND "
                                  f"before->>'group_id' = '{g['id']}'"), "2")

    # ---- numbers and timestamps ----

    def test_numbers_print_shortest(self):
        p = self.provider("numbers")
        r = self.call("POST", "/models", {"provider_id": p["id"], "upstream_name": "n",
                                          "input_cost_per_1m": 0.15, "output_cost_per_1m": 0.3,
                                          "cached_cost_per_1m": 0.000026})
        self.assertEqual(r.status, 201, r)
        text = r.body.decode()
        self.assertIn('"input_cost_per_1m":0.15', text.replace(" ", ""))
        self.assertIn('"output_cost_per_1m":0.3', text.replace(" ", ""))
        self.assertIn('"cached_cost_per_1m":2.6e-05', text.replace(" ", ""))
        self.assertNotIn("99999", text)
        self.assertNotIn("00001", text)
        k = self.call("POST", "/keys", {"name": "num", "budget_usd": 12.34})
        self.assertIn('"budget_usd":12.34', k.body.decode().replace(" ", ""))

    def test_timestamps_are_rfc3339_utc_z(self):
        p = self.provider("times")
        for field in ("created_at", "updated_at"):
            self.assertRegex(p[field], TS_RE)
        k = self.ok("POST", "/keys", {"name": "ts", "expires_at": "2031-02-03T06:04:05+02:00"},
                    201)
        self.assertEqual(k["expires_at"], "2031-02-03T04:04:05.000Z")
        self.assertRegex(k["created_at"], TS_RE)
        g = self.ok("POST", "/groups", {"name": "ts-g", "members": [
            {"provider": "times", "model": "t"}]}, 201)
        self.assertRegex(g["members"][0]["created_at"], TS_RE)
        c = self.ok("POST", "/connections", {"provider_id": p["id"], "name": "tc"}, 201)
        self.sql("UPDATE ai_connections SET cooling_until = now() + interval '1 hour', "
                 f"last_used_at = now() WHERE id = {c['id']}")
        got = self.ok("GET", f"/connections/{c['id']}")
        self.assertRegex(got["cooling_until"], TS_RE)
        self.assertRegex(got["last_used_at"], TS_RE)
        lst = self.ok("GET", "/connections?limit=5")
        for c in lst["data"]:
            self.assertRegex(c["created_at"], TS_RE)
        s = self.ok("GET", "/usage/summary")
        self.assertRegex(s["from"], TS_RE)
        self.assertRegex(s["to"], TS_RE)
        self.lx.chat({"model": "demo/mock-model", "messages": [{"role": "user", "content": "x"}]})
        # what a response prints is what a parameter accepts
        frm = urllib.parse.quote(p["created_at"])
        self.ok("GET", f"/usage/summary?from={frm}")
        ts = self.ok("GET", f"/usage/timeseries?bucket=minute&from={frm}")
        self.assertRegex(ts["from"], TS_RE)
        for b in ts["data"]:
            self.assertRegex(b["bucket"], TS_RE)
        # offsets: encoded, or with the '+' a query string turns into a space
        self.ok("GET", "/usage/summary?from=2030-01-01T00:00:00%2B02:00&to=2030-01-02T00:00:00Z")
        self.ok("GET", "/usage/summary?from=2030-01-01T00:00:00+02:00&to=2030-01-02T00:00:00Z")
        self.ok("GET", "/usage/summary?from=2030-01-01T00:00:00.5-01:30&to=2030-01-02T00:00:00Z")
        for bad in ("yesterday", "2030-01-01", "2030-01-01T00:00:00", "2030-13-01T00:00:00Z"):
            err = self.bad("GET", "/usage/summary?from=" + urllib.parse.quote(bad), None, "from")
            self.assertIn("RFC 3339", err["message"])
        self.bad("GET", "/usage/timeseries?to=nope", None, "to")

    # ---- list parameters ----

    def test_limit_out_of_range_both_ways(self):
        for q in ("limit=0", "limit=501", "limit=100000"):
            err = self.bad("GET", "/providers?" + q, None, "limit")
            self.assertIn("1 and 500", err["message"])
        self.assertEqual(self.ok("GET", "/providers?limit=500")["limit"], 500)
        self.assertEqual(self.ok("GET", "/providers?limit=1")["limit"], 1)
        self.bad("GET", "/keys?limit=100000", None, "limit")

    def test_unknown_query_parameters_refused(self):
        p = self.provider("params")
        g = self.ok("POST", "/groups", {"name": "params-g"}, 201)
        for path, param in (("/providers?bogus=1", "bogus"),
                            ("/providers?limit=2&Status=active", "Status"),
                            (f"/providers/{p['id']}?x=1", "x"),
                            ("/models?provider=params", "provider"),
                            ("/keys?expand", "expand"),
                            (f"/groups/{g['id']}/members?zz=1", "zz"),
                            (f"/groups/{g['id']}?limit=3", "limit"),
                            ("/usage/summary?frm=2030-01-01T00:00:00Z", "frm"),
                            ("/usage/timeseries?granularity=hour", "granularity")):
            err = self.bad("GET", path, None, param)
            self.assertIn(f"'{param}'", err["message"])
        self.bad("DELETE", f"/providers/{p['id']}?cascad=true", None, "cascad")
        self.bad("PATCH", f"/providers/{p['id']}?dry_run=1", {"status": "active"}, "dry_run")
        # known ones still work
        self.assertEqual(self.ok("GET", "/providers?name=params&status=active&limit=5&offset=0")
                         ["total"], 1)
        self.ok("GET", "/usage/summary?group_by=model")


class BuiltinTombstone(unittest.TestCase):
    def test_deleted_builtin_provider_stays_deleted(self):
        db = new_database()
        lx = Llmux(db=db)
        try:
            path = API + "/providers?name=gemini"
            r = lx.req("GET", path)
            self.assertEqual(r.json()["total"], 1, r)
            gid = r.json()["data"][0]["id"]
            self.assertEqual(lx.req("DELETE", f"{API}/providers/{gid}").status, 200)
            self.assertEqual(lx.stop(), 0)
            lx = Llmux(db=db)
            self.assertEqual(lx.req("GET", path).json()["total"], 0)
            self.assertEqual(psql(db, "SELECT count(*) FROM ai_models m JOIN ai_providers p ON "
                                  "p.id = m.provider_id WHERE p.name = 'gemini'"), "0")
            # created again by the operator, it is theirs again and stays
            r = lx.req("POST", API + "/providers", {"name": "gemini", "kind": "gemini",
                                                    "base_url": "https://g.example/v1"})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(lx.stop(), 0)
            lx = Llmux(db=db)
            got = lx.req("GET", path).json()
            self.assertEqual(got["total"], 1)
            self.assertEqual(got["data"][0]["base_url"], "https://g.example/v1")
        finally:
            lx.stop()


if __name__ == "__main__":
    unittest.main()
