import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import {
  createMigrationFile,
  readMigrationDir,
  slugMigrationName,
} from '../../src/migrations/migration-files.ts';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-migration-files-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createMigrationFile', () => {
  it('numbers from 0001 in a new directory, slugging the name and writing a comment header', async () => {
    const dir = join(root, 'migrations');
    const first = await createMigrationFile(dir, 'Create notes!');
    expect(first).toBe(join(dir, '0001_create_notes.sql'));
    const text = await readFile(first, 'utf8');
    expect(text.startsWith('-- Migration 0001_create_notes.sql\n')).toBe(true);
    expect(text).toContain('Append-only');

    const second = await createMigrationFile(dir, 'add  pinned-flag');
    expect(basename(second)).toBe('0002_add_pinned_flag.sql');
    const files = await readMigrationDir(dir);
    expect(files.map((f) => f.filename)).toEqual([
      '0001_create_notes.sql',
      '0002_add_pinned_flag.sql',
    ]);
  });

  it('continues after the highest existing number, keeping four digits', async () => {
    const dir = join(root, 'migrations');
    await createMigrationFile(dir, 'first');
    for (let v = 2; v <= 9; v++) await writeFile(join(dir, `000${v}_step_${v}.sql`), 'SELECT 1;');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    expect(basename(await createMigrationFile(dir, 'tenth'))).toBe('0010_tenth.sql');
    expect(basename(await createMigrationFile(dir, 'eleventh'))).toBe('0011_eleventh.sql');
  });

  it('refuses a name with nothing usable, and refuses to extend a broken sequence', async () => {
    const dir = join(root, 'migrations');
    await expect(createMigrationFile(dir, '!!!')).rejects.toSatisfy((e) => hasCode(e, 'USAGE'));
    await createMigrationFile(dir, 'one');
    await writeFile(join(dir, '0003_three.sql'), 'SELECT 1;');
    await expect(createMigrationFile(dir, 'four')).rejects.toSatisfy((e) =>
      hasCode(e, 'MIGRATION_GAP'),
    );
  });

  it('slugs names to [a-z0-9_]', () => {
    expect(slugMigrationName('Add Notes.Pinned (v2)')).toBe('add_notes_pinned_v2');
    expect(slugMigrationName('Café')).toBe('cafe');
  });
});
