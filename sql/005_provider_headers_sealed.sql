-- 005_provider_headers_sealed: a provider's extra_headers sealed at rest.
--
-- Header values may hold tokens, so they are stored like connection
-- credentials: the headers' JSON object, AES-256-GCM sealed with the master
-- key and bound to the row id ("ai_providers.extra_headers:<id>"). Only the
-- names stay readable (the admin API shows them with "***").
--
-- SQL cannot seal: the plain extra_headers column stays for rows an older
-- version wrote. llmux seals a non-empty one at start-up, when it has the
-- master key, and empties it in the same statement.
ALTER TABLE ai_providers
    ADD COLUMN extra_headers_sealed BYTEA,                     -- NULL: no headers
    ADD COLUMN extra_header_names   TEXT[] NOT NULL DEFAULT '{}';
