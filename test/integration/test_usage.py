"""Usage records in Postgres: one row per request, right figures, nothing
lost when Postgres goes away under load or at shutdown; the registry keeps
serving from its last snapshot meanwhile."""
import json
import socket
import threading
import time
import unittest

from harness import (ADMIN_KEY, Llmux, Mock, PrivatePostgres, http, new_database, psql,
                     wait_for)

MSG = [{"role": "user", "content": "hello"}]


def rows(db):
    return int(psql(db, "SELECT count(*) FROM ai_usage"))


class UsageRows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def test_one_row_per_request_with_figures(self):
        before = rows(self.lx.db)
        ids = []
        for i in range(20):
            body = {"model": "demo/mock-model+chunks=3", "messages": MSG, "stream": i % 2 == 1}
            r = self.lx.chat(body)
            self.assertEqual(r.status, 200)
            ids.append(r.headers["x-request-id"])
        r = self.lx.chat({"model": "demo/mock-model+fault=503", "messages": MSG})
        self.assertEqual(r.status, 503)
        ids.append(r.headers["x-request-id"])
        wait_for(lambda: rows(self.lx.db) == before + 21, timeout=5, what="21 usage rows")
        got = psql(self.lx.db, "SELECT request_id, provider, model, feature, tokens_in, "
                   "tokens_out, status, cost_usd > 0, total_us > 0 FROM ai_usage "
                   f"WHERE request_id IN ({','.join(repr(i) for i in ids)})")
        by_id = {line.split("|")[0]: line.split("|") for line in got.splitlines()}
        self.assertEqual(len(by_id), 21)
        lines = [by_id[i] for i in ids]  # in request order
        for line in lines[:20]:
            self.assertEqual(line[1:4], ["demo", "mock-model+chunks=3", "chat"])
            self.assertGreater(int(line[4]), 0)
            self.assertEqual(line[5], "3")
            self.assertEqual(line[6], "200")
            self.assertEqual(line[8], "t")
        self.assertEqual(lines[20][6], "503")

    def test_key_last_used_at_follows_its_requests(self):
        r = self.lx.req("POST", "/api/v1/admin/ai/keys", body={"name": "last-used"})
        self.assertEqual(r.status, 201, r)
        k = r.json()
        self.assertIsNone(k["last_used_at"])
        wait_for(lambda: self.lx.chat({"model": "demo/mock-model", "messages": MSG},
                                      key=k["key"]).status == 200, timeout=5, what="key loaded")

        def used():
            got = self.lx.req("GET", f"/api/v1/admin/ai/keys/{k['id']}").json()
            return got["last_used_at"]
        wait_for(lambda: used() is not None, timeout=5, what="last_used_at set")
        self.assertRegex(used(), r"^\d{4}-\d\d-\d\dT")

    def test_cost_from_model_prices(self):
        r = self.lx.chat({"model": "demo/mock-model", "messages": MSG})
        rid = r.headers["x-request-id"]
        wait_for(lambda: psql(self.lx.db, f"SELECT count(*) FROM ai_usage WHERE request_id = '{rid}'")
                 == "1", timeout=5, what="the usage row")
        tin, tout, cost = psql(self.lx.db, "SELECT tokens_in, tokens_out, cost_usd FROM ai_usage "
                               f"WHERE request_id = '{rid}'").split("|")
        # demo/mock-model: $0.10 in, $0.20 out per 1M tokens (the seeded catalog)
        self.assertAlmostEqual(float(cost), (int(tin) * 0.10 + int(tout) * 0.20) / 1e6, places=8)
        self.assertGreater(float(cost), 0)

    def test_readyz_reports_database(self):
        r = http("GET", self.lx.url + "/readyz")
        self.assertEqual(r.json()["database"], "ok")


def abandon_stream(port, path, body, rid, events, extra=""):
    """Reads `events` SSE data lines of a stream, then closes the socket."""
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: application/json\r\nX-Request-Id: {rid}\r\n{extra}"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(head + data)
    got = b""
    while got.count(b"\ndata: ") < events:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("stream ended early: " + got[-300:].decode("latin-1"))
        got += chunk
    s.close()
    return got.count(b"\ndata: ")


class AbandonedStreams(unittest.TestCase):
    """A client that leaves mid-stream is billed for what it was sent: the
    output tokens forwarded (one per content event when the upstream's usage
    never came) and the prompt estimate, in exactly one row."""

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock("--chunks", "100000", "--gap-ms", "1")
        cls.lx = Llmux(db=True, mock=cls.mock, env={
            "ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": cls.mock.url})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def row(self, rid):
        q = ("SELECT tokens_in, tokens_out, cost_usd, status, error FROM ai_usage "
             f"WHERE request_id = '{rid}'")
        wait_for(lambda: psql(self.lx.db, q.replace("tokens_in, tokens_out, cost_usd, status, "
                                                    "error", "count(*)")) == "1",
                 timeout=10, what="the usage row")
        time.sleep(0.3)  # and no second one
        out = psql(self.lx.db, q).splitlines()
        self.assertEqual(len(out), 1, out)
        tin, tout, cost, status, error = out[0].split("|")
        return int(tin), int(tout), float(cost), int(status), error

    def test_openai_passthrough_abandoned_after_2000_chunks(self):
        msgs = [{"role": "user", "content": "x" * 4000}]
        n = abandon_stream(self.lx.port, "/v1/chat/completions",
                           {"model": "demo/mock-model", "messages": msgs, "stream": True},
                           "abandon-openai", 2000)
        tin, tout, cost, status, error = self.row("abandon-openai")
        self.assertEqual(status, 499)
        self.assertGreaterEqual(tout, n - 2)  # the role chunk carries no token
        self.assertGreaterEqual(tin, 1000)  # the estimate from the request's size
        # demo/mock-model: $0.10 in, $0.20 out per 1M tokens
        self.assertAlmostEqual(cost, (tin * 0.10 + tout * 0.20) / 1e6, places=8)
        self.assertGreater(cost, 0)
        self.assertEqual(error, "client closed the connection")

    def test_translated_abandoned(self):
        n = abandon_stream(self.lx.port, "/v1/chat/completions",
                           {"model": "anthropic/claude-x", "messages": [{"role": "user",
                            "content": "hi"}], "stream": True}, "abandon-translated", 500)
        tin, tout, _, status, error = self.row("abandon-translated")
        self.assertEqual(status, 499)
        self.assertGreaterEqual(tout, n - 2)
        self.assertGreater(tin, 0)
        self.assertEqual(error, "client closed the connection")

    def test_anthropic_passthrough_abandoned(self):
        n = abandon_stream(self.lx.port, "/v1/messages",
                           {"model": "anthropic/claude-x", "max_tokens": 100000, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]},
                           "abandon-messages", 500, "anthropic-version: 2023-06-01\r\n")
        tin, tout, _, status, error = self.row("abandon-messages")
        self.assertEqual(status, 499)
        self.assertGreaterEqual(tout, n - 5)  # message_start, block start: no text
        self.assertGreater(tin, 0)

    def test_finished_stream_keeps_the_upstreams_usage(self):
        r = self.lx.chat({"model": "demo/mock-model+chunks=7+gap_ms=0", "messages": MSG,
                          "stream": True}, headers={"X-Request-Id": "finished-stream"})
        self.assertEqual(r.status, 200)
        tin, tout, _, status, error = self.row("finished-stream")
        self.assertEqual((tout, status, error), (7, 200, ""))


class PostgresOutage(unittest.TestCase):
    def test_restart_under_load_loses_nothing(self):
        pg = PrivatePostgres()
        mock = Mock()
        lx = Llmux(db=pg.conninfo, mock=mock)
        stop = threading.Event()
        sent, failed = [0], []

        def load():
            while not stop.is_set():
                r = lx.chat({"model": "demo/mock-model+chunks=2", "messages": MSG})
                sent[0] += 1
                if r.status != 200:
                    failed.append(r.status)

        threads = [threading.Thread(target=load) for _ in range(4)]
        try:
            for t in threads:
                t.start()
            time.sleep(1.0)
            pg.stop()
            time.sleep(0.5)
            deg = http("GET", lx.url + "/readyz")
            self.assertEqual(deg.status, 200)
            wait_for(lambda: http("GET", lx.url + "/readyz").json()["database"] == "degraded",
                     timeout=5, what="database reported degraded")
            time.sleep(1.5)
            pg.start()
            time.sleep(1.0)
            stop.set()
            for t in threads:
                t.join()
            self.assertEqual(failed, [])
            self.assertGreater(sent[0], 50)
            wait_for(lambda: rows(pg.conninfo) == sent[0], timeout=15,
                     what=f"{sent[0]} usage rows after the restart")
            wait_for(lambda: http("GET", lx.url + "/readyz").json()["database"] == "ok",
                     timeout=10, what="database ok again")
        finally:
            stop.set()
            for t in threads:
                t.join()
            lx.stop()
            mock.stop()
            pg.destroy()


class Shutdown(unittest.TestCase):
    def test_sigterm_flushes_queue(self):
        db = new_database()
        mock = Mock()
        lx = Llmux(db=db, mock=mock)
        for _ in range(30):
            self.assertEqual(lx.chat({"model": "demo/m+chunks=1", "messages": MSG}).status, 200)
        self.assertEqual(lx.stop(), 0)
        # everything is in the table once the process has exited
        self.assertEqual(rows(db), 30)
        mock.stop()


if __name__ == "__main__":
    unittest.main()
