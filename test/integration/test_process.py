"""Process model and configuration: workers, SO_REUSEPORT spread, flags,
check-config, precedence of file < env < flags, graceful stop."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import selectors

from harness import ADMIN_KEY, LLMUX_BIN, TSAN, Llmux, Mock, free_port, http, wait_for


def active_requests(lx):
    """Requests in progress over every worker, this /metrics request included."""
    text = http("GET", lx.url + "/metrics").body.decode()
    return sum(int(v) for v in re.findall(r"^llmux_http_requests_active\{[^}]*\} (\d+)$",
                                          text, re.M))


def run(args, env=None, timeout=20):
    e = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
    e.update(env or {})
    return subprocess.run([LLMUX_BIN, *args], env=e, capture_output=True, text=True,
                          timeout=timeout)


class Cli(unittest.TestCase):
    def test_version_and_help(self):
        r = run(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^llmux \d+\.\d+\.\d+")
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        for word in ("check-config", "--listen", "--workers", "LLMUX_ADMIN_KEY"):
            self.assertIn(word, r.stdout)

    def test_check_config_ok(self):
        r = run(["check-config"], {"OPENAI_API_KEY": "sk-hidden-123", "LLMUX_WORKERS": "3"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        self.assertIn("openai(openai)", r.stdout)
        self.assertIn("workers: 3", r.stdout)
        self.assertNotIn("sk-hidden-123", r.stdout + r.stderr)

    def test_check_config_names_bad_field(self):
        cases = [
            ({"LLMUX_WORKERS": "0"}, "LLMUX_WORKERS"),
            ({"LLMUX_LISTEN": "localhost"}, "LLMUX_LISTEN"),
            ({"LLMUX_MASTER_KEY": "c2hvcnQ="}, "LLMUX_MASTER_KEY"),
            ({"OPENAI_BASE_URL": "ftp://x"}, "providers.openai.base_url"),
        ]
        for env, field in cases:
            r = run(["check-config"], env)
            self.assertEqual(r.returncode, 2, env)
            self.assertIn(field, r.stderr, env)

    def test_config_file_unknown_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"limits": {"max_body_bytez": 1}}, f)
        r = run(["check-config", "--config", f.name])
        self.assertEqual(r.returncode, 2)
        self.assertIn("limits.max_body_bytez", r.stderr)

    def test_precedence_file_env_flags(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"listen": "127.0.0.1:1111", "workers": 5,
                       "providers": {"local": {"kind": "openai_compatible",
                                               "base_url": "http://127.0.0.1:1/v1"}}}, f)
        r = run(["check-config", "--config", f.name])
        self.assertIn("listen: 127.0.0.1:1111", r.stdout)
        self.assertIn("workers: 5", r.stdout)
        self.assertIn("local(openai_compatible)", r.stdout)
        r = run(["check-config", "--config", f.name], {"LLMUX_LISTEN": "127.0.0.1:2222"})
        self.assertIn("listen: 127.0.0.1:2222", r.stdout)
        self.assertIn("workers: 5", r.stdout)
        r = run(["check-config", "--config", f.name, "--listen", "127.0.0.1:3333",
                 "--workers", "7"], {"LLMUX_LISTEN": "127.0.0.1:2222"})
        self.assertIn("listen: 127.0.0.1:3333", r.stdout)
        self.assertIn("workers: 7", r.stdout)

    def test_port_in_use_fails_fast(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = run([], {"LLMUX_LISTEN": f"127.0.0.1:{port}", "LLMUX_WORKERS": "1"})
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("cannot", r.stderr + r.stdout)


def concurrent_streams(url, n, model, timeout=60):
    """Opens n connections, sends one streaming chat request on each (all in
    flight together) and returns each whole answer, read until the server
    closes the connection."""
    host, port = url.split("//")[1].split(":")
    body = json.dumps({"model": model, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    answers = {}
    for i in range(n):
        s = socket.create_connection((host, int(port)))
        s.sendall(head + body)
        s.setblocking(False)
        answers[s] = bytearray()
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    open_ = len(answers)
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(65536)
            if data:
                answers[key.fileobj] += data
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                open_ -= 1
    for s in list(sel.get_map().values()):
        s.fileobj.close()
    return [bytes(a) for a in answers.values()]


class Workers(unittest.TestCase):
    def test_connections_spread_across_workers(self):
        lx = Llmux(workers=2)
        try:
            for _ in range(200):
                self.assertEqual(http("GET", lx.url + "/healthz").status, 200)
            text = http("GET", lx.url + "/metrics").body.decode()
            counts = [int(m) for m in re.findall(
                r'llmux_connections_accepted_total\{worker="\d"\} (\d+)', text)]
            self.assertEqual(len(counts), 2)
            # SO_REUSEPORT hashes connections: both workers must take a fair share.
            self.assertGreater(min(counts), 40, counts)
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_sigterm_idle_exits_zero_quickly(self):
        lx = Llmux(workers=2)
        t0 = time.monotonic()
        self.assertEqual(lx.stop(sig=signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn('"msg":"llmux stopped"', lx.log())

    def test_idle_after_traffic(self):
        # A worker that goes idle after traffic returns freed heap to the OS
        # (malloc_trim); under ASan that call crashed the process.
        lx = Llmux(workers=1)
        for _ in range(20):
            self.assertEqual(http("GET", lx.url + "/healthz").status, 200)
        time.sleep(2.6)
        self.assertEqual(http("GET", lx.url + "/healthz").status, 200)
        self.assertEqual(lx.stop(), 0)

    @unittest.skipIf(TSAN, "the ThreadSanitizer build keeps one shared open-file table")
    def test_each_worker_has_its_own_open_file_limit(self):
        # A stream holds two sockets. Under a limit of 600 open files, 440
        # concurrent streams need 880 in one table, but about 440 in each of
        # two workers' tables: all must complete.
        mock = Mock()
        lx = Llmux(workers=2, mock=mock, nofile=600)
        try:
            n, chunks = 440, 8
            answers = concurrent_streams(lx.url, n, f"demo/mock-model+chunks={chunks}+gap_ms=150")
            bad = [a[:200] for a in answers if not a.startswith(b"HTTP/1.1 200")]
            self.assertEqual(len(bad), 0, f"{len(bad)} of {n} streams failed, first: {bad[:1]}")
            for a in answers:  # every token, the end marker and the chunked body's end
                self.assertEqual(a.count(b'"delta":{"content":"tok'), chunks, a[-300:])
                self.assertIn(b"data: [DONE]", a)
                self.assertTrue(a.endswith(b"\r\n0\r\n\r\n"), a[-300:])
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()

    @unittest.skipIf(TSAN, "the ThreadSanitizer build keeps one shared open-file table")
    def test_listeners_live_only_in_their_workers_tables(self):
        # Each worker opens its listener on its own thread, in its own table:
        # the main thread holds none, so a worker that closes its listener
        # (drain) really closes it.
        lx = Llmux(workers=2)
        try:
            listening = set()
            with open("/proc/net/tcp") as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].split(":")[1], 16) == lx.port:
                        listening.add(cols[9])  # the socket's inode
            self.assertEqual(len(listening), 2, listening)
            pid = lx.proc.p.pid
            held = {}
            for tid in os.listdir(f"/proc/{pid}/task"):
                fds = f"/proc/{pid}/task/{tid}/fd"
                inodes = set()
                for fd in os.listdir(fds):
                    try:
                        target = os.readlink(f"{fds}/{fd}")
                    except OSError:
                        continue
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
                held[int(tid)] = inodes & listening
            self.assertEqual(held.pop(pid), set(), "the main thread holds a listener")
            owners = [v for v in held.values() if v]
            self.assertEqual(sorted(len(v) for v in owners), [1, 1], held)
            self.assertEqual(set().union(*owners), listening)
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_metrics_after_another_worker_stopped(self):
        # /metrics reads every worker's counters. In a drain, a worker with
        # nothing in flight leaves its loop first and frees its server; the
        # other one, finishing a request, must not read the freed counters
        # (ASan: heap-use-after-free in metrics). A GET whose body is not all
        # there yet keeps its connection through the drain.
        lx = Llmux(workers=2)
        try:
            with socket.create_connection(("127.0.0.1", lx.port), timeout=10) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          b"Content-Length: 4\r\n\r\nab")
                wait_for(lambda: active_requests(lx) >= 2, timeout=5,
                         what="the partial request read (besides this probe)")
                lx.proc.p.send_signal(signal.SIGTERM)
                wait_for(lambda: '"msg":"worker loop ended"' in lx.log(), timeout=5,
                         what="the idle worker out of its loop")
                self.assertTrue(lx.proc.alive())
                s.sendall(b"cd")
                with s.makefile("rb") as f:
                    head = f.readline()
                    body = f.read()
            self.assertIn(b" 200 ", head)
            self.assertIn(b'llmux_http_requests_total{worker="0"}', body)
            self.assertIn(b'llmux_http_requests_total{worker="1"}', body)
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_sigint_also_drains(self):
        lx = Llmux(workers=1)
        self.assertEqual(lx.stop(sig=signal.SIGINT), 0)

    def test_every_thread_blocks_the_stop_signals(self):
        # Only the main thread takes SIGTERM/SIGINT (sigwait). A thread that
        # does not block them (the registry's control thread, started with a
        # database) would get a SIGTERM sent while the main thread is not yet
        # in sigwait, and its default action kills the process (-15, no drain).
        lx = Llmux(db=True, workers=2)
        try:
            tasks = f"/proc/{lx.proc.p.pid}/task"
            tids = os.listdir(tasks)
            self.assertGreaterEqual(len(tids), 4)  # main, control thread, 2 workers
            for tid in tids:
                if int(tid) == lx.proc.p.pid:
                    continue  # the main thread: in sigwait, which unblocks them while it waits
                with open(f"{tasks}/{tid}/status") as f:
                    blk = int(re.search(r"^SigBlk:\s*([0-9a-f]+)", f.read(), re.M).group(1), 16)
                with open(f"{tasks}/{tid}/comm") as f:
                    name = f.read().strip()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self.assertTrue(blk & (1 << (sig - 1)), f"thread {tid} ({name}) takes {sig!r}")
        finally:
            self.assertEqual(lx.stop(), 0)


if __name__ == "__main__":
    unittest.main()
