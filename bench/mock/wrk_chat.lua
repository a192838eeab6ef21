-- wrk_chat.lua - POST a small non-stream chat completion (llmux-mock benchmark).
--   wrk -t2 -c64 -d5s -s bench/mock/wrk_chat.lua http://127.0.0.1:9000/v1/chat/completions
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
