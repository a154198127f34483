-- Rollups of event_case for the map and the dashboard (docs/rollups.md): counts per lattice cell, per unit grid
-- and per day, kept exact in the same transaction as the case change by statement-level triggers.

-- The state a status counts as: 0 finished, 1 open (nobody holds it), 2 held by a department (its deadline runs).
-- The same lists as dispatch/casework/workflow.py (FINAL, WITH_DEPARTMENT); tests/test_rollups.py checks they agree.
CREATE TABLE case_status_class (
    status text PRIMARY KEY,
    state  smallint NOT NULL CHECK (state IN (0, 1, 2))
);
INSERT INTO case_status_class (status, state) VALUES
    ('reported', 1), ('awaiting_verification', 1), ('registered', 1), ('rejected', 0), ('merged', 0),
    ('dispatched', 2), ('returned', 1), ('accepted', 2), ('extension_requested', 2), ('handled', 1),
    ('checked', 1), ('closed', 0);

-- Days are days of this zone (the deployment's, Policy.tz); rollup_refresh(zone) changes it.
CREATE TABLE rollup_zone (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    tz       text NOT NULL
);
INSERT INTO rollup_zone VALUES (true, 'Asia/Shanghai');

-- The map: cases per square of a fixed lattice (level L: side 90 / 2^L degrees, a 64-pixel cell at zoom L), per
-- street and state, for all time (day = -infinity) in three slices (dim 'a' all, 'm' per major category, 'd' per
-- department) and per day of creation (dim 'a' only). Sums of lon/lat give the cells' mean positions.
CREATE TABLE case_cell (
    level       smallint NOT NULL,
    day         date NOT NULL,
    dim         "char" NOT NULL,
    val         text NOT NULL,
    cx          integer NOT NULL,
    cy          integer NOT NULL,
    street_code text NOT NULL,
    state       smallint NOT NULL,
    n           bigint NOT NULL,
    sx          double precision NOT NULL,
    sy          double precision NOT NULL,
    PRIMARY KEY (level, day, dim, val, cx, cy, street_code, state)
);

-- Open cases (state 1 and 2) per unit grid, all of them (dim 'a') and per department (dim 'd').
CREATE TABLE case_grid (
    dim         "char" NOT NULL,
    val         text NOT NULL,
    grid_code   text NOT NULL,
    street_code text NOT NULL,
    state       smallint NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (dim, val, grid_code, street_code, state)
);

-- The dashboard: cases per day of creation ('r'), of the latest dispatch ('d') and of closing ('x'), for all
-- (dim 'a'), per street ('s') and per department ('d').
CREATE TABLE case_day (
    dim  "char" NOT NULL,
    val  text NOT NULL,
    day  date NOT NULL,
    kind "char" NOT NULL,
    n    bigint NOT NULL,
    PRIMARY KEY (dim, val, day, kind)
);

-- A small change appends its deltas here instead of updating the shared rows: no two transactions wait on (or
-- deadlock over) the same counter. Readers add them up with the base rows; rollup_compact() folds them in.
-- Their rows come and go every worker tick: vacuumed often, and indexed as they are read, so that the dead rows a
-- large fold leaves until then are not scanned by every view.
CREATE TABLE case_cell_delta (LIKE case_cell) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
CREATE TABLE case_grid_delta (LIKE case_grid) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
CREATE TABLE case_day_delta (LIKE case_day) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
CREATE INDEX case_cell_delta_idx ON case_cell_delta (level, day, dim, val, cx);
CREATE INDEX case_grid_delta_idx ON case_grid_delta (dim, val);
CREATE INDEX case_day_delta_idx ON case_day_delta (dim, val, day);

-- The held cases by deadline (the map's and dashboard's "not yet overdue" part, the most overdue first); one
-- range without an OR for a missing deadline, which never falls due, and what the map filters them by (an
-- index-only read). The list as in dispatch/casework/workflow.py WITH_DEPARTMENT (case_is_held() of migration 0016).
CREATE INDEX event_case_held_due_idx ON event_case ((coalesce(deadline, 'infinity'::timestamptz)))
    INCLUDE (deadline, geom, street_code, department_code, category_code, created_at, grid_code)
    WHERE status IN ('accepted', 'dispatched', 'extension_requested');
-- The same per street and per department: the most overdue of a scope without reading the others'.
CREATE INDEX event_case_held_street_due_idx ON event_case (street_code, (coalesce(deadline, 'infinity'::timestamptz)))
    WHERE status IN ('accepted', 'dispatched', 'extension_requested');
CREATE INDEX event_case_held_department_due_idx
    ON event_case (department_code, (coalesce(deadline, 'infinity'::timestamptz)))
    WHERE status IN ('accepted', 'dispatched', 'extension_requested');
-- A grid officer's map reads their grids' cases.
CREATE INDEX event_case_grid_idx ON event_case (grid_code);
-- Everyone sees the cases they reported: the map asks whether a reader has any outside their scope.
CREATE INDEX event_case_reporter_idx ON event_case (reporter);

-- One changed case as the rollups see it; d is +1 for a row that now exists, -1 for one that no longer does.
CREATE TYPE rollup_case AS (d integer, status text, category_code text, department_code text, lon float8, lat float8,
                            street_code text, grid_code text, created_at timestamptz, dispatched_at timestamptz,
                            closed_at timestamptz);

-- Fold the deltas into the base tables, in key order (the caller holds the advisory lock 7402613). These functions
-- group up to a bulk statement's rows: enough memory to sort them without spilling to disk.
CREATE FUNCTION rollup_fold() RETURNS void LANGUAGE plpgsql
    SET work_mem = '64MB' AS $$
BEGIN
    WITH d AS (DELETE FROM case_cell_delta RETURNING *)
    INSERT INTO case_cell AS t (level, day, dim, val, cx, cy, street_code, state, n, sx, sy)
    SELECT level, day, dim, val, cx, cy, street_code, state, sum(n), sum(sx), sum(sy) FROM d
    GROUP BY level, day, dim, val, cx, cy, street_code, state ORDER BY level, day, dim, val, cx, cy, street_code, state
    ON CONFLICT (level, day, dim, val, cx, cy, street_code, state) DO UPDATE
    SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy;
    WITH d AS (DELETE FROM case_grid_delta RETURNING *)
    INSERT INTO case_grid AS t (dim, val, grid_code, street_code, state, n)
    SELECT dim, val, grid_code, street_code, state, sum(n) FROM d GROUP BY dim, val, grid_code, street_code, state
    ORDER BY dim, val, grid_code, street_code, state
    ON CONFLICT (dim, val, grid_code, street_code, state) DO UPDATE SET n = t.n + EXCLUDED.n;
    WITH d AS (DELETE FROM case_day_delta RETURNING *)
    INSERT INTO case_day AS t (dim, val, day, kind, n)
    SELECT dim, val, day, kind, sum(n) FROM d GROUP BY dim, val, day, kind ORDER BY dim, val, day, kind
    ON CONFLICT (dim, val, day, kind) DO UPDATE SET n = t.n + EXCLUDED.n;
    WITH d AS (DELETE FROM history_day_delta RETURNING *)
    INSERT INTO history_day AS t (dim, code, name, day, action, n)
    SELECT dim, code, name, day, action, sum(n) FROM d GROUP BY dim, code, name, day, action
    ORDER BY dim, code, day, action, name
    ON CONFLICT (dim, code, day, action, name) DO UPDATE SET n = t.n + EXCLUDED.n;
END $$;

-- The rollup rows of changed cases, appended as deltas (plans cached: static statements), also for a large change
-- (a COPY, a bulk import): folding them in there would double the import's time, so the worker's next
-- rollup_compact() does it.
CREATE FUNCTION rollup_apply(rs rollup_case[]) RETURNS void LANGUAGE plpgsql
    SET work_mem = '64MB' AS $$
DECLARE
    zone text := (SELECT tz FROM rollup_zone);
BEGIN
    WITH s AS (SELECT x.d, x.street_code, k.state, left(x.category_code, 2) AS major, x.department_code, x.lon, x.lat,
                      (x.created_at AT TIME ZONE zone)::date AS cday
               FROM unnest(rs) x JOIN case_status_class k ON k.status = x.status),
    c AS (SELECT l.level, v.day, v.dim, v.val, floor(s.lon / (90::float8 / (2::float8 ^ l.level)))::int AS cx,
                 floor(s.lat / (90::float8 / (2::float8 ^ l.level)))::int AS cy, s.street_code, s.state, s.d, s.lon,
                 s.lat
          FROM s CROSS JOIN (VALUES (11), (12), (13), (14), (15), (16), (17)) l(level)
          CROSS JOIN LATERAL (VALUES ('-infinity'::date, 'a'::"char", ''), ('-infinity', 'm', s.major),
                                     ('-infinity', 'd', s.department_code), (s.cday, 'a', '')) v(day, dim, val)
          WHERE v.val IS NOT NULL)
    INSERT INTO case_cell_delta (level, day, dim, val, cx, cy, street_code, state, n, sx, sy)
    SELECT level, day, dim, val, cx, cy, street_code, state, sum(d), sum(d * lon), sum(d * lat) FROM c
    GROUP BY level, day, dim, val, cx, cy, street_code, state
    HAVING sum(d) <> 0 OR sum(d * lon) <> 0 OR sum(d * lat) <> 0;

    WITH g AS (SELECT v.dim, v.val, x.grid_code, x.street_code, k.state, x.d
               FROM unnest(rs) x JOIN case_status_class k ON k.status = x.status
               CROSS JOIN LATERAL (VALUES ('a'::"char", ''), ('d', x.department_code)) v(dim, val)
               WHERE k.state > 0 AND v.val IS NOT NULL)
    INSERT INTO case_grid_delta (dim, val, grid_code, street_code, state, n)
    SELECT dim, val, grid_code, street_code, state, sum(d) FROM g GROUP BY dim, val, grid_code, street_code, state
    HAVING sum(d) <> 0;

    WITH g AS (SELECT v.dim, v.val, w.day, w.kind, x.d
               FROM unnest(rs) x
               CROSS JOIN LATERAL (VALUES ((x.created_at AT TIME ZONE zone)::date, 'r'::"char"),
                                          ((x.dispatched_at AT TIME ZONE zone)::date, 'd'),
                                          ((x.closed_at AT TIME ZONE zone)::date, 'x')) w(day, kind)
               CROSS JOIN LATERAL (VALUES ('a'::"char", ''), ('s', x.street_code), ('d', x.department_code)) v(dim, val)
               WHERE w.day IS NOT NULL AND v.val IS NOT NULL)
    INSERT INTO case_day_delta (dim, val, day, kind, n)
    SELECT dim, val, day, kind, sum(d) FROM g GROUP BY dim, val, day, kind HAVING sum(d) <> 0;
END $$;

CREATE FUNCTION rollup_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rs rollup_case[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(ROW(1, status, category_code, department_code, ST_X(geom), ST_Y(geom), street_code,
                             grid_code, created_at, dispatched_at, closed_at)::rollup_case) INTO rs FROM n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(ROW(-1, status, category_code, department_code, ST_X(geom), ST_Y(geom), street_code,
                             grid_code, created_at, dispatched_at, closed_at)::rollup_case) INTO rs FROM o;
    ELSE  -- only the rows whose counted columns changed: most updates (a note, a counter) change none
        SELECT array_agg(r) INTO rs FROM o JOIN n USING (id)
        CROSS JOIN LATERAL (VALUES
            (ROW(-1, o.status, o.category_code, o.department_code, ST_X(o.geom), ST_Y(o.geom), o.street_code,
                 o.grid_code, o.created_at, o.dispatched_at, o.closed_at)::rollup_case),
            (ROW(1, n.status, n.category_code, n.department_code, ST_X(n.geom), ST_Y(n.geom), n.street_code,
                 n.grid_code, n.created_at, n.dispatched_at, n.closed_at)::rollup_case)) v(r)
        WHERE (o.status, o.category_code, o.department_code, o.geom, o.street_code, o.grid_code, o.created_at,
               o.dispatched_at, o.closed_at)
              IS DISTINCT FROM (n.status, n.category_code, n.department_code, n.geom, n.street_code, n.grid_code,
                                n.created_at, n.dispatched_at, n.closed_at);
    END IF;
    IF rs IS NOT NULL THEN
        PERFORM rollup_apply(rs);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER event_case_rollup_insert AFTER INSERT ON event_case REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_case_changed();
CREATE TRIGGER event_case_rollup_update AFTER UPDATE ON event_case
    REFERENCING OLD TABLE AS o NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION rollup_case_changed();
CREATE TRIGGER event_case_rollup_delete AFTER DELETE ON event_case REFERENCING OLD TABLE AS o
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_case_changed();
-- A bulk import and bench/generate_cases.py run with session_replication_role = replica: the rollups must follow.
ALTER TABLE event_case ENABLE ALWAYS TRIGGER event_case_rollup_insert;
ALTER TABLE event_case ENABLE ALWAYS TRIGGER event_case_rollup_update;
ALTER TABLE event_case ENABLE ALWAYS TRIGGER event_case_rollup_delete;

-- The evaluation (docs/evaluation.md): each case's tenures, recomputed from its history whenever a history row of
-- it is written, and report/register steps per day and region. The tenure rule is written once, here, in
-- tenure_recount(); dispatch/reporting/evaluation_sql.py reads its rows. A rule change is a migration that redefines it and
-- calls rollup_refresh().
CREATE TABLE case_tenure (
    case_id         bigint NOT NULL,
    tenure          integer NOT NULL,
    department_code text,
    dispatched_at   timestamptz,
    returned        boolean NOT NULL,
    reworked        boolean NOT NULL,
    extended        boolean NOT NULL,
    closed          boolean NOT NULL,
    handled         boolean NOT NULL,
    handled_at      timestamptz,
    due_at          timestamptz,  -- the deadline in force: the standing report-back's, else the latest recorded
    PRIMARY KEY (case_id, tenure)
);
CREATE INDEX case_tenure_dispatched_idx ON case_tenure (dispatched_at);
CREATE INDEX case_tenure_due_idx ON case_tenure (due_at);

-- report and register steps per day, per unit (dim: D district, s street, c community, g grid) of the case.
CREATE TABLE history_day (
    dim    "char" NOT NULL,
    code   text NOT NULL,
    name   text NOT NULL,
    day    date NOT NULL,
    action text NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (dim, code, day, action, name)
);
CREATE TABLE history_day_delta (LIKE history_day)
    WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
CREATE INDEX history_day_delta_idx ON history_day_delta (dim, day);

-- Recompute the tenures of the cases `ids` from their history: a tenure runs from one dispatch to the next.
CREATE FUNCTION tenure_recount(ids bigint[]) RETURNS void LANGUAGE plpgsql
    SET work_mem = '64MB' AS $$
BEGIN
    DELETE FROM case_tenure WHERE case_id = ANY(ids);
    WITH steps AS (
        SELECT h.case_id, h.id, h.at, h.action, h.department_code, h.deadline,
               count(*) FILTER (WHERE h.action = 'dispatch') OVER (PARTITION BY h.case_id ORDER BY h.at, h.id) AS tenure
        FROM case_history h WHERE h.case_id = ANY(ids)
    ), tenures AS (
        SELECT case_id, tenure,
               min(at) FILTER (WHERE action = 'dispatch') AS dispatched_at,
               min(department_code) FILTER (WHERE action = 'dispatch') AS department_code,
               bool_or(action = 'return') AS returned,
               bool_or(action = 'check_fail') AS reworked,
               bool_or(action = 'approve_extension') AS extended,
               bool_or(action = 'close') AS closed,
               coalesce((array_agg(action ORDER BY at DESC, id DESC)
                         FILTER (WHERE action IN ('handle', 'check_fail')))[1] = 'handle', false) AS handled,
               max(at) FILTER (WHERE action = 'handle') AS handled_at,
               (array_agg(deadline ORDER BY at DESC, id DESC) FILTER (WHERE action = 'handle'))[1] AS handle_deadline,
               (array_agg(deadline ORDER BY at DESC, id DESC) FILTER (WHERE deadline IS NOT NULL))[1] AS last_deadline
        FROM steps WHERE tenure > 0 GROUP BY case_id, tenure
    )
    INSERT INTO case_tenure (case_id, tenure, department_code, dispatched_at, returned, reworked, extended, closed,
                             handled, handled_at, due_at)
    SELECT case_id, tenure, department_code, dispatched_at, returned, reworked, extended, closed, handled,
           handled_at, CASE WHEN handled THEN handle_deadline ELSE last_deadline END
    FROM tenures ORDER BY case_id, tenure;
END $$;

-- report and register steps (d = +1 or -1 for history rows written or removed) into history_day's deltas.
CREATE FUNCTION history_apply(ids bigint[], actions text[], ats timestamptz[], ds integer[]) RETURNS void
LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
    zone text := (SELECT tz FROM rollup_zone);
BEGIN
    WITH s AS (SELECT x.d, x.action, (x.at AT TIME ZONE zone)::date AS day, c.district_code, c.district_name,
                      c.street_code, c.street_name, c.community_code, c.community_name, c.grid_code, c.grid_name
               FROM unnest(ids, actions, ats, ds) x(case_id, action, at, d) JOIN event_case c ON c.id = x.case_id
               WHERE x.action IN ('report', 'register')),
    u AS (SELECT v.dim, v.code, v.name, s.day, s.action, s.d FROM s
          CROSS JOIN LATERAL (VALUES ('D'::"char", s.district_code, s.district_name), ('s', s.street_code, s.street_name),
                                     ('c', s.community_code, s.community_name), ('g', s.grid_code, s.grid_name)) v(dim, code, name))
    INSERT INTO history_day_delta (dim, code, name, day, action, n)
    SELECT dim, code, name, day, action, sum(d) FROM u GROUP BY dim, code, name, day, action HAVING sum(d) <> 0;
END $$;

CREATE FUNCTION rollup_history_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    actions text[];
    ats timestamptz[];
    ds integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(case_id), array_agg(action), array_agg(at), array_agg(1) INTO ids, actions, ats, ds FROM n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(case_id), array_agg(action), array_agg(at), array_agg(-1) INTO ids, actions, ats, ds FROM o;
    ELSE  -- a history row's attachments may be set later: that changes nothing counted here
        SELECT array_agg(v.case_id), array_agg(v.action), array_agg(v.at), array_agg(v.d) INTO ids, actions, ats, ds
        FROM o JOIN n USING (id)
        CROSS JOIN LATERAL (VALUES (o.case_id, o.action, o.at, -1), (n.case_id, n.action, n.at, 1)) v(case_id, action, at, d)
        WHERE (o.case_id, o.at, o.action, o.department_code, o.deadline)
              IS DISTINCT FROM (n.case_id, n.at, n.action, n.department_code, n.deadline);
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM tenure_recount(ARRAY(SELECT DISTINCT unnest(ids)));
        PERFORM history_apply(ids, actions, ats, ds);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_history_rollup_insert AFTER INSERT ON case_history REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_history_changed();
CREATE TRIGGER case_history_rollup_update AFTER UPDATE ON case_history REFERENCING OLD TABLE AS o NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_history_changed();
CREATE TRIGGER case_history_rollup_delete AFTER DELETE ON case_history REFERENCING OLD TABLE AS o
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_history_changed();
ALTER TABLE case_history ENABLE ALWAYS TRIGGER case_history_rollup_insert;
ALTER TABLE case_history ENABLE ALWAYS TRIGGER case_history_rollup_update;
ALTER TABLE case_history ENABLE ALWAYS TRIGGER case_history_rollup_delete;

-- Fold the deltas into the base tables (the worker calls it every tick). False if another transaction holds the
-- lock (a compaction or a bulk statement): the deltas then wait for the next call, and stay counted meanwhile.
CREATE FUNCTION rollup_compact() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(7402613) THEN
        RETURN false;
    END IF;
    PERFORM rollup_fold();
    RETURN true;
END $$;

-- Recount every rollup from event_case and case_history (in the zone given, or the current one): after a change
-- of the deployment's time zone, or if rows were ever written with these triggers disabled. 50,000 cases at a time.
CREATE FUNCTION rollup_refresh(zone text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo bigint;
BEGIN
    LOCK TABLE event_case, case_history IN SHARE MODE;  -- no case changes while the rollups are rebuilt
    PERFORM pg_advisory_xact_lock(7402613);
    IF zone IS NOT NULL THEN
        PERFORM now() AT TIME ZONE zone;  -- an unknown zone fails here, before anything is changed
        UPDATE rollup_zone SET tz = zone;
    END IF;
    TRUNCATE case_cell, case_grid, case_day, case_cell_delta, case_grid_delta, case_day_delta, case_tenure,
             history_day, history_day_delta;
    FOR lo IN SELECT generate_series(0, coalesce(max(id), 0), 50000) FROM event_case LOOP
        PERFORM rollup_apply(ARRAY(
            SELECT ROW(1, status, category_code, department_code, ST_X(geom), ST_Y(geom), street_code, grid_code,
                       created_at, dispatched_at, closed_at)::rollup_case
            FROM event_case WHERE id >= lo AND id < lo + 50000));
        PERFORM tenure_recount(ARRAY(SELECT DISTINCT case_id FROM case_history
                                     WHERE case_id >= lo AND case_id < lo + 50000 AND action = 'dispatch'));
        PERFORM history_apply(ids, actions, ats, ds)
        FROM (SELECT array_agg(case_id) AS ids, array_agg(action) AS actions, array_agg(at) AS ats,
                     array_agg(1) AS ds
              FROM case_history WHERE case_id >= lo AND case_id < lo + 50000) h
        WHERE ids IS NOT NULL;
        PERFORM rollup_fold();
    END LOOP;
END $$;

SELECT rollup_refresh();
