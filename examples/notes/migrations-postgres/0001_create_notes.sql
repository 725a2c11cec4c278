-- Migration 0001_create_notes.sql (Postgres; migrations/0001_create_notes.sql is the SQLite twin)
-- The notes table. Append-only: never edit this file once it has run anywhere.

CREATE TABLE notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  body text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL
);

CREATE INDEX notes_created_at ON notes (created_at);
