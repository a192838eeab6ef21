-- 007_admin_references: what the admin API keeps consistent in the database.
--
-- 1. Deleted providers leave a tombstone (their name), so the start-up
--    seeding of built-in providers does not bring back one an operator
--    deleted. Creating a provider of that name again removes it.
-- 2. A group member's connection_id must be a credential of the member's own
--    provider, and a credential cannot move to another provider while a
--    member pins it.
-- 3. llmux_provider_id(name, param): a provider's id by name for the admin
--    API (members given as {"provider": "openai", "model": ...}).
--
-- Errors raised here use the SQLSTATEs LX400 / LX409 / LX422 with the
-- message "<param>|<text>": the admin API answers that status naming param.

CREATE TABLE ai_provider_tombstones (
    name       TEXT PRIMARY KEY,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION llmux_provider_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO ai_provider_tombstones (name) VALUES (OLD.name)
            ON CONFLICT (name) DO UPDATE SET deleted_at = now();
        RETURN OLD;
    END IF;
    DELETE FROM ai_provider_tombstones WHERE name = NEW.name;
    RETURN NEW;
END $$;

CREATE TRIGGER ai_providers_tombstone AFTER INSERT OR DELETE ON ai_providers
    FOR EACH ROW EXECUTE FUNCTION llmux_provider_tombstone();

CREATE FUNCTION llmux_provider_id(pname TEXT, param TEXT) RETURNS BIGINT
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    pid BIGINT;
BEGIN
    SELECT id INTO pid FROM ai_providers WHERE name = pname;
    IF pid IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LX422',
            MESSAGE = format('%s|''%s'' does not name an existing provider (%s)', param, param,
                             left(pname, 64));
    END IF;
    RETURN pid;
END $$;

-- True, or raises naming param: LX422 when connection cid does not exist,
-- LX400 when it belongs to another provider than pid.
CREATE FUNCTION llmux_member_connection_ok(pid BIGINT, cid BIGINT, param TEXT) RETURNS BOOLEAN
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    owner BIGINT;
    owner_name TEXT;
    want_name TEXT;
BEGIN
    IF cid IS NULL THEN
        RETURN true;
    END IF;
    SELECT c.provider_id, p.name INTO owner, owner_name
        FROM ai_connections c JOIN ai_providers p ON p.id = c.provider_id WHERE c.id = cid;
    IF owner IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LX422',
            MESSAGE = format('%s|''%s'' does not refer to an existing connection', param, param);
    END IF;
    IF owner = pid THEN
        RETURN true;
    END IF;
    SELECT name INTO want_name FROM ai_providers WHERE id = pid;
    RAISE EXCEPTION USING ERRCODE = 'LX400',
        MESSAGE = format('%s|''%s'': connection %s belongs to provider ''%s'', not to the '
                         'member''s provider ''%s''', param, param, cid, owner_name,
                         coalesce(want_name, pid::text));
END $$;

CREATE FUNCTION llmux_member_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM llmux_member_connection_ok(NEW.provider_id, NEW.connection_id, 'connection_id');
    RETURN NEW;
END $$;

CREATE TRIGGER ai_group_members_connection BEFORE INSERT OR UPDATE OF provider_id, connection_id
    ON ai_group_members FOR EACH ROW EXECUTE FUNCTION llmux_member_check();

CREATE FUNCTION llmux_connection_move_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gname TEXT;
    mid BIGINT;
BEGIN
    IF NEW.provider_id = OLD.provider_id THEN
        RETURN NEW;
    END IF;
    SELECT g.name, m.id INTO gname, mid FROM ai_group_members m
        JOIN ai_groups g ON g.id = m.group_id WHERE m.connection_id = NEW.id ORDER BY m.id LIMIT 1;
    IF mid IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LX409',
            MESSAGE = format('provider_id|connection %s is pinned by group ''%s'' (member %s) '
                             'to its provider: remove it from the group first', NEW.id, gname,
                             mid);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ai_connections_move BEFORE UPDATE OF provider_id ON ai_connections
    FOR EACH ROW EXECUTE FUNCTION llmux_connection_move_check();
