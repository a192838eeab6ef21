-- 001_core: providers, credentials, models, groups, keys, usage, tasks, audit.

CREATE TABLE ai_providers (
    id                    BIGSERIAL PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
    kind                  TEXT NOT NULL CHECK (kind IN ('openai', 'anthropic', 'gemini', 'openai_compatible', 'video')),
    base_url              TEXT NOT NULL,
    status                TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    default_connection_id BIGINT,
    extra_headers         JSONB NOT NULL DEFAULT '{}'::jsonb,
    connect_timeout_ms    INTEGER,
    first_byte_timeout_ms INTEGER,
    idle_timeout_ms       INTEGER,
    total_timeout_ms      INTEGER,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ai_providers_status_idx ON ai_providers (status);

CREATE TABLE ai_connections (
    id                    BIGSERIAL PRIMARY KEY,
    provider_id           BIGINT NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    credential            BYTEA,           -- AES-256-GCM, key-version prefixed; never plaintext
    settings              JSONB NOT NULL DEFAULT '{}'::jsonb,
    status                TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'cooling')),
    priority              INTEGER NOT NULL DEFAULT 0,
    weight                INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 0),
    rate_limit_per_minute INTEGER CHECK (rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0),
    rate_limit_per_day    INTEGER CHECK (rate_limit_per_day IS NULL OR rate_limit_per_day > 0),
    cooling_until         TIMESTAMPTZ,
    last_used_at          TIMESTAMPTZ,
    last_error_at         TIMESTAMPTZ,
    last_error            TEXT,
    success_count         BIGINT NOT NULL DEFAULT 0,
    error_count           BIGINT NOT NULL DEFAULT 0,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider_id, name)
);
CREATE INDEX ai_connections_provider_idx ON ai_connections (provider_id, status, priority);
CREATE INDEX ai_connections_last_used_idx ON ai_connections (last_used_at);

ALTER TABLE ai_providers ADD CONSTRAINT ai_providers_default_connection_fk
    FOREIGN KEY (default_connection_id) REFERENCES ai_connections (id) ON DELETE SET NULL;

CREATE TABLE ai_models (
    id                  BIGSERIAL PRIMARY KEY,
    provider_id         BIGINT NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    upstream_name       TEXT NOT NULL,
    public_name         TEXT NOT NULL,
    capabilities        TEXT[] NOT NULL DEFAULT ARRAY['chat', 'stream']::TEXT[],
    context_window      INTEGER,
    max_output_tokens   INTEGER,
    input_cost_per_1m   NUMERIC(14, 6) NOT NULL DEFAULT 0,
    output_cost_per_1m  NUMERIC(14, 6) NOT NULL DEFAULT 0,
    cached_cost_per_1m  NUMERIC(14, 6) NOT NULL DEFAULT 0,
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider_id, upstream_name)
);
CREATE INDEX ai_models_public_idx ON ai_models (public_name, status);

CREATE TABLE ai_groups (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    strategy    TEXT NOT NULL DEFAULT 'priority' CHECK (strategy IN (
                    'round_robin', 'smooth_weighted', 'weighted_random', 'priority',
                    'least_latency', 'least_busy', 'lowest_cost')),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE ai_group_members (
    id            BIGSERIAL PRIMARY KEY,
    group_id      BIGINT NOT NULL REFERENCES ai_groups (id) ON DELETE CASCADE,
    provider_id   BIGINT NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    upstream_name TEXT NOT NULL,
    connection_id BIGINT REFERENCES ai_connections (id) ON DELETE SET NULL,
    weight        INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 0),
    priority      INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ai_group_members_group_idx ON ai_group_members (group_id);

CREATE TABLE api_keys (
    id             BIGSERIAL PRIMARY KEY,
    key_hash       BYTEA NOT NULL UNIQUE,      -- SHA-256 of the key
    prefix         TEXT NOT NULL,              -- shown to operators, e.g. "lx-ab12"
    name           TEXT NOT NULL,
    owner          TEXT,
    team           TEXT,
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    expires_at     TIMESTAMPTZ,
    allowed_models TEXT[],                     -- NULL: every model
    rate_limit_per_minute INTEGER,
    budget_usd     NUMERIC(14, 6),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at   TIMESTAMPTZ
);

CREATE TABLE ai_usage (
    id              BIGSERIAL PRIMARY KEY,
    request_id      TEXT NOT NULL,
    api_key_id      BIGINT,
    connection_id   BIGINT,
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL,
    feature         TEXT NOT NULL CHECK (feature IN ('chat', 'embed', 'messages', 'image', 'video')),
    tokens_in       BIGINT NOT NULL DEFAULT 0,
    tokens_out      BIGINT NOT NULL DEFAULT 0,
    tokens_cached   BIGINT NOT NULL DEFAULT 0,
    cost_usd        NUMERIC(18, 8) NOT NULL DEFAULT 0,
    status          INTEGER NOT NULL,
    error           TEXT,
    ttfb_us         BIGINT,
    total_us        BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ai_usage_created_idx ON ai_usage (created_at);
CREATE INDEX ai_usage_key_idx ON ai_usage (api_key_id, created_at);
CREATE INDEX ai_usage_connection_idx ON ai_usage (connection_id, created_at);
CREATE INDEX ai_usage_model_idx ON ai_usage (model, created_at);
CREATE INDEX ai_usage_request_idx ON ai_usage (request_id);

CREATE TABLE ai_tasks (
    id            BIGSERIAL PRIMARY KEY,
    public_id     TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'queued' CHECK (status IN (
                      'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress      INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    input         JSONB NOT NULL DEFAULT '{}'::jsonb,
    output        JSONB,
    error         TEXT,
    provider      TEXT,
    external_id   TEXT,
    api_key_id    BIGINT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_expires_at TIMESTAMPTZ,
    next_poll_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at   TIMESTAMPTZ
);
CREATE INDEX ai_tasks_poll_idx ON ai_tasks (status, next_poll_at) WHERE status IN ('queued', 'running');

CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT,
    before      JSONB,
    after       JSONB,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
