-- Idempotency keys of POST /api/reports: a phone that resends after a network failure gets the first answer back
-- instead of a second case.
CREATE TABLE idempotency_key (
    username   text NOT NULL,
    key        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    response   jsonb,
    PRIMARY KEY (username, key)
);
