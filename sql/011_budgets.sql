-- 011_budgets: budgets, spend per period and budget alerts.
--
-- api_keys gets budget_period (default 'total': a key's budget_usd of
-- earlier versions was a lifetime budget) and, like teams, an optional
-- budget alert webhook: budget_webhook_url and its HMAC secret, sealed with
-- the master key (write-only; never shown).
--
-- ai_spend: the spend of a subject ('key:12', 'user:7', 'team:3') in one
-- period ('d:<day index>', 'w:<ISO week index, Monday-based>', 'm:<month
-- index since 1970-01>', 't' for total), all UTC. Instances add what their
-- requests cost with one batched upsert every 250 ms and read back the
-- global totals (src/auth/budget_sync.c). reset-spend sets a subject's rows
-- to 0.
--
-- ai_budget_alerts: the outbox of budget webhooks. The trigger on ai_spend
-- inserts one row when a subject with a webhook crosses 50, 80 or 100 % of
-- its budget in a period, at most once per (subject, period, threshold)
-- across every instance; instances deliver them (src/ai/budget_hook.c),
-- retried with backoff, so a restart resumes pending deliveries.

ALTER TABLE api_keys
    ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total'
        CHECK (budget_period IN ('daily', 'weekly', 'monthly', 'total')),
    ADD COLUMN budget_webhook_url TEXT,
    ADD COLUMN budget_webhook_secret BYTEA;
ALTER TABLE teams
    ADD COLUMN budget_webhook_url TEXT,
    ADD COLUMN budget_webhook_secret BYTEA;

CREATE TABLE ai_spend (
    subject    TEXT NOT NULL,
    period     TEXT NOT NULL,
    spend_usd  NUMERIC(24, 9) NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, period)
);
CREATE INDEX ai_spend_updated_idx ON ai_spend (updated_at);

CREATE TABLE ai_budget_alerts (
    id           BIGSERIAL PRIMARY KEY,
    subject      TEXT NOT NULL,
    period       TEXT NOT NULL,
    threshold    INTEGER NOT NULL CHECK (threshold IN (50, 80, 100)),
    body         TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ,
    failed_at    TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (subject, period, threshold)
);
CREATE INDEX ai_budget_alerts_due_idx ON ai_budget_alerts (next_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- The period key of a budget_period at ts (what src/auth/budget.c computes).
CREATE FUNCTION llmux_period_key(p TEXT, ts TIMESTAMPTZ) RETURNS TEXT
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE coalesce(p, 'total')
        WHEN 'daily' THEN 'd:' || floor(extract(epoch FROM ts) / 86400)::bigint
        WHEN 'weekly' THEN 'w:' || floor((floor(extract(epoch FROM ts) / 86400) + 3) / 7)::bigint
        WHEN 'monthly' THEN 'm:' || ((extract(year FROM ts AT TIME ZONE 'UTC')::int - 1970) * 12
                                     + extract(month FROM ts AT TIME ZONE 'UTC')::int - 1)
        ELSE 't' END
$$;

-- When the period of a key ends (the next one starts); NULL for 't'.
CREATE FUNCTION llmux_period_end(k TEXT) RETURNS TIMESTAMPTZ
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE left(k, 1)
        WHEN 'd' THEN to_timestamp((substr(k, 3)::bigint + 1) * 86400)
        WHEN 'w' THEN to_timestamp(((substr(k, 3)::bigint + 1) * 7 - 3) * 86400)
        WHEN 'm' THEN make_timestamptz(1970 + (substr(k, 3)::int + 1) / 12,
                                       (substr(k, 3)::int + 1) % 12 + 1, 1, 0, 0, 0, 'UTC')
        ELSE NULL END
$$;

-- A subject's current spend (the admin view's spend_usd).
CREATE FUNCTION llmux_spend(subj TEXT, p TEXT) RETURNS NUMERIC
    LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT spend_usd FROM ai_spend
                     WHERE subject = subj AND period = llmux_period_key(p, now())), 0)
$$;

-- Budget alerts: a subject's budget and webhook, and the thresholds its
-- spend crossed with this row change.
CREATE FUNCTION llmux_spend_alert() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    kind TEXT := split_part(NEW.subject, ':', 1);
    sid BIGINT;
    budget NUMERIC;
    per TEXT;
    url TEXT;
    old_spend NUMERIC := 0;
    t INTEGER;
BEGIN
    IF kind NOT IN ('key', 'team') THEN
        RETURN NULL;
    END IF;
    sid := split_part(NEW.subject, ':', 2)::bigint;
    IF kind = 'key' THEN
        SELECT budget_usd, budget_period, budget_webhook_url INTO budget, per, url
            FROM api_keys WHERE id = sid;
    ELSE
        SELECT budget_usd, budget_period, budget_webhook_url INTO budget, per, url
            FROM teams WHERE id = sid;
    END IF;
    IF url IS NULL OR budget IS NULL OR budget <= 0
       OR left(NEW.period, 1) <> left(CASE coalesce(per, 'total') WHEN 'total' THEN 't'
                                      ELSE per END, 1) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        old_spend := OLD.spend_usd;
    END IF;
    FOREACH t IN ARRAY ARRAY[50, 80, 100] LOOP
        IF NEW.spend_usd >= budget * t / 100 AND old_spend < budget * t / 100 THEN
            INSERT INTO ai_budget_alerts (subject, period, threshold, body)
            VALUES (NEW.subject, NEW.period, t, jsonb_build_object(
                'type', 'budget.threshold', 'subject', NEW.subject, 'threshold', t,
                'budget_usd', budget, 'spend_usd', NEW.spend_usd,
                'budget_period', coalesce(per, 'total'), 'period', NEW.period,
                'budget_reset_at', to_char(llmux_period_end(NEW.period) AT TIME ZONE 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                'crossed_at', to_char(now() AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text)
            ON CONFLICT (subject, period, threshold) DO NOTHING;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER ai_spend_alert AFTER INSERT OR UPDATE OF spend_usd ON ai_spend
    FOR EACH ROW EXECUTE FUNCTION llmux_spend_alert();
