"""llmux-bench (bench/loadgen) over https://, the direct baseline of
bench/compare's HTTPS mode: requests and streams through TLS to the mock's
HTTPS listener (HTTP/1.1 by ALPN, keep-alive: one handshake per connection),
the server verified against --cacert (a client without the test CA gets
connect errors, not answers), and a connection the server closes resumed
with its last session when it reconnects."""
import json
import os
import subprocess
import unittest

from harness import MOCK_BIN, Mock, wait_for

BENCH_BIN = os.environ.get("LLMUX_BENCH_BIN",
                           os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(MOCK_BIN))),
                                        "loadgen", "llmux-bench"))


class TestLoadgenTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(BENCH_BIN, os.X_OK):
            raise unittest.SkipTest(f"{BENCH_BIN} not built")
        cls.mock = Mock(tls=True)

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def setUp(self):
        self.mock.reset()

    def bench(self, *args, ca=True):
        argv = [BENCH_BIN, "--url", self.mock.https_url + "/v1/chat/completions",
                "--no-progress", "--json", "-", "--timeout", "10s", *args]
        if ca:
            argv[1:1] = ["--cacert", self.mock.ca]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def settle(self):
        wait_for(lambda: self.mock.stats()["tls_open"] == 0, what="TLS connections closed")
        return self.mock.stats()

    def test_requests_over_tls_keep_alive(self):
        r = self.bench("--model", "mock-model", "-c", "4", "-n", "200")
        self.assertEqual((r["requests"]["ok"], r["requests"]["errors"]), (200, 0), r)
        s = self.settle()
        # 4 connections, 4 full handshakes, HTTP/1.1 by ALPN, 200 requests
        self.assertEqual((s["tls_accepted"], s["tls_handshakes_full"], s["alpn_http1"],
                          s["alpn_h2"], s["chat"]), (4, 4, 4, 0, 200))

    def test_streams_over_tls_full_fidelity(self):
        r = self.bench("--model", "mock-model+chunks=20+gap_ms=1", "--stream",
                       "--expect-chunks", "20", "-c", "8", "-n", "40")
        self.assertEqual((r["requests"]["ok"], r["requests"]["errors"]), (40, 0), r)
        self.assertEqual((r["fidelity"]["ok"], r["fidelity"]["checked"]), (40, 40), r)
        self.assertEqual(self.settle()["chat_stream"], 40)

    def test_untrusted_server_is_refused(self):
        # Without --cacert the system's CAs do not know the test CA: the
        # handshake fails, every request is a connect error.
        r = self.bench("--model", "mock-model", "-c", "1", "-n", "3", ca=False)
        self.assertEqual(r["requests"]["ok"], 0, r)
        self.assertGreater(r["errors"]["connect"], 0, r)
        s = self.settle()
        self.assertEqual(s["chat"], 0)
        self.assertGreater(s["tls_handshakes_failed"], 0)

    def test_reconnects_resume_the_session(self):
        # Connection: close: the server closes after every answer, so each
        # request needs a new connection; all but the first resume.
        r = self.bench("--model", "mock-model", "-c", "1", "-n", "20", "-H", "Connection: close")
        self.assertEqual(r["requests"]["ok"], 20, r)
        s = self.settle()
        self.assertEqual(s["tls_accepted"], 20)
        self.assertEqual((s["tls_handshakes_full"], s["tls_handshakes_resumed"]), (1, 19))


if __name__ == "__main__":
    unittest.main()
