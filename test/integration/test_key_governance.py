"""Tokens per minute, requests in flight, a key's requests per day, the
x-ratelimit-* headers, GET /v1/key/info and the SDKs' typed errors (issue
18). Limits hold across instances sharing one Postgres: tpm through the
same leases as rpm, max_parallel through in-flight counts every instance
publishes (ai_limit_inflight). Bounds: src/auth/allow.h."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import threading
import time
import unittest

from harness import ADMIN_KEY, Llmux, Mock, new_database, psql, wait_for
from test_openapi import DOC, conforms

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
MODEL = "demo/mock-model+chunks=1"
SLOW = "demo/mock-model+chunks=40+gap_ms=100"  # a 4 s stream
SDK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk")


def fixed_rate_clock():
    """Windows read the middle of the current minute: no test straddles one."""
    now_ms = int(time.time() * 1000)
    return {"LLMUX_TEST_RATE_CLOCK_MS": str(now_ms - now_ms % 60000 + 30000)}


def admin(lx, method, path, body=None):
    r = lx.req(method, API + path, body=body)
    assert r.status < 300, r
    return r.json()


def chat(lx, key, model=MODEL, max_tokens=50, stream=False):
    body = {"model": model, "messages": MSG, "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return lx.chat(body, key=key)


def info(lx, key):
    r = lx.req("GET", "/v1/key/info", key=key)
    assert r.status == 200, r
    return r.json()


def refusals(lx, subject, window):
    text = lx.req("GET", "/metrics", key=None).body.decode()
    return sum(int(v) for v in re.findall(
        r'^llmux_ai_limit_refusals_total\{worker="\d+",subject="' + subject +
        r'",window="' + window + r'"\} (\d+)$', text, re.M))


def real_tokens(db, key_id):
    """Input + output tokens of the key's served requests, as recorded."""
    return int(psql(db, "SELECT coalesce(sum(tokens_in + tokens_out), 0) FROM ai_usage "
                        f"WHERE api_key_id = {key_id} AND status = 200"))


def served_rows(db, key_id):
    return int(psql(db, f"SELECT count(*) FROM ai_usage WHERE api_key_id = {key_id} "
                        "AND status = 200"))


def loaded(lx, key):
    return lx.req("GET", "/v1/models", key=key).status == 200


def in_flight(lx, key):
    return info(lx, key)["levels"]["key"]["usage"]["in_flight"]["current"]


def start_streams(lx, key, n):
    """n slow streams in threads; returns the threads and their statuses."""
    out = []

    def one():
        out.append(chat(lx, key, model=SLOW, stream=True).status)
    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    return ts, out


class OneInstance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=fixed_rate_clock())

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def new_key(self, **fields):
        k = admin(self.lx, "POST", "/keys", {"name": f"k{time.monotonic_ns()}", **fields})
        wait_for(lambda: loaded(self.lx, k["key"]), timeout=5, what="key loaded")
        return k

    def settled(self, subject, want, kind="m"):
        wait_for(lambda: int(psql(self.lx.db, "SELECT coalesce(max(granted), 0) FROM "
                                  f"ai_limit_windows WHERE subject = '{subject}' "
                                  f"AND win LIKE '{kind}:%'") or 0) >= want,
                 timeout=10, what=f"the lease of {subject}")

    def test_rpm_alias_and_key_limit_fields(self):
        k = admin(self.lx, "POST", "/keys", {"name": f"a{time.monotonic_ns()}", "rpm": 7,
                                             "rpd": 100, "tpm": 5000, "max_parallel": 3})
        self.assertEqual((k["rpm"], k["rate_limit_per_minute"], k["rpd"], k["tpm"],
                          k["max_parallel"]), (7, 7, 100, 5000, 3))
        k = admin(self.lx, "PATCH", f"/keys/{k['id']}", {"rate_limit_per_minute": 9,
                                                          "max_parallel": None})
        self.assertEqual((k["rpm"], k["max_parallel"]), (9, None))
        r = self.lx.req("POST", API + "/keys", body={"name": "b", "rpm": 1,
                                                     "rate_limit_per_minute": 2})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "rpm")
        r = self.lx.req("POST", API + "/keys", body={"name": "c", "tpm": 0})
        self.assertEqual(r.status, 400, r)

    def test_key_rpd(self):
        k = self.new_key(rpd=3)
        before = refusals(self.lx, "key", "day")
        statuses = []
        for i in range(4):
            statuses.append(chat(self.lx, k["key"]).status)
            if statuses[-1] == 200:
                wait_for(lambda: int(psql(self.lx.db, "SELECT coalesce(max(granted), 0) FROM "
                                          f"ai_limit_windows WHERE subject = 'key:{k['id']}' "
                                          "AND win LIKE 'd:%'") or 0) >= i + 1,
                         timeout=10, what="day lease")
        self.assertEqual(statuses, [200, 200, 200, 429])
        r = chat(self.lx, k["key"])
        err = r.json()["error"]
        self.assertEqual((r.status, err["type"], err["code"]),
                         (429, "rate_limit_error", "rate_limit_exceeded"))
        self.assertIn("3 requests per day", err["message"])
        self.assertGreater(int(r.headers["retry-after"]), 60)  # the day's end
        self.assertEqual(refusals(self.lx, "key", "day") - before, 2)

    def test_tpm_settlement_and_refusal(self):
        lim = 400
        k = self.new_key(tpm=lim)
        # the estimate (body / 4 + max_tokens 50, ~75) is above the real use
        # (the mock: prompt bytes / 4 + 1 output token, ~21): settlement
        # gives the difference back
        for n in range(1, 4):
            r = chat(self.lx, k["key"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-ratelimit-limit-tokens"], str(lim))
            wait_for(lambda: served_rows(self.lx.db, k["id"]) == n, timeout=10, what="usage rows")
            used = real_tokens(self.lx.db, k["id"])
            self.assertGreater(used, n * 10)
            self.assertLess(used, n * 50)  # the real use, well under the estimates
            wait_for(lambda: info(self.lx, k["key"])["levels"]["key"]["usage"]["tokens_minute"]
                     ["used"] == used, timeout=5, what=f"settled to the real use {used}")
        w = info(self.lx, k["key"])["levels"]["key"]["usage"]["tokens_minute"]
        self.assertEqual(w["remaining"], lim - used)
        self.assertEqual(w["limit"], lim)
        before = refusals(self.lx, "key", "tokens")
        statuses = []
        for _ in range(40):
            statuses.append(chat(self.lx, k["key"]).status)
            if statuses[-1] == 429:
                break
            self.settled(f"key:{k['id']}", 1, "t")
        self.assertEqual(statuses[-1], 429, statuses)
        r = chat(self.lx, k["key"])
        self.assertEqual(r.status, 429)
        err = r.json()["error"]
        self.assertEqual((err["type"], err["code"]), ("rate_limit_error", "rate_limit_exceeded"))
        self.assertIn(f"{lim} tokens per minute", err["message"])
        self.assertEqual(r.headers["x-ratelimit-remaining-tokens"], "0")
        self.assertGreaterEqual(refusals(self.lx, "key", "tokens") - before, 1)
        wait_for(lambda: served_rows(self.lx.db, k["id"]) == 3 + statuses.count(200),
                 timeout=10, what="usage rows")
        total = real_tokens(self.lx.db, k["id"])
        # one instance: <= L + S + E_max; served until the window was spent
        print(f"tpm {lim}: {3 + statuses.count(200)} served, {total} tokens used")
        self.assertLessEqual(total, lim + 20 + 80)
        self.assertGreaterEqual(total, lim - 80)

    def test_tpm_settles_streams(self):
        k = self.new_key(tpm=100000)
        r = chat(self.lx, k["key"], model="demo/mock-model+chunks=5", max_tokens=500, stream=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["x-ratelimit-limit-tokens"], "100000")
        wait_for(lambda: served_rows(self.lx.db, k["id"]) == 1, timeout=10, what="usage row")
        used = real_tokens(self.lx.db, k["id"])
        self.assertLess(used, 100)  # not the estimate (> 500)
        wait_for(lambda: info(self.lx, k["key"])["levels"]["key"]["usage"]["tokens_minute"]
                 ["used"] == used, timeout=5, what="the stream settled")

    def test_headers_success_stream_error_and_none_unlimited(self):
        k = self.new_key(rpm=10, tpm=100000)
        r = chat(self.lx, k["key"])
        self.assertEqual(r.status, 200)
        h = r.headers
        self.assertEqual(h["x-ratelimit-limit-requests"], "10")
        self.assertEqual(h["x-ratelimit-remaining-requests"], "9")
        self.assertRegex(h["x-ratelimit-reset-requests"], r"^(\d+ms|(\d+m)?\d+s)$")
        self.assertEqual(h["x-ratelimit-limit-tokens"], "100000")
        rem = int(h["x-ratelimit-remaining-tokens"])
        self.assertTrue(100000 - 200 < rem < 100000, rem)
        self.assertRegex(h["x-ratelimit-reset-tokens"], r"^(\d+ms|(\d+m)?\d+s)$")
        self.settled(f"key:{k['id']}", 2)
        r = chat(self.lx, k["key"], stream=True)
        self.assertEqual(r.status, 200)
        self.assertIn("text/event-stream", r.headers["content-type"])
        self.assertEqual(r.headers["x-ratelimit-remaining-requests"], "8")
        self.settled(f"key:{k['id']}", 3)
        # an upstream error (a 400: a 5xx would cool the shared mock's credential)
        r = chat(self.lx, k["key"], model="demo/mock-model+fault=400")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.headers["x-ratelimit-remaining-requests"], "7")
        self.assertEqual(r.headers["x-ratelimit-limit-tokens"], "100000")
        free = self.new_key()
        r = chat(self.lx, free["key"])
        self.assertEqual(r.status, 200)
        self.assertFalse([n for n in r.headers if n.startswith("x-ratelimit")], r.headers)
        # the strictest level answers: a team with rpm 3 under a key with rpm 10
        t = admin(self.lx, "POST", "/teams", {"name": f"t{time.monotonic_ns()}", "rpm": 3})
        k2 = self.new_key(rpm=10, team_id=t["id"])
        r = chat(self.lx, k2["key"])
        self.assertEqual((r.headers["x-ratelimit-limit-requests"],
                          r.headers["x-ratelimit-remaining-requests"]), ("3", "2"))

    def test_max_parallel_slow_streams(self):
        k = self.new_key(max_parallel=2)
        before = refusals(self.lx, "key", "parallel")
        ts, out = start_streams(self.lx, k["key"], 2)
        wait_for(lambda: in_flight(self.lx, k["key"]) == 2, timeout=5, what="2 in flight")
        r = chat(self.lx, k["key"])
        self.assertEqual(r.status, 429, r)
        err = r.json()["error"]
        self.assertEqual((err["type"], err["code"]), ("rate_limit_error", "rate_limit_exceeded"))
        self.assertIn("2 requests in flight", err["message"])
        self.assertEqual(r.headers["retry-after"], "1")
        r = self.lx.req("POST", "/v1/messages", key=k["key"],
                        body={"model": MODEL, "max_tokens": 8, "messages": MSG})
        self.assertEqual((r.status, r.json()["error"]["type"]), (429, "rate_limit_error"))
        self.assertEqual(refusals(self.lx, "key", "parallel") - before, 2)
        for t in ts:
            t.join()
        self.assertEqual(out, [200, 200])
        wait_for(lambda: in_flight(self.lx, k["key"]) == 0, timeout=5, what="released")
        self.assertEqual(chat(self.lx, k["key"]).status, 200)
        self.assertEqual(in_flight(self.lx, k["key"]), 0)  # released once, not twice

    def test_max_parallel_one_serves_a_sequential_client(self):
        """The place is free before the client sees the end of its answer:
        a client that sends its next request at once is never refused."""
        k = self.new_key(max_parallel=1)
        got = []
        for i in range(60):
            model = ("demo/mock-model+fault=400", MODEL)[i % 2]
            got.append(chat(self.lx, k["key"], model=model, stream=i % 4 == 1).status)
        self.assertEqual(got, [400, 200] * 30)

    def test_max_parallel_released_on_client_abort_and_upstream_error(self):
        k = self.new_key(max_parallel=1)
        for _ in range(3):
            r = chat(self.lx, k["key"], model="demo/mock-model+fault=400")
            self.assertEqual(r.status, 400)
        import socket
        s = socket.create_connection(("127.0.0.1", self.lx.port))
        body = ('{"model":"%s","messages":[{"role":"user","content":"hi"}],"stream":true}'
                % SLOW).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  k["key"].encode() + b"\r\nContent-Type: application/json\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n\r\n" + body)
        wait_for(lambda: in_flight(self.lx, k["key"]) == 1, timeout=5, what="in flight")
        s.close()  # the client leaves mid-stream
        wait_for(lambda: in_flight(self.lx, k["key"]) == 0, timeout=5, what="released")
        self.assertEqual(chat(self.lx, k["key"]).status, 200)

    def test_key_info(self):
        u = admin(self.lx, "POST", "/users", {"name": f"u{time.monotonic_ns()}", "rpm": 50})
        t = admin(self.lx, "POST", "/teams", {"name": f"t{time.monotonic_ns()}", "tpm": 9000,
                                              "max_parallel": 4})
        k = self.new_key(rpm=5, rpd=100, tpm=1000, max_parallel=2, user_id=u["id"],
                         team_id=t["id"], budget_usd=2.5, budget_period="daily")
        self.assertEqual(chat(self.lx, k["key"]).status, 200)
        self.settled(f"key:{k['id']}", 2)
        r = self.lx.req("GET", "/v1/key/info", key=k["key"])
        self.assertEqual(r.status, 200)
        self.assertNotIn(k["key"], r.body.decode())
        self.assertNotIn(k["key"][3:12], r.body.decode())
        j = r.json()
        with open(DOC) as f:
            doc = json.load(f)
        self.assertEqual(conforms(doc, {"$ref": "#/components/schemas/KeyInfo"}, j), [])
        self.assertEqual(conforms(doc, {"$ref": "#/components/schemas/ApiKey"},
                                  admin(self.lx, "GET", f"/keys/{k['id']}")), [])
        self.assertEqual(j["object"], "key_info")
        self.assertEqual((j["key"]["id"], j["key"]["admin"]), (k["id"], False))
        lk, lu, lt = j["levels"]["key"], j["levels"]["user"], j["levels"]["team"]
        self.assertEqual(lk["limits"], {"rpm": 5, "rpd": 100, "tpm": 1000, "max_parallel": 2})
        self.assertEqual((lk["id"], lk["subject"]), (k["id"], f"key:{k['id']}"))
        self.assertEqual(lu["limits"], {"rpm": 50, "rpd": None, "tpm": None,
                                        "max_parallel": None})
        self.assertEqual(lt["limits"], {"rpm": None, "rpd": None, "tpm": 9000,
                                        "max_parallel": 4})
        m = lk["usage"]["requests_minute"]
        self.assertEqual((m["limit"], m["used"], m["remaining"]), (5, 1, 4))
        self.assertRegex(m["reset_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(m["reset"], r"^(\d+ms|(\d+m)?\d+s)$")
        d = lk["usage"]["requests_day"]
        self.assertEqual((d["limit"], d["used"], d["remaining"]), (100, 1, 99))
        self.assertRegex(d["reset"], r"^(\d+h)?(\d+m)?\d+s$|^\d+ms$")
        wait_for(lambda: served_rows(self.lx.db, k["id"]) == 1, timeout=10, what="usage row")
        used = real_tokens(self.lx.db, k["id"])
        wait_for(lambda: info(self.lx, k["key"])["levels"]["key"]["usage"]["tokens_minute"]
                 ["used"] == used, timeout=5, what="tokens settled")
        j = info(self.lx, k["key"])
        self.assertEqual(j["levels"]["team"]["usage"]["tokens_minute"]["used"], used)
        self.assertEqual(j["levels"]["key"]["usage"]["in_flight"], {"limit": 2, "current": 0})
        self.assertIsNone(j["levels"]["user"]["usage"]["in_flight"])
        self.assertEqual(j["levels"]["user"]["usage"]["requests_minute"]["used"], 1)
        # a key without limits, and the admin key
        sp = j["levels"]["key"]["spend"]
        self.assertEqual((sp["budget_usd"], sp["budget_period"]), (2.5, "daily"))
        self.assertRegex(sp["budget_reset_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertGreaterEqual(sp["spend_usd"], 0)
        self.assertEqual(j["levels"]["team"]["spend"]["budget_usd"], None)
        free = self.new_key()
        j = info(self.lx, free["key"])
        self.assertEqual((j["levels"]["user"], j["levels"]["team"]), (None, None))
        lk = j["levels"]["key"]  # no limit: its spend only
        self.assertEqual(lk["limits"], {"rpm": None, "rpd": None, "tpm": None,
                                        "max_parallel": None})
        self.assertEqual(set(lk["usage"].values()), {None})
        self.assertEqual((lk["spend"]["budget_usd"], lk["spend"]["budget_period"],
                          lk["spend"]["budget_reset_at"]), (None, "total", None))
        self.assertEqual(conforms(doc, {"$ref": "#/components/schemas/KeyInfo"}, j), [])
        j = info(self.lx, ADMIN_KEY)
        self.assertEqual((j["key"]["admin"], j["key"]["id"]), (True, None))
        self.assertEqual(conforms(doc, {"$ref": "#/components/schemas/KeyInfo"}, j), [])
        self.assertEqual(self.lx.req("GET", "/v1/key/info", key="nope").status, 401)
        self.assertEqual(self.lx.req("GET", "/v1/key/info", key=None).status, 401)

    def test_sdk_rate_limit_errors(self):
        node = shutil.which("node")
        if node is None or not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "openai")):
            self.skipTest("node or the SDK clients (test/sdk/node_modules) are missing")
        k = self.new_key(rpm=1)
        self.settled(f"key:{k['id']}", 1)
        self.assertEqual(chat(self.lx, k["key"]).status, 200)
        self.settled(f"key:{k['id']}", 1)
        p = subprocess.run([node, os.path.join(SDK_DIR, "limit_errors.mjs")],
                           env={**os.environ, "LLMUX_BASE": self.lx.url, "LLMUX_KEY": k["key"]},
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ok: RateLimitError from both clients", p.stdout)


class TwoInstances(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock, db = Mock(), new_database()
        clock = fixed_rate_clock()
        cls.a = Llmux(db=db, mock=cls.mock, env=clock)
        cls.b = Llmux(db=db, mock=cls.mock, env=clock)
        cls.db = db

    @classmethod
    def tearDownClass(cls):
        assert cls.a.stop() == 0
        assert cls.b.stop() == 0
        cls.mock.stop()

    def new_key(self, **fields):
        k = admin(self.a, "POST", "/keys", {"name": f"k{time.monotonic_ns()}", **fields})
        wait_for(lambda: loaded(self.a, k["key"]) and loaded(self.b, k["key"]), timeout=5,
                 what="key loaded on both")
        return k

    def test_tpm_across_two_instances(self):
        lim = 1000  # slice 50; estimate ~45 (max_tokens 20), real use ~21
        k = self.new_key(tpm=lim)
        results, lock = [], threading.Lock()

        def client(lx, n):
            for _ in range(n):
                s = chat(lx, k["key"], max_tokens=20).status
                with lock:
                    results.append(s)
                time.sleep(0.05)
        threads = [threading.Thread(target=client, args=(lx, 30)) for lx in
                   (self.a, self.b, self.a, self.b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(set(results) - {200, 429}, set(), results)
        served = results.count(200)
        wait_for(lambda: served_rows(self.db, k["id"]) == served, timeout=10, what="usage rows")
        total = real_tokens(self.db, k["id"])
        print(f"tpm {lim} over two instances: {served} served, {total} tokens used")
        # L + I * (S + E_max) (the estimates cover the real use: no excess)
        self.assertLessEqual(total, lim + 2 * (50 + 50))
        self.assertGreaterEqual(total, lim - 2 * (50 + 50))
        self.assertIn(429, results)

    def test_max_parallel_across_two_instances(self):
        k = self.new_key(max_parallel=2)
        ts, out = start_streams(self.a, k["key"], 2)
        # b admits against what a published (every 250 ms)
        wait_for(lambda: in_flight(self.b, k["key"]) == 2, timeout=5, what="b sees a's 2")
        r = chat(self.b, k["key"])
        self.assertEqual(r.status, 429, r)
        self.assertIn("in flight", r.json()["error"]["message"])
        self.assertEqual(chat(self.a, k["key"]).status, 429)
        for t in ts:
            t.join()
        self.assertEqual(out, [200, 200])
        wait_for(lambda: in_flight(self.b, k["key"]) == 0, timeout=5, what="b sees none")
        # one on each side: the third, on either, is refused
        ta, oa = start_streams(self.a, k["key"], 1)
        wait_for(lambda: in_flight(self.b, k["key"]) == 1, timeout=5, what="b sees a's 1")
        tb, ob = start_streams(self.b, k["key"], 1)
        wait_for(lambda: in_flight(self.a, k["key"]) == 2, timeout=5, what="a sees 2")
        self.assertEqual(chat(self.a, k["key"]).status, 429)
        for t in ta + tb:
            t.join()
        self.assertEqual(oa + ob, [200, 200])


class JwtUser(unittest.TestCase):
    """A JWT user's tpm and max_parallel (and its team's rpm) hold like a
    key's; /v1/key/info shows its levels; the headers come with it."""
    SECRET = "an-hs256-secret-of-more-than-32-bytes!!"

    def token(self, sub):
        def b64u(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        now = int(time.time())
        data = (b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." +
                b64u(json.dumps({"iss": "https://idp.test", "aud": "llmux-test", "iat": now,
                                 "exp": now + 300, "sub": sub}).encode())).encode()
        return data.decode() + "." + b64u(hmac.new(self.SECRET.encode(), data,
                                                   hashlib.sha256).digest())

    def test_jwt_user_limits_headers_and_info(self):
        mock = Mock()
        lx = Llmux(db=True, mock=mock, env={
            "LLMUX_JWT_HS256_SECRET": self.SECRET, "LLMUX_JWT_ISSUER": "https://idp.test",
            "LLMUX_JWT_AUDIENCE": "llmux-test", **fixed_rate_clock()})
        try:
            # rpm 1,000: slices of 50, so no request here waits for a lease
            # (with rpm 50, slices of 3, a slow database under a loaded
            # machine answered the fifth request "more allowance is on its
            # way" before the parallel check could)
            t = admin(lx, "POST", "/teams", {"name": "jt", "rpm": 1000})
            u = admin(lx, "POST", "/users", {"name": "jay", "team_id": t["id"], "tpm": 100000,
                                             "max_parallel": 1})
            tok = self.token("jay")
            wait_for(lambda: chat(lx, tok).status == 200, timeout=5, what="jay signs in")
            r = chat(lx, tok)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-ratelimit-limit-tokens"], "100000")
            self.assertEqual(r.headers["x-ratelimit-limit-requests"], "1000")
            j = info(lx, tok)
            self.assertEqual(j["key"], {"id": None, "label": f"user_{u['id']}", "admin": False})
            self.assertIsNone(j["levels"]["key"])
            self.assertEqual(j["levels"]["user"]["limits"]["tpm"], 100000)
            self.assertEqual(j["levels"]["team"]["limits"]["rpm"], 1000)
            ts, out = start_streams(lx, tok, 1)
            wait_for(lambda: info(lx, tok)["levels"]["user"]["usage"]["in_flight"]["current"]
                     == 1, timeout=5, what="in flight")
            r = chat(lx, tok)
            self.assertEqual(r.status, 429, r)
            self.assertIn("this user: 1 requests in flight", r.json()["error"]["message"])
            for th in ts:
                th.join()
            self.assertEqual(out, [200])
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()


if __name__ == "__main__":
    unittest.main()
