"""scripts/run refuses to start, with one clear line, when a port it needs
is taken: a second run used to share the first one's ports and, on exit,
stop the first one's Postgres."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import free_port, http, new_database, wait_for

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


class FullRun(unittest.TestCase):
    """The quick start as a user runs it: the release build, migrations, the
    mock upstream and llmux, a chat through the printed model, then Ctrl-C
    (here SIGTERM) stops what the script started and nothing else."""

    def test_release_build_serves_the_demo_and_stops_cleanly(self):
        port, mock = free_port(), free_port()
        e = dict(os.environ)
        for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"):
            e.pop(k, None)
        key = "sk-admin-full-run-secret"
        e.update({"LLMUX_DATABASE_URL": new_database(), "LLMUX_LISTEN": f"127.0.0.1:{port}",
                  "LLMUX_MOCK_LISTEN": f"127.0.0.1:{mock}", "LLMUX_ADMIN_KEY": key,
                  "LLMUX_WORKERS": "1"})
        log = tempfile.TemporaryFile()  # a pipe nobody reads would stall the build and llmux
        p = subprocess.Popen([os.path.join(ROOT, "scripts", "run")], env=e, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def up():
                if p.poll() is not None:
                    raise AssertionError("scripts/run exited")
                try:
                    return http("GET", f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200
                except OSError:
                    return False
            wait_for(up, timeout=540, interval=0.5, what="llmux from scripts/run")
            r = http("POST", f"http://127.0.0.1:{port}/v1/chat/completions",
                     body={"model": "demo/mock-model", "messages": [{"role": "user",
                                                                     "content": "Hello!"}]},
                     headers={"Authorization": f"Bearer {key}"}, timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(json.loads(r.body)["choices"][0]["message"]["content"])
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # the script's own process, as Ctrl-C would be
            p.wait(timeout=60)
        log.seek(0)
        text = log.read().decode(errors="replace")
        self.assertEqual(p.returncode, 143, text[-2000:])
        self.assertIn("$LLMUX_ADMIN_KEY", text)
        self.assertNotIn(key, text)  # the operator's key is never printed
        for what in (port, mock):  # llmux and the mock are gone with it
            with socket.socket() as s:
                self.assertNotEqual(s.connect_ex(("127.0.0.1", what)), 0, what)


if __name__ == "__main__":
    unittest.main()
