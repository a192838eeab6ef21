#!/usr/bin/env python3
"""bench/soak_lib/clients.py - the misbehaving clients of bench/soak (Python
standard library only; the well-behaved load is llmux-bench).

  slow      streams of many chunks read a few KB at a time through a small
            receive buffer: llmux's output buffer fills, it pauses the
            upstream transfer (backpressure) and resumes it as the client
            drains
  stalled   a stream left unread: llmux must drop the client once its write
            timeout passes (LLMUX_WRITE_TIMEOUT_MS; checked by reading the
            body afterwards: it must end before the chunked terminator)
  abort     a stream read for a few events, then the socket is closed (half
            of them with a reset: SO_LINGER 0)
  early     a request whose upstream answers late (ttft_ms): the client
            leaves before the first byte

Runs for --seconds, then waits (bounded) for its clients and prints one JSON
object of counts on stdout. Every socket has a timeout: nothing outlives the
run by more than a few seconds.
"""
import argparse
import json
import random
import socket
import struct
import threading
import time

lock = threading.Lock()
counts = {}


def count(kind, what, n=1):
    with lock:
        k = counts.setdefault(kind, {})
        k[what] = k.get(what, 0) + n


def request(host, port, key, model, stream=True):
    body = json.dumps({"model": model, "stream": stream,
                       "messages": [{"role": "user", "content": "Say hello."}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def connect(a, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(a.sock_timeout)
    s.connect((a.host, a.port))
    return s


def slow(a, stop):
    """One connection after another, each a long stream read slowly."""
    while not stop.is_set():
        try:
            with connect(a, rcvbuf=4096) as s:
                s.sendall(request(a.host, a.port, a.key, a.slow_model))
                count("slow", "sent")
                got = 0
                while not stop.is_set():
                    b = s.recv(a.slow_bytes)
                    if not b:
                        break
                    got += len(b)
                    if b.endswith(b"0\r\n\r\n"):
                        break
                    time.sleep(a.slow_pause)
                count("slow", "bytes", got)
                count("slow", "done" if not stop.is_set() else "cut_at_end")
        except OSError as e:
            count("slow", "error_" + type(e).__name__)
            time.sleep(0.2)


def stalled(a, stop):
    """A long stream left unread for --stall-wait seconds (longer than llmux's
    write timeout), then read to its end: llmux must have dropped it, so the
    body ends (EOF) before the chunked terminator. While unread, the kernel
    send buffer (megabytes) fills first, then llmux's own buffer, which
    pauses the upstream transfer."""
    while not stop.is_set():
        try:
            with connect(a, rcvbuf=4096) as s:
                s.sendall(request(a.host, a.port, a.key, a.slow_model))
                count("stalled", "sent")
                if stop.wait(a.stall_wait):
                    count("stalled", "cut_at_end")
                    break
                tail = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    tail = (tail + b)[-16:]
                count("stalled", "completed" if tail.endswith(b"0\r\n\r\n") else "dropped_by_llmux")
        except OSError as e:
            count("stalled", "error_" + type(e).__name__)
            time.sleep(0.2)


def abort(a, stop, early):
    kind = "early" if early else "abort"
    model = a.early_model if early else a.abort_model
    try:
        with connect(a) as s:
            s.sendall(request(a.host, a.port, a.key, model))
            count(kind, "sent")
            if early:
                time.sleep(random.uniform(0.01, 0.1))
            else:
                got = b""
                while got.count(b"data: ") < 3:
                    b = s.recv(4096)
                    if not b:
                        break
                    got += b
            if random.random() < 0.5:  # a reset instead of a FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                count(kind, "reset")
            count(kind, "closed")
    except OSError as e:
        count(kind, "error_" + type(e).__name__)


def spawner(a, stop, rate, early):
    """Starts `rate` aborting clients per second, each on its own thread."""
    if rate <= 0:
        return
    period = 1.0 / rate
    nxt = time.monotonic()
    live = []
    while not stop.is_set():
        nxt += period
        t = threading.Thread(target=abort, args=(a, stop, early), daemon=True)
        t.start()
        live = [x for x in live if x.is_alive()] + [t]
        d = nxt - time.monotonic()
        if d > 0:
            stop.wait(d)
    for t in live:
        t.join(timeout=a.sock_timeout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--slow", type=int, default=8, help="slow-reading connections")
    p.add_argument("--stalled", type=int, default=2, help="connections that never read")
    p.add_argument("--abort-rate", type=float, default=5, help="mid-stream aborts per second")
    p.add_argument("--early-rate", type=float, default=2, help="aborts before the first byte per second")
    # about 5.7 MB: more than the kernel's send buffer, so llmux's own fills
    p.add_argument("--slow-model", default="demo/mock-model+chunks=20000")
    p.add_argument("--slow-bytes", type=int, default=16384)
    p.add_argument("--slow-pause", type=float, default=0.05)
    p.add_argument("--abort-model", default="demo/mock-model+chunks=50+gap_ms=20")
    p.add_argument("--early-model", default="demo/mock-model+chunks=5+ttft_ms=300")
    p.add_argument("--stall-wait", type=float, default=15, help="> LLMUX_WRITE_TIMEOUT_MS")
    p.add_argument("--sock-timeout", type=float, default=30)
    a = p.parse_args()

    stop = threading.Event()
    threads = [threading.Thread(target=slow, args=(a, stop)) for _ in range(a.slow)]
    threads += [threading.Thread(target=stalled, args=(a, stop)) for _ in range(a.stalled)]
    threads.append(threading.Thread(target=spawner, args=(a, stop, a.abort_rate, False)))
    threads.append(threading.Thread(target=spawner, args=(a, stop, a.early_rate, True)))
    for t in threads:
        t.start()
    try:
        stop.wait(a.seconds)
    except KeyboardInterrupt:
        pass
    stop.set()
    deadline = time.monotonic() + a.sock_timeout + 5
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    with lock:
        print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main()
