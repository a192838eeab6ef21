"""SSRF and admin-set URLs: the network policy checked when curl opens an
upstream socket (upstream.denied_networks / allowed_networks and the
built-in link-local/metadata deny), base_url without credentials, query or
fragment (config and admin API), extra_headers write-only.

Only loopback is ever connected to: the link-local case is refused before
any socket exists."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import LLMUX_BIN, Llmux, Mock

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hello"}]


def run(args, env=None, timeout=20):
    e = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
    for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY",
              "OPENAI_BASE_URL"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([LLMUX_BIN, *args], env=e, capture_output=True, text=True,
                          timeout=timeout)


class Policy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.tmp = tempfile.mkdtemp(prefix="lx-ssrf-")
        cls.cfg = os.path.join(cls.tmp, "llmux.json")
        with open(cls.cfg, "w") as f:
            json.dump({"providers": {
                # the cloud metadata address: refused by the built-in rule
                "meta": {"kind": "openai_compatible", "base_url": "http://169.254.169.254:1/v1",
                         "connect_timeout_ms": 20000},
            }}, f)

    @classmethod
    def tearDownClass(cls):
        assert cls.mock.stop() == 0
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, env):
        e = {"LLMUX_BREAKER_FAILURES": "0", "LLMUX_RETRY_SAME": "0"}
        e.update(env)
        return Llmux(mock=self.mock, args=("--config", self.cfg), env=e)

    def test_denied_networks_refuse_loopback_before_any_connection(self):
        lx = self.start({"LLMUX_UPSTREAM_DENIED_NETWORKS": "10.0.0.0/8, 127.0.0.0/8"})
        try:
            self.mock.reset()
            r = lx.chat({"model": "demo/mock-model", "messages": MSG})
            self.assertEqual(r.status, 502, r)
            msg = r.json()["error"]["message"]
            self.assertEqual(msg, "upstream address 127.0.0.1 of provider demo refused by the "
                                  "network policy (upstream.denied_networks)")
            # streams too, and the mock never saw a request
            r = lx.chat({"model": "demo/mock-model", "messages": MSG, "stream": True})
            self.assertEqual(r.status, 502, r)
            self.assertIn("refused by the network policy", r.json()["error"]["message"])
            self.assertEqual(self.mock.stats()["requests_total"], 0)
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_denied_beats_allowed(self):
        lx = self.start({"LLMUX_UPSTREAM_DENIED_NETWORKS": "127.0.0.0/8",
                         "LLMUX_UPSTREAM_ALLOWED_NETWORKS": "127.0.0.1/32"})
        try:
            r = lx.chat({"model": "demo/mock-model", "messages": MSG})
            self.assertEqual(r.status, 502, r)
            self.assertIn("(upstream.denied_networks)", r.json()["error"]["message"])
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_metadata_address_refused_by_default_and_quickly(self):
        lx = self.start({})
        try:
            t0 = time.monotonic()
            r = lx.chat({"model": "meta/some-model", "messages": MSG})
            took = time.monotonic() - t0
            self.assertEqual(r.status, 502, r)
            msg = r.json()["error"]["message"]
            self.assertIn("upstream address 169.254.169.254 of provider meta refused by the "
                          "network policy (built-in", msg)
            self.assertIn("upstream.allowed_networks", msg)
            self.assertLess(took, 3.0)  # refused, not a connect timeout
            # loopback stays allowed by default
            r = lx.chat({"model": "demo/mock-model", "messages": MSG})
            self.assertEqual(r.status, 200, r)
        finally:
            self.assertEqual(lx.stop(), 0)


class Config(unittest.TestCase):
    def test_check_config_names_bad_base_url_and_networks(self):
        cases = [
            ({"OPENAI_BASE_URL": "https://user:pw@api.example.com/v1"},
             "providers.openai.base_url", "user:password@"),
            ({"OPENAI_BASE_URL": "https://api.example.com/v1?key=x"},
             "providers.openai.base_url", "query"),
            ({"OPENAI_BASE_URL": "https://api.example.com/v1#x"},
             "providers.openai.base_url", "fragment"),
            ({"LLMUX_UPSTREAM_DENIED_NETWORKS": "10.0.0.0/33"},
             "LLMUX_UPSTREAM_DENIED_NETWORKS", "10.0.0.0/33"),
            ({"LLMUX_UPSTREAM_ALLOWED_NETWORKS": "10.0.0.1/8"},
             "LLMUX_UPSTREAM_ALLOWED_NETWORKS", "10.0.0.1/8"),
        ]
        for env, field, part in cases:
            r = run(["check-config"], env)
            self.assertEqual(r.returncode, 2, (env, r.stdout, r.stderr))
            self.assertIn(field, r.stderr, env)
            self.assertIn(part, r.stderr, env)
            self.assertNotIn("pw@", r.stderr)

    def test_networks_in_the_config_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"upstream": {"denied_networks": ["10.0.0.0/8", "fd00::/8"],
                                    "allowed_networks": "169.254.10.0/24"}}, f)
        try:
            self.assertEqual(run(["check-config", "--config", f.name]).returncode, 0)
        finally:
            os.unlink(f.name)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"upstream": {"denied_networks": ["10.0.0.0/8", "nope"]}}, f)
        try:
            r = run(["check-config", "--config", f.name])
            self.assertEqual(r.returncode, 2)
            self.assertIn("upstream.denied_networks", r.stderr)
        finally:
            os.unlink(f.name)


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock,
                       env={"LLMUX_UPSTREAM_DENIED_NETWORKS": "127.0.0.2/32"})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0

    def call(self, method, path, body=None):
        return self.lx.req(method, API + path, body=body)

    def test_base_url_with_credentials_query_or_fragment_is_400(self):
        for url, part in (("https://user:pw@api.example.com/v1", "user:password@"),
                          ("https://tok@api.example.com/v1", "user:password@"),
                          ("https://api.example.com/v1?key=x", "query"),
                          ("https://api.example.com/v1#frag", "fragment")):
            body = {"name": "p-url", "kind": "openai", "base_url": url}
            r = self.call("POST", "/providers", body)
            self.assertEqual(r.status, 400, (url, r))
            err = r.json()["error"]
            self.assertEqual(err["param"], "base_url", err)
            self.assertIn(part, err["message"])
            self.assertNotIn("pw", err["message"])
        ok = self.call("POST", "/providers", {"name": "p-url-ok", "kind": "openai",
                                              "base_url": "https://api.example.com/v1"})
        self.assertEqual(ok.status, 201, ok)
        r = self.call("PATCH", f"/providers/{ok.json()['id']}",
                      {"base_url": "http://a:b@127.0.0.1/v1"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "base_url")

    def test_extra_headers_are_write_only(self):
        secret = "hdr-token-0123456789"
        r = self.call("POST", "/providers", {"name": "p-hdr", "kind": "openai_compatible",
                                             "base_url": self.mock.url + "/v1",
                                             "extra_headers": {"X-Test-Token": secret}})
        self.assertEqual(r.status, 201, r)
        self.assertNotIn(secret.encode(), r.body)
        self.assertEqual(r.json()["extra_headers"], {"X-Test-Token": "***"})
        pid = r.json()["id"]
        for path in (f"/providers/{pid}", "/providers?name=p-hdr"):
            got = self.call("GET", path)
            self.assertEqual(got.status, 200, got)
            self.assertNotIn(secret.encode(), got.body)
            self.assertIn(b'"X-Test-Token": "***"'.replace(b" ", b""),
                          got.body.replace(b" ", b""))
        upd = self.call("PATCH", f"/providers/{pid}", {"status": "active"})
        self.assertNotIn(secret.encode(), upd.body)
        # the value still reaches upstream
        self.call("POST", "/models", {"provider_id": pid, "upstream_name": "mock-model"})
        self.mock.reset()
        for _ in range(50):  # the registry reloads on NOTIFY
            r = self.lx.chat({"model": "p-hdr/mock-model", "messages": MSG})
            if r.status == 200:
                break
            time.sleep(0.1)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.mock.last()["headers"].get("x-test-token"), secret)

    def test_extra_headers_control_characters_are_400(self):
        for v in ("a\rb", "a\nb", "a\x00b", "a\x01b", "a\x7fb", "a\x1bb"):
            r = self.call("POST", "/providers", {"name": "p-ctl", "kind": "openai",
                                                 "base_url": "https://api.example.com/v1",
                                                 "extra_headers": {"X-A": v}})
            self.assertEqual(r.status, 400, (v, r))
            if v != "a\x00b":  # NUL: the JSON parser refuses it first
                self.assertEqual(r.json()["error"]["param"], "extra_headers")
        r = self.call("POST", "/providers", {"name": "p-ctl", "kind": "openai",
                                             "base_url": "https://api.example.com/v1",
                                             "extra_headers": {"X-A": "a\tb c"}})
        self.assertEqual(r.status, 201, r)

    def test_connection_test_names_the_policy(self):
        port = self.mock.port
        p = self.call("POST", "/providers", {"name": "p-denied", "kind": "openai_compatible",
                                             "base_url": f"http://127.0.0.2:{port}/v1"})
        self.assertEqual(p.status, 201, p)
        c = self.call("POST", "/connections", {"provider_id": p.json()["id"], "name": "x"})
        self.assertEqual(c.status, 201, c)
        r = self.call("POST", f"/connections/{c.json()['id']}/test")
        self.assertEqual(r.status, 200, r)
        res = r.json()
        self.assertFalse(res["ok"])
        self.assertEqual(res["error"], "upstream address 127.0.0.2 of provider p-denied refused "
                                       "by the network policy (upstream.denied_networks)")


if __name__ == "__main__":
    unittest.main()
