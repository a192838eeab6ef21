-- 008_usage_error_code: the error code the client saw, per usage row.
--
-- Requests llmux refuses itself once the key is known (403 model not
-- allowed, 404 unknown model, 400 invalid body, 429 local limits) now leave
-- a row too, with zero tokens, so denied attempts per key are visible. The
-- code is the "code" of the error reply ("model_not_found",
-- "rate_limit_exceeded", ...); NULL on success and on rows older versions
-- wrote. Unauthenticated refusals (401) write nothing: they are counted in
-- /metrics (llmux_ai_unauthenticated_total).
ALTER TABLE ai_usage ADD COLUMN error_code TEXT;

-- The audit log is read newest first, by id (GET /api/v1/admin/ai/audit),
-- and filtered by entity; it is small and written once per admin change.
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id);
