-- Who acts, who receives, how cases move: accounts, departments, category limits, routing rules with history,
-- the workflow table and its trigger, attachments, the working calendar, the outbox and the inbox.

-- Categories: limits, duplicate radius, visibility.
ALTER TABLE category_major ADD COLUMN local_extension boolean NOT NULL DEFAULT false;
ALTER TABLE category
    ADD COLUMN time_limit         text NOT NULL DEFAULT '1wd',
    ADD COLUMN urgent_limit       text,
    ADD COLUMN check_limit        text NOT NULL DEFAULT '2wh',
    ADD COLUMN duplicate_radius_m double precision NOT NULL DEFAULT 50 CHECK (duplicate_radius_m >= 0),
    ADD COLUMN public             boolean NOT NULL DEFAULT true,
    ADD COLUMN limit_source       text NOT NULL DEFAULT 'to be set by the city';

-- Departments: district bureaus (条线) and street-level units (属地).
CREATE TABLE department (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,40}$'),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('bureau', 'street')),
    unit_type   text NOT NULL,
    parent_code text REFERENCES department (code) DEFERRABLE INITIALLY DEFERRED,
    street_code text,
    CHECK ((kind = 'street') = (street_code IS NOT NULL))
);
CREATE UNIQUE INDEX department_street_unit_idx ON department (street_code, unit_type) WHERE kind = 'street';

-- Accounts live at the edge; the domain sees an actor (username, roles, scope).
CREATE TABLE app_user (
    id              serial PRIMARY KEY,
    username        text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name    text NOT NULL,
    password_hash   text,
    roles           text[] NOT NULL CHECK (cardinality(roles) > 0),
    grid_codes      text[] NOT NULL DEFAULT '{}',
    street_code     text,
    department_code text REFERENCES department (code),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_user_grids_idx ON app_user USING gin (grid_codes);

CREATE TABLE api_token (
    id           serial PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES app_user (id),
    token_hash   text NOT NULL UNIQUE,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Routing rules: each import is a new rule set; the old sets stay as the change history.
CREATE TABLE rule_set (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    source      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    is_active   boolean NOT NULL DEFAULT false,
    activated_at timestamptz
);
CREATE UNIQUE INDEX rule_set_one_active_idx ON rule_set (is_active) WHERE is_active;

CREATE TABLE routing_rule (
    id              serial PRIMARY KEY,
    rule_set_id     integer NOT NULL REFERENCES rule_set (id),
    line            integer NOT NULL,
    name            text NOT NULL,
    category        text CHECK (category ~ '^[0-9]{2}([0-9]{2})?$'),
    place_kind      text CHECK (place_kind IN ('zone', 'grid', 'community', 'street')),
    place_code      text,
    zone_layer      text,
    zone_code       text,
    recipient_kind  text NOT NULL CHECK (recipient_kind IN ('department', 'street_unit')),
    department_code text REFERENCES department (code),
    unit_type       text,
    priority        integer NOT NULL DEFAULT 0
);
CREATE INDEX routing_rule_set_idx ON routing_rule (rule_set_id);

-- Cases: routing, deadlines, counters.
ALTER TABLE event_case
    ADD COLUMN source             text NOT NULL DEFAULT 'api',
    ADD COLUMN reporter           text NOT NULL DEFAULT '',
    ADD COLUMN urgent             boolean NOT NULL DEFAULT false,
    ADD COLUMN department_code    text REFERENCES department (code),
    ADD COLUMN dispatched_at      timestamptz,
    ADD COLUMN clock_start        timestamptz,
    ADD COLUMN deadline           timestamptz,
    ADD COLUMN yellow_at          timestamptz,
    ADD COLUMN deadline_provisional boolean NOT NULL DEFAULT false,
    ADD COLUMN time_limit         text,
    ADD COLUMN handled_at         timestamptz,
    ADD COLUMN check_deadline     timestamptz,
    ADD COLUMN closed_at          timestamptz,
    ADD COLUMN escalation_level   smallint NOT NULL DEFAULT 0,
    ADD COLUMN dispatch_count     integer NOT NULL DEFAULT 0,
    ADD COLUMN return_count       integer NOT NULL DEFAULT 0,
    ADD COLUMN rework_count       integer NOT NULL DEFAULT 0,
    ADD COLUMN extension_count    integer NOT NULL DEFAULT 0,
    ADD COLUMN merged_into        bigint REFERENCES event_case (id),
    ADD COLUMN imported           boolean NOT NULL DEFAULT false;
CREATE INDEX event_case_department_idx ON event_case (department_code, status);
CREATE INDEX event_case_open_deadline_idx ON event_case (yellow_at)
    WHERE status IN ('dispatched', 'accepted', 'extension_requested');
CREATE INDEX event_case_geog_idx ON event_case USING gist ((geom::geography));

ALTER TABLE report ADD COLUMN joined_case_id bigint REFERENCES event_case (id);
ALTER TABLE report ADD COLUMN reporter text NOT NULL DEFAULT '';

ALTER TABLE case_history
    ADD COLUMN actor_role      text NOT NULL DEFAULT '',
    ADD COLUMN department_code text,
    ADD COLUMN deadline        timestamptz,
    ADD COLUMN attachments     jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN detail          jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN imported        boolean NOT NULL DEFAULT false;
CREATE INDEX case_history_action_idx ON case_history (action, at);

-- Every routing decision, with its inputs and the candidates the winner beat.
CREATE TABLE routing_decision (
    id              bigserial PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES event_case (id),
    at              timestamptz NOT NULL DEFAULT now(),
    rule_set_id     integer REFERENCES rule_set (id),
    rule_id         integer REFERENCES routing_rule (id),
    department_code text REFERENCES department (code),
    inputs          jsonb NOT NULL,
    candidates      jsonb NOT NULL,
    explanation     text NOT NULL
);
CREATE INDEX routing_decision_case_idx ON routing_decision (case_id, at);

-- The workflow: the same list as dispatch/casework/workflow.py (a test checks they agree). The trigger refuses any
-- status change that is not in it, whatever code path tries it.
CREATE TABLE workflow_transition (
    action      text NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (action, from_status)
);

-- Written out by hand (not generated at run time), so the agreement test can fail.
INSERT INTO workflow_transition (action, from_status, to_status) VALUES
    ('register', 'reported', 'registered'),
    ('register', 'awaiting_verification', 'registered'),
    ('await_verification', 'reported', 'awaiting_verification'),
    ('reject', 'reported', 'rejected'),
    ('reject', 'awaiting_verification', 'rejected'),
    ('merge', 'reported', 'merged'),
    ('merge', 'awaiting_verification', 'merged'),
    ('merge', 'registered', 'merged'),
    ('dispatch', 'registered', 'dispatched'),
    ('dispatch', 'returned', 'dispatched'),
    ('accept', 'dispatched', 'accepted'),
    ('return', 'dispatched', 'returned'),
    ('request_extension', 'accepted', 'extension_requested'),
    ('approve_extension', 'extension_requested', 'accepted'),
    ('refuse_extension', 'extension_requested', 'accepted'),
    ('handle', 'accepted', 'handled'),
    ('check_ok', 'handled', 'checked'),
    ('check_fail', 'handled', 'accepted'),
    ('close', 'checked', 'closed'),
    ('reopen', 'closed', 'registered'),
    ('reopen', 'rejected', 'registered');

ALTER TABLE event_case ADD CONSTRAINT event_case_status_check CHECK (status IN (
    'reported', 'awaiting_verification', 'registered', 'rejected', 'merged', 'dispatched', 'returned',
    'accepted', 'extension_requested', 'handled', 'checked', 'closed'));

CREATE FUNCTION enforce_workflow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
        SELECT 1 FROM workflow_transition WHERE from_status = OLD.status AND to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'case % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER event_case_workflow BEFORE UPDATE ON event_case FOR EACH ROW EXECUTE FUNCTION enforce_workflow();

-- Photos and files attached to actions (the bytes live in the media store).
CREATE TABLE attachment (
    id           bigserial PRIMARY KEY,
    storage_key  text NOT NULL,
    content_type text NOT NULL,
    size_bytes   integer NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    sha256       text NOT NULL,
    uploaded_by  text NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    case_id      bigint REFERENCES event_case (id),
    history_id   bigint REFERENCES case_history (id)
);

-- Holidays and 调休 working days entered by administrators for years the calendar package does not cover.
CREATE TABLE calendar_year (
    year        integer PRIMARY KEY,
    source      text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    imported_by text NOT NULL
);
CREATE TABLE calendar_day (
    day     date PRIMARY KEY,
    workday boolean NOT NULL,
    name    text NOT NULL DEFAULT '',
    year    integer NOT NULL REFERENCES calendar_year (year) ON DELETE CASCADE
);

-- Side effects that must not be lost: written in the case's transaction, delivered by the worker.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    dedupe_key      text UNIQUE,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

CREATE TABLE inbox_message (
    id         bigserial PRIMARY KEY,
    outbox_id  bigint NOT NULL REFERENCES outbox (id),
    user_id    integer NOT NULL REFERENCES app_user (id),
    case_id    bigint REFERENCES event_case (id),
    subject    text NOT NULL,
    body       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz,
    UNIQUE (outbox_id, user_id)
);
CREATE INDEX inbox_user_idx ON inbox_message (user_id, created_at DESC);
