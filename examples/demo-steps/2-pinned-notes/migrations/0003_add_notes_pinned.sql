-- Migration 0003_add_notes_pinned.sql
-- Pinned notes are listed first. Existing notes start unpinned.

ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));

CREATE INDEX notes_pinned ON notes (pinned DESC, id);
