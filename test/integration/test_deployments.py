"""Cooling, breakers and holds are kept per deployment (credential x
upstream model): what the upstream said about model A changes nothing for
model B on the same credential, except for the signals that really are about
the whole credential (quota exhausted, 401, connect failures). Every provider
here has ONE credential; the mock fails per model through options in the
model name (e.g. "a+fault=429")."""
import json
import unittest

from harness import Llmux, Mock, free_port, wait_for

MSG = [{"role": "user", "content": "hi"}]


class Deployments(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        # one attempt per request (no retry on the same target) so that five
        # requests are five failures; the default breaker threshold (5)
        cls.lx = Llmux(db=True, mock=cls.mock, env={"LLMUX_RETRY_SAME": "0",
                                                    "LLMUX_BREAKER_FAILURES": "5",
                                                    "LLMUX_BREAKER_OPEN_MS": "30000"})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def admin(self, method, path, body=None):
        r = self.lx.req(method, "/api/v1/admin/ai" + path, body=body)
        self.assertLess(r.status, 300, r)
        return r.json()

    def provider(self, name, base_url=None, kind="openai_compatible"):
        """A provider with a single credential, created disabled and enabled
        last (a snapshot that has it enabled has its credential too)."""
        p = self.admin("POST", "/providers", {
            "name": name, "kind": kind,
            "base_url": base_url or self.mock.url + "/v1", "status": "disabled"})
        self.admin("POST", "/connections", {"provider_id": p["id"], "name": "only",
                                            "api_key": "sk-" + name})
        self.admin("PATCH", f"/providers/{p['id']}", {"status": "active"})

        def ready():  # refused by the provider filter: no attempt, no state touched
            r = self.lx.chat({"model": f"{name}/probe", "messages": MSG},
                             headers={"x-llmux-provider": "nobody"})
            return r.status == 404 and "requested provider" in r.json()["error"]["message"]
        wait_for(ready, timeout=3, what="provider loaded")
        return p

    def sent_models(self):
        return [json.loads(r["body"])["model"] for r in self.mock.requests()]

    def test_gemini_429_on_a_leaves_b_served(self):
        # Gemini's 429 says RESOURCE_EXHAUSTED and "quota" for what is one
        # model's per-minute limit: not the credential's credit
        self.provider("dgem", base_url=self.mock.url, kind="gemini")
        r = self.lx.chat({"model": "dgem/a+fault=429+retry_after=30", "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.mock.reset()
        r = self.lx.chat({"model": "dgem/b+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.mock.requests()), 1)

    def test_429_on_a_leaves_b_served(self):
        self.provider("d429")
        r = self.lx.chat({"model": "d429/a+fault=429+retry_after=30", "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.mock.reset()
        r = self.lx.chat({"model": "d429/b+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sent_models(), ["b+chunks=1"])  # the mock saw it
        # A itself is cooling: refused locally, Retry-After from A's cooling
        self.mock.reset()
        r = self.lx.chat({"model": "d429/a+fault=429+retry_after=30", "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.assertIn("cooling", r.json()["error"]["message"])
        self.assertGreater(int(r.headers["retry-after"]), 20)
        self.assertLessEqual(int(r.headers["retry-after"]), 30)
        # the same refusal in the Anthropic wire's shape
        r = self.lx.req("POST", "/v1/messages", body={
            "model": "d429/a+fault=429+retry_after=30", "max_tokens": 16, "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()["type"], "error")
        self.assertEqual(r.json()["error"]["type"], "rate_limit_error")
        self.assertGreater(int(r.headers["retry-after"]), 20)
        self.assertEqual(self.sent_models(), [])  # upstream spared
        # and B is still served
        self.assertEqual(self.lx.chat({"model": "d429/b+chunks=1", "messages": MSG}).status, 200)

    def test_5xx_opens_only_that_deployments_breaker(self):
        self.provider("d500")
        for _ in range(5):
            r = self.lx.chat({"model": "d500/a+fault=500", "messages": MSG})
            self.assertEqual(r.status, 500, r)
        self.mock.reset()
        r = self.lx.chat({"model": "d500/a+fault=500", "messages": MSG})
        self.assertEqual(r.status, 503, r)
        self.assertIn("circuit breaker", r.json()["error"]["message"])
        self.assertEqual(self.sent_models(), [])  # A refused locally
        r = self.lx.chat({"model": "d500/b+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sent_models(), ["b+chunks=1"])

    def test_group_falls_back_past_an_open_deployment(self):
        p = self.provider("dgrp")
        g = self.admin("POST", "/groups", {"name": "dgroup", "strategy": "priority",
                                           "status": "disabled"})
        for up, prio in (("a+fault=500", 0), ("b+chunks=1", 1)):
            self.admin("POST", f"/groups/{g['id']}/members", {
                "provider_id": p["id"], "upstream_name": up, "weight": 1, "priority": prio})
        self.admin("PATCH", f"/groups/{g['id']}", {"status": "active"})
        wait_for(lambda: self.lx.chat({"model": "dgroup", "messages": MSG}).status == 200,
                 timeout=3, what="group loaded")
        # every request tries A first and falls back to B, until A's breaker opens
        for _ in range(5):
            r = self.lx.chat({"model": "dgroup", "messages": MSG})
            self.assertEqual(r.status, 200, r)
        self.mock.reset()
        r = self.lx.chat({"model": "dgroup", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-attempts"], "1")
        self.assertEqual(self.sent_models(), ["b+chunks=1"])

    def test_group_all_cooling_retry_after_is_the_soonest_end(self):
        p = self.provider("dgcool")
        g = self.admin("POST", "/groups", {"name": "dgcool", "strategy": "priority",
                                           "status": "disabled"})
        for up, prio in (("a+fault=429+retry_after=40", 0), ("b+fault=429+retry_after=20", 1)):
            self.admin("POST", f"/groups/{g['id']}/members", {
                "provider_id": p["id"], "upstream_name": up, "weight": 1, "priority": prio})
        self.admin("PATCH", f"/groups/{g['id']}", {"status": "active"})
        wait_for(lambda: self.lx.chat({"model": "dgcool", "messages": MSG}).status == 429,
                 timeout=3, what="group loaded")
        self.mock.reset()
        r = self.lx.chat({"model": "dgcool", "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.assertIn("cooling", r.json()["error"]["message"])
        ra = int(r.headers["retry-after"])
        self.assertGreater(ra, 10)  # B's cooling (20 s), the sooner one
        self.assertLessEqual(ra, 20)
        self.assertEqual(self.sent_models(), [])

    def test_403_on_a_leaves_b_served(self):
        self.provider("d403")
        r = self.lx.chat({"model": "d403/a+fault=403", "messages": MSG})
        self.assertEqual(r.status, 403, r)
        self.mock.reset()
        r = self.lx.chat({"model": "d403/b+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sent_models(), ["b+chunks=1"])
        # A itself is held out
        r = self.lx.chat({"model": "d403/a+fault=403", "messages": MSG})
        self.assertEqual(r.status, 503, r)
        self.assertEqual(self.sent_models(), ["b+chunks=1"])

    def test_quota_on_a_holds_b_too(self):
        self.provider("dquota")
        r = self.lx.chat({"model": "dquota/a+fault=quota", "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.mock.reset()
        r = self.lx.chat({"model": "dquota/b+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 429, r)
        self.assertIn("cooling", r.json()["error"]["message"])
        self.assertGreaterEqual(int(r.headers["retry-after"]), 1)
        self.assertEqual(self.sent_models(), [])

    def test_401_on_a_holds_b_too(self):
        self.provider("d401")
        r = self.lx.chat({"model": "d401/a+fault=401", "messages": MSG})
        self.assertGreaterEqual(r.status, 400, r)
        self.mock.reset()
        r = self.lx.chat({"model": "d401/b+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 503, r)
        self.assertIn("credential", r.json()["error"]["message"])
        self.assertEqual(self.sent_models(), [])

    def test_connect_failures_hold_the_whole_credential(self):
        dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
        self.provider("dconn", base_url=dead)
        for _ in range(5):
            r = self.lx.chat({"model": "dconn/a", "messages": MSG})
            self.assertEqual(r.status, 502, r)
        r = self.lx.chat({"model": "dconn/b", "messages": MSG})
        self.assertEqual(r.status, 503, r)
        self.assertIn("circuit breaker", r.json()["error"]["message"])

    def test_most_deployments_failing_takes_the_credential_out(self):
        self.provider("dmost")
        self.assertEqual(self.lx.chat({"model": "dmost/c+chunks=1", "messages": MSG}).status, 200)
        for model in ("a+fault=500", "b+fault=502"):
            for _ in range(5):
                self.lx.chat({"model": "dmost/" + model, "messages": MSG})
        # two of the three deployments that saw traffic have an open breaker
        self.mock.reset()
        r = self.lx.chat({"model": "dmost/c+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 503, r)
        self.assertIn("circuit breaker", r.json()["error"]["message"])
        self.assertEqual(self.sent_models(), [])


if __name__ == "__main__":
    unittest.main()
