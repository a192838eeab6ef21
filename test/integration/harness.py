"""Black-box test harness: the real llmux binary, the mock upstream and a real
Postgres, all on loopback. Standard library only.

Environment (set by meson / scripts/test):
  LLMUX_BIN       path of the llmux binary under test
  LLMUX_MOCK_BIN  path of llmux-mock
  LLMUX_TEST_PG   conninfo of a Postgres server (database "llmux" exists); each
                  test that needs a database gets a fresh one of its own.
"""
import atexit
import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid

LLMUX_BIN = os.environ.get("LLMUX_BIN", "build-test/src/llmux")
MOCK_BIN = os.environ.get("LLMUX_MOCK_BIN", "build-test/bench/mock/llmux-mock")
# scripts/tsan: a ThreadSanitizer build, whose workers share one open-file
# table (TSan keys its fd state by number; src/app/worker.c).
TSAN = os.environ.get("LLMUX_TEST_TSAN") == "1"
ADMIN_KEY = "test-admin-key-0123456789abcdef"
MASTER_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Resp {self.status} {self.body[:200]!r}>"


def _read_response(f, method="GET"):
    """Parses one HTTP/1.x response from a socket file; handles Content-Length,
    chunked and read-until-close bodies."""
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed before a response")
    parts = line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if method == "HEAD":
        pass
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                f.readline()
                break
            body += f.read(size)
            f.readline()
    elif "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    else:
        body = f.read()
    return Resp(status, headers, body)


def http(method, url, body=None, headers=None, timeout=15, version="1.1"):
    """One request on a fresh connection (Connection: close)."""
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    hdrs = {"Host": u.netloc, "Connection": "close"}
    if body is not None:
        hdrs["Content-Length"] = str(len(body))
        hdrs.setdefault("Content-Type", "application/json")
    hdrs.update(headers or {})
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(head.encode() + (body or b""))
        with s.makefile("rb") as f:
            return _read_response(f, method)


def sse_events(body):
    """Splits an SSE body into (event, data) pairs."""
    events = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        ev, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        events.append((ev, "\n".join(data)))
    return events


_LIVE = []


@atexit.register
def _kill_leftovers():
    """A failed test must not leave servers behind."""
    for p in _LIVE:
        if p.poll() is None:
            p.kill()
            p.wait()


class Proc:
    """A child process with its output in a file; stop() checks sanitizers."""

    def __init__(self, argv, env, name, nofile=None):
        self.name = name
        self.logf = tempfile.NamedTemporaryFile(prefix=f"lx-{name}-", suffix=".log", delete=False)
        full_env = dict(os.environ)
        full_env.update(env)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=23")
        full_env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        limit = None
        if nofile:  # the open-file limit, soft and hard, of the child alone
            limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.p = subprocess.Popen(argv, env=full_env, stdout=self.logf, stderr=subprocess.STDOUT,
                                  preexec_fn=limit)
        _LIVE.append(self.p)

    def log(self):
        with open(self.logf.name, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s\n{self.log()[-3000:]}")
        log = self.log()
        for bad in ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:"):
            if bad in log:
                raise AssertionError(f"{self.name}: sanitizer report\n{log[-6000:]}")
        return rc


class Mock:
    """llmux-mock on a free loopback port. tls=True also serves HTTPS (HTTP/2
    and HTTP/1.1 by ALPN) on a second port, with a certificate signed by a
    test CA generated into the build directory: then .https_url is its base
    URL and .ca the CA file to trust. alpn="http/1.1" offers only HTTP/1.1;
    h2_max_streams sets SETTINGS_MAX_CONCURRENT_STREAMS, h2_max_requests the
    streams after which a connection gets a GOAWAY. nofile: the open-file
    limit of the mock. cert: (certificate, key) files the TLS listener
    presents instead of the test server certificate."""

    def __init__(self, *args, tls=False, alpn=None, h2_max_streams=None, h2_max_requests=None,
                 nofile=None, cert=None):
        self.nofile = nofile
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.tls_port = self.https_url = self.ca = None
        if tls:
            certs = mock_certs()
            self.ca = os.path.join(certs, "ca.pem")
            self.tls_port = free_port()
            self.https_url = f"https://127.0.0.1:{self.tls_port}"
            pem, key = cert or (os.path.join(certs, "server.pem"),
                                os.path.join(certs, "server.key"))
            self.args += ["--tls-port", str(self.tls_port), "--tls-cert", pem, "--tls-key", key]
            if alpn:
                self.args += ["--alpn", alpn]
            if h2_max_streams:
                self.args += ["--h2-max-streams", str(h2_max_streams)]
            if h2_max_requests:
                self.args += ["--h2-max-requests", str(h2_max_requests)]
        self._start("start")

    def _start(self, what):
        self.proc = Proc([MOCK_BIN, "--listen", f"127.0.0.1:{self.port}", "--threads", "1",
                          *self.args], {}, "mock", nofile=self.nofile)
        wait_for(lambda: '"ready"' in self.proc.log() or not self.proc.alive(), what="mock ready")
        if not self.proc.alive():
            raise AssertionError(f"mock failed to {what}\n" + self.proc.log())

    def stats(self):
        return http("GET", self.url + "/_mock/stats").json()

    def requests(self):
        return http("GET", self.url + "/_mock/requests").json()["requests"]

    def last(self):
        return http("GET", self.url + "/_mock/last").json()

    def reset(self):
        http("POST", self.url + "/_mock/reset", body=b"")

    def jobs(self, tag=None):
        """The mock's video jobs (OpenAI videos, Runway tasks), all or those
        whose tag (x-mock-tag, else the prompt) is `tag`: {"count",
        "submissions", "polls", "cancels", "content_fetches", "jobs": [...]}."""
        q = "?tag=" + urllib.parse.quote(tag, safe="") if tag is not None else ""
        return http("GET", self.url + "/_mock/jobs" + q).json()

    def job(self, job_id, **changes):
        """One job's counters; with keyword arguments (outcome, poll_fail,
        poll_retry_after, duration_ms) changes the job first."""
        if changes:
            r = http("POST", self.url + "/_mock/jobs/" + job_id, body=changes)
        else:
            r = http("GET", self.url + "/_mock/jobs/" + job_id)
        if r.status != 200:
            raise AssertionError(f"mock job {job_id}: {r}")
        return r.json()

    def stop(self):
        return self.proc.stop()

    def restart(self, *args):
        """Stops the mock (closing every connection to it) and starts a new
        one on the same port(s), with the same TLS options."""
        rc = self.proc.stop()
        tls = self.args[self.args.index("--tls-port"):] if "--tls-port" in self.args else []
        self.args = list(args) + tls
        self._start("restart")
        return rc


def mock_certs():
    """The test CA and server certificate for the mock's TLS listener
    (bench/mock/gen-certs.sh, idempotent) in the build directory; returns the
    directory."""
    d = os.path.join(os.path.dirname(os.path.abspath(MOCK_BIN)), "certs")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                          "mock", "gen-certs.sh")
    out = subprocess.run(["sh", script, d], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("gen-certs.sh failed: " + out.stderr)
    return d


def new_database():
    """A fresh empty database on the test server; returns its conninfo."""
    base = os.environ.get("LLMUX_TEST_PG")
    if not base:
        raise unittest.SkipTest("LLMUX_TEST_PG not set (run ./scripts/test)")
    name = "t_" + uuid.uuid4().hex[:12]
    psql(base, f"CREATE DATABASE {name}")
    return base.replace("dbname=llmux", f"dbname={name}")


def psql(conninfo, sql):
    out = subprocess.run(["psql", conninfo, "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"psql failed: {out.stderr}")
    return out.stdout.strip()


class Llmux:
    def __init__(self, env=None, args=(), workers=2, db=False, mock=None, wait=True, nofile=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = {
            "LLMUX_LISTEN": f"127.0.0.1:{self.port}",
            "LLMUX_WORKERS": str(workers),
            "LLMUX_ADMIN_KEY": ADMIN_KEY,
            "LLMUX_MASTER_KEY": MASTER_KEY,
        }
        for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY",
                  "LLMUX_DATABASE_URL", "LLMUX_CONFIG"):
            e[k] = ""
        self.db = None
        if db:
            self.db = db if isinstance(db, str) else new_database()
            e["LLMUX_DATABASE_URL"] = self.db
        if mock is not None:
            e["LLMUX_DEMO_BASE_URL"] = mock.url + "/v1"
        e.update(env or {})
        self.proc = Proc([LLMUX_BIN, *args], e, "llmux", nofile=nofile)
        if wait:
            self.wait_ready()

    def wait_ready(self):
        def up():
            if not self.proc.alive():
                raise AssertionError("llmux exited at start-up\n" + self.proc.log())
            try:
                return http("GET", self.url + "/healthz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(up, timeout=20, what="llmux /healthz")

    def req(self, method, path, body=None, headers=None, key=ADMIN_KEY, **kw):
        h = {"Authorization": f"Bearer {key}"} if key else {}
        h.update(headers or {})
        return http(method, self.url + path, body=body, headers=h, **kw)

    def chat(self, body, **kw):
        return self.req("POST", "/v1/chat/completions", body=body, **kw)

    def stop(self, **kw):
        return self.proc.stop(**kw)

    def log(self):
        return self.proc.log()


class PrivatePostgres:
    """A Postgres cluster of this test's own (to stop and start at will)."""

    LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib.sh")

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lx-pg-", dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conninfo = self._lib(f"lx_pg_start {self.dir}/pg {self.port}")

    def _lib(self, cmd):
        out = subprocess.run(["bash", "-c", f". {self.LIB}; {cmd}"], capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise AssertionError(f"{cmd}: {out.stderr}")
        return out.stdout.strip()

    def stop(self):
        self._lib(f"lx_pg_stop {self.dir}/pg")

    def start(self):
        self._lib(f"lx_pg_start {self.dir}/pg {self.port} >/dev/null")

    def destroy(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir], timeout=60)
