"""A burst of new connections does not hold up the connections already in:
a worker accepts a bounded number of connections per turn of its loop and
serves what it accepted before it takes more (src/http/server.c,
on_accept). libevent's listener alone accepts until the backlog is empty,
so a burst of thousands was all accepted (and all its requests started)
before the first of them got an answer: at 10,000 concurrent streams,
every stream's first chunk waited for the whole burst."""
import os
import resource
import select
import signal
import socket
import time
import unittest

from harness import Llmux, wait_for

BURST = 1000


def accept_queue(port):
    """Connections waiting in the accept queue of the listener on port
    (/proc/net/tcp: a LISTEN socket's rx_queue is its accept backlog)."""
    total = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            local, state, queues = cols[1], cols[3], cols[4]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                total += int(queues.split(":")[1], 16)
    return total


def stopped(pid):
    """Whether every thread of pid is stopped (SIGSTOP takes effect
    asynchronously: a running worker may still accept a few)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state not in ("T", "t"):
            return False
    return True


class AcceptFairness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < BURST + 256:
            raise unittest.SkipTest(f"needs {BURST + 256} open files (hard limit {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, BURST + 256), hard))
        # one worker: one listener, one loop, one accept queue to watch
        cls.lx = Llmux(workers=1)

    @classmethod
    def tearDownClass(cls):
        os.kill(cls.lx.proc.p.pid, signal.SIGCONT)
        cls.lx.stop()

    def test_burst_is_served_while_it_is_accepted(self):
        lx, pid = self.lx, self.lx.proc.p.pid
        socks = []
        os.kill(pid, signal.SIGSTOP)
        try:
            wait_for(lambda: stopped(pid), timeout=10, what="llmux stopped")
            # The kernel completes the handshakes while llmux is stopped:
            # the whole burst waits in the accept queue, each with its request.
            for _ in range(BURST):
                s = socket.socket()
                s.connect(("127.0.0.1", lx.port))
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            wait_for(lambda: accept_queue(lx.port) >= BURST, timeout=10,
                     what="the burst in the accept queue")
        finally:
            os.kill(pid, signal.SIGCONT)
        # The first answer of the burst: how much of it is still unaccepted?
        poller = select.poll()
        for s in socks:
            poller.register(s, select.POLLIN)
        deadline = time.monotonic() + 20
        ready = []
        while not ready and time.monotonic() < deadline:
            ready = poller.poll(50)
        left = accept_queue(lx.port)
        self.assertTrue(ready, "no answer within 20 s")
        # Before the fix: the whole burst was accepted in one go (left == 0)
        # before any request of it was read.
        self.assertGreater(left, BURST // 2,
                           f"{BURST - left} of {BURST} connections accepted before the first answer")
        # and every connection of the burst is served in the end
        by_fd = {s.fileno(): s for s in socks}
        done = set()
        deadline = time.monotonic() + 30
        while len(done) < BURST and time.monotonic() < deadline:
            for fd, _ in poller.poll(100):
                s = by_fd[fd]
                data = s.recv(4096)
                if data:
                    self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
                done.add(fd)
                poller.unregister(fd)
        self.assertEqual(len(done), BURST)
        for s in socks:
            s.close()
        self.assertTrue(lx.proc.alive())


if __name__ == "__main__":
    unittest.main()
