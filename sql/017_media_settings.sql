-- 017_media_settings: per-provider job settings, per-unit model prices and
-- one usage row per finished media task (issue 19).
--
-- ai_providers.settings: a JSON object of per-provider settings. Today one
-- key, "jobs": {"adapter": "openai_videos" | "runway" | "generic",
-- "generic": {...the generic adapter's settings, src/media/generic.h}},
-- which chooses the job API a media task on this provider is sent through
-- (no "jobs": OpenAI's videos and images APIs). Checked by the admin API.
--
-- ai_models.unit_cost_usd: the price of one unit of a media model's output:
-- USD per second of video for a video model, per image for an image model
-- (0: free). Tokens keep their *_cost_per_1m prices.
--
-- The usage row of a media task: the trigger below writes it in the same
-- transaction as the task's move to a terminal status (succeeded, failed,
-- cancelled, expired), whichever instance or path moves it (the runner,
-- a cancel, the deadline sweep), at most once per task (record_id
-- 'task:<public_id>' is unique). request_id is the task's public id;
-- feature 'video' or 'image'; the key, user and team are the task's owner's.
-- Only a succeeded task costs: units x the model's unit_cost_usd, where the
-- units are the input's "seconds" for a video and the number of images in
-- the output for an image. A task that did not succeed costs 0 and carries
-- its error_code. status: 200 succeeded, 502 failed, 499 cancelled, 504
-- expired.
ALTER TABLE ai_providers ADD COLUMN settings JSONB NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE ai_models ADD COLUMN unit_cost_usd NUMERIC(18, 8) NOT NULL DEFAULT 0
    CHECK (unit_cost_usd >= 0);

CREATE FUNCTION llmux_task_usage() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    req TEXT := NEW.input->>'model';
    prov TEXT := coalesce(NEW.provider, '');
    part TEXT;
    upstream TEXT;
    price NUMERIC := 0;
    units NUMERIC := 0;
    conn BIGINT;
    st INTEGER;
BEGIN
    IF NEW.type NOT IN ('video.generate', 'image.generate') THEN
        RETURN NULL;
    END IF;
    part := CASE WHEN prov <> '' AND left(coalesce(req, ''), length(prov) + 1) = prov || '/'
                 THEN substr(req, length(prov) + 2) ELSE coalesce(req, '') END;
    SELECT m.upstream_name, m.unit_cost_usd INTO upstream, price
        FROM ai_models m JOIN ai_providers p ON p.id = m.provider_id
        WHERE p.name = prov AND (m.public_name = part OR m.upstream_name = part)
        ORDER BY (m.public_name = part) DESC, m.id LIMIT 1;
    IF NEW.status = 'succeeded' THEN
        IF NEW.type = 'video.generate' THEN
            IF jsonb_typeof(NEW.input->'seconds') = 'number' THEN
                units := (NEW.input->>'seconds')::numeric;
            END IF;
        ELSIF jsonb_typeof(NEW.output->'images') = 'array' THEN
            units := jsonb_array_length(NEW.output->'images');
        END IF;
    END IF;
    IF NEW.credential_id ~ '^cred:[0-9]{1,18}$' THEN
        conn := substr(NEW.credential_id, 6)::bigint;
    END IF;
    st := CASE NEW.status WHEN 'succeeded' THEN 200 WHEN 'cancelled' THEN 499
                          WHEN 'expired' THEN 504 ELSE 502 END;
    INSERT INTO ai_usage (request_id, record_id, api_key_id, user_id, team_id, connection_id,
                          provider, model, requested_model, feature, cost_usd, status,
                          error, error_code, total_us, created_at)
    VALUES (NEW.public_id, 'task:' || NEW.public_id, NEW.api_key_id, NEW.user_id, NEW.team_id,
            conn, prov, coalesce(upstream, part), req,
            CASE NEW.type WHEN 'video.generate' THEN 'video' ELSE 'image' END,
            units * coalesce(price, 0), st,
            CASE WHEN NEW.status = 'succeeded' THEN NULL ELSE left(NEW.error_message, 500) END,
            CASE WHEN NEW.status = 'succeeded' THEN NULL
                 ELSE coalesce(NEW.error_code, NEW.status) END,
            greatest(0, (extract(epoch FROM (now() - NEW.created_at)) * 1000000)::bigint), now())
    ON CONFLICT (record_id) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER ai_tasks_usage AFTER UPDATE OF status ON ai_tasks
    FOR EACH ROW
    WHEN (OLD.status IN ('queued', 'submitting', 'running')
          AND NEW.status IN ('succeeded', 'failed', 'cancelled', 'expired'))
    EXECUTE FUNCTION llmux_task_usage();
