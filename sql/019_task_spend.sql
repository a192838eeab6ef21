-- 019_task_spend: a media task's cost reaches the spend that budgets check
-- (issue 19).
--
-- sql/017's trigger writes one usage row per finished media task (record_id
-- 'task:<public_id>', at most once: ON CONFLICT DO NOTHING). The trigger
-- below, on that row's insert (so exactly once per task, in the same
-- transaction, whichever instance or path ended the task), adds its
-- cost_usd to ai_spend for the period of now() of every subject the task's
-- owner counts against, as src/auth/budget_sync.c's upsert does for
-- requests: the key, its user and its team (coalesce(key's team, its
-- user's team), as the registry builds a key's set), or a JWT caller's user
-- and team; and each of those owners' model_limits entry that applies to the
-- model the client named (the entry named as sent, else
-- 'provider/public_name', else the public name, as src/auth/model_limit.h
-- matches), subject '<owner>@<name>' (src/auth/subject.h; an entry whose
-- subject text would exceed 95 bytes is hashed there and is skipped here).
-- Each subject's period is its owner's budget_period (NULL: total), through
-- llmux_period_key (sql/011). updated_at = now(), so every instance's budget
-- sync reads the new total back within its 'changed in the last 5 s'
-- window; the ai_spend alert trigger (sql/011/015) fires on the upsert as
-- for any spend. Rows of requests (record_ids without 'task:') are not
-- touched: their spend is sent by the instances themselves.
CREATE FUNCTION llmux_task_spend_add(subj TEXT, per TEXT, cost NUMERIC) RETURNS VOID
    LANGUAGE sql AS $$
    INSERT INTO ai_spend AS s (subject, period, spend_usd, updated_at)
    VALUES (subj, llmux_period_key(per, now()), cost, now())
    ON CONFLICT (subject, period) DO UPDATE
        SET spend_usd = s.spend_usd + EXCLUDED.spend_usd, updated_at = now()
$$;

CREATE FUNCTION llmux_task_spend() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    req TEXT := coalesce(NEW.requested_model, '');
    prov TEXT := coalesce(NEW.provider, '');
    part TEXT;
    pub TEXT;
    full_name TEXT;
    kid BIGINT := NEW.api_key_id;
    uid BIGINT := NEW.user_id;
    tid BIGINT := NEW.team_id;
    owners TEXT[] := ARRAY[]::TEXT[];
    pers TEXT[] := ARRAY[]::TEXT[];
    mls JSONB[] := ARRAY[]::JSONB[];
    per TEXT;
    ml JSONB;
    entry TEXT;
    i INTEGER;
BEGIN
    IF NEW.cost_usd IS NULL OR NEW.cost_usd <= 0 THEN
        RETURN NULL;
    END IF;
    IF kid IS NOT NULL THEN
        SELECT k.budget_period, k.model_limits, k.user_id, coalesce(k.team_id, u.team_id)
            INTO per, ml, uid, tid
            FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE k.id = kid;
        IF FOUND THEN
            owners := owners || ('key:' || kid);
            pers := pers || coalesce(per, 'total');
            mls := mls || coalesce(ml, '{}'::jsonb);
        END IF;
    END IF;
    IF uid IS NOT NULL THEN
        SELECT budget_period, model_limits INTO per, ml FROM users WHERE id = uid;
        IF FOUND THEN
            owners := owners || ('user:' || uid);
            pers := pers || coalesce(per, 'total');
            mls := mls || coalesce(ml, '{}'::jsonb);
        END IF;
    END IF;
    IF tid IS NOT NULL THEN
        SELECT budget_period, model_limits INTO per, ml FROM teams WHERE id = tid;
        IF FOUND THEN
            owners := owners || ('team:' || tid);
            pers := pers || coalesce(per, 'total');
            mls := mls || coalesce(ml, '{}'::jsonb);
        END IF;
    END IF;
    -- The catalog model the client named (as sql/017 finds it).
    part := CASE WHEN prov <> '' AND left(req, length(prov) + 1) = prov || '/'
                 THEN substr(req, length(prov) + 2) ELSE req END;
    SELECT m.public_name INTO pub
        FROM ai_models m JOIN ai_providers p ON p.id = m.provider_id
        WHERE p.name = prov AND (m.public_name = part OR m.upstream_name = part)
        ORDER BY (m.public_name = part) DESC, m.id LIMIT 1;
    IF pub IS NOT NULL THEN
        full_name := prov || '/' || pub;
    END IF;
    FOR i IN 1 .. coalesce(array_length(owners, 1), 0) LOOP
        PERFORM llmux_task_spend_add(owners[i], pers[i], NEW.cost_usd);
        entry := CASE WHEN req <> '' AND mls[i] ? req THEN req
                      WHEN full_name IS NOT NULL AND mls[i] ? full_name THEN full_name
                      WHEN pub IS NOT NULL AND mls[i] ? pub THEN pub END;
        IF entry IS NOT NULL AND octet_length(owners[i] || '@' || entry) <= 95 THEN
            PERFORM llmux_task_spend_add(owners[i] || '@' || entry, pers[i], NEW.cost_usd);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER ai_usage_task_spend AFTER INSERT ON ai_usage
    FOR EACH ROW
    WHEN (NEW.record_id LIKE 'task:%' AND NEW.cost_usd > 0)
    EXECUTE FUNCTION llmux_task_spend();
