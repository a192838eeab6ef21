-- 002_usage_record_id: a per-record id chosen by llmux, so that a batch
-- retried after a lost connection cannot insert a row twice.
ALTER TABLE ai_usage ADD COLUMN record_id TEXT;
CREATE UNIQUE INDEX ai_usage_record_id_idx ON ai_usage (record_id);
