import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError, hasCode } from '../../src/errors.ts';
import { createMigrationFile, readMigrationDir } from '../../src/migrations/migration-files.ts';
import { slugMigrationName } from '../../src/migrations/migration-name.ts';

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

describe('readMigrationDir', () => {
  const NOTES = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
  const UPDATED_AT = 'ALTER TABLE notes ADD COLUMN updated_at TEXT;\n';
  const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

  async function write(filename: string, sql: string): Promise<void> {
    await mkdir(join(root, 'migrations'), { recursive: true });
    await writeFile(join(root, 'migrations', filename), sql);
  }

  it('returns [] for a missing directory', async () => {
    expect(await readMigrationDir(join(root, 'nope'))).toEqual([]);
  });

  it('reads .sql files sorted by version with sha256 of the raw bytes, ignoring other files', async () => {
    const dir = join(root, 'migrations');
    await write('0002_add_updated_at.sql', UPDATED_AT);
    await write('0001_create_notes.sql', NOTES);
    await write('README.md', '# not a migration');
    await write('.gitkeep', '');
    const files = await readMigrationDir(dir);
    expect(files.map((f) => [f.version, f.name, f.filename])).toEqual([
      [1, 'create_notes', '0001_create_notes.sql'],
      [2, 'add_updated_at', '0002_add_updated_at.sql'],
    ]);
    expect(files[0]!.path).toBe(join(dir, '0001_create_notes.sql'));
    expect(files[0]!.sql).toBe(NOTES);
    expect(files[0]!.sha256).toBe(sha(NOTES));
    expect(files[1]!.sha256).toBe(sha(await readFile(join(dir, '0002_add_updated_at.sql'))));
  });

  it('rejects a .sql file that is not named NNNN_name.sql, naming it', async () => {
    const dir = join(root, 'migrations');
    await write('0001_create_notes.sql', NOTES);
    await write('2_Add-Tags.sql', 'SELECT 1;');
    const error = await readMigrationDir(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe('MIGRATION_NAME_INVALID');
    expect((error as AirlockError).message).toContain(join(dir, '2_Add-Tags.sql'));
    expect((error as AirlockError).hint).toContain('airlock migrate create');
  });

  it("refuses a migration written as code (Kysely's .ts), naming it, rather than skipping it", async () => {
    const dir = join(root, 'migrations');
    await write('0001_create_notes.sql', NOTES);
    await write(
      '2024_01_01_add_tags.ts',
      "export async function up(db) { await db.schema.createTable('tags').execute(); }\n",
    );
    const error = await readMigrationDir(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe('MIGRATION_UNSUPPORTED');
    expect((error as AirlockError).message).toBe(
      `Migration ${join(dir, '2024_01_01_add_tags.ts')} is code, not SQL: Airlock runs SQL migrations only, and would not run it.`,
    );
    expect((error as AirlockError).hint).toContain('--applied');
    // A type declaration beside the SQL files is not a migration.
    await rm(join(dir, '2024_01_01_add_tags.ts'));
    await write('types.d.ts', 'export {};\n');
    expect((await readMigrationDir(dir)).map((f) => f.filename)).toEqual(['0001_create_notes.sql']);
  });
});
