"""Sign-in by JWT and admin roles (issue 18, "Sign-in and roles").

JWTs signed with HS256 (a configured secret), RS256 and ES256 (keys made
here with the openssl command line, published to llmux as a JWKS file) are
accepted on /v1/chat/completions and /v1/messages for a user record named
by the token's sub; each rejection reason is a 401 naming it, in the
client's shape, without the token. A JWT user's requests count against the
user's rpm. On the admin API a token's role decides which routes it may
use: every route of docs/openapi.json x every role is walked (a route
without an expectation here fails the test), and a team_admin only ever
sees and changes its own team's keys, users and usage."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import Llmux, Mock, psql, wait_for

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
MODEL = "demo/mock-model+chunks=1"
ISS, AUD = "https://idp.test", "llmux-test"
SECRET = "an-hs256-secret-of-more-than-32-bytes!!"
OPENAPI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "openapi.json")

# Who besides admin may use each admin route: the test's own table, so that
# a route added to llmux without a decision here fails test_role_matrix.
OPS, TEAM, VIEW = {"operator"}, {"team_admin"}, {"viewer"}
EXPECT = {
    **{p: OPS for p in ("providers", "providers/{id}", "connections", "connections/{id}",
                        "connections/{id}/test", "models", "models/{id}", "groups", "groups/{id}",
                        "groups/{id}/members", "groups/{id}/members/{member_id}")},
    **{p: TEAM for p in ("keys", "keys/{id}", "users", "users/{id}")},
    **{p: set() for p in ("teams", "teams/{id}")},
    # reset-spend: the admin only (it is not confined to a team_admin's team)
    **{p: set() for p in ("keys/{id}/reset-spend", "users/{id}/reset-spend",
                          "teams/{id}/reset-spend")},
    "usage/summary": TEAM | VIEW,
    "usage/timeseries": TEAM | VIEW,
    "usage/requests": TEAM | VIEW,
    "usage/requests/{request_id}": TEAM | VIEW,
    "health": OPS | VIEW,
    "audit": VIEW,
    "tasks": OPS | VIEW,
    "tasks/{task_id}": OPS | VIEW,
    "tasks/{task_id}/events": OPS | VIEW,
    # every role may ask who it is (the web UI's sign-in)
    "whoami": OPS | TEAM | VIEW,
}
# where one method of a pattern has its own roles
EXPECT_METHOD = {
    "DELETE tasks/{task_id}": OPS,
}
ROLES = ["admin", "operator", "team_admin", "viewer", "auditor"]


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def der_ecdsa_to_raw(der):
    """SEQUENCE { INTEGER r, INTEGER s } -> r || s, 32 bytes each."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


class Keys:
    def __init__(self, d):
        self.rsa = os.path.join(d, "rsa.pem")
        self.ec = os.path.join(d, "ec.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                self.rsa)
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                self.ec)
        mod = openssl("rsa", "-in", self.rsa, "-noout", "-modulus").decode().strip()
        n = bytes.fromhex(mod.split("=", 1)[1])
        point = openssl("ec", "-in", self.ec, "-pubout", "-outform", "DER")[-65:]
        assert point[0] == 4
        self.jwks = {"keys": [
            {"kty": "RSA", "kid": "rs1", "alg": "RS256", "use": "sig", "n": b64u(n),
             "e": b64u((65537).to_bytes(3, "big"))},
            {"kty": "EC", "kid": "es1", "alg": "ES256", "crv": "P-256",
             "x": b64u(point[1:33]), "y": b64u(point[33:])},
        ]}
        self.path = os.path.join(d, "jwks.json")
        with open(self.path, "w") as f:
            json.dump(self.jwks, f)

    def token(self, alg="HS256", kid=None, secret=SECRET, **claims):
        now = int(time.time())
        body = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 300}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"alg": alg, "typ": "JWT"}
        if kid is None:
            kid = {"RS256": "rs1", "ES256": "es1"}.get(alg)
        if kid:
            head["kid"] = kid
        data = (b64u(json.dumps(head).encode()) + "." + b64u(json.dumps(body).encode())).encode()
        if alg == "HS256":
            sig = hmac.new(secret.encode(), data, hashlib.sha256).digest()
        elif alg == "RS256":
            sig = openssl("dgst", "-sha256", "-sign", self.rsa, data=data)
        elif alg == "ES256":
            sig = der_ecdsa_to_raw(openssl("dgst", "-sha256", "-sign", self.ec, data=data))
        else:
            sig = b""
        return data.decode() + "." + b64u(sig)


def fixed_rate_clock():
    now_ms = int(time.time() * 1000)
    return {"LLMUX_TEST_RATE_CLOCK_MS": str(now_ms - now_ms % 60000 + 30000)}


class JwtRoles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.keys = Keys(cls.dir.name)
        cls.mock = Mock()
        env = {"LLMUX_JWT_HS256_SECRET": SECRET, "LLMUX_JWT_JWKS_FILE": cls.keys.path,
               "LLMUX_JWT_ISSUER": ISS, "LLMUX_JWT_AUDIENCE": AUD, "LLMUX_JWT_LEEWAY_S": "5",
               **fixed_rate_clock()}
        cls.lx = Llmux(db=True, mock=cls.mock, env=env)
        cls.red = cls.admin("POST", "/teams", {"name": "red"})
        cls.blue = cls.admin("POST", "/teams", {"name": "blue"})
        cls.alice = cls.admin("POST", "/users", {"name": "alice", "team_id": cls.red["id"],
                                                "rpm": 2})
        cls.carol = cls.admin("POST", "/users", {"name": "carol", "team_id": cls.red["id"]})
        cls.bob = cls.admin("POST", "/users", {"name": "bob", "team_id": cls.blue["id"]})
        wait_for(lambda: cls.lx.chat({"model": MODEL, "messages": MSG},
                                     key=cls.keys.token(sub="carol")).status == 200,
                 timeout=10, what="users in the snapshot")

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()
        cls.dir.cleanup()

    @classmethod
    def admin(cls, method, path, body=None, key=None):
        r = cls.lx.req(method, API + path, body=body,
                       **({"key": key} if key else {}))
        assert r.status < 300, r
        return r.json()

    # ---- AI endpoints ----

    def test_each_algorithm_on_chat_and_messages(self):
        for alg in ("HS256", "RS256", "ES256"):
            tok = self.keys.token(alg, sub="carol")
            r = self.lx.chat({"model": MODEL, "messages": MSG}, key=tok)
            self.assertEqual(r.status, 200, (alg, r))
            r = self.lx.req("POST", "/v1/messages", key=tok,
                            body={"model": MODEL, "max_tokens": 8, "messages": MSG})
            self.assertEqual(r.status, 200, (alg, r))
            self.assertEqual(r.json()["type"], "message")
        # usage rows name the user and the team (no API key)
        wait_for(lambda: int(psql(self.lx.db, "SELECT count(*) FROM ai_usage WHERE user_id = "
                                  f"{self.carol['id']} AND team_id = {self.red['id']} AND "
                                  "api_key_id IS NULL AND status = 200")) >= 6,
                 timeout=10, what="usage rows of carol")
        s = self.admin("GET", "/usage/summary?group_by=user&user=carol")
        self.assertTrue(any(row.get("user_name") == "carol" and row["requests"] >= 6
                            for row in s["data"]), s)

    def rejected(self, tok, reason):
        r = self.lx.chat({"model": MODEL, "messages": MSG}, key=tok)
        self.assertEqual(r.status, 401, (reason, r))
        err = r.json()["error"]
        self.assertIn(reason, err["message"])
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertNotIn(tok, r.body.decode())
        r = self.lx.req("POST", "/v1/messages", key=tok,
                        body={"model": MODEL, "max_tokens": 8, "messages": MSG})
        self.assertEqual(r.status, 401, (reason, r))
        body = r.json()
        self.assertEqual((body["type"], body["error"]["type"]), ("error", "authentication_error"))
        self.assertIn(reason, body["error"]["message"])
        self.assertNotIn(tok, r.body.decode())

    def test_every_rejection_reason(self):
        k = self.keys
        now = int(time.time())
        good = k.token("RS256", sub="carol")
        head, body, sig = good.split(".")
        tampered = head + "." + b64u(json.dumps({"iss": ISS, "aud": AUD, "sub": "alice",
                                                 "exp": now + 300}).encode()) + "." + sig
        cases = [
            (k.token(sub="carol", secret="a different secret of 32 bytes or more"),
             "bad_signature"),
            (tampered, "bad_signature"),
            (k.token("ES256", sub="carol", exp=now - 60), "expired"),
            (k.token(sub="carol", nbf=now + 120), "not_yet_valid"),
            (k.token(sub="carol", aud="someone-else"), "wrong_audience"),
            (k.token(sub="carol", iss="https://evil.test"), "wrong_issuer"),
            (k.token("RS256", kid="nope", sub="carol"), "unknown_kid"),
            ("e30.e30.e30", "malformed"),
            (k.token("none", kid="", sub="carol"), "unsupported_alg"),
            (k.token("HS256", kid="rs1", sub="carol"), "unsupported_alg"),
            (k.token(sub="nobody"), "unknown_user"),
        ]
        for tok, reason in cases:
            with self.subTest(reason=reason):
                self.rejected(tok, reason)

    def test_user_rpm_counts_jwt_requests(self):
        tok = self.keys.token(sub="alice")
        sub = f"user:{self.alice['id']}"
        statuses = []
        for i in range(3):
            r = self.lx.chat({"model": MODEL, "messages": MSG}, key=tok)
            statuses.append(r.status)
            if r.status == 200:
                ok = statuses.count(200)
                wait_for(lambda: int(psql(self.lx.db, "SELECT coalesce(max(granted), 0) FROM "
                                          f"ai_limit_windows WHERE subject = '{sub}' AND win "
                                          "LIKE 'm:%'") or 0) >= ok,
                         timeout=10, what="the user's lease")
        self.assertEqual(statuses, [200, 200, 429], statuses)
        r = self.lx.chat({"model": MODEL, "messages": MSG}, key=tok)
        self.assertEqual(r.status, 429)
        self.assertIn("this user", r.json()["error"]["message"])

    def test_user_budget_holds_jwt_requests(self):
        """A JWT user is held to its user's budget and its calls' cost is
        added to that user's spend (spend_usd, /v1/key/info)."""
        prov = self.admin("GET", "/providers?name=demo")["data"][0]["id"]
        for name, cost in (("jwtpriced", 1000000), ("jwtfree", 0)):  # $1 per request, $0
            self.admin("POST", "/models", {"provider_id": prov, "public_name": name,
                                           "upstream_name": "mock-model+chunks=1",
                                           "input_cost_per_1m": 0, "output_cost_per_1m": cost,
                                           "capabilities": ["chat", "stream"]})
        name = f"frank{time.monotonic_ns()}"
        frank = self.admin("POST", "/users", {"name": name, "budget_usd": 2,
                                              "budget_period": "monthly"})
        tok = self.keys.token(sub=name)

        def chat(model):
            return self.lx.chat({"model": model, "messages": MSG}, key=tok)
        wait_for(lambda: chat("demo/jwtfree").status == 200, timeout=10,
                 what="frank and the models loaded")
        rs = [chat("demo/jwtpriced") for _ in range(4)]
        self.assertEqual([r.status for r in rs], [200, 200, 429, 429], rs)
        err = rs[2].json()["error"]
        self.assertEqual((err["type"], err["code"]), ("insufficient_quota", "budget_exceeded"))
        self.assertIn("budget exceeded for this user:", err["message"])
        self.assertIn("retry-after", rs[2].headers)  # monthly: to the period's end
        info = self.lx.req("GET", "/v1/key/info", key=tok).json()
        spend = info["levels"]["user"]["spend"]
        self.assertEqual((spend["spend_usd"], spend["budget_usd"], spend["budget_period"]),
                         (2, 2, "monthly"), info)
        wait_for(lambda: self.admin("GET", f"/users/{frank['id']}")["spend_usd"] == 2,
                 timeout=10, what="frank's spend_usd")

    # ---- admin API ----

    def role_token(self, role, sub="dave", team=None):
        return self.keys.token("ES256", sub=sub, role=role, team=team)

    def test_role_matrix(self):
        with open(OPENAPI) as f:
            doc = json.load(f)
        routes = []
        for path, item in doc["paths"].items():
            if not path.startswith(API + "/"):
                continue
            for m in item:
                if m.upper() in ("GET", "POST", "PATCH", "DELETE"):
                    routes.append((m.upper(), path[len(API) + 1:]))
        missing = [r for r in routes if r[1] not in EXPECT]
        self.assertEqual(missing, [], "admin routes without an expected role set")
        self.assertEqual(sorted(set(EXPECT) - {p for _, p in routes}), [],
                         "expectations of no route")
        self.assertGreaterEqual(len(routes), 45)
        toks = {r: self.role_token(r, team="red" if r == "team_admin" else None) for r in ROLES}
        for method, pattern in routes:
            path = API + "/" + pattern.replace("{id}", "987654").replace("{member_id}", "987655") \
                .replace("{request_id}", "req_987656").replace("{task_id}", "task_987657")
            body = {} if method in ("POST", "PATCH") else None
            for role in ROLES:
                allowed = role == "admin" or \
                    role in EXPECT_METHOD.get(f"{method} {pattern}", EXPECT[pattern])
                with self.subTest(method=method, path=pattern, role=role):
                    r = self.lx.req(method, path, body=body, key=toks[role])
                    if allowed:
                        self.assertNotIn(r.status, (401, 403), r)
                        self.assertLess(r.status, 500, r)
                        if method == "GET" and "{" not in pattern:
                            self.assertEqual(r.status, 200, r)
                    else:
                        self.assertEqual(r.status, 403, r)
                        msg = r.json()["error"]["message"]
                        self.assertIn(f"role '{role}'", msg)
                        self.assertIn(f"{method} /api/v1/admin/ai/{pattern}", msg)

    def test_admin_token_problems(self):
        r = self.lx.req("GET", API + "/providers", key=self.keys.token(sub="dave", role="admin",
                                                                          aud="x"))
        self.assertEqual(r.status, 401)
        self.assertIn("wrong_audience", r.json()["error"]["message"])
        r = self.lx.req("GET", API + "/providers", key=self.keys.token(sub="dave"))
        self.assertEqual(r.status, 403)
        self.assertIn("no role", r.json()["error"]["message"])
        r = self.lx.req("GET", API + "/keys", key=self.role_token("team_admin", team="green"))
        self.assertEqual(r.status, 403)
        self.assertIn("team_admin", r.json()["error"]["message"])

    def test_team_admin_sees_and_changes_only_its_team(self):
        red_key = self.admin("POST", "/keys", {"name": "red-k", "team_id": self.red["id"]})
        blue_key = self.admin("POST", "/keys", {"name": "blue-k", "team_id": self.blue["id"]})
        tok = self.role_token("team_admin", sub="erin", team="red")
        req = lambda m, p, b=None: self.lx.req(m, API + p, body=b, key=tok)  # noqa: E731
        keys = req("GET", "/keys?limit=500").json()["data"]
        self.assertIn(red_key["id"], [k["id"] for k in keys])
        self.assertEqual({k["team_id"] for k in keys}, {self.red["id"]})
        users = req("GET", "/users").json()["data"]
        self.assertEqual({u["name"] for u in users}, {"alice", "carol"})
        self.assertEqual(req("GET", f"/keys/{red_key['id']}").status, 200)
        for m, b in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
            self.assertEqual(req(m, f"/keys/{blue_key['id']}", b).status, 404, m)
            self.assertEqual(req(m, f"/users/{self.bob['id']}", b).status, 404, m)
        r = req("POST", "/keys", {"name": "sneaky", "team": "blue"})
        self.assertEqual(r.status, 403, r)
        r = req("POST", "/keys", {"name": "sneaky", "team_id": self.blue["id"]})
        self.assertEqual(r.status, 403, r)
        r = req("PATCH", f"/keys/{red_key['id']}", {"team_id": self.blue["id"]})
        self.assertEqual(r.status, 403, r)
        # a key of its team for another team's user: refused, create and update
        r = req("POST", "/keys", {"name": "sneaky", "user_id": self.bob["id"]})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"]["param"], "user_id")
        r = req("PATCH", f"/keys/{red_key['id']}", {"user_id": self.bob["id"]})
        self.assertEqual(r.status, 403, r)
        r = req("POST", "/keys", {"name": "carols", "user_id": self.carol["id"]})
        self.assertEqual(r.status, 201, r)
        r = req("POST", "/keys", {"name": "mine"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["team_id"], self.red["id"])
        self.assertEqual(req("POST", "/users", {"name": "frank"}).json()["team_id"],
                         self.red["id"])
        r = req("GET", f"/usage/summary?team_id={self.blue['id']}")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(req("GET", "/usage/summary?group_by=team").status, 200)
        rows = req("GET", "/usage/requests?limit=500").json()["data"]
        self.assertTrue(all(x["team_id"] == self.red["id"] for x in rows), rows)
        # its writes are audited under its own name
        audit = self.admin("GET", "/audit?entity=keys&limit=50")["data"]
        self.assertIn("jwt:erin", [a["actor"] for a in audit])
        self.assertEqual(req("DELETE", f"/keys/{red_key['id']}").status, 200)


if __name__ == "__main__":
    unittest.main()
