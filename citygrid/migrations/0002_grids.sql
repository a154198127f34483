-- Grid hierarchy (district > street > community > unit grid), versioned per level, and grid releases.
CREATE TABLE grid_layer (
    id              serial PRIMARY KEY,
    level           text NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    version         integer NOT NULL,
    parent_layer_id integer REFERENCES grid_layer (id),
    source          text NOT NULL,
    source_crs      text NOT NULL,
    feature_count   integer NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (level, version),
    CHECK ((level = 'district') = (parent_layer_id IS NULL))
);

CREATE TABLE grid_feature (
    id          bigserial PRIMARY KEY,
    layer_id    integer NOT NULL REFERENCES grid_layer (id),
    code        text NOT NULL,
    name        text NOT NULL,
    parent_code text,
    area_m2     double precision NOT NULL,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    UNIQUE (layer_id, code)
);
CREATE INDEX grid_feature_geom_idx ON grid_feature USING gist (geom);

-- A release is one version of every level, chained by parent_layer_id; exactly one is active.
CREATE TABLE grid_release (
    id                 serial PRIMARY KEY,
    name               text NOT NULL,
    district_layer_id  integer NOT NULL REFERENCES grid_layer (id),
    street_layer_id    integer NOT NULL REFERENCES grid_layer (id),
    community_layer_id integer NOT NULL REFERENCES grid_layer (id),
    grid_layer_id      integer NOT NULL REFERENCES grid_layer (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    activated_at       timestamptz,
    is_active          boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX grid_release_one_active ON grid_release ((true)) WHERE is_active;

-- Responsibility zones: named layers (parks, rivers, expressways...) that may overlap anything.
CREATE TABLE zone_layer (
    id         serial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE zone_version (
    id            serial PRIMARY KEY,
    layer_id      integer NOT NULL REFERENCES zone_layer (id),
    version       integer NOT NULL,
    source        text NOT NULL,
    source_crs    text NOT NULL,
    feature_count integer NOT NULL,
    is_active     boolean NOT NULL DEFAULT false,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (layer_id, version)
);
CREATE UNIQUE INDEX zone_version_one_active ON zone_version (layer_id) WHERE is_active;

CREATE TABLE zone_feature (
    id         bigserial PRIMARY KEY,
    version_id integer NOT NULL REFERENCES zone_version (id),
    code       text NOT NULL,
    name       text NOT NULL,
    geom       geometry(MultiPolygon, 4326) NOT NULL,
    UNIQUE (version_id, code)
);
CREATE INDEX zone_feature_geom_idx ON zone_feature USING gist (geom);
