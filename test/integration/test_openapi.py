"""GET /openapi.json serves docs/openapi.json byte for byte, without a key,
as application/json; and the admin route table answers as the document
says (405 with the route's methods in Allow, path ids named when they are
not positive integers). That every route is in the document is checked by
unit-app-openapi; that the document is valid OpenAPI 3.1, by the `openapi`
test (npm validator)."""
import json
import os
import unittest

from harness import Llmux, http

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "openapi.json")
API = "/api/v1/admin/ai"


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


if __name__ == "__main__":
    unittest.main()
