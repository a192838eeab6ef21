-- 010_limit_windows: global request allowances of keys, users and teams.
--
-- One row per subject ('key:12', 'user:7', 'team:3') and window ('m:<minute
-- index>', 'd:<day index>'): lim is the limit, granted the tokens leased to
-- instances so far (never above lim), last_grant what the latest lease added.
-- Instances lease slices with one upsert (src/ai/allow_lease.c); rows older
-- than two days are deleted by the instances.
CREATE TABLE ai_limit_windows (
    subject    TEXT NOT NULL,
    win        TEXT NOT NULL,
    lim        INTEGER NOT NULL CHECK (lim > 0),
    granted    INTEGER NOT NULL CHECK (granted >= 0), -- <= lim, unless lim was lowered
    last_grant INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, win)
);
