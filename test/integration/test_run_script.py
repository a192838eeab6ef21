"""scripts/run refuses to start, with one clear line, when a port it needs
is taken: a second run used to share the first one's ports and, on exit,
stop the first one's Postgres."""
import os
import socket
import subprocess
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def run_script(**env):
    e = dict(os.environ)
    for k in ("LLMUX_DATABASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
              "OPENROUTER_API_KEY", "LLMUX_ADMIN_KEY"):
        e.pop(k, None)
    e.update(env)
    return subprocess.run([os.path.join(ROOT, "scripts", "run")], env=e, capture_output=True,
                          text=True, timeout=120)


class RunScript(unittest.TestCase):
    def setUp(self):
        self.busy = socket.socket()
        self.busy.bind(("127.0.0.1", 0))
        self.busy.listen()
        self.port = self.busy.getsockname()[1]
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.free = s.getsockname()[1]  # closed again: free for the checks
        s.close()

    def tearDown(self):
        self.busy.close()

    def refused(self, r, words):
        self.assertEqual(r.returncode, 1, r.stderr[-500:])
        last = r.stderr.strip().splitlines()[-1]
        self.assertTrue(last.startswith("error: "), last)
        self.assertIn(words, last)
        self.assertNotIn("building", r.stderr)  # refused before doing anything

    def test_listen_address_taken(self):
        r = run_script(LLMUX_LISTEN=f"127.0.0.1:{self.port}")
        self.refused(r, f"127.0.0.1:{self.port} is already in use")

    def test_postgres_port_taken(self):
        r = run_script(LLMUX_LISTEN=f"127.0.0.1:{self.free}", LLMUX_PG_PORT=str(self.port))
        self.refused(r, f"port {self.port} is already in use: set LLMUX_PG_PORT")

    def test_mock_port_taken(self):
        r = run_script(LLMUX_LISTEN=f"127.0.0.1:{self.free}", LLMUX_PG_PORT=str(self.free),
                       LLMUX_MOCK_LISTEN=f"127.0.0.1:{self.port}")
        self.refused(r, "set LLMUX_MOCK_LISTEN")


if __name__ == "__main__":
    unittest.main()
