-- Migration 0001_create_notes.sql
-- The notes table. Append-only: never edit this file once it has run anywhere.

CREATE TABLE notes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  body TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);

CREATE INDEX notes_created_at ON notes (created_at);
