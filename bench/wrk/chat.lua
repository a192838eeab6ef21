-- wrk script: a non-stream chat completion. MODEL and KEY come from the
-- environment (wrk passes os.getenv through).
local model = os.getenv("MODEL") or "demo/mock-model+chunks=5"
local key = os.getenv("KEY") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"Say hello in five words."}]}'
