/**
 * A deployment runs a release's migrations from its stored snapshot, but names each file where
 * it is in the project: a failing migration says `migrations/0003_….sql`, not the artifact
 * store's path.
 */
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { deploy } from '../../src/pipeline/operations.ts';
import { releaseMigrationFiles } from '../../src/pipeline/release-migration-files.ts';
import { stagedProjectTest } from '../helpers/fixtures.ts';
import { notesDatabase } from '../helpers/project.ts';

describe("a release's migration files", () => {
  stagedProjectTest(
    'a migration that fails at deploy is named by its path in the project',
    async ({ project }) => {
      const { ctx: dev } = await project.session();
      // Someone made the table by hand on staging: the migration fails there, and only there.
      const db = new DatabaseSync(notesDatabase(project, 'staging'));
      db.exec('CREATE TABLE tags (id INTEGER);');
      db.close();
      project.commitFiles(
        { 'migrations/0003_add_tags.sql': 'CREATE TABLE tags (id INTEGER PRIMARY KEY);\n' },
        'Add tags',
      );
      const result = await deploy(dev, 'staging', {});
      expect(result.status).toBe('failed');
      expect(result.failedStep?.name).toBe('migrate:notes');
      expect(result.failedStep?.message).toMatch(
        /^Migration migrations\/0003_add_tags\.sql failed\b/,
      );
      expect(result.failedStep?.message).not.toContain('artifacts');
      // Read again from the store: the same project paths, the SQL from the snapshot.
      const release = await dev.store.findRelease(result.plan.release.id);
      const digest = release?.services.notes?.migrationsDigest;
      const files = await releaseMigrationFiles(dev, 'notes', digest as string);
      expect(files.map((f) => f.path)).toEqual([
        'migrations/0001_create_notes.sql',
        'migrations/0002_add_notes_updated_at.sql',
        'migrations/0003_add_tags.sql',
      ]);
    },
  );
});
