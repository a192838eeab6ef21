-- 014_model_limits: per-model overrides of a key's, user's or team's limits.
--
-- {"<model name as clients send it>": {"rpm": 10, "rpd": 100, "tpm": 50000,
-- "budget_usd": 5}}: each entry is enforced on top of the owner's own
-- limits for requests that name that model (the strictest answers). The
-- admin API validates the shape (src/admin/model_limits.c).
ALTER TABLE api_keys ADD COLUMN model_limits JSONB NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE users ADD COLUMN model_limits JSONB NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE teams ADD COLUMN model_limits JSONB NOT NULL DEFAULT '{}'::jsonb;
