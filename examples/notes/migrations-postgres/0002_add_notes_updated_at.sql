-- Migration 0002_add_notes_updated_at.sql (Postgres; migrations/ has the SQLite twin)
-- Track when a note last changed, so clients can sort by recent edits.
-- Existing rows get their creation time.

ALTER TABLE notes ADD COLUMN updated_at timestamptz;

UPDATE notes SET updated_at = created_at WHERE updated_at IS NULL;
