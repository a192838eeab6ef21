"""Every client wire against every provider wire, on the mock: OpenAI and
Anthropic clients; OpenAI-compatible, Anthropic and Gemini upstreams;
non-stream and stream; tools; usage; errors; embeddings; models."""
import json
import unittest

from harness import Llmux, Mock, sse_events

MSG = [{"role": "user", "content": "hello"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                           "parameters": {"type": "object", "properties": {
                                               "location": {"type": "string"}}}}}]


def openai_text(chunks):
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks
                   if c.get("choices"))


def openai_chunks(body):
    events = sse_events(body)
    assert events[-1][1] == "[DONE]", events[-3:]
    return [json.loads(d) for _, d in events[:-1]]


class Providers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(mock=cls.mock, env={
            "OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": cls.mock.url + "/v1",
            "ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": cls.mock.url,
            "GEMINI_API_KEY": "gem-test-key", "GEMINI_BASE_URL": cls.mock.url,
            # per-request fault checks: no breaker, no cooling (see test_routing)
            "LLMUX_BREAKER_FAILURES": "0", "LLMUX_COOLING_CAP_MS": "0", "LLMUX_RETRY_SAME": "0",
        })

    @classmethod
    def tearDownClass(cls):
        assert cls.lx.stop() == 0
        assert cls.mock.stop() == 0

    # ---- OpenAI client -> Anthropic upstream ----

    def test_openai_to_anthropic(self):
        r = self.lx.chat({"model": "anthropic/claude-x+chunks=3", "messages": [
            {"role": "system", "content": "be brief"}] + MSG, "max_tokens": 50})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["object"], "chat.completion")
        self.assertEqual(b["choices"][0]["message"]["content"], "tok0 tok1 tok2 ")
        self.assertEqual(b["choices"][0]["finish_reason"], "stop")
        self.assertEqual(b["usage"]["completion_tokens"], 3)
        last = self.mock.last()
        self.assertEqual(last["path"], "/v1/messages")
        self.assertEqual(last["headers"]["x-api-key"], "sk-ant-test")
        self.assertIn("anthropic-version", last["headers"])
        sent = json.loads(last["body"])
        self.assertEqual(sent["system"], "be brief")
        self.assertEqual(sent["model"], "claude-x+chunks=3")

    def test_openai_to_anthropic_stream(self):
        r = self.lx.chat({"model": "anthropic/claude-x+chunks=4", "messages": MSG,
                          "stream": True, "stream_options": {"include_usage": True}})
        self.assertEqual(r.status, 200)
        chunks = openai_chunks(r.body)
        self.assertEqual(openai_text(chunks), "tok0 tok1 tok2 tok3 ")
        self.assertEqual(len({c["id"] for c in chunks}), 1)
        self.assertEqual({c["model"] for c in chunks}, {"claude-x+chunks=4"})
        finish = [c["choices"][0]["finish_reason"] for c in chunks
                  if c.get("choices") and c["choices"][0].get("finish_reason")]
        self.assertEqual(finish, ["stop"])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 4)

    def test_openai_to_anthropic_tools_stream(self):
        r = self.lx.chat({"model": "anthropic/claude-x+chunks=2", "messages": MSG,
                          "tools": TOOLS, "stream": True})
        chunks = openai_chunks(r.body)
        calls = [tc for c in chunks if c.get("choices")
                 for tc in c["choices"][0]["delta"].get("tool_calls", [])]
        self.assertEqual(calls[0]["function"]["name"], "get_weather")
        self.assertEqual({tc["index"] for tc in calls}, {0})
        args = "".join(tc["function"].get("arguments", "") for tc in calls)
        self.assertEqual(json.loads(args), {"location": "Paris", "unit": "celsius"})
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "tool_calls")

    def test_anthropic_stop_reasons(self):
        for fault, want in (("max_tokens", "length"), ("refusal", "content_filter")):
            r = self.lx.chat({"model": f"anthropic/c+fault={fault}", "messages": MSG})
            self.assertEqual(r.json()["choices"][0]["finish_reason"], want, fault)

    def test_anthropic_midstream_error_event(self):
        r = self.lx.chat({"model": "anthropic/c+chunks=5+fault=error_event+after=2",
                          "messages": MSG, "stream": True})
        events = sse_events(r.body)
        self.assertNotEqual(events[-1][1], "[DONE]")
        self.assertIn("Overloaded", json.loads(events[-1][1])["error"]["message"])

    def test_anthropic_429(self):
        r = self.lx.chat({"model": "anthropic/c+fault=429+retry_after=3", "messages": MSG})
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["retry-after"], "3")
        self.assertIn("error", r.json())

    # ---- OpenAI client -> Gemini upstream ----

    def test_openai_to_gemini(self):
        r = self.lx.chat({"model": "gemini/gemini-x+chunks=3", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["choices"][0]["message"]["content"], "tok0 tok1 tok2 ")
        last = self.mock.last()
        self.assertIn(":generateContent", last["path"])
        self.assertNotIn("gem-test-key", last["path"] + (last.get("query") or ""))
        self.assertEqual(last["headers"]["x-goog-api-key"], "gem-test-key")

    def test_openai_to_gemini_stream(self):
        r = self.lx.chat({"model": "gemini/gemini-x+chunks=4", "messages": MSG,
                          "stream": True})
        chunks = openai_chunks(r.body)
        self.assertEqual(openai_text(chunks), "tok0 tok1 tok2 tok3 ")
        self.assertEqual(len({c["id"] for c in chunks}), 1)

    def test_openai_to_gemini_tools(self):
        r = self.lx.chat({"model": "gemini/gemini-x", "messages": MSG, "tools": TOOLS})
        msg = r.json()["choices"][0]
        self.assertEqual(msg["finish_reason"], "tool_calls")
        self.assertEqual(msg["message"]["tool_calls"][0]["function"]["name"], "get_weather")

    def test_gemini_errors(self):
        r = self.lx.chat({"model": "gemini/g+fault=503", "messages": MSG})
        self.assertEqual(r.status, 503)

    # ---- Anthropic client ----

    def messages(self, body, **kw):
        return self.lx.req("POST", "/v1/messages", body=body,
                           headers={"anthropic-version": "2023-06-01"}, **kw)

    def test_messages_passthrough_to_anthropic(self):
        r = self.messages({"model": "anthropic/claude-x+chunks=2", "max_tokens": 20,
                           "messages": MSG})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["type"], "message")
        self.assertEqual(b["content"][0]["text"], "tok0 tok1 ")
        sent = json.loads(self.mock.last()["body"])
        self.assertEqual(sent["model"], "claude-x+chunks=2")

    def test_messages_stream_passthrough(self):
        r = self.messages({"model": "anthropic/claude-x+chunks=3", "max_tokens": 20,
                           "messages": MSG, "stream": True})
        events = sse_events(r.body)
        names = [e for e, _ in events]
        self.assertEqual(names[0], "message_start")
        self.assertEqual(names[-1], "message_stop")
        text = "".join(json.loads(d)["delta"].get("text", "") for e, d in events
                       if e == "content_block_delta")
        self.assertEqual(text, "tok0 tok1 tok2 ")

    def test_messages_to_openai_upstream(self):
        r = self.messages({"model": "demo/mock-model+chunks=3", "max_tokens": 20,
                           "system": "be brief", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["type"], "message")
        self.assertEqual(b["role"], "assistant")
        self.assertEqual(b["content"][0]["text"], "tok0 tok1 tok2 ")
        self.assertEqual(b["stop_reason"], "end_turn")
        self.assertEqual(b["usage"]["output_tokens"], 3)
        sent = json.loads(self.mock.last()["body"])
        self.assertEqual(sent["messages"][0], {"role": "system", "content": "be brief"})

    def test_messages_stream_to_openai_upstream(self):
        r = self.messages({"model": "demo/mock-model+chunks=3", "max_tokens": 20,
                           "messages": MSG, "stream": True})
        events = sse_events(r.body)
        names = [e for e, _ in events]
        self.assertEqual(names[0], "message_start")
        self.assertEqual(names[-2:], ["message_delta", "message_stop"])
        for e, d in events:
            self.assertEqual(json.loads(d)["type"], e)
        text = "".join(json.loads(d)["delta"].get("text", "") for e, d in events
                       if e == "content_block_delta")
        self.assertEqual(text, "tok0 tok1 tok2 ")
        self.assertNotIn("[DONE]", r.body.decode())

    def test_messages_stream_to_gemini(self):
        r = self.messages({"model": "gemini/gemini-x+chunks=2", "max_tokens": 20,
                           "messages": MSG, "stream": True})
        events = sse_events(r.body)
        self.assertEqual(events[-1][0], "message_stop")
        text = "".join(json.loads(d)["delta"].get("text", "") for e, d in events
                       if e == "content_block_delta")
        self.assertEqual(text, "tok0 tok1 ")

    def test_messages_errors_in_anthropic_shape(self):
        r = self.messages({"model": "demo/mock-model", "messages": MSG})
        self.assertEqual(r.status, 400)
        b = r.json()
        self.assertEqual(b["type"], "error")
        self.assertEqual(b["error"]["type"], "invalid_request_error")
        r = self.messages({"model": "demo/m", "max_tokens": 5, "messages": MSG}, key="bad")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["type"], "authentication_error")
        r = self.messages({"model": "nope/m", "max_tokens": 5, "messages": MSG})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["type"], "not_found_error")

    def test_out_of_range_max_tokens_is_400_naming_the_param(self):
        # A limit llmux does arithmetic with (routing adds it to the prompt)
        # must be an integer in [1, 1e9]: otherwise 400 in the client's own
        # shape, and nothing goes upstream.
        self.mock.reset()
        bad = [9223372036854775807, -9223372036854775808, 1000000001, 0, -1, 1.5, "100", True]
        for model in ("demo/mock-model", "anthropic/claude-x", "gemini/g"):
            for param in ("max_tokens", "max_completion_tokens"):
                for v in bad:
                    for stream in (False, True):
                        r = self.lx.chat({"model": model, "messages": MSG, param: v,
                                          "stream": stream})
                        self.assertEqual(r.status, 400, (model, param, v, r))
                        e = r.json()["error"]
                        self.assertEqual(e["type"], "invalid_request_error")
                        self.assertEqual(e["param"], param, (model, v, e))
                        self.assertIn(param, e["message"])
            r = self.lx.chat({"model": model, "messages": MSG, "max_tokens": None,
                              "max_completion_tokens": 100})
            self.assertEqual(r.status, 200, (model, r))
        for model in ("anthropic/claude-x", "demo/mock-model", "gemini/g"):
            for v in (9223372036854775807, 1000000001):
                r = self.messages({"model": model, "max_tokens": v, "messages": MSG})
                self.assertEqual(r.status, 400, (model, v, r))
                b = r.json()
                self.assertEqual(b["type"], "error")
                self.assertEqual(b["error"]["type"], "invalid_request_error")
                self.assertIn("max_tokens", b["error"]["message"])
        self.assertEqual(len(self.mock.requests()), 3)  # only the three valid ones

    def test_messages_midstream_error_is_error_event(self):
        r = self.messages({"model": "demo/m+chunks=5+fault=drop+after=2", "max_tokens": 20,
                           "messages": MSG, "stream": True})
        events = sse_events(r.body)
        self.assertEqual(events[-1][0], "error")
        self.assertNotIn("message_stop", [e for e, _ in events])

    # ---- embeddings and models ----

    def test_embeddings_passthrough(self):
        r = self.lx.req("POST", "/v1/embeddings", body={"model": "demo/mock-embed",
                                                        "input": ["a", "b"]})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(len(b["data"]), 2)
        self.assertEqual(len(b["data"][0]["embedding"]), 8)
        r2 = self.lx.req("POST", "/api/v1/ai/embed", body={"model": "demo/mock-embed",
                                                            "input": "a"})
        self.assertEqual(r2.json()["data"][0]["embedding"], b["data"][0]["embedding"])

    def test_embeddings_gemini(self):
        r = self.lx.req("POST", "/v1/embeddings", body={"model": "gemini/text-embedding-004",
                                                        "input": ["x", "y", "z"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["data"]), 3)
        self.assertIn(":batchEmbedContents", self.mock.last()["path"])

    def test_embeddings_unsupported_provider(self):
        r = self.lx.req("POST", "/v1/embeddings", body={"model": "anthropic/claude-x",
                                                        "input": "a"})
        self.assertEqual(r.status, 400)
        r = self.lx.req("POST", "/v1/embeddings", body={"model": "demo/mock-embed"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["param"], "input")

    def test_models(self):
        r = self.lx.req("GET", "/v1/models")
        self.assertEqual(r.status, 200)
        b = r.json()
        self.assertEqual(b["object"], "list")
        ids = {m["id"] for m in b["data"]}
        self.assertIn("openai/gpt-4o-mini", ids)
        self.assertIn("anthropic/claude-sonnet-4-5", ids)
        self.assertIn("demo/mock-model", ids)
        self.assertNotIn("openrouter/deepseek/deepseek-chat", ids)  # not configured
        self.assertEqual(self.lx.req("GET", "/v1/models", key=None).status, 401)

    def test_bare_model_name_uses_catalog(self):
        r = self.lx.chat({"model": "gpt-4o-mini", "messages": MSG})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-llmux-provider"], "openai")
        self.assertEqual(self.mock.last()["headers"]["authorization"], "Bearer sk-openai-test")


if __name__ == "__main__":
    unittest.main()
