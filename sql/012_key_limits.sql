-- 012_key_limits: every limit on API keys, and requests in flight shared
-- across instances (issue 18).
--
-- api_keys gets rpd, tpm and max_parallel (rate_limit_per_minute stays the
-- key's rpm; the admin API also takes "rpm" for it). Teams and users have
-- them since 009.
--
-- ai_limit_inflight: each instance's count of requests in flight per
-- subject ('key:12', 'user:7', 'team:3'), upserted every 250 ms while it is
-- or was non-zero (src/ai/allow_parallel.c); admission adds the others'
-- fresh counts (updated within 3 s) to its own. Rows older than an hour are
-- deleted by the instances.
ALTER TABLE api_keys
    ADD COLUMN rpd INTEGER CHECK (rpd IS NULL OR rpd > 0),
    ADD COLUMN tpm INTEGER CHECK (tpm IS NULL OR tpm > 0),
    ADD COLUMN max_parallel INTEGER CHECK (max_parallel IS NULL OR max_parallel > 0);

CREATE TABLE ai_limit_inflight (
    subject    TEXT NOT NULL,
    instance   TEXT NOT NULL,
    n          INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, instance)
);
