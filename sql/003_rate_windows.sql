-- 003_rate_windows: each instance's requests per connection in the current
-- minute and day windows, so that rate_limit_per_minute / per_day hold across
-- every llmux instance sharing this database.
CREATE TABLE ai_rate_windows (
    connection_id BIGINT NOT NULL,
    instance      TEXT NOT NULL,
    minute_idx    BIGINT NOT NULL, -- unix time / 60 s
    minute_n      INTEGER NOT NULL,
    day_idx       BIGINT NOT NULL, -- unix time / 1 day (UTC)
    day_n         INTEGER NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, instance)
);
