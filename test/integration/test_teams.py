"""Teams and users as records (issue 18, first slice): admin CRUD with audit
rows, 409 on duplicate names, deletes refused while users or keys refer to
the row (unless ?cascade=true, which detaches them), keys referring to a
team and a user (by id, or a team by name; unknown ones are a 422 naming
the field), the migration of the old free-text api_keys.team into team
rows, and usage filtered and grouped by team and user."""
import json
import unittest

from harness import ADMIN_KEY, Llmux, new_database, psql

API = "/api/v1/admin/ai"


class Teams(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lx = Llmux(db=True)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0

    def call(self, method, path, body=None):
        return self.lx.req(method, API + path, body=body, key=ADMIN_KEY)

    def ok(self, method, path, body=None, status=200):
        r = self.call(method, path, body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def bad(self, method, path, body, param, status=400, code=None):
        r = self.call(method, path, body)
        self.assertEqual(r.status, status, r)
        err = r.json()["error"]
        self.assertEqual(err.get("param"), param, err)
        if code:
            self.assertEqual(err["code"], code, err)
        return err

    def sql(self, q):
        return psql(self.lx.db, q)

    def audit(self, entity, eid):
        return self.sql(f"SELECT string_agg(action, ',' ORDER BY id) FROM audit_log "
                        f"WHERE entity = '{entity}' AND entity_id = '{eid}'")

    # ---- CRUD ----

    def test_team_crud_and_audit(self):
        t = self.ok("POST", "/teams", {"name": "crud-team", "rpm": 60, "tpm": 10000, "rpd": 1000,
                                       "max_parallel": 4, "budget_usd": 12.5,
                                       "budget_period": "monthly", "metadata": {"cc": "7"}}, 201)
        self.assertEqual((t["name"], t["status"], t["rpm"], t["tpm"], t["rpd"], t["max_parallel"],
                          t["budget_usd"], t["budget_period"], t["metadata"]),
                         ("crud-team", "active", 60, 10000, 1000, 4, 12.5, "monthly", {"cc": "7"}))
        self.assertEqual(self.ok("GET", f"/teams/{t['id']}")["name"], "crud-team")
        lst = self.ok("GET", "/teams?name=crud-team")
        self.assertEqual([x["id"] for x in lst["data"]], [t["id"]])
        u = self.ok("PATCH", f"/teams/{t['id']}", {"status": "disabled", "rpm": None})
        self.assertEqual((u["status"], u["rpm"]), ("disabled", None))
        self.ok("DELETE", f"/teams/{t['id']}")
        self.assertEqual(self.call("GET", f"/teams/{t['id']}").status, 404)
        self.assertEqual(self.audit("teams", t["id"]), "create,update,delete")

    def test_user_crud_and_audit(self):
        t = self.ok("POST", "/teams", {"name": "user-home"}, 201)
        u = self.ok("POST", "/users", {"name": "crud-user", "email": "cu@example.com",
                                       "team_id": t["id"]}, 201)
        self.assertEqual((u["email"], u["team_id"], u["team"], u["metadata"]),
                         ("cu@example.com", t["id"], "user-home", {}))
        self.assertEqual([x["id"] for x in self.ok("GET", f"/users?team_id={t['id']}")["data"]],
                         [u["id"]])
        p = self.ok("PATCH", f"/users/{u['id']}", {"team_id": None, "budget_usd": 1,
                                                    "budget_period": "weekly"})
        self.assertEqual((p["team_id"], p["team"], p["budget_period"]), (None, None, "weekly"))
        self.ok("DELETE", f"/users/{u['id']}")
        self.assertEqual(self.audit("users", u["id"]), "create,update,delete")

    def test_validation_names_the_field(self):
        self.bad("POST", "/teams", {}, "name", code="missing_field")
        self.bad("POST", "/teams", {"name": "v", "rpm": 0}, "rpm")
        self.bad("POST", "/teams", {"name": "v", "max_parallel": "2"}, "max_parallel")
        self.bad("POST", "/teams", {"name": "v", "budget_usd": -1, "budget_period": "daily"},
                 "budget_usd")
        self.bad("POST", "/teams", {"name": "v", "budget_usd": 1, "budget_period": "yearly"},
                 "budget_period")
        self.bad("POST", "/teams", {"name": "v", "budget_usd": 1}, "budget_period")
        self.bad("POST", "/teams", {"name": "v", "metadata": [1]}, "metadata")
        self.bad("POST", "/teams", {"name": "v", "colour": "red"}, "colour")
        self.bad("POST", "/users", {"name": "v", "email": "not-an-email"}, "email")
        self.bad("POST", "/users", {"name": "v", "team_id": 999999}, "team_id", 422)
        self.assertEqual(self.sql("SELECT count(*) FROM teams WHERE name = 'v'"), "0")

    def test_duplicate_names_conflict(self):
        self.ok("POST", "/teams", {"name": "dup-team"}, 201)
        self.bad("POST", "/teams", {"name": "dup-team"}, "name", 409, "conflict")
        self.ok("POST", "/users", {"name": "dup-user"}, 201)
        self.bad("POST", "/users", {"name": "dup-user"}, "name", 409, "conflict")
        other = self.ok("POST", "/teams", {"name": "dup-other"}, 201)
        self.bad("PATCH", f"/teams/{other['id']}", {"name": "dup-team"}, "name", 409, "conflict")

    # ---- references ----

    def test_keys_refer_to_teams_and_users(self):
        t = self.ok("POST", "/teams", {"name": "ref-team"}, 201)
        t2 = self.ok("POST", "/teams", {"name": "ref-team-2"}, 201)
        u = self.ok("POST", "/users", {"name": "ref-user", "team_id": t["id"]}, 201)
        k = self.ok("POST", "/keys", {"name": "ref-k1", "team": "ref-team", "user_id": u["id"]}, 201)
        self.assertEqual((k["team_id"], k["team"], k["user_id"]), (t["id"], "ref-team", u["id"]))
        self.assertEqual(self.ok("GET", f"/keys/{k['id']}")["team"], "ref-team")
        k2 = self.ok("POST", "/keys", {"name": "ref-k2", "team_id": t2["id"]}, 201)
        self.assertEqual(k2["team"], "ref-team-2")
        # unknown references: 422 naming the field, nothing created
        err = self.bad("POST", "/keys", {"name": "ref-bad", "team": "no-such-team"}, "team", 422)
        self.assertIn("no-such-team", err["message"])
        self.bad("POST", "/keys", {"name": "ref-bad", "team_id": 999999}, "team_id", 422)
        self.bad("POST", "/keys", {"name": "ref-bad", "user_id": 999999}, "user_id", 422)
        self.bad("POST", "/keys", {"name": "ref-bad", "team": "ref-team", "team_id": t["id"]},
                 "team")
        self.bad("PATCH", f"/keys/{k['id']}", {"user_id": 999999}, "user_id", 422)
        self.assertEqual(self.sql("SELECT count(*) FROM api_keys WHERE name = 'ref-bad'"), "0")
        # moving and clearing
        m = self.ok("PATCH", f"/keys/{k['id']}", {"team": "ref-team-2"})
        self.assertEqual((m["team_id"], m["team"]), (t2["id"], "ref-team-2"))
        # the key list filters by team name, team_id and user_id
        ids = lambda q: sorted(x["id"] for x in self.ok("GET", "/keys?" + q)["data"])
        self.assertEqual(ids("team=ref-team-2"), sorted([k["id"], k2["id"]]))
        self.assertEqual(ids(f"team_id={t2['id']}"), sorted([k["id"], k2["id"]]))
        self.assertEqual(ids(f"user_id={u['id']}"), [k["id"]])
        c = self.ok("PATCH", f"/keys/{k['id']}", {"team": None})
        self.assertEqual((c["team_id"], c["team"]), (None, None))
        # a renamed team shows its new name on its keys
        self.ok("PATCH", f"/teams/{t2['id']}", {"name": "ref-team-renamed"})
        self.assertEqual(self.ok("GET", f"/keys/{k2['id']}")["team"], "ref-team-renamed")

    def test_delete_refused_while_referenced_unless_cascade(self):
        t = self.ok("POST", "/teams", {"name": "del-team"}, 201)
        u = self.ok("POST", "/users", {"name": "del-user", "team_id": t["id"]}, 201)
        k = self.ok("POST", "/keys", {"name": "del-key", "team_id": t["id"],
                                      "user_id": u["id"]}, 201)
        err = self.bad("DELETE", f"/teams/{t['id']}", None, None, 409, "conflict")
        self.assertIn("user 'del-user'", err["message"])
        self.assertIn("key 'del-key'", err["message"])
        err = self.bad("DELETE", f"/users/{u['id']}", None, None, 409, "conflict")
        self.assertIn("key 'del-key'", err["message"])
        self.bad("DELETE", f"/teams/{t['id']}?cascade=maybe", None, "cascade")
        self.assertEqual(self.ok("GET", f"/teams/{t['id']}")["name"], "del-team")
        self.assertEqual(self.call("DELETE", "/teams/999999").status, 404)

        n_audit = int(self.sql("SELECT count(*) FROM audit_log"))
        self.ok("DELETE", f"/teams/{t['id']}?cascade=true")
        self.assertEqual(self.call("GET", f"/teams/{t['id']}").status, 404)
        self.assertIsNone(self.ok("GET", f"/users/{u['id']}")["team_id"])
        key = self.ok("GET", f"/keys/{k['id']}")
        self.assertEqual((key["team_id"], key["team"], key["user_id"]), (None, None, u["id"]))
        rows = self.sql(f"SELECT entity || ':' || action || ':' || entity_id || ':' || "
                        f"coalesce(after->>'team_id', '-') FROM audit_log WHERE id > 0 "
                        f"ORDER BY id OFFSET {n_audit}").split("\n")
        self.assertEqual(sorted(rows), sorted([f"teams:delete:{t['id']}:-",
                                               f"users:update:{u['id']}:-",
                                               f"keys:update:{k['id']}:-"]))
        self.ok("DELETE", f"/users/{u['id']}?cascade=true")
        self.assertIsNone(self.ok("GET", f"/keys/{k['id']}")["user_id"])

    # ---- usage by team and user ----

    def test_usage_grouped_and_filtered_by_team_and_user(self):
        self.sql("""
INSERT INTO teams (id, name) VALUES (8801, 'u-red'), (8802, 'u-blue');
INSERT INTO users (id, name, team_id) VALUES (8901, 'u-ann', 8801), (8902, 'u-bob', 8802);
INSERT INTO api_keys (id, key_hash, prefix, name, team_id, user_id) VALUES
  (8701, '\\x8701', 'lx-8701', 'uk-a', 8801, 8901),
  (8702, '\\x8702', 'lx-8702', 'uk-b', 8801, 8902),
  (8703, '\\x8703', 'lx-8703', 'uk-c', 8802, NULL);
INSERT INTO ai_usage (request_id, api_key_id, provider, model, feature, tokens_in, tokens_out,
                      cost_usd, status, total_us, created_at) VALUES
  ('tu1', 8701, 'tp', 'tm', 'chat', 10, 1, 0.01, 200, 1000, now() - interval '10 min'),
  ('tu2', 8701, 'tp', 'tm', 'chat', 10, 1, 0.01, 200, 1000, now() - interval '9 min'),
  ('tu3', 8702, 'tp', 'tm', 'chat', 10, 1, 0.01, 200, 1000, now() - interval '8 min'),
  ('tu4', 8703, 'tp', 'tm', 'chat', 10, 1, 0.01, 500, 1000, now() - interval '7 min');
""")
        def summary(q):
            return self.ok("GET", "/usage/summary?provider=tp&" + q)
        s = summary("group_by=team")
        self.assertEqual(sorted((r["team"], r["team_id"], r["requests"]) for r in s["data"]),
                         [("u-blue", 8802, 1), ("u-red", 8801, 3)])
        s = summary("group_by=user")
        self.assertEqual(sorted((str(r["user_name"]), r["requests"]) for r in s["data"]),
                         [("None", 1), ("u-ann", 2), ("u-bob", 1)])
        s = summary("group_by=team,user")
        self.assertIn(("u-red", "u-bob", 1),
                      [(r["team"], r["user_name"], r["requests"]) for r in s["data"]])
        self.assertEqual(summary("team=u-red")["totals"]["requests"], 3)
        self.assertEqual(summary("team_id=8802")["totals"]["requests"], 1)
        self.assertEqual(summary("user=u-ann")["totals"]["requests"], 2)
        self.assertEqual(summary("user_id=8902")["totals"]["requests"], 1)
        ts = self.ok("GET", "/usage/timeseries?provider=tp&bucket=hour&group_by=user&user=u-bob")
        self.assertEqual([(r["user_name"], r["requests"]) for r in ts["data"]], [("u-bob", 1)])
        rq = self.ok("GET", "/usage/requests?provider=tp&user_id=8901")["data"]
        self.assertEqual(sorted(r["request_id"] for r in rq), ["tu1", "tu2"])
        self.assertEqual({(r["team"], r["team_id"], r["user_id"], r["user_name"]) for r in rq},
                         {("u-red", 8801, 8901, "u-ann")})
        self.bad("GET", "/usage/summary?user_id=abc", None, "user_id")
        self.bad("GET", "/usage/summary?team_id=0", None, "team_id")


class Migration(unittest.TestCase):
    """sql/009 run on a database whose keys carry the old free-text team."""

    def test_free_text_teams_become_team_rows(self):
        db = new_database()
        lx = Llmux(db=db)
        self.assertEqual(lx.stop(), 0)
        # back to the schema before 009, with keys of the old kind (and 014's
        # model_limits, which the recreated users and teams need, to run again)
        psql(db, """
DELETE FROM schema_migrations WHERE name LIKE '009%' OR name LIKE '014%';
DROP FUNCTION llmux_team_id(text, text);
ALTER TABLE api_keys DROP COLUMN team_id, DROP COLUMN user_id, ADD COLUMN team TEXT,
  DROP COLUMN model_limits;
DROP TABLE users;
DROP TABLE teams;
INSERT INTO api_keys (id, key_hash, prefix, name, team) VALUES
  (1, '\\x01', 'lx-1', 'old-a', 'search'),
  (2, '\\x02', 'lx-2', 'old-b', 'search'),
  (3, '\\x03', 'lx-3', 'old-c', 'ads'),
  (4, '\\x04', 'lx-4', 'old-d', NULL);
""")
        lx = Llmux(db=db)
        try:
            self.assertEqual(psql(db, "SELECT string_agg(name, ',' ORDER BY name) FROM teams"),
                             "ads,search")
            self.assertEqual(psql(db, "SELECT count(*) FROM information_schema.columns WHERE "
                                      "table_name = 'api_keys' AND column_name = 'team'"), "0")
            r = lx.req("GET", API + "/keys?limit=10", key=ADMIN_KEY)
            self.assertEqual(r.status, 200, r)
            got = {k["name"]: k["team"] for k in r.json()["data"]}
            self.assertEqual(got, {"old-a": "search", "old-b": "search", "old-c": "ads",
                                   "old-d": None})
            r = lx.req("GET", API + "/keys?team=search", key=ADMIN_KEY)
            self.assertEqual(sorted(k["name"] for k in r.json()["data"]), ["old-a", "old-b"])
        finally:
            self.assertEqual(lx.stop(), 0)


if __name__ == "__main__":
    unittest.main()
