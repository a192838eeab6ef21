"""The registry against a real Postgres: API keys (valid, unknown, disabled,
expired, model-restricted), NOTIFY-driven refresh seen by two instances
within a second, credentials sealed at rest and readable after a master-key
rotation, and no secret in any log line."""
import hashlib
import os
import subprocess
import time
import unittest

from harness import (ADMIN_KEY, LLMUX_BIN, MASTER_KEY, Llmux, Mock, http, new_database, psql,
                     wait_for)

MSG = [{"role": "user", "content": "hi"}]
NEW_MASTER = "bmV3LW1hc3Rlci1rZXktMzItYnl0ZXMtbG9uZy4uLi4="  # base64 of 32 bytes


def add_key(db, key, status="active", expires="NULL", allowed="NULL", notify=True):
    h = hashlib.sha256(key.encode()).hexdigest()
    kid = psql(db, "INSERT INTO api_keys (key_hash, prefix, name, status, expires_at, "
               f"allowed_models) VALUES ('\\x{h}', '{key[:11]}', 'test', '{status}', {expires}, "
               f"{allowed}) RETURNING id")
    if notify:
        psql(db, "SELECT pg_notify('llmux_config', 'keys')")
    return kid


def chat(lx, key, model="demo/mock-model+chunks=1"):
    return lx.chat({"model": model, "messages": MSG}, key=key)


class Keys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.db = new_database()
        cls.a = Llmux(db=cls.db, mock=cls.mock)
        cls.b = Llmux(db=cls.db, mock=cls.mock)  # a second instance, same database

    @classmethod
    def tearDownClass(cls):
        assert cls.a.stop() == 0
        assert cls.b.stop() == 0
        cls.mock.stop()

    def test_notify_reaches_both_instances_within_a_second(self):
        key = "lx-notify-test-key-000000000001"
        self.assertEqual(chat(self.a, key).status, 401)
        t0 = time.monotonic()
        add_key(self.db, key)
        for lx in (self.a, self.b):
            wait_for(lambda: chat(lx, key).status == 200, timeout=1.0, interval=0.02,
                     what="the new key accepted")
        self.assertLess(time.monotonic() - t0, 1.5)
        r = chat(self.b, key)
        self.assertEqual(r.status, 200)
        psql(self.db, f"UPDATE api_keys SET status = 'disabled' WHERE prefix = '{key[:11]}'; "
             "SELECT pg_notify('llmux_config', 'keys')")
        for lx in (self.a, self.b):
            wait_for(lambda: chat(lx, key).status == 401, timeout=1.0, interval=0.02,
                     what="the disabled key refused")

    def test_key_rules(self):
        good = "lx-rules-good-key-00000000000001"
        expired = "lx-rules-expired-key-0000000001"
        limited = "lx-rules-limited-key-0000000001"
        add_key(self.db, good, notify=False)
        add_key(self.db, expired, expires="now() - interval '1 minute'", notify=False)
        add_key(self.db, limited, allowed="ARRAY['demo/mock-model+chunks=1']")
        wait_for(lambda: chat(self.a, good).status == 200, timeout=2, what="keys loaded")
        r = chat(self.a, expired)
        self.assertEqual(r.status, 401)
        self.assertIn("expired", r.json()["error"]["message"])
        self.assertEqual(chat(self.a, limited).status, 200)
        r = chat(self.a, limited, model="demo/other-model")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json()["error"]["type"], "permission_error")
        self.assertEqual(chat(self.a, "lx-unknown-key-000000000000000").status, 401)
        # x-api-key works as well as Bearer
        r = self.a.req("POST", "/v1/chat/completions", key=None,
                       body={"model": "demo/mock-model+chunks=1", "messages": MSG},
                       headers={"x-api-key": good})
        self.assertEqual(r.status, 200)
        # usage rows name the key
        kid = psql(self.db, f"SELECT id FROM api_keys WHERE prefix = '{good[:11]}'")
        wait_for(lambda: psql(self.db, f"SELECT count(*) FROM ai_usage WHERE api_key_id = {kid}")
                 != "0", timeout=3, what="usage row with the key id")

    def test_models_list_respects_key(self):
        limited = "lx-models-limited-key-000000001"
        add_key(self.db, limited, allowed="ARRAY['demo/mock-model']")
        wait_for(lambda: chat(self.a, limited, model="demo/mock-model").status == 200,
                 timeout=2, what="key loaded")
        ids = {m["id"] for m in self.a.req("GET", "/v1/models", key=limited).json()["data"]}
        self.assertEqual(ids, {"demo/mock-model"})


class Credentials(unittest.TestCase):
    def run_cmd(self, args, env):
        e = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
        e.update(env)
        return subprocess.run([LLMUX_BIN, *args], env=e, capture_output=True, text=True,
                              timeout=60)

    def test_sealed_at_rest_and_rotation(self):
        secret = "sk-provider-secret-9f8e7d6c5b4a"
        mock = Mock()
        db = new_database()
        env = {"OPENAI_API_KEY": secret, "OPENAI_BASE_URL": mock.url + "/v1"}
        lx = Llmux(db=db, env=env)
        r = lx.chat({"model": "openai/gpt-4o-mini", "messages": MSG})
        self.assertEqual(r.status, 200)
        self.assertEqual(mock.last()["headers"]["authorization"], f"Bearer {secret}")
        self.assertEqual(lx.stop(), 0)
        stored = psql(db, "SELECT encode(credential, 'hex') FROM ai_connections c JOIN "
                      "ai_providers p ON p.id = c.provider_id WHERE p.name = 'openai'")
        self.assertTrue(stored)
        self.assertNotIn(secret.encode().hex(), stored)
        self.assertNotIn(secret, psql(db, "SELECT encode(credential, 'escape') FROM ai_connections"))
        self.assertNotIn(secret, lx.log())

        # rotate: the old key opens, the new one seals
        r = self.run_cmd(["rotate-master-key"], {"LLMUX_DATABASE_URL": db,
                                                 "LLMUX_MASTER_KEY": NEW_MASTER,
                                                 "LLMUX_MASTER_KEY_OLD": MASTER_KEY})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 credential(s) re-encrypted", r.stdout)
        self.assertNotEqual(psql(db, "SELECT encode(credential, 'hex') FROM ai_connections c "
                                 "JOIN ai_providers p ON p.id = c.provider_id "
                                 "WHERE p.name = 'openai'"), stored)
        # run again: nothing left to do, nothing broken
        r = self.run_cmd(["rotate-master-key"], {"LLMUX_DATABASE_URL": db,
                                                 "LLMUX_MASTER_KEY": NEW_MASTER,
                                                 "LLMUX_MASTER_KEY_OLD": MASTER_KEY})
        self.assertIn("0 credential(s)", r.stdout)

        # with only the new key, and the credential from the database alone
        lx2 = Llmux(db=db, env={"LLMUX_MASTER_KEY": NEW_MASTER,
                                "OPENAI_BASE_URL": mock.url + "/v1"})
        r = lx2.chat({"model": "openai/gpt-4o-mini", "messages": MSG})
        self.assertEqual(r.status, 200)
        self.assertEqual(mock.last()["headers"]["authorization"], f"Bearer {secret}")
        self.assertEqual(lx2.stop(), 0)
        self.assertNotIn(secret, lx2.log())

        # with the old key only, the credential does not open: no key is sent
        lx3 = Llmux(db=db, env={"OPENAI_BASE_URL": mock.url + "/v1"})
        lx3.chat({"model": "openai/gpt-4o-mini", "messages": MSG})
        self.assertNotIn("authorization", mock.last()["headers"])
        self.assertEqual(lx3.stop(), 0)
        self.assertIn("credential does not open", lx3.log())
        self.assertNotIn(secret, lx3.log())
        mock.stop()

    def test_provider_key_needs_master_key(self):
        db = new_database()
        r = self.run_cmd([], {"LLMUX_DATABASE_URL": db, "OPENAI_API_KEY": "sk-x",
                              "LLMUX_LISTEN": "127.0.0.1:1", "LLMUX_WORKERS": "1"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LLMUX_MASTER_KEY", r.stderr)
        self.assertNotIn("sk-x", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
