"""Per-model overrides of a key's, user's and team's limits (issue 18):
{"model_limits": {"<model>": {"rpm": 10, "budget_usd": 5}}} is validated by
the admin API, stored, shown, and enforced on requests that name that
model, on top of the owner's own limits."""
import time
import unittest

from harness import Llmux, Mock

API = "/api/v1/admin/ai"


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock)

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        cls.mock.stop()

    def post(self, what, body):
        return self.lx.req("POST", f"{API}/{what}", body={"name": f"m{time.monotonic_ns()}", **body})

    def test_stored_and_shown_on_keys_users_teams(self):
        ml = {"demo/mock-model": {"rpm": 10, "budget_usd": 5}, "smart": {"tpm": 1000, "rpd": 7}}
        for what in ("keys", "users", "teams"):
            r = self.post(what, {"model_limits": ml})
            self.assertEqual(r.status, 201, (what, r.body))
            got = self.lx.req("GET", f"{API}/{what}/{r.json()['id']}").json()
            self.assertEqual(got["model_limits"], ml, what)
            r = self.lx.req("PATCH", f"{API}/{what}/{got['id']}",
                            body={"model_limits": {"smart": {"rpm": 3}}})
            self.assertEqual(r.status, 200, (what, r.body))
            self.assertEqual(r.json()["model_limits"], {"smart": {"rpm": 3}}, what)

    def test_default_is_empty(self):
        r = self.post("keys", {})
        self.assertEqual(r.json()["model_limits"], {})

    def test_bad_shapes_are_400_naming_the_field(self):
        bad = [
            ([1, 2], "must be a JSON object"),
            ({"gpt 4o": {"rpm": 1}}, "not a valid model name"),
            ({"gpt-4o": 5}, "must be an object"),
            ({"gpt-4o": {}}, "must be an object"),
            ({"gpt-4o": {"rpm": 0}}, "positive integer"),
            ({"gpt-4o": {"rpm": 1.5}}, "integer"),
            ({"gpt-4o": {"budget_usd": -1}}, ">= 0"),
            ({"gpt-4o": {"budget_usd": "5"}}, ">= 0"),
            ({"gpt-4o": {"max_tokens": 5}}, "is not a limit"),
            ({f"m{i}": {"rpm": 1} for i in range(65)}, "more than 64"),
        ]
        for ml, words in bad:
            for what in ("keys", "teams"):
                r = self.post(what, {"model_limits": ml})
                self.assertEqual(r.status, 400, (what, ml, r.body))
                err = r.json()["error"]
                self.assertEqual(err["param"], "model_limits", (ml, err))
                self.assertIn(words, err["message"], ml)


if __name__ == "__main__":
    unittest.main()
