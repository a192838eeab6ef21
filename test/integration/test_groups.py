"""Model groups through the real request path: a public name backed by
members, each strategy distributing as specified (statistical assertions
over many requests), and the remaining members as the fallback order."""
import collections
import threading
import unittest

from harness import Llmux, Mock, wait_for

MSG = [{"role": "user", "content": "hi"}]


class Groups(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env={"LLMUX_BREAKER_FAILURES": "0"})
        p = cls.admin("POST", "/providers", {"name": "grp", "kind": "openai_compatible",
                                             "base_url": cls.mock.url + "/v1"})
        cls.pid = p["id"]

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    @classmethod
    def admin(cls, method, path, body=None):
        r = cls.lx.req(method, "/api/v1/admin/ai" + path, body=body)
        assert r.status < 300, r
        return r.json()

    def group(self, name, strategy, members):
        """members: (upstream_name, weight, priority). Created disabled and
        enabled last, so the snapshot that serves it has every member."""
        g = self.admin("POST", "/groups", {"name": name, "strategy": strategy,
                                           "status": "disabled"})
        for up, weight, prio in members:
            self.admin("POST", f"/groups/{g['id']}/members", {
                "provider_id": self.pid, "upstream_name": up, "weight": weight,
                "priority": prio})
        self.admin("PATCH", f"/groups/{g['id']}", {"status": "active"})
        wait_for(lambda: self.lx.chat({"model": name, "messages": MSG}).status == 200,
                 timeout=3, what=f"group {name} loaded")
        return g

    def spread(self, name, n, **kw):
        seen = collections.Counter()
        for _ in range(n):
            r = self.lx.chat({"model": name, "messages": MSG}, **kw)
            self.assertEqual(r.status, 200, r)
            seen[r.headers["x-llmux-model"]] += 1
        return seen

    def test_round_robin_is_an_exact_cycle(self):
        self.group("rr", "round_robin", [("a+chunks=1", 1, 0), ("b+chunks=1", 1, 0),
                                         ("c+chunks=1", 1, 0)])
        seen = self.spread("rr", 30)
        self.assertEqual(sorted(seen.values()), [10, 10, 10], seen)

    def test_smooth_weighted(self):
        self.group("swrr", "smooth_weighted", [("a+chunks=1", 5, 0), ("b+chunks=1", 1, 0),
                                               ("c+chunks=1", 1, 0)])
        seen = self.spread("swrr", 70)
        self.assertEqual(seen["a+chunks=1"], 50, seen)
        self.assertEqual(seen["b+chunks=1"], 10, seen)
        self.assertEqual(seen["c+chunks=1"], 10, seen)

    def test_weighted_random(self):
        self.group("wr", "weighted_random", [("a+chunks=1", 3, 0), ("b+chunks=1", 1, 0)])
        seen = self.spread("wr", 400)
        share = seen["a+chunks=1"] / 400
        self.assertGreater(share, 0.64, seen)  # 0.75 expected; 5 sigma is ~0.11 (0.68 failed once)
        self.assertLess(share, 0.86, seen)  # an even split (0.5) still fails

    def test_priority_with_failover(self):
        self.group("prio", "priority", [("first+chunks=1+fault=503", 1, 0),
                                        ("second+chunks=1", 1, 1), ("third+chunks=1", 1, 2)])
        for _ in range(5):
            r = self.lx.chat({"model": "prio", "messages": MSG})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-llmux-model"], "second+chunks=1")
            self.assertIn("503", r.headers["x-llmux-fallback-reason"])

    def test_lowest_cost(self):
        for up, price in (("dear+chunks=1", 30.0), ("cheap+chunks=1", 1.0)):
            self.admin("POST", "/models", {"provider_id": self.pid, "upstream_name": up,
                                           "input_cost_per_1m": price,
                                           "output_cost_per_1m": price})
        self.group("cost", "lowest_cost", [("dear+chunks=1", 1, 0), ("cheap+chunks=1", 1, 0)])
        seen = self.spread("cost", 20)
        self.assertEqual(seen["cheap+chunks=1"], 20, seen)

    def test_least_latency(self):
        self.group("fast", "least_latency", [("slow+chunks=1+latency_ms=150", 1, 0),
                                             ("quick+chunks=1", 1, 0)])
        seen = self.spread("fast", 30)
        self.assertGreaterEqual(seen["quick+chunks=1"], 26, seen)  # slow is only sampled

    def test_least_busy(self):
        self.group("busy", "least_busy", [("a+chunks=2+gap_ms=400", 1, 0),
                                          ("b+chunks=2+gap_ms=400", 1, 0)])
        # four concurrent slow streams, each started once the one before it is
        # in flight upstream (two workers picking at the same instant could
        # both see the same counts): least busy spreads them 2 and 2
        seen = collections.Counter()
        lock = threading.Lock()

        def one():
            r = self.lx.chat({"model": "busy", "messages": MSG, "stream": True})
            with lock:
                seen[r.headers.get("x-llmux-model")] += 1

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            started = self.mock.stats()["streams_started"]
            t.start()
            wait_for(lambda: self.mock.stats()["streams_started"] > started, timeout=5,
                     what="the stream in flight upstream")
        for t in threads:
            t.join()
        self.assertEqual(sorted(seen.values()), [2, 2], seen)

    def test_provider_header_picks_members(self):
        other = self.admin("POST", "/providers", {"name": "grp2", "kind": "openai_compatible",
                                                  "base_url": self.mock.url + "/v1"})
        g = self.admin("POST", "/groups", {"name": "pref", "strategy": "round_robin",
                                           "status": "disabled"})
        for pid, up in ((self.pid, "one+chunks=1"), (other["id"], "two+chunks=1")):
            self.admin("POST", f"/groups/{g['id']}/members", {
                "provider_id": pid, "upstream_name": up, "weight": 1, "priority": 0})
        self.admin("PATCH", f"/groups/{g['id']}", {"status": "active"})
        wait_for(lambda: self.lx.chat({"model": "pref", "messages": MSG}).status == 200,
                 timeout=3, what="group loaded")
        for _ in range(6):
            r = self.lx.chat({"model": "pref", "messages": MSG},
                             headers={"x-llmux-provider": "grp2"})
            self.assertEqual(r.headers["x-llmux-provider"], "grp2")
        r = self.lx.chat({"model": "pref", "messages": MSG},
                         headers={"x-llmux-provider": "nobody"})
        self.assertEqual(r.status, 404, r)
        # explicit provider/model with a header naming another provider
        r = self.lx.chat({"model": "grp/x+chunks=1", "messages": MSG},
                         headers={"x-llmux-provider": "grp2"})
        self.assertEqual(r.status, 404, r)

    def test_capability_filter(self):
        self.admin("POST", "/models", {"provider_id": self.pid, "upstream_name": "plain",
                                       "capabilities": ["chat", "stream"]})
        tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
        # once the model (chat + stream only) is in the snapshot, tools are refused
        wait_for(lambda: self.lx.chat({"model": "grp/plain", "messages": MSG,
                                       "tools": tools}).status == 400, timeout=3,
                 what="the capability filter on the new model")
        r = self.lx.chat({"model": "grp/plain", "messages": MSG, "tools": tools})
        self.assertEqual(r.status, 400, r)
        self.assertIn("does not support", r.json()["error"]["message"])
        img = [{"role": "user", "content": [{"type": "image_url",
                                             "image_url": {"url": "https://x/y.png"}}]}]
        self.assertEqual(self.lx.chat({"model": "grp/plain", "messages": img}).status, 400)
        r = self.lx.chat({"model": "grp/plain", "messages": MSG,
                          "response_format": {"type": "json_object"}})
        self.assertEqual(r.status, 400)
        # the same requests to a model that has the capabilities go through
        self.assertEqual(self.lx.chat({"model": "demo/mock-model", "messages": MSG,
                                       "tools": tools}).status, 200)

    def test_cheapest_when_asked_across_providers(self):
        ids = []
        for name, price in (("dearp", 9.0), ("cheapp", 1.0)):
            p = self.admin("POST", "/providers", {"name": name, "kind": "openai_compatible",
                                                  "base_url": self.mock.url + "/v1"})
            self.admin("POST", "/models", {"provider_id": p["id"], "upstream_name": "duo+chunks=1",
                                           "public_name": "duo", "input_cost_per_1m": price,
                                           "output_cost_per_1m": price})
            ids.append(p["id"])
        # The set must name both providers: a 404 (the name not yet in the
        # snapshot) has no x-llmux-provider, and {None, "dearp"} once let the
        # test go on before cheapp was loaded.
        wait_for(lambda: {self.lx.chat({"model": "duo", "messages": MSG})
                          .headers.get("x-llmux-provider") for _ in range(12)}
                 == {"dearp", "cheapp"}, timeout=5, what="both providers serving the public name")
        for _ in range(10):
            r = self.lx.chat({"model": "duo", "messages": MSG},
                             headers={"x-llmux-route": "cheapest"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-llmux-provider"], "cheapp")

    def test_key_allowed_provider_wildcard(self):
        k = self.admin("POST", "/keys", {"name": "grp only", "allowed_models": ["grp/*"]})
        key = k["key"]
        wait_for(lambda: self.lx.chat({"model": "grp/any+chunks=1", "messages": MSG},
                                      key=key).status == 200, timeout=3, what="key loaded")
        r = self.lx.chat({"model": "demo/mock-model", "messages": MSG}, key=key)
        self.assertEqual(r.status, 403, r)
        r = self.lx.chat({"model": "grpx/m", "messages": MSG}, key=key)
        self.assertEqual(r.status, 403, r)  # a prefix of another name does not count

    def test_group_fallback_order_covers_every_member(self):
        self.group("allbad", "round_robin", [("x+fault=503", 1, 0), ("y+fault=503", 1, 0),
                                             ("z+chunks=1", 1, 0)])
        r = self.lx.chat({"model": "allbad", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-model"], "z+chunks=1")



class ConfigGroups(unittest.TestCase):
    """Groups declared in the config file: served without a database, and
    synced into it (visible to the admin API) with one."""

    def run_with(self, db):
        import json as _json
        import tempfile
        mock = Mock()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            _json.dump({"groups": {"smart": {"strategy": "round_robin", "members": [
                {"provider": "demo", "model": "one+chunks=1"},
                {"provider": "demo", "model": "two+chunks=1"}]}}}, f)
        lx = Llmux(db=db, mock=mock, env={"LLMUX_CONFIG": f.name})
        try:
            seen = collections.Counter(
                lx.chat({"model": "smart", "messages": MSG}).headers.get("x-llmux-model")
                for _ in range(10))
            self.assertEqual(seen, {"one+chunks=1": 5, "two+chunks=1": 5}, seen)
            if db:
                groups = lx.req("GET", "/api/v1/admin/ai/groups").json()["data"]
                smart = [g for g in groups if g["name"] == "smart"]
                self.assertEqual(len(smart), 1)
                self.assertEqual(smart[0]["strategy"], "round_robin")
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()

    def test_without_database(self):
        self.run_with(False)

    def test_synced_into_database(self):
        self.run_with(True)

    def test_bad_strategy_names_the_field(self):
        import json as _json
        import os
        import subprocess
        import tempfile
        from harness import LLMUX_BIN
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            _json.dump({"providers": {"p": {"base_url": "http://127.0.0.1:1/v1"}},
                        "groups": {"g": {"strategy": "fastest", "members": [
                            {"provider": "p", "model": "m"}]}}}, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
        r = subprocess.run([LLMUX_BIN, "check-config", "--config", f.name], env=env,
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("groups.g.strategy", r.stderr)


if __name__ == "__main__":
    unittest.main()
