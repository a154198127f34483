-- What a key was first used for: sha256 of method, path and the canonical request body (web/idempotency.py).
-- A key reused with a different request is refused instead of replaying the first answer; keys stored before
-- this column (NULL) keep replaying.
ALTER TABLE idempotency_key ADD COLUMN fingerprint text;
