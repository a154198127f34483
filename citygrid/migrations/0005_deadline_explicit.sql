-- A deadline set by a person (an approved extension) is kept when the calendar changes; only computed deadlines
-- are counted again.
ALTER TABLE event_case ADD COLUMN deadline_explicit boolean NOT NULL DEFAULT false;
