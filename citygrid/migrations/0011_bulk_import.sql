-- Bulk import of events: the id a row has in its source system, foreign category codes, and a quiet live feed.

ALTER TABLE event_case ADD COLUMN external_id text;
-- re-importing a file finds its rows again: one case per (source, source id)
CREATE UNIQUE INDEX event_case_external_idx ON event_case (source, external_id) WHERE external_id IS NOT NULL;

-- Likely duplicates are found through the geometry index (a box around the radius, then the exact distance on
-- the spheroid: events/repo.py), so the geography index, the costliest to keep up on every insert, goes.
DROP INDEX event_case_geog_idx;

-- Foreign category codes (a hotline's, another city's, an Open311 client's) → our category, per source.
CREATE TABLE category_alias (
    source        text NOT NULL,
    foreign_code  text NOT NULL,
    foreign_name  text NOT NULL DEFAULT '',
    category_code text NOT NULL REFERENCES category (code),
    PRIMARY KEY (source, foreign_code)
);

-- A bulk import sets citygrid.bulk_import = 'on' in its transaction: a million rows must not become a million
-- notifications. Open maps see the imported cases on their next view (docs/bulk.md).
CREATE OR REPLACE FUNCTION notify_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('citygrid.bulk_import', true) = 'on' THEN
        RETURN NULL;
    END IF;
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
