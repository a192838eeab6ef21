-- 015_model_spend: spend rows of per-model overrides (sql/014).
--
-- A model entry of a key, user or team is its own ai_spend and
-- ai_limit_windows subject: 'key:12@gpt-4o' (a long name as
-- 'key:12@#<hash>', src/auth/subject.h). Budget alerts are for keys and
-- teams themselves: the alert trigger skips those subjects (its id cast
-- would fail on them and with it the whole spend sync).
CREATE OR REPLACE FUNCTION llmux_spend_alert() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    kind TEXT := split_part(NEW.subject, ':', 1);
    sid BIGINT;
    budget NUMERIC;
    per TEXT;
    url TEXT;
    old_spend NUMERIC := 0;
    t INTEGER;
BEGIN
    IF kind NOT IN ('key', 'team') OR position('@' IN NEW.subject) > 0 THEN
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
