-- 009_teams_users: teams and users as records; API keys refer to them.
--
-- A key belongs to at most one team (team_id) and at most one user
-- (user_id); a user belongs to at most one team. The free-text
-- api_keys.team of earlier versions becomes a reference: every distinct
-- value becomes a team row (llmux_backfill_key_teams) and the column goes.
--
-- Limit columns (rpm, tpm, rpd, max_parallel, budget_usd, budget_period) are
-- validated and stored here; they are not enforced yet (issue 18 enforces
-- them in a later change).
--
-- llmux_team_id(name, param): a team's id by name for the admin API (keys
-- given {"team": "<name>"}); an unknown name raises LX422 naming param.

CREATE TABLE teams (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    metadata      JSONB NOT NULL DEFAULT '{}'::jsonb,
    rpm           INTEGER CHECK (rpm IS NULL OR rpm > 0),
    tpm           INTEGER CHECK (tpm IS NULL OR tpm > 0),
    rpd           INTEGER CHECK (rpd IS NULL OR rpd > 0),
    max_parallel  INTEGER CHECK (max_parallel IS NULL OR max_parallel > 0),
    budget_usd    NUMERIC(14, 6) CHECK (budget_usd IS NULL OR budget_usd >= 0),
    budget_period TEXT CHECK (budget_period IN ('daily', 'weekly', 'monthly', 'total')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    email         TEXT,
    team_id       BIGINT REFERENCES teams (id) ON DELETE SET NULL,
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    metadata      JSONB NOT NULL DEFAULT '{}'::jsonb,
    rpm           INTEGER CHECK (rpm IS NULL OR rpm > 0),
    tpm           INTEGER CHECK (tpm IS NULL OR tpm > 0),
    rpd           INTEGER CHECK (rpd IS NULL OR rpd > 0),
    max_parallel  INTEGER CHECK (max_parallel IS NULL OR max_parallel > 0),
    budget_usd    NUMERIC(14, 6) CHECK (budget_usd IS NULL OR budget_usd >= 0),
    budget_period TEXT CHECK (budget_period IN ('daily', 'weekly', 'monthly', 'total')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX users_team_idx ON users (team_id);

ALTER TABLE api_keys
    ADD COLUMN team_id BIGINT REFERENCES teams (id) ON DELETE SET NULL,
    ADD COLUMN user_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX api_keys_team_idx ON api_keys (team_id);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- One team per distinct free-text api_keys.team (an existing team of that
-- name is reused), and each such key's team_id set. Returns the number of
-- keys it linked.
CREATE FUNCTION llmux_backfill_key_teams() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT;
BEGIN
    INSERT INTO teams (name)
        SELECT DISTINCT team FROM api_keys WHERE team IS NOT NULL AND team_id IS NULL
        ON CONFLICT (name) DO NOTHING;
    UPDATE api_keys k SET team_id = t.id FROM teams t
        WHERE k.team_id IS NULL AND k.team = t.name;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

SELECT llmux_backfill_key_teams();
ALTER TABLE api_keys DROP COLUMN team;
DROP FUNCTION llmux_backfill_key_teams();

CREATE FUNCTION llmux_team_id(tname TEXT, param TEXT) RETURNS BIGINT
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    tid BIGINT;
BEGIN
    IF tname IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT id INTO tid FROM teams WHERE name = tname;
    IF tid IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LX422',
            MESSAGE = format('%s|''%s'' does not name an existing team (%s): create it with '
                             'POST /api/v1/admin/ai/teams first', param, param, left(tname, 64));
    END IF;
    RETURN tid;
END $$;
