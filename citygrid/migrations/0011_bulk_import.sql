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
-- notifications. Open maps see the imported cases on their next view (docs/bulk.md). The condition is the
-- trigger's WHEN clause, so a quiet row does not even call the function.
DROP TRIGGER event_case_notify ON event_case;
CREATE TRIGGER event_case_notify AFTER INSERT OR UPDATE OF status, department_code, deadline ON event_case
    FOR EACH ROW WHEN (current_setting('citygrid.bulk_import', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION notify_case_changed();
