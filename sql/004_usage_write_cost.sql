-- 004_usage_write_cost: a usage row costs Postgres a fraction of what it did.
-- llmux writes one ai_usage row per request (src/ai/usage_pg.c); the
-- indexes below, most of them read by no query, cost more CPU than the row.

-- Retries stay idempotent per batch instead of per row. Each writer (one
-- per llmux worker, a random id) numbers its batches, and a batch's insert
-- first moves the writer's row here from the previous number to its own: a
-- batch sent again after its answer was lost finds its number already here
-- and inserts nothing. One small row per batch instead of a unique index
-- entry per usage row.
-- One row per llmux worker ever started (a few per restart); a row not
-- updated for a day belongs to a writer long gone and may be deleted.
CREATE TABLE ai_usage_writers (
    writer     UUID PRIMARY KEY,
    seq        BIGINT NOT NULL,            -- the last batch committed
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The usage queries (src/admin/usage.c) select a created_at range and group
-- it; none looks rows up by key, connection, model or request id.
DROP INDEX ai_usage_key_idx;
DROP INDEX ai_usage_connection_idx;
DROP INDEX ai_usage_model_idx;
DROP INDEX ai_usage_request_idx;

-- Rows arrive in about created_at order (a request's row is written when it
-- ends), so a BRIN index (a few pages per million rows) finds a time range
-- nearly as fast as the btree did (the last day of 3 million rows: 0.3 s
-- against 0.22 s for the whole summary), at almost no cost per insert.
-- autosummarize: ranges get summarized as they fill, not at the next vacuum.
DROP INDEX ai_usage_created_idx;
CREATE INDEX ai_usage_created_brin ON ai_usage USING brin (created_at)
    WITH (autosummarize = on);

-- The surrogate id: nothing reads, references or orders by it, and its
-- sequence and primary key cost a quarter of what is left of an insert.
ALTER TABLE ai_usage DROP COLUMN id;

-- record_id and its unique index stay, so that llmux versions from before
-- this migration can still write here (they insert ... ON CONFLICT
-- (record_id)): during a rolling upgrade, or after a rollback. Rows written
-- by newer versions leave it NULL. Once no older version can run against
-- this database, a later migration can drop both (another ~0.8 us per row).
