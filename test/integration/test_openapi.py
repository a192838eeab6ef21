"""GET /openapi.json serves docs/openapi.json byte for byte, without a key,
as application/json; the admin route table answers as the document says
(405 with the route's methods in Allow, path ids named when they are not
positive integers); and real admin answers have the documented shape (no
field the document lacks, every required one, the documented JSON types). That every route is in the document is checked by
unit-app-openapi; that the document is valid OpenAPI 3.1, by the `openapi`
test (npm validator)."""
import json
import os
import unittest

from harness import Llmux, http, wait_for

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "openapi.json")
API = "/api/v1/admin/ai"
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def conforms(doc, schema, value, where="$"):
    """A small check of value against a documented schema: $ref, allOf,
    anyOf, type, required, properties (no field outside them) and items.
    Returns a list of problems."""
    if "$ref" in schema:
        node = doc
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        return conforms(doc, node, value, where)
    if "allOf" in schema:
        merged = {"type": "object", "properties": {}, "required": []}
        for sub in schema["allOf"]:
            while "$ref" in sub:
                node = doc
                for part in sub["$ref"][2:].split("/"):
                    node = node[part]
                sub = node
            merged["properties"].update(sub.get("properties", {}))
            merged["required"] += sub.get("required", [])
        return conforms(doc, merged, value, where)
    if "anyOf" in schema:
        if any(not conforms(doc, s, value, where) for s in schema["anyOf"]):
            return []
        return [f"{where}: matches none of anyOf"]
    out = []
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        ok = any((t == "integer" and isinstance(value, int) and not isinstance(value, bool)) or
                 (t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool))
                 or (t in TYPES and isinstance(value, TYPES[t])) for t in types)
        if not ok:
            return [f"{where}: {value!r} is not {types}"]
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        for k in schema.get("required", []):
            if k not in value:
                out.append(f"{where}: required '{k}' missing")
        for k, v in value.items():
            if k not in props:
                if schema.get("additionalProperties") is None or schema.get("additionalProperties") is False:
                    out.append(f"{where}: '{k}' is not documented")
                continue
            out += conforms(doc, props[k], v, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            out += conforms(doc, schema["items"], v, f"{where}[{i}]")
    return out


class OpenAPI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lx = Llmux(db=True)
        with open(DOC, "rb") as f:
            cls.doc = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.lx.stop()

    def test_served_document_is_the_file_without_a_key(self):
        for key in (None, "not-a-key"):
            r = self.lx.req("GET", "/openapi.json", key=key)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get("content-type"), "application/json")
            self.assertEqual(r.body, self.doc)
        self.assertEqual(json.loads(r.body)["openapi"], "3.1.0")
        r = http("POST", self.lx.url + "/openapi.json", body={})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers.get("allow"), "GET")

    def test_admin_methods_and_allow_follow_the_route_table(self):
        paths = json.loads(self.doc)["paths"]
        for path, wrong, allow in (("/providers", "PUT", "GET, POST"),
                                   ("/providers/1", "POST", "GET, PATCH, DELETE"),
                                   ("/connections/1/test", "GET", "POST"),
                                   ("/groups/1/members", "DELETE", "GET, POST"),
                                   ("/groups/1/members/2", "PUT", "GET, PATCH, DELETE"),
                                   ("/usage/summary", "POST", "GET")):
            r = self.lx.req(wrong, API + path, body={} if wrong in ("POST", "PUT") else None)
            self.assertEqual(r.status, 405, (wrong, path, r))
            self.assertEqual(r.headers.get("allow"), allow, path)
            # and the document lists the same methods for that path
            templ = (API + path).replace("/1", "/{id}", 1).replace("/2", "/{member_id}")
            documented = {m.upper() for m in paths[templ] if m != "parameters"}
            self.assertEqual(documented, set(allow.split(", ")), templ)

    def test_path_ids_are_checked_and_named(self):
        for path, param in (("/providers/abc", "id"), ("/groups/0/members", "id"),
                            ("/groups/1/members/x", "member_id"), ("/connections/-1/test", "id")):
            r = self.lx.req("GET" if not path.endswith("test") else "POST", API + path)
            self.assertEqual(r.status, 400, (path, r))
            self.assertEqual(r.json()["error"]["param"], param, path)
        for path in ("/nothing", "/providers/1/2", "/usage", "/usage/other", "/groups/1/other"):
            self.assertEqual(self.lx.req("GET", API + path).status, 404, path)

    def check(self, method, path, body, status, schema):
        r = self.lx.req(method, API + path, body=body)
        self.assertEqual(r.status, status, (method, path, r))
        spec = json.loads(self.doc)
        templ = None
        for p in spec["paths"]:
            parts, got = p.split("/"), (API + path).split("?")[0].split("/")
            if len(parts) == len(got) and all(a == b or a.startswith("{") for a, b in zip(parts, got)):
                templ = p
        self.assertIsNotNone(templ, path)
        op = spec["paths"][templ][method.lower()]
        resp = op["responses"][str(status)]
        if "$ref" in resp:
            resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        documented = resp["content"]["application/json"]["schema"]
        self.assertEqual(documented, {"$ref": "#/components/schemas/" + schema}, (method, templ))
        problems = conforms(spec, documented, r.json())
        self.assertEqual(problems, [], (method, path, r.json()))
        return r.json()

    def test_admin_answers_have_the_documented_shape(self):
        p = self.check("POST", "/providers", {"name": "oa", "kind": "openai_compatible",
                       "base_url": "http://127.0.0.1:9/v1", "extra_headers": {"X-T": "v"}},
                       201, "Provider")
        self.check("GET", "/providers", None, 200, "ProviderList")
        c = self.check("POST", "/connections", {"provider_id": p["id"], "name": "main",
                       "api_key": "sk-openapi-test"}, 201, "Connection")
        self.check("GET", f"/connections/{c['id']}", None, 200, "Connection")
        self.check("PATCH", f"/connections/{c['id']}", {"weight": 2}, 200, "Connection")
        m = self.check("POST", "/models", {"provider_id": p["id"], "upstream_name": "m1",
                       "capabilities": ["chat"], "input_cost_per_1m": 0.15}, 201, "Model")
        self.check("GET", "/models", None, 200, "ModelList")
        g = self.check("POST", "/groups", {"name": "oa-group"}, 201, "Group")
        mem = self.check("POST", f"/groups/{g['id']}/members", {"provider_id": p["id"],
                         "upstream_name": "m1"}, 201, "GroupMember")
        self.check("GET", f"/groups/{g['id']}", None, 200, "Group")
        self.check("GET", f"/groups/{g['id']}/members", None, 200, "GroupMemberList")
        t = self.check("POST", "/teams", {"name": "t", "budget_usd": 5, "budget_period": "daily",
                       "metadata": {"cc": "42"}}, 201, "Team")
        self.check("GET", "/teams", None, 200, "TeamList")
        self.check("PATCH", f"/teams/{t['id']}", {"rpm": 10}, 200, "Team")
        u = self.check("POST", "/users", {"name": "ua", "email": "ua@example.com",
                       "team_id": t["id"]}, 201, "User")
        self.check("GET", f"/users/{u['id']}", None, 200, "User")
        self.check("GET", "/users", None, 200, "UserList")
        k = self.check("POST", "/keys", {"name": "oa", "team": "t", "allowed_models": ["oa-group"],
                       "user_id": u["id"], "expires_at": "2099-01-01T00:00:00Z"}, 201,
                       "ApiKeyCreated")
        self.check("GET", f"/keys/{k['id']}", None, 200, "ApiKey")
        self.check("GET", "/usage/summary?group_by=model", None, 200, "UsageSummary")
        self.check("GET", "/usage/timeseries?bucket=hour", None, 200, "UsageTimeseries")
        self.check("GET", "/usage/summary?group_by=team,status,error_code,feature", None, 200,
                   "UsageSummary")
        self.check("GET", "/usage/summary?group_by=user,team", None, 200, "UsageSummary")
        self.assertEqual(self.lx.chat({"model": "nope/x", "messages": [
            {"role": "user", "content": "hi"}]}).status, 404)  # a refusal row
        wait_for(lambda: self.check("GET", "/usage/requests?limit=1", None, 200,
                                    "UsageRequestList")["data"], timeout=5, what="a usage row")
        self.check("GET", "/audit?limit=3", None, 200, "AuditList")
        r = self.check("POST", "/providers", {"name": "x"}, 400, "Error")
        self.assertEqual(r["error"]["param"], "kind")
        for path in (f"/groups/{g['id']}/members/{mem['id']}", f"/groups/{g['id']}",
                     f"/keys/{k['id']}", f"/users/{u['id']}", f"/teams/{t['id']}", f"/models/{m['id']}", f"/connections/{c['id']}",
                     f"/providers/{p['id']}"):
            self.check("DELETE", path, None, 200, "Deleted")


if __name__ == "__main__":
    unittest.main()
