#!/usr/bin/env bash
# smoke.sh - black-box smoke test of llmux-mock. Builds nothing.
#
#   bench/mock/smoke.sh path/to/llmux-mock [extra mock args...]
#
# Starts the binary on a free loopback port, exercises every endpoint and wire
# format plus a set of faults, checks the /_mock stats and recordings, then sends
# SIGTERM and requires exit status 0 and a stderr free of sanitizer reports.
# Needs curl and python3. Exits non-zero on the first mismatch.
set -u

BIN=${1:?usage: smoke.sh path/to/llmux-mock [mock args...]}
shift
WORK=$(mktemp -d /tmp/llmux-mock-smoke.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B="http://127.0.0.1:$PORT"
PID=
PASS=0

cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -s "$WORK/stderr" ]; then echo "--- mock stderr:" >&2; tail -40 "$WORK/stderr" >&2; fi
    exit 1
}
ok() { PASS=$((PASS + 1)); echo "ok   $*"; }

# check NAME FILE PYTHON: runs PYTHON with `d` = text of FILE; it must not raise.
check() {
    local name=$1 file=$2 code=$3
    python3 - "$file" <<EOF || fail "$name"
import json, sys, base64
d = open(sys.argv[1], encoding="utf-8", errors="replace", newline="").read()
def j(): return json.loads(d)
def sse(sep="\n\n"):
    out = []
    for block in d.split(sep):
        if not block.strip(): continue
        ev, data = None, None
        for line in block.replace("\r\n", "\n").split("\n"):
            if line.startswith("event: "): ev = line[7:]
            elif line.startswith("data: "): data = line[6:]
        out.append((ev, data))
    return out
$code
EOF
    ok "$name"
}

post() { # post PATH BODY [curl args...] -> body in $WORK/out, status in $WORK/code
    local path=$1 body=$2
    shift 2
    curl -sS -o "$WORK/out" -D "$WORK/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
        "$@" --data-binary "$body" "$B$path" >"$WORK/code" 2>"$WORK/curlerr"
    echo $? >"$WORK/rc"
}
get() {
    local path=$1
    shift
    curl -sS -o "$WORK/out" -D "$WORK/hdr" -w '%{http_code}' "$@" "$B$path" >"$WORK/code" 2>"$WORK/curlerr"
    echo $? >"$WORK/rc"
}
status_is() { [ "$(cat "$WORK/code")" = "$1" ] || fail "$2: status $(cat "$WORK/code") != $1 ($(head -c 300 "$WORK/out"))"; }
stat_of() { curl -s "$B/_mock/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# ---- start ----
"$BIN" --listen "127.0.0.1:$PORT" "$@" >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
for _ in $(seq 1 100); do
    grep -q '"mock":"ready"' "$WORK/stdout" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || fail "mock exited during start-up"
    sleep 0.05
done
grep -qx "{\"mock\":\"ready\",\"listen\":\"127.0.0.1:$PORT\"}" "$WORK/stdout" || fail "ready line: $(cat "$WORK/stdout")"
ok "ready line"

MSGS='"messages":[{"role":"user","content":"hello"}]'

# ---- OpenAI chat ----
post /v1/chat/completions "{\"model\":\"gpt-4o-mini\",$MSGS}" -H 'Authorization: Bearer sk-test' -H 'x-test-case: plain'
status_is 200 "chat"
grep -qi '^content-type: application/json' "$WORK/hdr" || fail "chat content-type"
check "chat non-stream" "$WORK/out" '
r = j()
assert r["object"] == "chat.completion" and r["id"].startswith("chatcmpl-mock"), r
assert r["model"] == "gpt-4o-mini"
c = r["choices"][0]
assert c["message"] == {"role": "assistant", "content": "tok0 tok1 tok2 tok3 tok4 ", "refusal": None, "annotations": []}, c
assert c["finish_reason"] == "stop" and c["index"] == 0 and c["logprobs"] is None
u = r["usage"]
assert u["completion_tokens"] == 5 and u["prompt_tokens"] >= 1 and u["total_tokens"] == u["prompt_tokens"] + 5
assert r["system_fingerprint"] == "fp_mock" and isinstance(r["created"], int)
'
check "record last" <(curl -s "$B/_mock/last") '
r = j()
assert r["method"] == "POST" and r["path"] == "/v1/chat/completions", r
assert r["headers"]["authorization"] == "Bearer sk-test" and r["headers"]["x-test-case"] == "plain", r
assert json.loads(r["body"])["model"] == "gpt-4o-mini"
'

post /api/v1/chat/completions "{\"model\":\"or/model+chunks=3\",\"stream\":true,\"stream_options\":{\"include_usage\":true},$MSGS}"
status_is 200 "chat stream"
grep -qi '^content-type: text/event-stream' "$WORK/hdr" || fail "stream content-type"
check "chat stream (+prefix, include_usage)" "$WORK/out" '
ev = sse()
assert ev[-1][1] == "[DONE]", ev[-1]
chunks = [json.loads(x) for _, x in ev[:-1]]
assert len({c["id"] for c in chunks}) == 1
assert all(c["object"] == "chat.completion.chunk" and c["model"] == "or/model+chunks=3" for c in chunks)
assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
assert text == "tok0 tok1 tok2 ", text
assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-2]["choices"][0]["delta"] == {}
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
'

post /v1/chat/completions "{\"model\":\"m\",\"stream\":true,$MSGS}" -H 'x-mock-chunks: 2'
check "chat stream without usage, x-mock-chunks header" "$WORK/out" '
ev = sse()
chunks = [json.loads(x) for _, x in ev[:-1]]
assert all("usage" not in c for c in chunks)
assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "tok0 tok1 "
'

post /v1/chat/completions "{\"model\":\"m+chunks=2\",\"stream\":true,$MSGS}" -0
grep -q '^HTTP/1.0 200' "$WORK/hdr" || fail "HTTP/1.0 stream status line"
grep -qi '^transfer-encoding' "$WORK/hdr" && fail "HTTP/1.0 stream must not be chunked"
check "HTTP/1.0 stream: plain body, closed at the end" "$WORK/out" '
assert d.endswith("data: [DONE]\n\n") and "tok1 " in d, d[-200:]
'

TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]'
post /v1/chat/completions "{\"model\":\"m\",$TOOLS,$MSGS}"
check "chat tool call" "$WORK/out" '
c = j()["choices"][0]
assert c["finish_reason"] == "tool_calls"
tc = c["message"]["tool_calls"][0]
assert tc["id"] == "call_mock1" and tc["type"] == "function" and tc["function"]["name"] == "get_weather"
assert json.loads(tc["function"]["arguments"]) == {"location": "Paris", "unit": "celsius"}
'
post /v1/chat/completions "{\"model\":\"m\",\"stream\":true,$TOOLS,$MSGS}"
check "chat tool call stream" "$WORK/out" '
chunks = [json.loads(x) for _, x in sse()[:-1]]
calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
assert calls[0]["id"] == "call_mock1" and calls[0]["function"] == {"name": "get_weather", "arguments": ""}
frags = [c["function"]["arguments"] for c in calls[1:]]
assert len(frags) >= 3
assert json.loads("".join(frags)) == {"location": "Paris", "unit": "celsius"}
assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
'
post /v1/chat/completions "{\"model\":\"m\",\"tool_choice\":\"none\",$TOOLS,$MSGS}"
check "chat tool_choice none" "$WORK/out" 'assert j()["choices"][0]["finish_reason"] == "stop"'

# ---- embeddings, images, models ----
post /v1/embeddings '{"model":"text-embedding-3-small","input":["a","b"]}'
check "embeddings" "$WORK/out" '
r = j()
assert r["object"] == "list" and len(r["data"]) == 2 and r["data"][1]["index"] == 1
assert len(r["data"][0]["embedding"]) == 8 and r["data"][0]["embedding"] != r["data"][1]["embedding"]
assert r["usage"]["prompt_tokens"] >= 1 and r["model"] == "text-embedding-3-small"
'
cp "$WORK/out" "$WORK/emb1"
post /v1/embeddings '{"model":"text-embedding-3-small","input":"a"}'
check "embeddings deterministic" "$WORK/out" '
a = json.load(open("'"$WORK/emb1"'"))["data"][0]["embedding"]
assert j()["data"][0]["embedding"] == a
'
post /v1/embeddings '{"model":"e+dims=16","input":"a","encoding_format":"base64"}'
check "embeddings base64" "$WORK/out" '
import struct
raw = base64.b64decode(j()["data"][0]["embedding"])
v = struct.unpack("<16f", raw)
assert abs(sum(x * x for x in v) - 1) < 1e-3
'
post /v1/images/generations '{"model":"dall-e-3","prompt":"a cat","n":2}'
check "images url" "$WORK/out" '
r = j()
assert len(r["data"]) == 2 and r["data"][0]["url"].startswith("http://127.0.0.1:'"$PORT"'/_mock/files/img_")
assert r["data"][0]["revised_prompt"] == "a cat"
'
URL=$(python3 -c "import json; print(json.load(open('$WORK/out'))['data'][0]['url'])")
curl -s -o "$WORK/img" -D "$WORK/hdr" "$URL"
grep -qi '^content-type: image/png' "$WORK/hdr" || fail "image file content-type"
check "image file" "$WORK/img" 'assert open(sys.argv[1], "rb").read(8) == b"\x89PNG\r\n\x1a\n"'
post /v1/images/generations '{"prompt":"a cat","response_format":"b64_json"}'
check "images b64_json" "$WORK/out" 'assert base64.b64decode(j()["data"][0]["b64_json"])[:4] == b"\x89PNG"'
get /v1/models
check "models" "$WORK/out" '
r = j()
assert r["object"] == "list" and r["data"][0] == {"id": "mock-model", "object": "model", "created": r["data"][0]["created"], "owned_by": "mock"}
assert len(r["data"]) > 2
'

# ---- Anthropic ----
AH=(-H 'x-api-key: sk-ant-test' -H 'anthropic-version: 2023-06-01')
post /v1/messages '{"model":"claude-mock","max_tokens":64,"system":"be brief","messages":[{"role":"user","content":"hi"}]}' "${AH[@]}"
status_is 200 "messages"
check "messages non-stream" "$WORK/out" '
r = j()
assert r["type"] == "message" and r["role"] == "assistant" and r["id"].startswith("msg_mock")
assert r["content"] == [{"type": "text", "text": "tok0 tok1 tok2 tok3 tok4 "}]
assert r["stop_reason"] == "end_turn" and r["stop_sequence"] is None and r["model"] == "claude-mock"
u = r["usage"]
assert u["output_tokens"] == 5 and u["input_tokens"] >= 1 and u["cache_read_input_tokens"] == 0
'
check "record anthropic headers" <(curl -s "$B/_mock/last") '
h = j()["headers"]
assert h["x-api-key"] == "sk-ant-test" and h["anthropic-version"] == "2023-06-01", h
'
post /v1/messages '{"model":"claude-mock+chunks=3","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
check "messages stream" "$WORK/out" '
ev = sse()
types = [e for e, _ in ev]
assert types == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                 "content_block_delta", "content_block_stop", "message_delta", "message_stop"], types
for e, data in ev:
    assert json.loads(data)["type"] == e
ms = json.loads(ev[0][1])["message"]
assert ms["content"] == [] and ms["usage"]["output_tokens"] == 1 and ms["usage"]["input_tokens"] >= 1
assert "".join(json.loads(x)["delta"]["text"] for e, x in ev if e == "content_block_delta") == "tok0 tok1 tok2 "
md = json.loads(ev[-2][1])
assert md["delta"] == {"stop_reason": "end_turn", "stop_sequence": None} and md["usage"]["output_tokens"] == 3
'
ATOOLS='"tools":[{"name":"get_weather","description":"w","input_schema":{"type":"object"}}]'
post /v1/messages "{\"model\":\"c\",\"max_tokens\":64,$ATOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
check "messages tool_use" "$WORK/out" '
r = j()
assert r["stop_reason"] == "tool_use"
assert r["content"][0] == {"type": "text", "text": "Let me check."}
assert r["content"][1] == {"type": "tool_use", "id": "toolu_mock1", "name": "get_weather", "input": {"location": "Paris", "unit": "celsius"}}
'
post /v1/messages "{\"model\":\"c\",\"max_tokens\":64,\"stream\":true,$ATOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
check "messages tool_use stream" "$WORK/out" '
ev = [(e, json.loads(x)) for e, x in sse()]
starts = [x["content_block"] for e, x in ev if e == "content_block_start"]
assert starts[1] == {"type": "tool_use", "id": "toolu_mock1", "name": "get_weather", "input": {}}
frags = [x["delta"]["partial_json"] for e, x in ev if e == "content_block_delta" and x["delta"]["type"] == "input_json_delta"]
assert len(frags) >= 3 and json.loads("".join(frags)) == {"location": "Paris", "unit": "celsius"}
assert [x["index"] for e, x in ev if e == "content_block_stop"] == [0, 1]
assert ev[-2][1]["delta"]["stop_reason"] == "tool_use"
'
post /v1/messages '{"model":"c+fault=max_tokens","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
check "messages fault max_tokens" "$WORK/out" 'assert j()["stop_reason"] == "max_tokens"'
post /v1/messages '{"model":"c","messages":[{"role":"user","content":"hi"}]}'
status_is 400 "messages without max_tokens"
check "messages 400 shape" "$WORK/out" 'assert j()["type"] == "error" and j()["error"]["type"] == "invalid_request_error"'

# ---- Gemini ----
GH=(-H 'x-goog-api-key: g-test')
GB='{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
post "/v1beta/models/gemini-2.0-flash:generateContent" "$GB" "${GH[@]}"
check "gemini generateContent" "$WORK/out" '
r = j()
c = r["candidates"][0]
assert c["content"] == {"parts": [{"text": "tok0 tok1 tok2 tok3 tok4 "}], "role": "model"} and c["finishReason"] == "STOP"
u = r["usageMetadata"]
assert u["candidatesTokenCount"] == 5 and u["totalTokenCount"] == u["promptTokenCount"] + 5
assert r["modelVersion"] == "gemini-2.0-flash" and r["responseId"]
'
check "record gemini key" <(curl -s "$B/_mock/last") 'assert j()["headers"]["x-goog-api-key"] == "g-test"'
post "/v1beta/models/gemini-2.0-flash+chunks=3:streamGenerateContent?alt=sse" "$GB"
grep -qi '^content-type: text/event-stream' "$WORK/hdr" || fail "gemini stream content-type"
check "gemini stream (CRLF framing)" "$WORK/out" '
assert "\r\n\r\n" in d and "[DONE]" not in d
ev = [json.loads(x) for _, x in sse("\r\n\r\n")]
assert len(ev) == 3
assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in ev) == "tok0 tok1 tok2 "
assert ev[-1]["candidates"][0]["finishReason"] == "STOP" and ev[-1]["usageMetadata"]["candidatesTokenCount"] == 3
assert "finishReason" not in ev[0]["candidates"][0]
'
post "/v1beta/models/gemini-2.0-flash:generateContent" '{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather"}]}]}'
check "gemini functionCall" "$WORK/out" '
p = j()["candidates"][0]["content"]["parts"][0]
assert p == {"functionCall": {"name": "get_weather", "args": {"location": "Paris", "unit": "celsius"}}}
'
post "/v1beta/models/text-embedding-004:embedContent" '{"content":{"parts":[{"text":"hi"}]}}'
check "gemini embedContent" "$WORK/out" 'assert len(j()["embedding"]["values"]) == 8'
post "/v1beta/models/text-embedding-004:batchEmbedContents" '{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"text":"b"}]}}]}'
check "gemini batchEmbedContents" "$WORK/out" 'assert len(j()["embeddings"]) == 2 and len(j()["embeddings"][1]["values"]) == 8'

# ---- video ----
post /v1/videos '{"model":"sora-2+duration_ms=1000","prompt":"a wave"}'
check "video submit" "$WORK/out" '
r = j()
assert r["id"].startswith("video_mock") and r["object"] == "video"
assert r["status"] == "queued" and r["progress"] == 0 and r["model"] == "sora-2+duration_ms=1000"
'
VID=$(python3 -c "import json; print(json.load(open('$WORK/out'))['id'])")
: >"$WORK/polls"
for _ in $(seq 1 40); do
    curl -s "$B/v1/videos/$VID" >>"$WORK/polls"
    echo >>"$WORK/polls"
    grep -q '"status":"completed"' "$WORK/polls" && break
    sleep 0.05
done
check "video polls: queued -> in_progress -> completed" "$WORK/polls" '
rs = [json.loads(x) for x in d.splitlines() if x]
order = {"queued": 0, "in_progress": 1, "completed": 2}
st = [order[r["status"]] for r in rs]
assert st == sorted(st) and 1 in st and st[-1] == 2, [r["status"] for r in rs]
prog = [r["progress"] for r in rs]
assert prog == sorted(prog) and prog[-1] == 100
assert any(0 < r["progress"] < 100 for r in rs if r["status"] == "in_progress")
assert rs[-1]["url"].endswith("/_mock/files/'"$VID"'.mp4")
'
get "/_mock/files/$VID.mp4"
grep -qi '^content-type: video/mp4' "$WORK/hdr" || fail "video file content-type"
post /v1/videos '{"model":"sora-2+fault=fail+duration_ms=0","prompt":"x"}'
VID2=$(python3 -c "import json; print(json.load(open('$WORK/out'))['id'])")
get "/v1/videos/$VID2"
check "video failed" "$WORK/out" 'r = j(); assert r["status"] == "failed" and r["error"]["code"] == "generation_failed", r'
get /v1/videos/video_mock999999
status_is 404 "video unknown id"

# ---- routing errors ----
get /no/such/path
status_is 404 "unknown path"
check "404 shape" "$WORK/out" 'assert "message" in j()["error"]'
get /v1/chat/completions
status_is 405 "wrong method"

# ---- faults ----
post /v1/chat/completions "{\"model\":\"m+fault=429+retry_after=7\",$MSGS}"
status_is 429 "fault 429"
grep -qi '^retry-after: 7' "$WORK/hdr" || fail "429 Retry-After header"
check "429 openai shape" "$WORK/out" 'e = j()["error"]; assert e["type"] == "requests" and e["code"] == "rate_limit_exceeded" and e["param"] is None'
post /v1/messages '{"model":"c+fault=429","max_tokens":5,"messages":[]}'
status_is 429 "anthropic 429"
grep -qi '^retry-after: 1' "$WORK/hdr" || fail "anthropic Retry-After default"
check "429 anthropic shape" "$WORK/out" 'assert j() == {"type": "error", "error": {"type": "rate_limit_error", "message": j()["error"]["message"]}}'
post /v1/messages '{"model":"c+fault=529","max_tokens":5,"messages":[]}'
status_is 529 "anthropic 529"
check "529 anthropic shape" "$WORK/out" 'assert j()["error"]["type"] == "overloaded_error"'
post "/v1beta/models/g+fault=503:generateContent" "$GB"
status_is 503 "gemini 503"
check "503 gemini shape" "$WORK/out" 'assert j()["error"]["code"] == 503 and j()["error"]["status"] == "UNAVAILABLE"'
post /v1/chat/completions "{\"model\":\"m\",$MSGS}" -H 'x-mock-fault: 503'
status_is 503 "fault 503 via header"
check "503 openai shape" "$WORK/out" 'assert j()["error"]["type"] == "server_error"'

post /v1/chat/completions "{\"model\":\"m+fault=drop+after=2+chunks=5\",\"stream\":true,$MSGS}"
[ "$(cat "$WORK/rc")" != 0 ] || fail "stream drop: curl succeeded"
check "stream drop (partial then closed)" "$WORK/out" '
assert "tok1 " in d and "tok2 " not in d and "[DONE]" not in d, d
'
post /v1/chat/completions "{\"model\":\"m+fault=drop\",$MSGS}"
[ "$(cat "$WORK/rc")" = 52 ] || fail "non-stream drop: curl rc $(cat "$WORK/rc") (want 52, empty reply)"
ok "non-stream drop"

post /v1/chat/completions "{\"model\":\"m+fault=error_event+after=1\",\"stream\":true,$MSGS}"
check "openai error_event" "$WORK/out" '
ev = sse()
assert json.loads(ev[-1][1])["error"]["type"] == "server_error" and "[DONE]" not in d
'
post /v1/messages '{"model":"c+fault=error_event+after=1","max_tokens":5,"stream":true,"messages":[]}'
check "anthropic error_event" "$WORK/out" '
ev = sse()
assert ev[-1][0] == "error" and json.loads(ev[-1][1]) == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
'
post /v1/chat/completions "{\"model\":\"m+fault=malformed+after=1\",\"stream\":true,$MSGS}"
check "stream malformed frame" "$WORK/out" '
bad = 0
for _, x in sse():
    if x == "[DONE]": continue
    try: json.loads(x)
    except ValueError: bad += 1
assert bad == 1 and d.endswith("data: [DONE]\n\n")
'
post /v1/chat/completions "{\"model\":\"m+fault=malformed\",$MSGS}"
status_is 200 "non-stream malformed"
check "non-stream malformed body" "$WORK/out" '
try:
    j(); raise AssertionError("parsed")
except ValueError:
    pass
'
T0=$(date +%s%N)
post /v1/chat/completions "{\"model\":\"m+fault=slow_body\",$MSGS}"
T1=$(date +%s%N)
check "slow_body" "$WORK/out" 'assert j()["object"] == "chat.completion"'
[ $(((T1 - T0) / 1000000)) -ge 190 ] || fail "slow_body took $(((T1 - T0) / 1000000)) ms"

TTFB=$(curl -sS -o /dev/null -w '%{time_starttransfer}' -H 'Content-Type: application/json' \
    --data-binary "{\"model\":\"m+ttft_ms=150+gap_ms=10+chunks=5\",\"stream\":true,$MSGS}" "$B/v1/chat/completions")
python3 -c "import sys; t=float('$TTFB'); sys.exit(0 if 0.14 <= t < 1.0 else 1)" || fail "ttft: first byte at $TTFB s"
ok "ttft_ms delays the first byte ($TTFB s)"

GONE0=$(stat_of client_gone)
post /v1/chat/completions "{\"model\":\"m+fault=stall_headers\",$MSGS}" --max-time 1
[ "$(cat "$WORK/rc")" = 28 ] || fail "stall_headers: curl rc $(cat "$WORK/rc") (want 28, timeout)"
post /v1/chat/completions "{\"model\":\"m+fault=stall_mid+after=1\",\"stream\":true,$MSGS}" --max-time 1
[ "$(cat "$WORK/rc")" = 28 ] || fail "stall_mid: curl rc $(cat "$WORK/rc")"
grep -q 'tok0 ' "$WORK/out" || fail "stall_mid: no first piece"
post /v1/chat/completions "{\"model\":\"m+latency_ms=5000\",$MSGS}" --max-time 0.3
sleep 0.2
GONE1=$(stat_of client_gone)
[ "$GONE1" -eq $((GONE0 + 3)) ] || fail "client_gone $GONE0 -> $GONE1 (want +3)"
ok "stall_headers / stall_mid / delayed: client_gone +3"
[ "$(stat_of in_flight)" = 0 ] || fail "in_flight not back to 0"
ok "in_flight back to 0"

# ---- stats, recordings, reset ----
check "stats" <(curl -s "$B/_mock/stats") '
s = j()
for k in ["requests_total", "chat", "chat_stream", "embeddings", "images", "models", "messages",
          "messages_stream", "gemini_generate", "gemini_stream", "gemini_embed", "video_submit",
          "video_poll", "streams_started", "streams_completed", "client_gone", "in_flight"]:
    assert k in s, k
assert s["chat"] > 0 and s["chat_stream"] > 0 and s["messages_stream"] > 0 and s["gemini_stream"] == 1
assert s["streams_started"] >= s["streams_completed"] > 0
'
check "requests ring" <(curl -s "$B/_mock/requests") '
r = j()["requests"]
assert 40 <= len(r) <= 64 and all(a["seq"] < b["seq"] for a, b in zip(r, r[1:]))
'
curl -s -X POST "$B/_mock/reset" >/dev/null
check "reset" <(curl -s "$B/_mock/stats") 's = j(); assert s["requests_total"] == 0 and s["chat"] == 0 and s["client_gone"] == 0'
check "reset clears recordings" <(curl -s "$B/_mock/requests") 'assert j()["requests"] == []'

# ---- shutdown ----
kill -TERM "$PID"
for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "mock still running 5 s after SIGTERM"
wait "$PID"
RC=$?
PID=
[ "$RC" = 0 ] || fail "exit status $RC after SIGTERM"
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error|ThreadSanitizer' "$WORK/stderr"; then
    fail "sanitizer report on stderr"
fi
ok "SIGTERM: exit 0, clean stderr"
echo "PASS: $PASS checks"
