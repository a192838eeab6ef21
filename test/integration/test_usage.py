"""Usage records in Postgres: one row per request, right figures, nothing
lost when Postgres goes away under load or at shutdown; the registry keeps
serving from its last snapshot meanwhile."""
import json
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
