-- Event categories (CJ/T 214 tree), cases, the reports that feed them, and case history.
CREATE TABLE category_major (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{2}$'),
    name text NOT NULL
);

CREATE TABLE category (
    code       text PRIMARY KEY CHECK (code ~ '^[0-9]{4}$'),
    major_code text NOT NULL REFERENCES category_major (code),
    name       text NOT NULL,
    CHECK (left(code, 2) = major_code)
);

CREATE TABLE event_case (
    id             bigserial PRIMARY KEY,
    status         text NOT NULL DEFAULT 'reported',
    category_code  text NOT NULL REFERENCES category (code),
    description    text NOT NULL DEFAULT '',
    geom           geometry(Point, 4326) NOT NULL,
    release_id     integer NOT NULL REFERENCES grid_release (id),
    district_code  text NOT NULL,
    district_name  text NOT NULL,
    street_code    text NOT NULL,
    street_name    text NOT NULL,
    community_code text NOT NULL,
    community_name text NOT NULL,
    grid_code      text NOT NULL,
    grid_name      text NOT NULL,
    zones          jsonb NOT NULL DEFAULT '[]',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    version        integer NOT NULL DEFAULT 1
);
CREATE INDEX event_case_geom_idx ON event_case USING gist (geom);
CREATE INDEX event_case_status_idx ON event_case (status);
CREATE INDEX event_case_created_idx ON event_case (created_at);

CREATE TABLE report (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES event_case (id),
    category_code text NOT NULL REFERENCES category (code),
    description   text NOT NULL DEFAULT '',
    geom          geometry(Point, 4326) NOT NULL,
    input_lon     double precision NOT NULL,
    input_lat     double precision NOT NULL,
    input_crs     text NOT NULL,
    source        text NOT NULL,
    reported_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_case_idx ON report (case_id);

CREATE TABLE case_history (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES event_case (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    note        text NOT NULL DEFAULT ''
);
CREATE INDEX case_history_case_idx ON case_history (case_id, at);
