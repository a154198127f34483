-- The case rules every query shares, once (issue 13): which statuses are final, which a department holds (its
-- deadline runs), and the traffic light of a held case at a moment. The status lists are dispatch/casework/workflow.py's
-- FINAL and WITH_DEPARTMENT; tests/test_case_rules_sql.py checks that they agree, status by status, and that the
-- light agrees with the deadline rule at every boundary.
--
-- Plain LANGUAGE sql, one expression, no STRICT: PostgreSQL inlines them into the queries that call them, so a
-- call reads as the IN-list it stands for and still matches the partial indexes of migration 0013 (whose
-- predicates are those lists).

CREATE FUNCTION case_is_final(status text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('closed', 'merged', 'rejected')
$$;

CREATE FUNCTION case_is_held(status text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('accepted', 'dispatched', 'extension_requested')
$$;

-- red: past the deadline; yellow: past the warning time; green: in time; NULL: nobody holds the case.
CREATE FUNCTION case_light(status text, deadline timestamptz, yellow_at timestamptz, at timestamptz)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN NOT case_is_held(status) THEN NULL
                WHEN at > deadline THEN 'red' WHEN at >= yellow_at THEN 'yellow' ELSE 'green' END
$$;

-- The live feed's light from the same rule (the body otherwise as in 0009).
CREATE OR REPLACE FUNCTION notify_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('case_changed', json_build_object(
        'id', NEW.id, 'status', NEW.status, 'category_code', NEW.category_code,
        'category_name', (SELECT name FROM category WHERE code = NEW.category_code),
        'lon', round(ST_X(NEW.geom)::numeric, 6), 'lat', round(ST_Y(NEW.geom)::numeric, 6),
        'street_code', NEW.street_code, 'grid_code', NEW.grid_code, 'department_code', NEW.department_code,
        'reporter', NEW.reporter,
        'created_at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'deadline', to_char(NEW.deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'light', case_light(NEW.status, NEW.deadline, NEW.yellow_at, now()),
        'description', left(NEW.description, 300))::text);
    RETURN NULL;
END $$;
