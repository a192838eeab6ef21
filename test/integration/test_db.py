"""Migrations against a real Postgres: from empty, once each, recorded."""
import os
import subprocess
import unittest

from harness import LLMUX_BIN, Llmux, http, new_database, psql

TABLES = {"ai_providers", "ai_connections", "ai_models", "ai_groups", "ai_group_members",
          "api_keys", "ai_usage", "ai_tasks", "audit_log", "schema_migrations"}


def migrate(db):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
    env["LLMUX_DATABASE_URL"] = db
    return subprocess.run([LLMUX_BIN, "migrate"], env=env, capture_output=True, text=True,
                          timeout=60)


class Migrations(unittest.TestCase):
    def test_from_empty_then_idempotent(self):
        db = new_database()
        r = migrate(db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^[1-9]\d* migration\(s\) applied")
        tables = set(psql(db, "SELECT tablename FROM pg_tables WHERE schemaname='public'").split())
        self.assertTrue(TABLES <= tables, TABLES - tables)
        names = psql(db, "SELECT name FROM schema_migrations ORDER BY name").split()
        self.assertEqual(names[0], "001_core")
        r = migrate(db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("0 migration(s) applied"))

    def test_unreachable_database_fails_fast_without_secret(self):
        bad = "postgresql://llmux:hunter2-secret@127.0.0.1:1/none"
        r = migrate(bad)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot connect", r.stderr)
        self.assertNotIn("hunter2-secret", r.stderr + r.stdout)

    def test_malformed_url_is_a_config_error_without_the_password(self):
        # libpq quotes the piece of a conninfo it cannot parse, which may be
        # the password (or the whole URL): llmux checks the URL at start-up
        # (check-config included), names database_url and never prints it.
        secret = "S3cretPW-xyz"
        bad = [
            f"postgresql://bob:{secret}@[::1/db",
            f"postgresql://bob:{secret}%zz@127.0.0.1/db",
            f"postgres://bob:{secret}@127.0.0.1:5432/db?foo=bar",
            f"postgresql://bob:{secret}@127.0.0.1:notaport/db",
            f"host=127.0.0.1 password={secret} bogus=1",
            f"host=127.0.0.1 password='{secret}",
            f"host=127.0.0.1 password = {secret} port=x",
        ]
        base = {k: v for k, v in os.environ.items() if not k.startswith("LLMUX_")}
        for url in bad:
            for cmd in (["check-config"], ["migrate"], []):
                env = dict(base, LLMUX_DATABASE_URL=url, LLMUX_LISTEN="127.0.0.1:1")
                r = subprocess.run([LLMUX_BIN, *cmd], env=env, capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(r.returncode, 2, (url, cmd, r.stdout, r.stderr))
                self.assertIn("database_url", r.stderr, (url, cmd))
                self.assertNotIn(secret, r.stdout + r.stderr, (url, cmd))
                self.assertNotIn("S3cret", r.stdout + r.stderr, (url, cmd))

    def test_serve_applies_migrations_and_is_ready(self):
        lx = Llmux(db=True)
        try:
            r = http("GET", lx.url + "/readyz")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["database"], "ok")
            sql_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sql")
            n = len([f for f in os.listdir(sql_dir) if f.endswith(".sql")])
            self.assertEqual(psql(lx.db, "SELECT count(*) FROM schema_migrations"), str(n))
        finally:
            self.assertEqual(lx.stop(), 0)

    def test_usage_writers_from_before_004_still_insert_once(self):
        # During a rolling upgrade, llmux versions from before
        # sql/004_usage_write_cost.sql keep writing usage with their own
        # statement: idempotent through ON CONFLICT (record_id).
        db = new_database()
        r = migrate(db)
        self.assertEqual(r.returncode, 0, r.stderr)
        old = ("INSERT INTO ai_usage (record_id, request_id, provider, model, feature, status, "
               "total_us, created_at) SELECT r, 'q-' || r, 'p', 'm', 'chat', 200, 1, "
               "to_timestamp(1700000000000 / 1000.0) FROM unnest('{s-0-1,s-0-2}'::text[]) AS u(r) "
               "ON CONFLICT (record_id) DO NOTHING")
        psql(db, old)
        psql(db, old)  # the same batch again, after a lost answer
        self.assertEqual(psql(db, "SELECT count(*) FROM ai_usage"), "2")


if __name__ == "__main__":
    unittest.main()
