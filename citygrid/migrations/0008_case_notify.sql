-- Every new case and every change of a case's status, department or deadline is announced on the channel
-- `case_changed` (delivered at commit), whatever code path made it; open maps subscribe through /api/events.
CREATE FUNCTION notify_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('case_changed', json_build_object(
        'id', NEW.id, 'status', NEW.status, 'category_code', NEW.category_code,
        'category_name', (SELECT name FROM category WHERE code = NEW.category_code),
        'lon', round(ST_X(NEW.geom)::numeric, 6), 'lat', round(ST_Y(NEW.geom)::numeric, 6),
        'street_code', NEW.street_code, 'grid_code', NEW.grid_code, 'department_code', NEW.department_code,
        'reporter', NEW.reporter, 'created_at', NEW.created_at, 'deadline', NEW.deadline,
        'light', CASE WHEN NEW.status NOT IN ('dispatched', 'accepted', 'extension_requested') THEN NULL
                      WHEN now() > NEW.deadline THEN 'red' WHEN now() >= NEW.yellow_at THEN 'yellow'
                      ELSE 'green' END,
        'description', left(NEW.description, 300))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER event_case_notify AFTER INSERT OR UPDATE OF status, department_code, deadline ON event_case
    FOR EACH ROW EXECUTE FUNCTION notify_case_changed();
