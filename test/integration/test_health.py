"""The health monitor (worker 0's timer): probes of open breakers without any
client traffic, no probes of healthy connections, and the success / error
counters written back to ai_connections in batches (also across a database
outage). The mock fails per credential through options in the key
("sk-a+fault=500"); GET /models ignores those options, so the Anthropic-kind
provider (probed with a one-token chat) is the one that shows a probe
failing while the upstream is still broken."""
import json
import time
import unittest

from harness import Llmux, Mock, PrivatePostgres, free_port, psql, wait_for

MSG = [{"role": "user", "content": "hi"}]
ENV = {"LLMUX_BREAKER_FAILURES": "3", "LLMUX_BREAKER_OPEN_MS": "300"}


def log_events(lx, msg, cid=None):
    out = []
    for line in lx.log().splitlines():
        if not line.startswith("{"):
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("msg") == msg and (cid is None or ev.get("connection_id") == cid):
            out.append(ev)
    return out


class Admin:
    """Providers and connections through the admin API (self.lx, self.mock)."""

    def admin(self, method, path, body=None):
        r = self.lx.req(method, "/api/v1/admin/ai" + path, body=body)
        self.assertLess(r.status, 300, r)
        return r.json()

    def provider(self, name, keys, kind="openai_compatible", base_url=None):
        """A provider on the mock (or at base_url) with one connection per key;
        created disabled and enabled last, so a snapshot that has it has all
        its connections."""
        p = self.admin("POST", "/providers", {"name": name, "kind": kind,
                                              "base_url": base_url or self.mock.url + "/v1",
                                              "status": "disabled"})
        conns = [self.admin("POST", "/connections", {"provider_id": p["id"], "name": f"c{i}",
                                                     "api_key": key, "priority": i})
                 for i, key in enumerate(keys)]
        self.admin("PATCH", f"/providers/{p['id']}", {"status": "active"})

        def ready():
            if base_url is None:  # a 400 from the mock: used, counted nowhere
                return self.lx.chat({"model": f"{name}/probe+fault=400",
                                     "messages": MSG}).status == 400
            # nothing listens there: refused by the provider filter instead
            r = self.lx.chat({"model": f"{name}/probe", "messages": MSG},
                             headers={"x-llmux-provider": "nobody"})
            return r.status == 404 and "requested provider" in r.json()["error"]["message"]
        wait_for(ready, timeout=3, what="provider loaded")
        return p, [c["id"] for c in conns]

    def dead_url(self):
        """A base URL where nothing listens: connect failures, which open the
        credential's own breaker (a 5xx opens only that model's)."""
        return f"http://127.0.0.1:{free_port()}/v1"

    def retire(self, p):
        """No more probes of this provider's connections."""
        self.admin("PATCH", f"/providers/{p['id']}", {"status": "disabled"})

    def open_breaker(self, model):
        """Failing requests until the breaker refuses the next one."""
        for _ in range(5):
            r = self.lx.chat({"model": model, "messages": MSG})
            if r.status == 503 and "circuit breaker" in r.json()["error"]["message"]:
                return
            self.assertIn(r.status, (500, 502, 503), r)
        self.fail("the breaker did not open")

    def key_requests(self, key):
        return [r for r in self.mock.requests()
                if key in (r["headers"].get("authorization", "")[7:],
                           r["headers"].get("x-api-key", ""))]


class Probes(Admin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=ENV)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def test_probe_closes_the_breaker_without_traffic(self):
        p, (cid,) = self.provider("hp", ["sk-hp-fixed"], base_url=self.dead_url())
        self.open_breaker("hp/m")
        self.assertEqual(log_events(self.lx, "breaker closed by a health probe", cid), [])
        # the upstream is reachable again; no client request from here on
        self.admin("PATCH", f"/providers/{p['id']}", {"base_url": self.mock.url + "/v1"})
        t0 = time.monotonic()
        ev = wait_for(lambda: log_events(self.lx, "breaker closed by a health probe", cid),
                      timeout=4, what="probe closes the breaker")[0]
        self.assertLess(time.monotonic() - t0, 3.5)
        self.assertEqual(ev["provider"], "hp")
        self.assertEqual(ev["connection"], "c0")
        self.assertEqual(ev["probe"], "models")
        self.assertEqual(ev["status"], 200)
        self.assertNotIn("sk-hp", self.lx.log())  # never the key
        probes = [r for r in self.mock.requests() if r["path"] == "/v1/models"]
        self.assertTrue(probes)
        self.assertEqual(probes[-1]["method"], "GET")
        # the breaker is closed: the next request goes straight through
        r = self.lx.chat({"model": "hp/m+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-attempts"], "1")
        self.assertTrue(log_events(self.lx, "breaker opened", cid))
        self.retire(p)

    def test_failing_probe_keeps_it_open_until_fixed(self):
        p, (cid,) = self.provider("ha", ["sk-ha+fault=500"], kind="anthropic",
                                  base_url=self.dead_url())
        self.open_breaker("ha/m")
        # reachable but still broken: the probes (a one-token chat) fail with a
        # 500, the breaker stays open
        self.admin("PATCH", f"/providers/{p['id']}", {"base_url": self.mock.url + "/v1"})
        wait_for(lambda: log_events(self.lx, "health probe failed: breaker open again", cid),
                 timeout=4, what="a failed probe")
        self.assertEqual(log_events(self.lx, "breaker closed by a health probe", cid), [])
        sent = self.key_requests("sk-ha+fault=500")
        probe = [r for r in sent if '"max_tokens": 1' in r["body"] or
                 '"max_tokens":1' in r["body"]]
        self.assertTrue(probe, sent)
        self.assertTrue(probe[-1]["path"].endswith("/messages"))
        self.admin("PATCH", f"/connections/{cid}", {"api_key": "sk-ha-fixed"})
        ev = wait_for(lambda: log_events(self.lx, "breaker closed by a health probe", cid),
                      timeout=4, what="probe closes the breaker")[0]
        self.assertEqual(ev["probe"], "chat")
        r = self.lx.chat({"model": "ha/m+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-attempts"], "1")
        self.retire(p)

    def test_healthy_connection_is_not_probed(self):
        p, (cid,) = self.provider("hh", ["sk-hh"])
        r = self.lx.chat({"model": "hh/m+chunks=1", "messages": MSG})
        self.assertEqual(r.status, 200)
        before = len(self.key_requests("sk-hh"))
        time.sleep(2.2)  # two ticks at least
        self.assertEqual(len(self.key_requests("sk-hh")), before)
        for msg in ("breaker opened", "breaker closed by a health probe", "health probe failed: "
                    "breaker open again", "health probe inconclusive"):
            self.assertEqual(log_events(self.lx, msg, cid), [], msg)
        self.retire(p)


def counters(db, cid):
    return psql(db, "SELECT success_count, error_count, last_used_at IS NOT NULL, "
                    "last_error_at IS NOT NULL, coalesce(last_error, '') "
                    f"FROM ai_connections WHERE id = {cid}").split("|")


class Counters(Admin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=ENV)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def test_counts_reach_ai_connections(self):
        p, (cid,) = self.provider("hc", ["sk-hc"])
        # the load check's 400s used the connection but count nowhere
        wait_for(lambda: counters(self.lx.db, cid) == ["0", "0", "t", "f", ""], timeout=3,
                 what=f"last use, now {counters(self.lx.db, cid)}")
        for _ in range(3):
            self.assertEqual(self.lx.chat({"model": "hc/m", "messages": MSG}).status, 200)
        # a 500 is retried once on the only connection: two errors
        self.assertEqual(self.lx.chat({"model": "hc/m+fault=500", "messages": MSG}).status, 500)
        self.assertEqual(self.lx.chat({"model": "hc/m", "messages": MSG}).status, 200)
        wait_for(lambda: counters(self.lx.db, cid) == ["4", "2", "t", "t", "upstream_error"],
                 timeout=3, what=f"counters, now {counters(self.lx.db, cid)}")
        t_err = psql(self.lx.db, f"SELECT last_error_at FROM ai_connections WHERE id = {cid}")
        # a 429 is an error of the connection too, and the newest one
        self.assertEqual(self.lx.chat({"model": "hc/m+fault=429+retry_after=1",
                                       "messages": MSG}).status, 429)
        wait_for(lambda: counters(self.lx.db, cid) == ["4", "3", "t", "t",
                                                      "upstream_rate_limited"],
                 timeout=3, what=f"counters, now {counters(self.lx.db, cid)}")
        self.assertGreater(psql(self.lx.db, f"SELECT last_error_at FROM ai_connections "
                                            f"WHERE id = {cid}"), t_err)
        self.assertEqual(psql(self.lx.db, f"SELECT last_used_at >= last_error_at AND "
                                          f"last_used_at > now() - interval '1 minute' "
                                          f"FROM ai_connections WHERE id = {cid}"), "t")
        self.retire(p)


class CountersAcrossOutage(Admin, unittest.TestCase):
    def test_nothing_lost_while_the_database_is_away(self):
        pg = PrivatePostgres()
        self.mock = Mock()
        self.lx = Llmux(db=pg.conninfo, mock=self.mock, env=ENV)
        try:
            _, (cid,) = self.provider("ho", ["sk-ho"])
            for _ in range(3):
                self.assertEqual(self.lx.chat({"model": "ho/m", "messages": MSG}).status, 200)
            wait_for(lambda: counters(pg.conninfo, cid)[0] == "3", timeout=3,
                     what="first counts")
            pg.stop()
            for _ in range(5):  # served from the snapshot while the database is away
                self.assertEqual(self.lx.chat({"model": "ho/m", "messages": MSG}).status, 200)
            time.sleep(1.5)
            pg.start()
            wait_for(lambda: counters(pg.conninfo, cid)[0] == "8", timeout=12,
                     what="counts after the outage")
            time.sleep(1.2)  # and not written twice
            self.assertEqual(counters(pg.conninfo, cid)[:2], ["8", "0"])
        finally:
            assert self.lx.stop() == 0
            self.mock.stop()
            pg.destroy()


if __name__ == "__main__":
    unittest.main()
