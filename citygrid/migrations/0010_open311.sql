-- Open311 GeoReport v2: client systems with API keys, their rate windows, per-category service attributes,
-- and what a client sent with a report (its media link, attribute values, contact fields, the token it got).

CREATE TABLE api_client (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{1,62}$'),
    key_hash    text NOT NULL UNIQUE,                 -- sha256 of the key; the key itself is shown once
    trust       text NOT NULL CHECK (trust IN ('public', 'trusted')),
    source      text NOT NULL DEFAULT 'open311',      -- stored as the case's source (e.g. 12345, sensor, app)
    rate_per_minute integer NOT NULL DEFAULT 60 CHECK (rate_per_minute > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    revoked_at  timestamptz
);

-- One row per client and minute: a fixed-window counter, bumped in one statement per call.
CREATE TABLE api_client_window (
    client_id   integer NOT NULL REFERENCES api_client (id) ON DELETE CASCADE,
    minute      timestamptz NOT NULL,
    calls       integer NOT NULL,
    PRIMARY KEY (client_id, minute)
);

-- Extra fields a category needs from Open311 clients (the service definition's attributes).
CREATE TABLE service_attribute (
    category_code text NOT NULL REFERENCES category (code),
    code          text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    datatype      text NOT NULL CHECK (datatype IN ('string', 'number', 'datetime', 'text', 'singlevaluelist',
                                                    'multivaluelist')),
    required      boolean NOT NULL DEFAULT false,
    description   text NOT NULL,
    datatype_description text NOT NULL DEFAULT '',
    position      integer NOT NULL,
    "values"      jsonb NOT NULL DEFAULT '[]',         -- [{"key": …, "name": …}] for the list types
    PRIMARY KEY (category_code, code)
);

ALTER TABLE report
    ADD COLUMN client_id    integer REFERENCES api_client (id),
    ADD COLUMN token        text UNIQUE,
    ADD COLUMN media_url    text,                      -- a client's link, stored and never fetched
    ADD COLUMN attributes   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN contact      jsonb NOT NULL DEFAULT '{}';  -- email, phone, names, device and account ids: never returned
CREATE INDEX report_client_idx ON report (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX event_case_updated_idx ON event_case (updated_at);
