"""Every AI endpoint runs through one driver (src/ai/endpoint.c); the
divergences the four copied handlers had are gone: the Anthropic
pass-through of /v1/messages builds its request head the way the Anthropic
adapter does (one anthropic-version, a trailing '/' of base_url dropped)."""
import json
import os
import shutil
import tempfile
import unittest

from harness import Llmux, Mock, http

MSG = [{"role": "user", "content": "hello"}]
ANT_KEY = "sk-ant-endpoint-key"


def last_header_pairs(mock):
    """The headers of the mock's last request as (name, value) pairs, so that
    a header sent twice shows twice."""
    raw = http("GET", mock.url + "/_mock/last").body
    pairs = json.loads(raw, object_pairs_hook=lambda kv: kv)
    return dict(pairs)["headers"]


class Endpoints(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.tmp = tempfile.mkdtemp(prefix="lx-endpoints-")
        cfg = os.path.join(cls.tmp, "llmux.json")
        with open(cfg, "w") as f:
            json.dump({"providers": {
                # an Anthropic provider pinned to another API version, with a
                # configured beta and a base_url that ends in '/'
                "pinned": {"kind": "anthropic", "base_url": cls.mock.url + "/",
                           "api_key": ANT_KEY,
                           "headers": {"anthropic-version": "2023-01-01",
                                       "anthropic-beta": "cfg-beta"}},
                "plain": {"kind": "anthropic", "base_url": cls.mock.url + "/",
                          "api_key": ANT_KEY},
            }}, f)
        cls.lx = Llmux(mock=cls.mock, args=("--config", cfg))

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.lx.stop() == 0
            assert cls.mock.stop() == 0
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def messages(self, model, headers, stream=False):
        body = {"model": model, "max_tokens": 20, "messages": MSG}
        if stream:
            body["stream"] = True
        return self.lx.req("POST", "/v1/messages", body=body, headers=headers)

    def test_passthrough_head_is_the_adapters(self):
        for stream in (False, True):
            with self.subTest(stream=stream):
                # the client's own version and beta: the configured ones win, once each
                r = self.messages("pinned/claude-x+chunks=2",
                                  {"anthropic-version": "2023-06-01",
                                   "anthropic-beta": "client-beta"}, stream)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.mock.last()["path"], "/v1/messages")
                h = last_header_pairs(self.mock)
                self.assertEqual([v for k, v in h if k == "anthropic-version"], ["2023-01-01"], h)
                self.assertEqual([v for k, v in h if k == "anthropic-beta"], ["cfg-beta"], h)
                self.assertEqual([v for k, v in h if k == "x-api-key"], [ANT_KEY], h)

    def test_passthrough_without_configured_version_takes_the_clients(self):
        r = self.messages("plain/claude-x+chunks=2",
                          {"anthropic-version": "2023-06-01", "anthropic-beta": "client-beta"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.mock.last()["path"], "/v1/messages")
        h = last_header_pairs(self.mock)
        self.assertEqual([v for k, v in h if k == "anthropic-version"], ["2023-06-01"], h)
        self.assertEqual([v for k, v in h if k == "anthropic-beta"], ["client-beta"], h)

    def test_translated_and_passthrough_agree(self):
        # the same provider reached by an OpenAI client (translated by the
        # adapter) and by an Anthropic client (pass-through): the same head
        r = self.lx.chat({"model": "pinned/claude-x+chunks=2", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        translated = (self.mock.last()["path"], sorted(
            (k, v) for k, v in last_header_pairs(self.mock) if k != "x-request-id"))
        r = self.messages("pinned/claude-x+chunks=2", {})
        self.assertEqual(r.status, 200, r)
        passthrough = (self.mock.last()["path"], sorted(
            (k, v) for k, v in last_header_pairs(self.mock) if k != "x-request-id"))
        self.assertEqual(translated, passthrough)


if __name__ == "__main__":
    unittest.main()
