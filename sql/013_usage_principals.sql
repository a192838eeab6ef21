-- 013_usage_principals: usage rows name the user and team of a request
-- signed in with a JWT (it has no API key).
--
-- A row of a key's request leaves both NULL: its user and team are the
-- key's (api_keys.user_id / team_id), as before. A row of a JWT request has
-- api_key_id NULL and user_id (the users row its user claim names) and
-- team_id (its team claim's team, else the user's). The usage queries count
-- a row for coalesce(key's, row's) user and team.

ALTER TABLE ai_usage
    ADD COLUMN user_id BIGINT,
    ADD COLUMN team_id BIGINT;
CREATE INDEX ai_usage_user_idx ON ai_usage (user_id, created_at) WHERE user_id IS NOT NULL;
CREATE INDEX ai_usage_team_idx ON ai_usage (team_id, created_at) WHERE team_id IS NOT NULL;
