-- 016_tasks: ai_tasks for the generic task system (src/task, issue 19).
-- The table 001 created was never used: it is replaced.
DROP TABLE IF EXISTS ai_tasks;
CREATE TABLE ai_tasks (
    id               BIGSERIAL PRIMARY KEY,
    public_id        TEXT NOT NULL UNIQUE,
    type             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN (
                         'queued', 'submitting', 'running', 'succeeded', 'failed',
                         'cancelled', 'expired')),
    priority         INTEGER NOT NULL DEFAULT 0,
    progress         INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    input            JSONB NOT NULL DEFAULT '{}'::jsonb,
    output           JSONB,
    error_code       TEXT,
    error_message    TEXT,
    provider         TEXT,
    credential_id    TEXT,          -- the concurrency pool's key
    external_id      TEXT,          -- the provider's job id, stored as soon as known
    idempotency_key  TEXT NOT NULL, -- made at submit, sent with every submission
    api_key_id       BIGINT,
    user_id          BIGINT,
    team_id          BIGINT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    next_poll_at     TIMESTAMPTZ,
    deadline_at      TIMESTAMPTZ NOT NULL,
    callback_url     TEXT,
    cancel_pending   BOOLEAN NOT NULL DEFAULT false, -- cancelled, the provider not yet told
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX ai_tasks_queued_idx ON ai_tasks (priority DESC, id) WHERE status = 'queued';
CREATE INDEX ai_tasks_active_idx ON ai_tasks (lease_expires_at)
    WHERE status IN ('submitting', 'running') OR cancel_pending;
CREATE INDEX ai_tasks_pool_idx ON ai_tasks (credential_id) WHERE status IN ('submitting', 'running');
CREATE INDEX ai_tasks_owner_idx ON ai_tasks (api_key_id, id);

-- Webhook outbox: one row per terminal task with a callback_url, written in
-- the same statement as the transition; deleted once delivered.
CREATE TABLE ai_task_webhooks (
    id               BIGSERIAL PRIMARY KEY,
    task_id          BIGINT NOT NULL REFERENCES ai_tasks(id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ai_task_webhooks_next_idx ON ai_task_webhooks (next_at);

-- Claims work for one worker of one instance (p_owner): tasks whose lease
-- expired (taken over, how = 'takeover') and queued tasks (how = 'queued',
-- moved to 'submitting' here), at most p_limit of each. A queued task is
-- taken only while its credential has fewer than p_pool tasks submitting or
-- running, counted over every instance: claims are serialized by an
-- advisory lock held until the statement's transaction ends, and each
-- statement below sees the claims committed before it. FIFO within a
-- priority (priority DESC, id).
CREATE FUNCTION llmux_task_claim(p_owner TEXT, p_types TEXT[], p_limit INTEGER,
                                 p_lease_ms INTEGER, p_pool INTEGER)
RETURNS TABLE (how TEXT, id BIGINT, public_id TEXT, type TEXT, status TEXT, progress INTEGER,
               input JSONB, provider TEXT, credential_id TEXT, external_id TEXT,
               idempotency_key TEXT, attempts INTEGER, deadline_ms BIGINT,
               cancel_pending BOOLEAN)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7419019015);
    RETURN QUERY
    WITH expired AS (
        SELECT t.id FROM ai_tasks t
         WHERE (t.status IN ('submitting', 'running') OR t.cancel_pending)
           AND t.lease_expires_at < now() AND t.type = ANY (p_types)
         ORDER BY t.lease_expires_at LIMIT p_limit
           FOR UPDATE SKIP LOCKED),
    busy AS (
        SELECT coalesce(t.credential_id, '') AS k, count(*) AS n FROM ai_tasks t
         WHERE t.status IN ('submitting', 'running') GROUP BY 1),
    q AS (
        SELECT t.id, coalesce(t.credential_id, '') AS k, t.priority FROM ai_tasks t
         WHERE t.status = 'queued' AND t.type = ANY (p_types)
         ORDER BY t.priority DESC, t.id LIMIT p_limit * 4
           FOR UPDATE SKIP LOCKED),
    ranked AS (
        SELECT q.id, q.priority,
               row_number() OVER (PARTITION BY q.k ORDER BY q.priority DESC, q.id) AS rn,
               coalesce(b.n, 0) AS n
          FROM q LEFT JOIN busy b ON b.k = q.k),
    pick AS (
        SELECT r.id FROM ranked r WHERE r.rn + r.n <= p_pool
         ORDER BY r.priority DESC, r.id LIMIT p_limit),
    c AS (
        SELECT e.id, 'takeover'::text AS how FROM expired e
        UNION ALL SELECT p.id, 'queued'::text FROM pick p)
    UPDATE ai_tasks t
       SET lease_owner = p_owner,
           lease_expires_at = now() + p_lease_ms * interval '1 millisecond',
           status = CASE WHEN t.status = 'queued' THEN 'submitting' ELSE t.status END,
           attempts = t.attempts + CASE WHEN t.status = 'queued' THEN 1 ELSE 0 END,
           started_at = coalesce(t.started_at, now()),
           updated_at = now()
      FROM c
     WHERE t.id = c.id
    RETURNING c.how, t.id, t.public_id, t.type, t.status, t.progress, t.input, t.provider,
              t.credential_id, t.external_id, t.idempotency_key, t.attempts,
              (extract(epoch FROM t.deadline_at) * 1000)::bigint, t.cancel_pending;
END
$$;
