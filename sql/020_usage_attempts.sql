-- 020_usage_attempts.sql - what the request log's detail view shows of a
-- request: each upstream attempt (provider, credential, upstream model,
-- status, why it failed, what came after it, duration and time to first
-- byte), llmux's own overhead and the client's time to its first byte.
--
-- attempts is a JSON array kept as TEXT: the usage batch writes it as text
-- (no JSON parse per row on the insert path); the detail endpoint reads it
-- with ::jsonb. Rows from before this migration have NULLs.
ALTER TABLE ai_usage
    ADD COLUMN attempts TEXT,
    ADD COLUMN overhead_us BIGINT,
    ADD COLUMN ttfc_us BIGINT;
