-- Intake in one round trip (docs/intake.md): a case may be inserted directly in a later status, so the database
-- checks inserts too; and reference data that the app caches announces its changes.

-- 1. A case inserted in a status other than where cases start (a status no transition leads to) must have a
-- history that walks the workflow table from that start to the case's status. Deferred to the commit, so the
-- history rows written after the case (same statement or not) are there when it runs. The UPDATE trigger of
-- migration 0004 keeps checking every later change.
CREATE FUNCTION check_inserted_case() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    reached text;  -- the status the history has led to so far
    now_status text;
    h record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workflow_transition WHERE to_status = NEW.status) THEN
        RETURN NULL;  -- inserted where cases start: the first history row is all it needs
    END IF;
    SELECT status INTO now_status FROM event_case WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;  -- deleted again in the same transaction
    END IF;
    FOR h IN SELECT action, from_status, to_status FROM case_history WHERE case_id = NEW.id ORDER BY at, id LOOP
        IF reached IS NULL THEN
            IF h.from_status IS NOT NULL
               OR EXISTS (SELECT 1 FROM workflow_transition WHERE to_status = h.to_status) THEN
                RAISE EXCEPTION 'case % was inserted as % but its history does not start with its report (first '
                                'step: % from % to %)', NEW.id, NEW.status, h.action, h.from_status, h.to_status
                    USING ERRCODE = 'check_violation';
            END IF;
            reached := h.to_status;
        ELSIF h.from_status IS DISTINCT FROM h.to_status THEN  -- a status change; notes keep the status
            IF h.from_status IS DISTINCT FROM reached OR NOT EXISTS (
                SELECT 1 FROM workflow_transition t
                WHERE t.action = h.action AND t.from_status = h.from_status AND t.to_status = h.to_status) THEN
                RAISE EXCEPTION 'case % was inserted as % but its history has the step % from % to % after '
                                'reaching %', NEW.id, NEW.status, h.action, h.from_status, h.to_status, reached
                    USING ERRCODE = 'check_violation';
            END IF;
            reached := h.to_status;
        END IF;
    END LOOP;
    IF reached IS DISTINCT FROM now_status THEN
        RAISE EXCEPTION 'case % (inserted as %) is % but its history leads to %', NEW.id, NEW.status,
                        now_status, coalesce(reached, 'nothing (no history rows)')
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER event_case_inserted_path AFTER INSERT ON event_case
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_inserted_case();

-- 2. Reference data: every change bumps the table's version (in the changing transaction) and notifies
-- `citygrid_reference` with the table's name (delivered at commit). Each app process listens and drops what it
-- cached; a report also reads the versions in its own pipelined round trip, so the first report after the
-- commit sees the change even before the notification has arrived (dispatch/intake/reference.py).
CREATE TABLE reference_version (
    table_name text PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 1
);

CREATE FUNCTION reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE table_name = TG_TABLE_NAME;
    PERFORM pg_notify('citygrid_reference', TG_TABLE_NAME);
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['category_major', 'category', 'category_alias', 'rule_set', 'routing_rule',
                             'department', 'calendar_year', 'calendar_day', 'grid_release', 'zone_version'] LOOP
        INSERT INTO reference_version (table_name) VALUES (t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION reference_changed()', t || '_reference', t);
    END LOOP;
END $$;
