-- Sign-in attempts, for throttling password guessing (per user name and per client address).
CREATE TABLE login_attempt (
    id       bigserial PRIMARY KEY,
    username text NOT NULL,
    client   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    ok       boolean NOT NULL
);
CREATE INDEX login_attempt_user_idx ON login_attempt (username, at);
CREATE INDEX login_attempt_client_idx ON login_attempt (client, at);
