-- The live feed's times in UTC ('…Z'), whatever the writing session's TimeZone; the map shows them in the
-- deployment's zone.
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
        'light', CASE WHEN NEW.status NOT IN ('dispatched', 'accepted', 'extension_requested') THEN NULL
                      WHEN now() > NEW.deadline THEN 'red' WHEN now() >= NEW.yellow_at THEN 'yellow'
                      ELSE 'green' END,
        'description', left(NEW.description, 300))::text);
    RETURN NULL;
END $$;
