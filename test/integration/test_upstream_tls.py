"""llmux's upstream connections (issue 21): a provider's connection settings
(http2, http1_connections, http1_streams, max_connections,
max_streams_per_connection, ca_file) checked at the admin API and from the config file; against the
HTTPS mock with its test CA: "auto" (HTTP/1.1 keep-alive at low load,
HTTP/2 past http1_connections), HTTP/2 (the mock's ALPN counter),
multiplexing under the stream cap (its connection counter), TLS session resumption on new connections (its
resumed-handshake counter), HTTP/1.1 by setting and by ALPN fallback, and a
certificate that does not verify: a 502 naming the provider, no retry on the
same target, a fallback to another."""
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import uuid

from harness import Llmux, Mock, mock_certs, psql, sse_events, wait_for

ADMIN = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hello"}]


class SettingsChecked(unittest.TestCase):
    """The settings at the admin API: a bad one is a 400 naming it."""

    @classmethod
    def setUpClass(cls):
        cls.lx = Llmux(db=True)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0

    def create(self, settings):
        return self.lx.req("POST", ADMIN + "/providers",
                           body={"name": "p-" + uuid.uuid4().hex[:8], "kind": "openai_compatible",
                                 "base_url": "https://127.0.0.1:9/v1", "settings": settings})

    def test_bad_settings_name_the_field(self):
        for settings, field in (({"http2": "yes"}, "settings.http2"),
                                ({"http2": 1}, "settings.http2"),
                                ({"http2": "AUTO"}, "settings.http2"),
                                ({"http1_connections": 0}, "settings.http1_connections"),
                                ({"http1_streams": "8"}, "settings.http1_streams"),
                                ({"max_connections": 0}, "settings.max_connections"),
                                ({"max_connections": "8"}, "settings.max_connections"),
                                ({"max_streams_per_connection": 5000},
                                 "settings.max_streams_per_connection"),
                                ({"max_streams_per_connection": -1},
                                 "settings.max_streams_per_connection"),
                                ({"ca_file": "ca.pem"}, "settings.ca_file"),
                                ({"ca_file": ["/a"]}, "settings.ca_file"),
                                ({"http3": True}, "unknown setting 'http3'")):
            r = self.create(settings)
            self.assertEqual(r.status, 400, (settings, r))
            err = r.json()["error"]
            self.assertIn(field, err["message"], settings)
            if field.startswith("settings."):
                self.assertEqual(err.get("param"), field, err)

    def test_good_settings_are_kept_and_patch_is_checked(self):
        s = {"http2": False, "max_connections": 4, "max_streams_per_connection": 10,
             "ca_file": "/etc/ssl/certs/ca-certificates.crt"}
        r = self.create(s)
        self.assertEqual(r.status, 201, r)
        p = r.json()
        self.assertEqual(p["settings"], s)
        r = self.lx.req("PATCH", ADMIN + f"/providers/{p['id']}",
                        body={"settings": {"max_streams_per_connection": 0}})
        self.assertEqual(r.status, 400, r)
        self.assertIn("settings.max_streams_per_connection", r.json()["error"]["message"])
        r = self.lx.req("PATCH", ADMIN + f"/providers/{p['id']}",
                        body={"settings": {"http2": True}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["settings"], {"http2": True})
        r = self.lx.req("PATCH", ADMIN + f"/providers/{p['id']}",
                        body={"settings": {"http2": "auto", "http1_connections": 32}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["settings"], {"http2": "auto", "http1_connections": 32})


class ConfigFileSettings(unittest.TestCase):
    """A config file's provider block: a bad value stops start-up naming it;
    good ones reach ai_providers.settings (next to what the admin set)."""

    def run_check(self, cfg):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(cfg, f)
        try:
            lx = Llmux(env={"LLMUX_CONFIG": f.name}, wait=False)
            wait_for(lambda: not lx.proc.alive(), timeout=20, what="llmux exits")
            return lx.proc.p.wait(), lx.log()
        finally:
            os.unlink(f.name)

    def test_bad_value_stops_start_up(self):
        rc, log = self.run_check({"providers": {"x": {"base_url": "https://127.0.0.1:9/v1",
                                                      "kind": "openai_compatible",
                                                      "max_streams_per_connection": 0}}})
        self.assertNotEqual(rc, 0)
        self.assertIn("providers.x.max_streams_per_connection", log)
        rc, log = self.run_check({"upstream": {"tls_min": "1.1"}})
        self.assertNotEqual(rc, 0)
        self.assertIn("upstream.tls_min", log)
        rc, log = self.run_check({"upstream": {"ca_file": "/nonexistent/ca.pem"}})
        self.assertNotEqual(rc, 0)
        self.assertIn("upstream.ca_file", log)

    def test_settings_stored(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"providers": {"tlsx": {"base_url": "https://127.0.0.1:9/v1",
                                              "kind": "openai_compatible", "http2": False,
                                              "max_connections": 3}}}, f)
        try:
            lx = Llmux(db=True, env={"LLMUX_CONFIG": f.name})
            try:
                got = psql(lx.db, "SELECT settings::text FROM ai_providers WHERE name = 'tlsx'")
                self.assertEqual(json.loads(got), {"http2": False, "max_connections": 3})
            finally:
                assert lx.stop() == 0
        finally:
            os.unlink(f.name)


KEY = "sk-tls-secret-0123456789"


class TlsBase(unittest.TestCase):
    """llmux (one worker, no database) with providers from a config file
    against the HTTPS mock; each test starts its own llmux, so connections
    and TLS sessions never carry over from another test."""
    mock_kw = {}

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock(tls=True, **cls.mock_kw)

    @classmethod
    def tearDownClass(cls):
        assert cls.mock.stop() == 0

    def setUp(self):
        self.lx = None
        self.cfg = None
        self.mock.reset()

    def tearDown(self):
        if self.lx:
            assert self.lx.stop() == 0, self.lx.log()[-3000:]
        if self.cfg:
            os.unlink(self.cfg)

    def start(self, providers, groups=None, env=None, trust=True):
        """providers: name -> extra settings of an openai_compatible provider
        on the mock's HTTPS URL. trust: upstream.ca_file is the mock's CA
        (else only the system's CAs, which do not hold it)."""
        cfg = {"providers": {n: dict({"kind": "openai_compatible", "api_key": KEY,
                                      "base_url": self.mock.https_url + "/v1"}, **extra)
                             for n, extra in providers.items()}}
        if groups:
            cfg["groups"] = groups
        if trust:
            cfg["upstream"] = {"ca_file": self.mock.ca}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(cfg, f)
        self.cfg = f.name
        e = {"LLMUX_CONFIG": f.name, "LLMUX_BREAKER_FAILURES": "0"}
        e.update(env or {})
        self.lx = Llmux(workers=1, env=e)

    def stats_when(self, pred, what):
        """The mock's counters once pred(stats) holds."""
        out = {}

        def ok():
            out["s"] = self.mock.stats()
            return pred(out["s"])
        try:
            wait_for(ok, timeout=10, what=what)
        except AssertionError:
            raise AssertionError(f"{what}: {out.get('s')}")
        return out["s"]

    def chat(self, model, stream=False, **kw):
        body = {"model": model, "messages": MSG}
        if stream:
            body["stream"] = True
        return self.lx.chat(body, **kw)


class Http2(TlsBase):
    def test_chat_and_stream_over_h2(self):
        self.start({"p": {"http2": True}})
        r = self.chat("p/m")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["choices"][0]["message"]["content"],
                         "tok0 tok1 tok2 tok3 tok4 ")
        r = self.chat("p/m+chunks=3", stream=True)
        self.assertEqual(r.status, 200, r)
        ev = sse_events(r.body)
        self.assertEqual(ev[-1][1], "[DONE]")
        s = self.stats_when(lambda s: s["h2_streams"] >= 2, "two h2 streams")
        # one TLS connection, h2 by ALPN, both requests as streams on it
        self.assertEqual((s["tls_accepted"], s["alpn_h2"], s["alpn_http1"], s["h2_streams"]),
                         (1, 1, 0, 2), s)
        self.assertEqual(s["tls_handshakes_full"], 1, s)

    def test_answers_larger_than_the_receive_buffer_end_over_h2(self):
        # Many events in one read over HTTP/2 (chunks sent back to back, in
        # DATA frames larger than a stream's 1 KB receive buffer): curl 7.88
        # kept what did not fit for a read that nothing triggered, and the
        # stream never ended.
        self.start({"p": {"http2": True}})
        for model in ("p/m+chunks=8", "p/m+chunks=200"):
            r = self.chat(model, stream=True, timeout=10)
            self.assertEqual(r.status, 200, r)
            ev = sse_events(r.body)
            self.assertEqual(ev[-1][1], "[DONE]", model)
            n = int(model.split("=")[1])
            text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or ""
                           for _, d in ev[:-1] if json.loads(d).get("choices"))
            self.assertEqual(text, "".join(f"tok{i} " for i in range(n)), model)
        # a whole answer of 40 KB (it ended with the 4 KB buffer too)
        r = self.chat("p/m+chunks=4000", timeout=10)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["choices"][0]["message"]["content"],
                         "".join(f"tok{i} " for i in range(4000)))

    def concurrent_streams(self, n, model):
        results = [None] * n

        def one(i):
            results[i] = self.chat(model, stream=True, timeout=30)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for r in results:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(sse_events(r.body)[-1][1], "[DONE]")

    def test_streams_multiplex_under_the_cap(self):
        cap = 10
        self.start({"p": {"http2": True, "max_streams_per_connection": cap}})
        # each stream stays open ~0.6 s, so the 50 overlap
        self.concurrent_streams(50, "p/m+chunks=4+gap_ms=150")
        s = self.stats_when(lambda s: s["h2_streams"] >= 50, "50 h2 streams")
        self.assertEqual(s["h2_streams"], 50, s)
        self.assertLessEqual(s["tls_accepted"], math.ceil(50 / cap), s)
        self.assertLessEqual(s["h2_max_concurrent_streams"], cap, s)
        self.assertGreaterEqual(s["h2_max_concurrent_streams"], 2, s)  # it did multiplex

    def test_http2_connections_stay_under_the_servers_reset_limit(self):
        # curl 7.88 ends every HTTP/2 stream with an RST_STREAM, even one the
        # server closed, and servers count them since the rapid-reset attacks
        # (CVE-2023-44487): the mock's nghttp2 allows 1,000 and 33 a second,
        # then ends the connection with a GOAWAY and the streams on it
        # break. 1,600 short streams over HTTP/2, 16 at a time: no session
        # ends in error and no connection carries 1,000 streams. (A whole
        # answer has a Content-Length: curl ends it before its own reset.)
        self.start({"p": {"http2": True}})
        n, par, out = 1600, 16, []

        def worker():
            for _ in range(n // par):
                r = self.chat("p/m+chunks=2", stream=True)
                out.append((r.status, sse_events(r.body)[-1][1]))
        ts = [threading.Thread(target=worker) for _ in range(par)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(out, [(200, "[DONE]")] * n)
        s = self.stats_when(lambda s: s["h2_streams"] >= n, f"{n} streams")
        self.assertEqual(s["h2_goaway_errors"], 0, s)
        self.assertGreater(s["h2_resets_received"], 1000, s)  # curl 7.88 resets each one
        self.assertGreaterEqual(s["tls_accepted"], 2, s)
        self.assertLess(s["h2_streams"] / s["tls_accepted"], 1000, s)

    def test_default_cap_one_connection_for_50(self):
        self.start({"p": {"http2": True}})
        self.concurrent_streams(50, "p/m+chunks=4+gap_ms=150")
        s = self.stats_when(lambda s: s["h2_streams"] >= 50, "50 h2 streams")
        self.assertEqual(s["tls_accepted"], 1, s)
        self.assertGreater(s["h2_max_concurrent_streams"], 10, s)

    def test_max_connections_caps_connections(self):
        # one stream a connection, at most 2 connections: 6 streams take turns
        self.start({"p": {"max_streams_per_connection": 1, "max_connections": 2}})
        self.concurrent_streams(6, "p/m+chunks=3+gap_ms=50")
        s = self.stats_when(lambda s: s["h2_streams"] >= 6, "6 h2 streams")
        self.assertLessEqual(s["tls_accepted"], 2, s)
        self.assertEqual(s["h2_max_concurrent_streams"], 1, s)

    def test_new_connection_resumes_tls(self):
        """A second connection, opened by another easy handle for another
        provider (another curl multi), resumes the first one's TLS session:
        the worker's share holds it, not the handle that made it."""
        self.start({"a": {"http2": True},
                    "b": {"http2": True, "max_streams_per_connection": 7}})
        out = {}
        # a long stream keeps the handle that made the handshake busy
        t = threading.Thread(target=lambda: out.update(
            r=self.chat("a/m+chunks=3+gap_ms=700", stream=True, timeout=30)))
        t.start()
        self.stats_when(lambda s: s["streams_started"] >= 1, "the stream started")
        r = self.chat("a/m")  # another handle, multiplexed on the same connection
        self.assertEqual(r.status, 200, r)
        r = self.chat("b/m")  # that handle again: a new connection to the same host
        self.assertEqual(r.status, 200, r)
        t.join()
        self.assertEqual(out["r"].status, 200, out["r"])
        s = self.stats_when(lambda s: s["h2_streams"] >= 3, "three h2 streams")
        self.assertEqual((s["tls_accepted"], s["tls_handshakes_full"],
                          s["tls_handshakes_resumed"]), (2, 1, 1), s)

    def test_auto_is_http11_keep_alive_at_low_load(self):
        # the default ("auto"): one request at a time needs one HTTP/1.1
        # connection, kept alive for the next ones, whole answers and streams
        self.start({"p": {}})
        for i in range(6):
            r = self.chat("p/m+chunks=3", stream=i % 2 == 1)
            self.assertEqual(r.status, 200, r)
        s = self.stats_when(lambda s: s["chat"] + s["chat_stream"] >= 6, "six chats")
        self.assertEqual((s["tls_accepted"], s["alpn_http1"], s["alpn_h2"], s["h2_streams"]),
                         (1, 1, 0, 0), s)

    def test_auto_multiplexes_past_http1_connections(self):
        # 30 streams at once (2 s each), 4 allowed on HTTP/1.1: 4 HTTP/1.1
        # connections, the other 26 streams multiplexed on one HTTP/2 one
        self.start({"p": {"http1_connections": 4}})
        self.concurrent_streams(30, "p/m+chunks=4+gap_ms=500")
        s = self.stats_when(lambda s: s["chat_stream"] >= 30, "30 streams")
        self.assertEqual((s["alpn_http1"], s["alpn_h2"], s["h2_streams"]), (4, 1, 26), s)
        self.assertEqual(s["tls_accepted"], 5, s)
        self.assertEqual(s["tls_handshakes_full"] + s["tls_handshakes_resumed"], 5, s)
        # when they are done, one at a time is HTTP/1.1 again, on a kept connection
        self.assertEqual(self.chat("p/m").status, 200)
        s = self.stats_when(lambda s: s["chat"] >= 1, "one more chat")
        self.assertEqual((s["tls_accepted"], s["h2_streams"]), (5, 26), s)

    def test_auto_streams_past_http1_streams_multiplex(self):
        # 12 streams at once, 3 allowed on HTTP/1.1: 3 HTTP/1.1 connections
        # and 9 HTTP/2 streams; a whole answer meanwhile still gets HTTP/1.1
        # (a connection of its own: the 3 are busy)
        self.start({"p": {"http1_streams": 3}})
        out = []
        t = threading.Thread(target=lambda: out.append(
            self.concurrent_streams(12, "p/m+chunks=4+gap_ms=500")))
        t.start()
        self.stats_when(lambda s: s["streams_started"] >= 12, "12 streams started")
        self.assertEqual(self.chat("p/m").status, 200)
        t.join()
        self.assertEqual(out, [None])  # concurrent_streams asserted each stream
        s = self.stats_when(lambda s: s["chat_stream"] >= 12 and s["chat"] >= 1, "the requests")
        self.assertEqual((s["alpn_http1"], s["alpn_h2"], s["h2_streams"]), (4, 1, 9), s)

    def test_auto_streams_stay_on_http2_while_many_run(self):
        # http1_streams counts the streams on both protocols: with 2 allowed,
        # a and b go on HTTP/1.1, c, d and e on HTTP/2; when a and b are
        # done, the next stream still multiplexes (three run on HTTP/2),
        # where it used to take an HTTP/1.1 connection again (and 1,000
        # streams kept 64 a worker on HTTP/1.1, at more CPU a stream).
        self.start({"p": {"http1_streams": 2}})
        out = {}

        def stream(name, model):
            out[name] = self.chat(model, stream=True, timeout=30)
        short, long = "p/m+chunks=2+gap_ms=200", "p/m+chunks=3+gap_ms=1500"
        ts = []
        for i, (name, model) in enumerate([("a", short), ("b", short), ("c", long),
                                           ("d", long), ("e", long)]):
            ts.append(threading.Thread(target=stream, args=(name, model)))
            ts[-1].start()
            self.stats_when(lambda s, n=i + 1: s["streams_started"] >= n, f"stream {name}")
        ts[0].join()
        ts[1].join()
        self.assertEqual(self.mock.stats()["streams_completed"], 2)
        stream("f", "p/m+chunks=2")
        for t in ts[2:]:
            t.join()
        self.assertEqual([out[n].status for n in "abcdef"], [200] * 6, out)
        s = self.stats_when(lambda s: s["chat_stream"] >= 6, "six streams")
        self.assertEqual((s["alpn_http1"], s["h2_streams"]), (2, 4), s)

    def test_ca_bundle_is_read_once_not_per_connection(self):
        # A provider's CA bundle, read when its first connection is set up;
        # the second connection (the first is busy with a stream) is opened
        # after the file is gone. curl keeps the CA store in its multi only
        # when no CA directory is set: with Debian's default directory it
        # parsed the bundle again for every new TLS connection (about 21 ms
        # of CPU with the system bundle), and this second request was a 502.
        fd, ca = tempfile.mkstemp(suffix=".pem")
        with os.fdopen(fd, "w") as f, open(self.mock.ca) as src:
            f.write(src.read())
        try:
            self.start({"p": {"ca_file": ca}}, trust=False)
            out = {}
            t = threading.Thread(target=lambda: out.update(
                r=self.chat("p/m+chunks=3+gap_ms=700", stream=True, timeout=30)))
            t.start()
            self.stats_when(lambda s: s["streams_started"] >= 1, "the stream started")
        finally:
            os.unlink(ca)
        r = self.chat("p/m")
        t.join()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(out["r"].status, 200, out["r"])
        s = self.stats_when(lambda s: s["chat"] >= 1, "the chat")
        self.assertEqual((s["tls_accepted"], s["alpn_http1"]), (2, 2), s)

    def test_ca_files_are_parsed_once_per_worker(self):
        # Two providers on one server, each trusting its own copy of the CA
        # (two files), on one curl multi. curl 7.88 keeps one parsed CA
        # store per multi, for one file: it parsed a file again whenever the
        # multi's new connections switched between the two (21 ms of the
        # loop's CPU with the system bundle), and after the files were gone
        # the new connection below was a 502. The worker keeps both stores.
        cas = []
        for _ in range(2):
            fd, ca = tempfile.mkstemp(suffix=".pem")
            with os.fdopen(fd, "w") as f, open(self.mock.ca) as src:
                f.write(src.read())
            cas.append(ca)
        try:
            self.start({"a": {"ca_file": cas[0], "http2": False},
                        "b": {"ca_file": cas[1], "http2": False}}, trust=False)
            self.assertEqual(self.chat("a/m").status, 200)
            self.assertEqual(self.chat("b/m").status, 200)
        finally:
            for ca in cas:
                os.unlink(ca)
        # A stream takes each provider's kept connection, so the whole
        # answers after it need new ones.
        out = {}
        ts = [threading.Thread(target=lambda p=p: out.update({p: self.chat(
            p + "/m+chunks=3+gap_ms=700", stream=True, timeout=30)})) for p in ("a", "b")]
        for t in ts:
            t.start()
        self.stats_when(lambda s: s["streams_started"] >= 2, "the two streams started")
        for p in ("a", "b"):
            r = self.chat(p + "/m")
            self.assertEqual(r.status, 200, r)
        for t in ts:
            t.join()
        self.assertEqual([out[p].status for p in ("a", "b")], [200, 200], out)
        s = self.stats_when(lambda s: s["chat"] >= 4, "the chats")
        self.assertEqual((s["tls_accepted"], s["tls_handshakes_failed"]), (4, 0), s)

    def test_http2_false_gives_http11(self):
        self.start({"p": {"http2": False}})
        self.assertEqual(self.chat("p/m").status, 200)
        self.assertEqual(self.chat("p/m", stream=True).status, 200)
        s = self.stats_when(lambda s: s["chat_stream"] >= 1 and s["chat"] >= 1, "two chats")
        self.assertEqual((s["alpn_h2"], s["h2_streams"]), (0, 0), s)
        self.assertGreaterEqual(s["alpn_http1"], 1, s)

    def test_untrusted_certificate_is_a_502_naming_the_provider(self):
        self.start({"untrusted": {}}, trust=False)
        r = self.chat("untrusted/m")
        self.assertEqual(r.status, 502, r)
        err = r.json()["error"]
        self.assertIn("TLS certificate verification failed for provider 'untrusted'",
                      err["message"])
        self.assertNotIn(KEY, r.body.decode())
        r = self.lx.req("POST", "/v1/messages", body={"model": "untrusted/m", "messages": MSG,
                                                      "max_tokens": 10})
        self.assertEqual(r.status, 502, r)
        b = r.json()
        self.assertEqual(b["type"], "error")  # Anthropic's shape
        self.assertIn("provider 'untrusted'", b["error"]["message"])
        r = self.chat("untrusted/m", stream=True)
        self.assertEqual(r.status, 502, r)
        # not retried on the same target (retry_same is 1 by default): one
        # handshake a request, each refused by llmux
        s = self.stats_when(lambda s: s["tls_handshakes_failed"] >= 3, "three refused handshakes")
        self.assertEqual((s["tls_handshakes_failed"], s["requests_total"]), (3, 0), s)
        self.assertNotIn(KEY, self.lx.log())

    def test_untrusted_certificate_falls_back(self):
        self.start({"bad": {}, "good": {"ca_file": self.mock.ca}},
                   groups={"g": {"strategy": "priority", "members": [
                       {"provider": "bad", "model": "m", "priority": 0},
                       {"provider": "good", "model": "m", "priority": 1}]}},
                   trust=False)
        r = self.chat("g")
        self.assertEqual(r.status, 200, r)
        s = self.stats_when(lambda s: s["chat"] >= 1, "the fallback's chat")
        self.assertEqual((s["tls_handshakes_failed"], s["chat"]), (1, 1), s)


class Http11Only(TlsBase):
    """A server whose ALPN offers only http/1.1: curl falls back to it."""
    mock_kw = {"alpn": "http/1.1"}

    def test_fallback_to_http11(self):
        self.start({"p": {}})
        self.assertEqual(self.chat("p/m").status, 200)
        r = self.chat("p/m+chunks=3", stream=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sse_events(r.body)[-1][1], "[DONE]")
        s = self.stats_when(lambda s: s["chat_stream"] >= 1, "the stream")
        self.assertEqual((s["alpn_h2"], s["h2_streams"]), (0, 0), s)
        self.assertGreaterEqual(s["alpn_http1"], 1, s)


class OtherName(TlsBase):
    """A server whose certificate comes from the trusted test CA but names
    another host: the chain verifies, the name does not (curl's host check;
    OpenSSL checks the chain, multi.c)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        certs = mock_certs()
        pem, key = os.path.join(cls.dir, "other.pem"), os.path.join(cls.dir, "other.key")
        ext = os.path.join(cls.dir, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:other.example\n")
        run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=60)
        run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-subj", "/CN=other.example", "-keyout", key,
            "-out", os.path.join(cls.dir, "other.csr"))
        run("openssl", "x509", "-req", "-in", os.path.join(cls.dir, "other.csr"),
            "-CA", os.path.join(certs, "ca.pem"), "-CAkey", os.path.join(certs, "ca.key"),
            "-CAcreateserial", "-CAserial", os.path.join(cls.dir, "ca.srl"), "-days", "2",
            "-extfile", ext, "-out", pem)
        cls.mock = Mock(tls=True, cert=(pem, key))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.dir)

    def test_certificate_for_another_name_is_a_502(self):
        self.start({"p": {}, "q": {"http2": True}})
        for model in ("p/m", "q/m"):
            r = self.chat(model)
            self.assertEqual(r.status, 502, r)
            self.assertIn(f"TLS certificate verification failed for provider '{model[0]}'",
                          r.json()["error"]["message"])
        s = self.mock.stats()
        self.assertEqual((s["requests_total"], s["tls_handshakes_failed"]), (0, 0), s)
        self.assertGreaterEqual(s["tls_accepted"], 2, s)


class StoredSettings(unittest.TestCase):
    """Settings stored through the admin API reach the registry (chat) and
    the admin connection test: a provider's own ca_file trusts the mock."""

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock(tls=True)
        cls.lx = Llmux(db=True, workers=1, env={"LLMUX_BREAKER_FAILURES": "0",
                                                "LLMUX_REGISTRY_REFRESH_MS": "200"})

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0

    def admin(self, method, path, body=None, status=201):
        r = self.lx.req(method, ADMIN + path, body=body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def provider(self, name, settings):
        p = self.admin("POST", "/providers", {"name": name, "kind": "openai_compatible",
                                              "base_url": self.mock.https_url + "/v1",
                                              "settings": settings})
        c = self.admin("POST", "/connections", {"provider_id": p["id"], "name": "k",
                                                "api_key": KEY})
        return p, c

    def test_own_ca_file(self):
        _, c = self.provider("own-ca", {"ca_file": self.mock.ca, "max_streams_per_connection": 5})
        res = self.admin("POST", f"/connections/{c['id']}/test", status=200)
        self.assertTrue(res["ok"], res)
        wait_for(lambda: self.lx.chat({"model": "own-ca/m", "messages": MSG}).status == 200,
                 what="own-ca reaches the registry")

    def test_no_ca_file(self):
        _, c = self.provider("no-ca", {})
        res = self.admin("POST", f"/connections/{c['id']}/test", status=200)
        self.assertFalse(res["ok"], res)
        self.assertNotIn(KEY, json.dumps(res))
        out = {}

        def refused():
            out["r"] = self.lx.chat({"model": "no-ca/m", "messages": MSG})
            return out["r"].status == 502
        wait_for(refused, what="no-ca reaches the registry")
        self.assertIn("TLS certificate verification failed for provider 'no-ca'",
                      out["r"].json()["error"]["message"])


if __name__ == "__main__":
    unittest.main()
