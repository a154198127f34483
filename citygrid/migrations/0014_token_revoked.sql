-- A revoked token (sign-out, password change or reset, deactivation) is announced on `token_revoked` with its
-- hash (delivered at commit), whatever code path revoked it; web/live.py ends the live streams opened with it.
CREATE FUNCTION notify_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('token_revoked', NEW.token_hash);
    RETURN NULL;
END $$;

CREATE TRIGGER api_token_revoked_notify AFTER UPDATE OF revoked_at ON api_token
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION notify_token_revoked();
