"""A provider's extra_headers sealed at rest (AES-256-GCM with the master
key, bound to the provider's id) like connection credentials: nothing of a
header value is left in any column of ai_providers (nor in audit_log), yet
every request upstream and the connection test still carry the header;
rows an older version stored in plain text are sealed when llmux starts
(once, and only then cleared); rotate-master-key re-seals them; without a
master key, storing header values is refused."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from unittest import mock as umock

import harness
from harness import (LLMUX_BIN, MASTER_KEY, Llmux, Mock, free_port, new_database, psql,
                     wait_for)

API = "/api/v1/admin/ai"
MSG = [{"role": "user", "content": "hi"}]
NEW_MASTER = "bmV3LW1hc3Rlci1rZXktMzItYnl0ZXMtbG9uZy4uLi4="  # base64 of 32 bytes


def row_text(db, name):
    """Everything stored in the provider's row, as text (bytea as hex)."""
    return psql(db, f"SELECT p::text FROM ai_providers p WHERE name = '{name}'")


def assert_not_stored(tc, db, name, *secrets):
    row = row_text(db, name)
    tc.assertTrue(row, f"no row for {name}")
    audit = psql(db, "SELECT coalesce(string_agg(a::text, ' '), '') FROM audit_log a")
    for s in secrets:
        for text in (row, audit):
            tc.assertNotIn(s, text)
            tc.assertNotIn(s.encode().hex(), text)  # not even as plain bytes in a bytea


def chat_until(lx, model, want=200, tries=60):
    r = None
    for _ in range(tries):  # the registry reloads on NOTIFY
        r = lx.chat({"model": model, "messages": MSG})
        if r.status == want:
            return r
        time.sleep(0.1)
    return r


class _ProcWithoutMasterKey(harness.Proc):
    def __init__(self, argv, env, name, **kw):
        super().__init__(argv, {k: v for k, v in env.items() if k != "LLMUX_MASTER_KEY"}, name, **kw)


def llmux_without_master_key(**kw):
    with umock.patch.object(harness, "Proc", _ProcWithoutMasterKey):
        return Llmux(**kw)


def run(args, env, timeout=60):
    e = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
    e.update(env)
    return subprocess.run([LLMUX_BIN, *args], env=e, capture_output=True, text=True,
                          timeout=timeout)


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.db = new_database()
        cls.lx = Llmux(db=cls.db, mock=cls.mock)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def call(self, method, path, body=None):
        return self.lx.req(method, API + path, body=body)

    def test_admin_headers_sealed_at_rest_and_sent_upstream(self):
        tok, org = "cf-access-secret-0a1b2c3d4e5f", "org-secret-6789abcdef"
        r = self.call("POST", "/providers", {
            "name": "sealed", "kind": "openai_compatible", "base_url": self.mock.url + "/v1",
            "extra_headers": {"X-Test-Access-Token": tok, "OpenAI-Organization": org}})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["extra_headers"],
                         {"X-Test-Access-Token": "***", "OpenAI-Organization": "***"})
        for k in ("extra_headers_sealed", "extra_header_names"):
            self.assertNotIn(k, r.json())
        pid = r.json()["id"]
        assert_not_stored(self, self.db, "sealed", tok, org)
        self.assertEqual(psql(self.db, f"SELECT extra_headers::text FROM ai_providers "
                              f"WHERE id = {pid}"), "{}")
        self.assertEqual(psql(self.db, f"SELECT extra_headers_sealed IS NOT NULL FROM "
                              f"ai_providers WHERE id = {pid}"), "t")

        self.assertEqual(self.call("POST", "/models", {"provider_id": pid,
                                                       "upstream_name": "mock-model"}).status, 201)
        self.mock.reset()
        r = chat_until(self.lx, "sealed/mock-model")
        self.assertEqual(r.status, 200, r)
        h = self.mock.last()["headers"]
        self.assertEqual(h.get("x-test-access-token"), tok)
        self.assertEqual(h.get("openai-organization"), org)

        # the connection test opens them too
        c = self.call("POST", "/connections", {"provider_id": pid, "name": "k",
                                               "api_key": "sk-conn-test-0123"})
        self.assertEqual(c.status, 201, c)
        self.mock.reset()
        t = self.call("POST", f"/connections/{c.json()['id']}/test")
        self.assertEqual(t.status, 200, t)
        self.assertTrue(t.json()["ok"], t)
        self.assertEqual(self.mock.last()["headers"].get("x-test-access-token"), tok)
        self.assertNotIn(tok.encode(), t.body)

        # a PATCH that sets extra_headers replaces them all, sealed again
        other = "proxy-secret-fedcba9876"
        r = self.call("PATCH", f"/providers/{pid}",
                      {"extra_headers": {"Authorization": "Bearer " + other}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["extra_headers"], {"Authorization": "***"})
        assert_not_stored(self, self.db, "sealed", tok, org, other)
        self.mock.reset()

        def replaced():
            r = self.lx.chat({"model": "sealed/mock-model", "messages": MSG})
            return r.status == 200 and "openai-organization" not in self.mock.last()["headers"]
        wait_for(replaced, timeout=6, interval=0.1, what="the replaced headers in use")
        h = self.mock.last()["headers"]
        self.assertNotIn("x-test-access-token", h)
        # a provider extra header named Authorization wins over the (keyless) default
        self.assertIn(other, json.dumps(h))

        # a PATCH of another field keeps them
        self.assertEqual(self.call("PATCH", f"/providers/{pid}",
                                   {"first_byte_timeout_ms": 30000}).status, 200)
        self.assertEqual(self.call("GET", f"/providers/{pid}").json()["extra_headers"],
                         {"Authorization": "***"})
        # {} removes them
        r = self.call("PATCH", f"/providers/{pid}", {"extra_headers": {}})
        self.assertEqual(r.json()["extra_headers"], {})
        self.assertEqual(psql(self.db, f"SELECT extra_headers_sealed IS NULL FROM ai_providers "
                              f"WHERE id = {pid}"), "t")
        self.assertNotIn(other, self.lx.log())
        self.assertNotIn(tok, self.lx.log())


class Migration(unittest.TestCase):
    def test_plain_rows_are_sealed_at_start_up(self):
        secret = "legacy-plain-secret-13579bdf"
        mock = Mock()
        db = new_database()
        lx = Llmux(db=db, mock=mock)  # creates the schema
        self.assertEqual(lx.stop(), 0)
        # back to the schema an older llmux had, with a row it stored
        psql(db, "ALTER TABLE ai_providers DROP COLUMN IF EXISTS extra_headers_sealed, "
             "DROP COLUMN IF EXISTS extra_header_names; "
             "DELETE FROM schema_migrations WHERE name LIKE '005%'")
        pid = psql(db, "INSERT INTO ai_providers (name, kind, base_url, extra_headers) VALUES "
                   f"('legacy', 'openai_compatible', '{mock.url}/v1', "
                   f"'{{\"X-Test-Legacy-Token\": \"{secret}\"}}'::jsonb) RETURNING id")
        psql(db, "INSERT INTO ai_models (provider_id, upstream_name, public_name) VALUES "
             f"({pid}, 'mock-model', 'legacy-model')")
        self.assertIn(secret, row_text(db, "legacy"))

        lx = Llmux(db=db, mock=mock)
        try:
            assert_not_stored(self, db, "legacy", secret)
            self.assertEqual(psql(db, f"SELECT extra_headers::text FROM ai_providers "
                                  f"WHERE id = {pid}"), "{}")
            sealed = psql(db, f"SELECT encode(extra_headers_sealed, 'hex') FROM ai_providers "
                          f"WHERE id = {pid}")
            self.assertTrue(sealed)
            r = lx.chat({"model": "legacy/mock-model", "messages": MSG})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(mock.last()["headers"].get("x-test-legacy-token"), secret)
            got = lx.req("GET", API + f"/providers/{pid}").json()
            self.assertEqual(got["extra_headers"], {"X-Test-Legacy-Token": "***"})
        finally:
            self.assertEqual(lx.stop(), 0)
        self.assertNotIn(secret, lx.log())

        # idempotent: a second start changes nothing and still sends it
        lx = Llmux(db=db, mock=mock)
        try:
            self.assertEqual(psql(db, f"SELECT encode(extra_headers_sealed, 'hex') FROM "
                                  f"ai_providers WHERE id = {pid}"), sealed)
            mock.reset()
            r = lx.chat({"model": "legacy/mock-model", "messages": MSG})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(mock.last()["headers"].get("x-test-legacy-token"), secret)
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()

    def test_plain_rows_stay_usable_without_a_master_key(self):
        secret = "legacy-nokey-secret-2468ace0"
        mock = Mock()
        db = new_database()
        lx = Llmux(db=db, mock=mock)
        self.assertEqual(lx.stop(), 0)
        pid = psql(db, "INSERT INTO ai_providers (name, kind, base_url, extra_headers) VALUES "
                   f"('legacy2', 'openai_compatible', '{mock.url}/v1', "
                   f"'{{\"X-Test-Legacy-Token\": \"{secret}\"}}'::jsonb) RETURNING id")
        psql(db, "INSERT INTO ai_models (provider_id, upstream_name, public_name) VALUES "
             f"({pid}, 'mock-model', 'legacy2-model')")
        lx = llmux_without_master_key(db=db, mock=mock)
        try:
            # nothing to seal with: left as it was (and said so), still sent
            self.assertIn(secret, row_text(db, "legacy2"))
            r = lx.chat({"model": "legacy2/mock-model", "messages": MSG})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(mock.last()["headers"].get("x-test-legacy-token"), secret)
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()
        self.assertIn("LLMUX_MASTER_KEY", lx.log())
        self.assertNotIn(secret, lx.log())


class Rotation(unittest.TestCase):
    def test_rotate_master_key_reseals_headers(self):
        secret = "rotate-hdr-secret-0f1e2d3c4b"
        mock = Mock()
        db = new_database()
        lx = Llmux(db=db, mock=mock)
        try:
            r = lx.req("POST", API + "/providers", {
                "name": "rot", "kind": "openai_compatible", "base_url": mock.url + "/v1",
                "extra_headers": {"X-Test-Rot-Token": secret}})
            self.assertEqual(r.status, 201, r)
            pid = r.json()["id"]
            lx.req("POST", API + "/models", {"provider_id": pid, "upstream_name": "mock-model"})
        finally:
            self.assertEqual(lx.stop(), 0)
        q = f"SELECT encode(extra_headers_sealed, 'hex') FROM ai_providers WHERE id = {pid}"
        before = psql(db, q)
        self.assertTrue(before)

        env = {"LLMUX_DATABASE_URL": db, "LLMUX_MASTER_KEY": NEW_MASTER,
               "LLMUX_MASTER_KEY_OLD": MASTER_KEY}
        r = run(["rotate-master-key"], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 provider header set(s)", r.stdout)
        after = psql(db, q)
        self.assertNotEqual(after, before)
        self.assertNotIn(secret.encode().hex(), after)
        r = run(["rotate-master-key"], env)  # again: nothing left, nothing broken
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 provider header set(s)", r.stdout)
        self.assertEqual(psql(db, q), after)

        # the new key alone opens them
        lx = Llmux(db=db, mock=mock, env={"LLMUX_MASTER_KEY": NEW_MASTER})
        try:
            mock.reset()
            r = lx.chat({"model": "rot/mock-model", "messages": MSG})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(mock.last()["headers"].get("x-test-rot-token"), secret)
        finally:
            self.assertEqual(lx.stop(), 0)
        # the old key alone does not: the provider is not used without them
        lx = Llmux(db=db, mock=mock)
        try:
            mock.reset()
            r = lx.chat({"model": "rot/mock-model", "messages": MSG})
            self.assertNotEqual(r.status, 200, r)
            self.assertEqual(mock.stats()["chat"], 0)
        finally:
            self.assertEqual(lx.stop(), 0)
            mock.stop()
        self.assertIn("extra headers do not open", lx.log())
        self.assertNotIn(secret, lx.log())


class NoMasterKey(unittest.TestCase):
    def test_header_values_need_the_master_key(self):
        secret = "nokey-hdr-secret-55aa"
        lx = llmux_without_master_key(db=True)
        try:
            body = {"name": "nk", "kind": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
                    "extra_headers": {"X-Tok": secret}}
            r = lx.req("POST", API + "/providers", body)
            self.assertEqual(r.status, 503, r)
            err = r.json()["error"]
            self.assertIn("LLMUX_MASTER_KEY", err["message"])
            self.assertEqual(err["param"], "extra_headers")
            body["extra_headers"] = {}
            r = lx.req("POST", API + "/providers", body)
            self.assertEqual(r.status, 201, r)
            r = lx.req("PATCH", API + f"/providers/{r.json()['id']}",
                       {"extra_headers": {"X-Tok": secret}})
            self.assertEqual(r.status, 503, r)
            self.assertIn("LLMUX_MASTER_KEY", r.json()["error"]["message"])
            self.assertNotIn(secret, psql(lx.db, "SELECT coalesce(string_agg(p::text, ' '), '') "
                                          "FROM ai_providers p"))
        finally:
            self.assertEqual(lx.stop(), 0)
        self.assertNotIn(secret, lx.log())

    def test_config_headers_need_the_master_key_with_a_database(self):
        tmp = tempfile.mkdtemp(prefix="lx-seal-")
        try:
            cfg = os.path.join(tmp, "llmux.json")
            with open(cfg, "w") as f:
                json.dump({"providers": {"hdr": {
                    "kind": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
                    "headers": {"X-Test-Cfg-Token": "cfg-secret-77"}}}}, f)
            r = run(["--config", cfg], {"LLMUX_DATABASE_URL": new_database(),
                                        "LLMUX_LISTEN": f"127.0.0.1:{free_port()}",
                                        "LLMUX_WORKERS": "1"}, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("LLMUX_MASTER_KEY", r.stderr)
            self.assertNotIn("cfg-secret-77", r.stderr + r.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_config_headers_are_stored_sealed(self):
        tmp = tempfile.mkdtemp(prefix="lx-seal-")
        mock = Mock()
        try:
            cfg = os.path.join(tmp, "llmux.json")
            with open(cfg, "w") as f:
                json.dump({"providers": {"cfghdr": {
                    "kind": "openai_compatible", "base_url": mock.url + "/v1",
                    "headers": {"X-Test-Cfg-Token": "cfg-secret-88aa"}}}}, f)
            db = new_database()
            lx = Llmux(db=db, mock=mock, args=("--config", cfg))
            try:
                assert_not_stored(self, db, "cfghdr", "cfg-secret-88aa")
                pid = psql(db, "SELECT id FROM ai_providers WHERE name = 'cfghdr'")
                psql(db, "INSERT INTO ai_models (provider_id, upstream_name, public_name) VALUES "
                     f"({pid}, 'mock-model', 'cfg-model'); SELECT pg_notify('llmux_config', 'm')")
                r = chat_until(lx, "cfghdr/mock-model")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(mock.last()["headers"].get("x-test-cfg-token"), "cfg-secret-88aa")
            finally:
                self.assertEqual(lx.stop(), 0)
        finally:
            mock.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
