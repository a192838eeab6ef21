-- 006_model_aliases: a model's public name may differ from its upstream
-- name, and one upstream model may have several public names (aliases).
--
-- A model row is now unique by the name clients use, (provider, public
-- name), instead of by its upstream name: "my-chat" -> "mock-model" may sit
-- next to the catalog's "mock-model" -> "mock-model", each with its own
-- prices. A bare public name served by several providers stays allowed.

-- Rows an older version let share a public name on one provider: the later
-- ones take their upstream name (unique until now), then, if that is taken
-- too, upstream name + '#' + id.
UPDATE ai_models m SET public_name = m.upstream_name
 WHERE EXISTS (SELECT 1 FROM ai_models o
                WHERE o.provider_id = m.provider_id AND o.public_name = m.public_name
                  AND o.id < m.id);
UPDATE ai_models m SET public_name = m.upstream_name || '#' || m.id
 WHERE EXISTS (SELECT 1 FROM ai_models o
                WHERE o.provider_id = m.provider_id AND o.public_name = m.public_name
                  AND o.id < m.id);

ALTER TABLE ai_models DROP CONSTRAINT ai_models_provider_id_upstream_name_key;
ALTER TABLE ai_models ADD CONSTRAINT ai_models_provider_id_public_name_key
    UNIQUE (provider_id, public_name);
CREATE INDEX ai_models_upstream_idx ON ai_models (provider_id, upstream_name);

-- A usage row names the model the client asked for (a provider/model name,
-- a catalog name, an alias or a group) next to the upstream model in
-- `model`. NULL in rows written before this migration.
ALTER TABLE ai_usage ADD COLUMN requested_model TEXT;
