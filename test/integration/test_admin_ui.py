"""The admin web UI's server side (issue 20, "Admin web UI").

/admin serves web/admin/index.html and /admin/<asset> every file under
web/admin/ as embedded at build time (bytes equal to the source tree's),
with its Content-Type, an ETag that a matching If-None-Match turns into a
304, Cache-Control and the security headers; any other /admin/... path is
the shell (client-side routes); HEAD works; other methods are 405. GET
whoami tells each bearer its role and the admin routes it may use, which is
what the UI shows."""
import base64
import hashlib
import hmac
import json
import os
import re
import time
import unittest

from harness import ADMIN_KEY, Llmux, http, wait_for

API = "/api/v1/admin/ai"
WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web", "admin")
OPENAPI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "openapi.json")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8"}
ISS, AUD = "https://idp.test", "llmux-ui-test"
SECRET = "an-hs256-secret-of-more-than-32-bytes!!"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256(**claims):
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 300,
            **{k: v for k, v in claims.items() if v is not None}}
    data = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        b64u(json.dumps(body).encode())
    return data + "." + b64u(hmac.new(SECRET.encode(), data.encode(), hashlib.sha256).digest())


def assets():
    out = {}
    for d, _, names in os.walk(WEB):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, WEB).replace(os.sep, "/")] = open(p, "rb").read()
    return out


class AdminUi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lx = Llmux(db=True, env={"LLMUX_JWT_HS256_SECRET": SECRET, "LLMUX_JWT_ISSUER": ISS,
                                     "LLMUX_JWT_AUDIENCE": AUD})

    @classmethod
    def tearDownClass(cls):
        cls.lx.stop()

    def get(self, path, method="GET", headers=None):
        return http(method, self.lx.url + path, headers=headers)

    def assert_secure(self, r):
        self.assertEqual(r.headers.get("content-security-policy"), CSP, r.headers)
        self.assertEqual(r.headers.get("x-frame-options"), "DENY")
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        self.assertEqual(r.headers.get("referrer-policy"), "no-referrer")

    def test_shell(self):
        index = assets()["index.html"]
        for path in ("/admin", "/admin/", "/admin/providers", "/admin/keys/12/edit",
                     "/admin/js/nope.js", "/admin?x=1"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
                self.assertEqual(r.body, index)
                self.assertEqual(r.headers["cache-control"], "no-cache")
                self.assert_secure(r)
        self.assertIn(b'<script type="module" src="/admin/js/app.js"></script>', index)
        r = self.get("/administrator")
        self.assertEqual(r.status, 404, r)

    def test_assets(self):
        files = assets()
        self.assertTrue({"index.html", "app.css", "js/app.js", "js/api.js", "js/ui.js",
                         "js/pages/index.js"} <= set(files), sorted(files))
        for rel, data in files.items():
            with self.subTest(asset=rel):
                r = self.get("/admin/" + rel)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, data, "the binary embeds an older copy")
                self.assertEqual(r.headers["content-type"], TYPES[os.path.splitext(rel)[1]])
                self.assertRegex(r.headers["etag"], r'^"[0-9a-f]{20}"$')
                self.assertIn("cache-control", r.headers)
                self.assert_secure(r)
                etag = r.headers["etag"]
                for inm in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
                    r2 = self.get("/admin/" + rel, headers={"If-None-Match": inm})
                    self.assertEqual(r2.status, 304, (inm, r2))
                    self.assertEqual(r2.body, b"")
                    self.assertEqual(r2.headers["etag"], etag)
                    self.assert_secure(r2)
                r3 = self.get("/admin/" + rel, headers={"If-None-Match": '"other"'})
                self.assertEqual(r3.status, 200)
                h = self.get("/admin/" + rel, method="HEAD")
                self.assertEqual(h.status, 200, h)
                self.assertEqual(int(h.headers["content-length"]), len(data))

    def test_no_inline_code_or_markup_from_data(self):
        # the CSP forbids inline scripts and styles; the helpers build DOM
        # nodes, never HTML strings
        for rel, data in assets().items():
            text = data.decode()
            with self.subTest(asset=rel):
                if rel.endswith(".html"):
                    self.assertNotRegex(text, r"<script(?![^>]*\ssrc=)[^>]*>")
                    self.assertNotRegex(text, r"\sstyle\s*=")
                    self.assertNotRegex(text, r"\son[a-z]+\s*=")
                if rel.endswith(".js"):
                    self.assertNotRegex(text, r"innerHTML|outerHTML|insertAdjacentHTML|"
                                              r"document\.write|\beval\(|new Function")
                    self.assertNotRegex(text, r"setAttribute\(\s*'style'")

    def test_methods(self):
        for method, path in (("POST", "/admin"), ("PUT", "/admin/"), ("DELETE", "/admin/js/app.js"),
                             ("PATCH", "/admin/keys")):
            with self.subTest(method=method, path=path):
                r = self.get(path, method=method)
                self.assertEqual(r.status, 405, r)
                self.assertEqual(r.headers["allow"], "GET, HEAD")
                self.assertEqual(r.json()["error"]["type"], "invalid_request_error")
                self.assert_secure(r)

    def whoami(self, key):
        return self.lx.req("GET", API + "/whoami", key=key)

    def test_whoami_admin_key(self):
        r = self.whoami(ADMIN_KEY)
        self.assertEqual(r.status, 200, r)
        me = r.json()
        self.assertEqual((me["role"], me["actor"], me["team_id"], me["team"]),
                         ("admin", "admin", None, None))
        with open(OPENAPI) as f:
            doc = json.load(f)
        routes = {f"{m.upper()} {p[len(API) + 1:]}" for p, item in doc["paths"].items()
                  if p.startswith(API + "/") for m in item if m != "parameters"}
        self.assertEqual(set(me["capabilities"]), routes)
        r = self.whoami("wrong-key-0123456789")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.whoami(None).status, 401)

    def test_whoami_roles(self):
        team = self.lx.req("POST", API + "/teams", body={"name": "red"})
        self.assertEqual(team.status, 201, team)
        # the team reaches the snapshot that signs team_admins in
        wait_for(lambda: self.whoami(hs256(sub="erin", role="team_admin", team="red")).status == 200,
                 what="team red in the snapshot")
        cases = {
            "operator": ({"POST providers", "POST connections/{id}/test", "PATCH groups/{id}/members/{member_id}"},
                         {"GET keys", "GET audit", "GET teams"}),
            "team_admin": ({"POST keys", "GET users", "GET usage/summary"},
                           {"GET providers", "GET teams", "POST keys/{id}/reset-spend"}),
            "viewer": ({"GET audit", "GET usage/requests"},
                       {"GET keys", "POST providers", "GET providers"}),
            "admin": ({"GET teams", "POST keys/{id}/reset-spend", "DELETE providers/{id}"}, set()),
        }
        for role, (has, lacks) in cases.items():
            with self.subTest(role=role):
                tok = hs256(sub="erin", role=role, team="red" if role == "team_admin" else None)
                r = self.whoami(tok)
                self.assertEqual(r.status, 200, r)
                me = r.json()
                self.assertEqual(me["role"], role)
                self.assertEqual(me["actor"], "jwt:erin")
                caps = set(me["capabilities"])
                self.assertIn("GET whoami", caps)
                self.assertTrue(has <= caps, has - caps)
                self.assertFalse(lacks & caps, lacks & caps)
                if role == "team_admin":
                    self.assertEqual((me["team_id"], me["team"]), (team.json()["id"], "red"))
        # a role llmux does not know may use nothing, not even whoami
        r = self.whoami(hs256(sub="erin", role="auditor"))
        self.assertEqual(r.status, 403, r)
        self.assertIn("role 'auditor'", r.json()["error"]["message"])


if __name__ == "__main__":
    unittest.main()
