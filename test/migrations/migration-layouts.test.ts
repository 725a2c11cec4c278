/**
 * Migration folders in other tools' layouts, read as those tools read them; a folder that looks
 * empty in its layout while holding .sql files is refused; and every message names the real
 * problem, with renames Airlock accepts.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError, type UserError } from '../../src/errors.ts';
import { detectMigrations } from '../../src/migrations/detect-migrations.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import type { MigrationFolderLayout } from '../../src/migrations/migration-layouts.ts';
import { parseMigrationFilename } from '../../src/migrations/migration-name.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'airlock-layouts-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tree(files: Record<string, string>, under = 'm'): Promise<string> {
  const dir = path.join(root, under);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

async function refusal(dir: string, folder?: MigrationFolderLayout): Promise<UserError> {
  const error = await readMigrationDir(dir, folder).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AirlockError);
  return error as UserError;
}

describe('layouts', () => {
  it('wrangler: a start at 0000, gaps and any name after the number, in number order', async () => {
    const dir = await tree({
      '0000_Init-Schema.sql': 'CREATE TABLE a (id int);',
      '0002_add b.sql': 'CREATE TABLE b (id int);',
      '0010_c.sql': 'CREATE TABLE c (id int);',
      'README.md': '#',
    });
    const files = await readMigrationDir(dir, { layout: 'wrangler' });
    expect(files.map((f) => [f.version, f.filename])).toEqual([
      [0, '0000_Init-Schema.sql'],
      [2, '0002_add b.sql'],
      [10, '0010_c.sql'],
    ]);
  });

  it("wrangler with migrations_pattern reads drizzle v1's folder-per-migration files", async () => {
    const dir = await tree({
      '20250101000000_init/migration.sql': 'CREATE TABLE a (id int);',
      '20250101000000_init/snapshot.json': '{}',
      '20250102000000_more/migration.sql': 'CREATE TABLE b (id int);',
    });
    const files = await readMigrationDir(dir, { layout: 'wrangler', pattern: '*/migration.sql' });
    expect(files.map((f) => f.filename)).toEqual([
      '20250101000000_init/migration.sql',
      '20250102000000_more/migration.sql',
    ]);
  });

  it('supabase: timestamps and hyphenated, upper-case names as they are', async () => {
    const dir = await tree({
      '20240101000000_init.sql': 'CREATE TABLE a (id int);',
      '20240215093000_Add-Profiles.sql': 'CREATE TABLE b (id int);',
    });
    const files = await readMigrationDir(dir, { layout: 'supabase' });
    expect(files.map((f) => [f.version, f.name])).toEqual([
      [20240101000000, 'init'],
      [20240215093000, 'Add-Profiles'],
    ]);
  });

  it("drizzle: the journal's order and numbering from 0000; a file not in it is refused", async () => {
    const journal = {
      version: '7',
      dialect: 'sqlite',
      entries: [
        { idx: 0, version: '6', when: 1700000000000, tag: '0000_fluffy_cat', breakpoints: true },
        { idx: 1, version: '6', when: 1700000100000, tag: '0001_brave_dog', breakpoints: true },
      ],
    };
    const dir = await tree({
      'meta/_journal.json': JSON.stringify(journal),
      'meta/0000_snapshot.json': '{}',
      '0000_fluffy_cat.sql':
        'CREATE TABLE a (id int);\n--> statement-breakpoint\nCREATE TABLE b (id int);',
      '0001_brave_dog.sql': 'CREATE TABLE c (id int);',
    });
    const files = await readMigrationDir(dir, { layout: 'drizzle' });
    expect(files.map((f) => [f.version, f.name, f.createdAtMs])).toEqual([
      [0, 'fluffy_cat', 1700000000000],
      [1, 'brave_dog', 1700000100000],
    ]);
    await writeFile(path.join(dir, '0002_stray.sql'), 'SELECT 1;');
    const error = await refusal(dir, { layout: 'drizzle' });
    expect(error.code).toBe('MIGRATION_NAME_INVALID');
    expect(error.message).toContain('0002_stray.sql is not listed in meta/_journal.json');
  });

  it('drizzle v1 and prisma: <timestamp>_<name>/migration.sql folders', async () => {
    const dir = await tree({
      '20240101000000_init/migration.sql': 'CREATE TABLE a (id int);',
      '20240301000000_add_b/migration.sql': 'CREATE TABLE b (id int);',
      'migration_lock.toml': 'provider = "postgresql"\n',
    });
    for (const layout of ['drizzle', 'prisma'] as const) {
      const files = await readMigrationDir(dir, { layout });
      expect(files.map((f) => [f.version, f.name])).toEqual([
        [20240101000000, 'init'],
        [20240301000000, 'add_b'],
      ]);
    }
  });

  it('dbmate, goose and node-pg-migrate run the up section only, line numbers kept', async () => {
    const cases = {
      dbmate: '-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down\nDROP TABLE a;\n',
      goose:
        '-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE a (id int);\n-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE a;\n',
      'node-pg-migrate':
        '-- Up Migration\nCREATE TABLE a (id int);\n\n-- Down Migration\nDROP TABLE a;\n',
    } as const;
    for (const [layout, text] of Object.entries(cases)) {
      const dir = await tree({ '20240101000000_create_a.sql': text }, layout);
      const [file] = await readMigrationDir(dir, { layout: layout as 'dbmate' });
      expect(file?.sql, layout).toContain('CREATE TABLE a');
      expect(file?.sql, layout).not.toContain('DROP TABLE');
      expect(file?.sql.split('\n').length, layout).toBe(text.split('\n').length);
    }
    const dir = await tree(
      {
        '20240101000000_idx.sql':
          '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON a (id);\n',
      },
      'dbmate-nt',
    );
    const [file] = await readMigrationDir(dir, { layout: 'dbmate' });
    expect(file?.directives?.noTransaction).toBe(true);
  });

  it('node-pg-migrate and goose refuse code migrations; postgrator skips undo files', async () => {
    const js = await tree({ '1700000000000_init.js': 'exports.up = () => {};' }, 'npm');
    const error = await refusal(js, { layout: 'node-pg-migrate' });
    expect(error.code).toBe('MIGRATION_UNSUPPORTED');
    expect(error.message).toContain('1700000000000_init.js is code, not SQL');
    const pg = await tree(
      {
        '001.do.create_orders.sql': 'CREATE TABLE orders (id int);',
        '001.undo.create_orders.sql': 'DROP TABLE orders;',
        '003.do.sql': 'CREATE TABLE x (id int);',
      },
      'postgrator',
    );
    const files = await readMigrationDir(pg, { layout: 'postgrator' });
    expect(files.map((f) => [f.version, f.filename])).toEqual([
      [1, '001.do.create_orders.sql'],
      [3, '003.do.sql'],
    ]);
  });
});

describe('links and other special files in a migrations folder', () => {
  // A project (airlock.yaml at its root) whose migrations are below prisma/migrations or
  // supabase/migrations, so messages can name paths relative to the project.
  async function project(under: string, files: Record<string, string>): Promise<string> {
    await writeFile(path.join(root, 'airlock.yaml'), 'services: {}\n');
    return tree(files, under);
  }

  it('refuses a Prisma folder whose migration.sql links to a file in the project, naming the path', async () => {
    const dir = await project('prisma/migrations', {
      '20260101000000_init/migration.sql': 'CREATE TABLE a (id int);',
    });
    await writeFile(path.join(root, 'notes.sql'), 'DROP TABLE a;');
    await mkdir(path.join(dir, '20260301000000_sneaky'));
    await symlink(
      path.join(root, 'notes.sql'),
      path.join(dir, '20260301000000_sneaky', 'migration.sql'),
    );
    const error = await refusal(dir, { layout: 'prisma' });
    expect(error.code).toBe('MIGRATION_UNSUPPORTED');
    expect(error.message).toContain(
      'prisma/migrations/20260301000000_sneaky/migration.sql is a symbolic link',
    );
    expect(error.message).toContain(`(to ${path.join(root, 'notes.sql')})`);
    expect(error.hint).toContain('Replace the link with the file itself');
    expect(error.details.file).toBe(path.join(dir, '20260301000000_sneaky', 'migration.sql'));
  });

  it('refuses a flat-layout migration file that is a link (here to a file outside the project)', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'airlock-outside-'));
    try {
      await writeFile(path.join(outside, 'hostname'), 'db-1\n');
      const dir = await project('supabase/migrations', {
        '20260101000000_init.sql': 'CREATE TABLE a (id int);',
      });
      await symlink(path.join(outside, 'hostname'), path.join(dir, '20260301000000_sneaky.sql'));
      for (const layout of ['supabase', 'wrangler', 'dbmate'] as const) {
        const error = await refusal(dir, { layout });
        expect(error.code, layout).toBe('MIGRATION_UNSUPPORTED');
        expect(error.message, layout).toContain(
          'supabase/migrations/20260301000000_sneaky.sql is a symbolic link',
        );
      }
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses a migration folder that is a link', async () => {
    const dir = await project('prisma/migrations', {
      '20260101000000_init/migration.sql': 'CREATE TABLE a (id int);',
    });
    await tree({ 'migration.sql': 'DROP TABLE a;' }, 'elsewhere');
    await symlink(path.join(root, 'elsewhere'), path.join(dir, '20260301000000_sneaky'));
    for (const layout of ['prisma', 'drizzle'] as const) {
      const error = await refusal(dir, { layout });
      expect(error.code, layout).toBe('MIGRATION_UNSUPPORTED');
      expect(error.message, layout).toContain(
        'prisma/migrations/20260301000000_sneaky is a symbolic link',
      );
      expect(error.hint, layout).toContain('Replace the link with the folder itself');
    }
  });

  it("refuses a link in Airlock's own layout too", async () => {
    const dir = await project('migrations', { '0001_init.sql': 'CREATE TABLE a (id int);' });
    await writeFile(path.join(root, 'notes.sql'), 'DROP TABLE a;');
    await symlink(path.join(root, 'notes.sql'), path.join(dir, '0002_sneaky.sql'));
    const error = await refusal(dir);
    expect(error.code).toBe('MIGRATION_UNSUPPORTED');
    expect(error.message).toContain('migrations/0002_sneaky.sql is a symbolic link');
  });

  it('refuses a named pipe where a migration file is expected', async () => {
    const dir = await project('db/migrations', {
      '20260101000000_init.sql': '-- migrate:up\nCREATE TABLE a (id int);\n',
    });
    execFileSync('mkfifo', [path.join(dir, '20260301000000_pipe.sql')]);
    const error = await refusal(dir, { layout: 'dbmate' });
    expect(error.code).toBe('MIGRATION_UNSUPPORTED');
    expect(error.message).toContain('db/migrations/20260301000000_pipe.sql is a named pipe');
  });
});

describe('a folder that looks empty in its layout', () => {
  it('refuses a drizzle v1 folder read in the airlock layout, naming the files and the layout', async () => {
    const dir = await tree({
      '20250101000000_init/migration.sql': 'CREATE TABLE a (id int);',
      '20250101000000_init/snapshot.json': '{}',
    });
    const error = await refusal(dir);
    expect(error.code).toBe('MIGRATION_LAYOUT_MISMATCH');
    expect(error.message).toContain('20250101000000_init/migration.sql');
    expect(error.message).toContain('layout airlock reads none of them');
    expect(error.hint).toContain('layout: drizzle');
  });

  it('refuses a postgrator folder with only undo files', async () => {
    const dir = await tree({ '001.undo.a.sql': 'DROP TABLE a;' });
    const error = await refusal(dir, { layout: 'postgrator' });
    expect(error.code).toBe('MIGRATION_LAYOUT_MISMATCH');
    expect(error.message).toContain('001.undo.a.sql');
  });

  it('accepts a folder with no .sql file at all (no migrations yet)', async () => {
    const dir = await tree({ 'README.md': '#' });
    expect(await readMigrationDir(dir, { layout: 'prisma' })).toEqual([]);
  });
});

describe('messages in the airlock layout', () => {
  it('a start at 0000 is not called a gap, and the renumbering it suggests is accepted', async () => {
    const dir = await tree({ '0000_init.sql': 'SELECT 1;', '0001_more.sql': 'SELECT 1;' });
    const error = await refusal(dir);
    expect(error.code).toBe('MIGRATION_NAME_INVALID');
    expect(error.message).toContain('is numbered 0000');
    expect(error.message).not.toContain('gap');
    expect(error.hint).toContain('0000_init.sql becomes 0001_init.sql');
    expect(parseMigrationFilename('0001_init.sql')).not.toBeNull();
  });

  it('a hyphenated, upper-case name gets a rename Airlock accepts and the layout that keeps it', async () => {
    const dir = await tree({ '0001_a.sql': 'SELECT 1;', '0002_Add-Tags.sql': 'SELECT 1;' });
    const error = await refusal(dir);
    expect(error.code).toBe('MIGRATION_NAME_INVALID');
    expect(error.hint).toContain('rename it to 0002_add_tags.sql');
    expect(parseMigrationFilename('0002_add_tags.sql')).not.toBeNull();
    expect(error.hint).toContain('layout: wrangler');
  });

  it('Supabase timestamps point to the supabase layout, not to a renumbering', async () => {
    const dir = await tree({ '20240101000000_init.sql': 'SELECT 1;' });
    const error = await refusal(dir);
    expect(error.code).toBe('MIGRATION_GAP');
    expect(error.hint).toContain('layout: supabase');
  });

  it('a real gap names the missing number once', async () => {
    const dir = await tree({ '0001_a.sql': 'SELECT 1;', '0003_c.sql': 'SELECT 1;' });
    const error = await refusal(dir);
    expect(error.code).toBe('MIGRATION_GAP');
    expect(error.message).toContain('0002 is missing after 0001_a.sql');
    expect(error.hint).toContain('rename 0003_c.sql to 0002_c.sql');
  });
});

describe('detectMigrations', () => {
  const project = async (files: Record<string, string>) => tree(files, 'project');

  it("reads wrangler's migrations_dir and migrations_pattern", async () => {
    const dir = await project({
      'wrangler.jsonc':
        '// comment\n{ "name": "w", "d1_databases": [{ "binding": "DB", "migrations_dir": "drizzle", "migrations_pattern": "drizzle/*/migration.sql" }] }',
      'drizzle.config.ts': "export default { dialect: 'sqlite', out: './drizzle' };",
    });
    expect(detectMigrations(dir)).toMatchObject({
      dir: 'drizzle',
      layout: 'wrangler',
      tool: 'wrangler',
      pattern: '*/migration.sql',
    });
  });

  it('reads drizzle-kit, Prisma, postgrator, dbmate, goose and Supabase', async () => {
    const cases: Array<[Record<string, string>, object]> = [
      [
        { 'drizzle.config.ts': "export default { dialect: 'postgresql', out: './db/out' };" },
        { dir: 'db/out', layout: 'drizzle', engine: 'postgres' },
      ],
      [
        { 'prisma/schema.prisma': 'datasource db {\n provider = "postgresql"\n}\n' },
        { dir: 'prisma/migrations', layout: 'prisma' },
      ],
      [
        { '.postgratorrc.json': '{"migrationPattern": "sql/*", "driver": "pg"}' },
        { dir: 'sql', layout: 'postgrator' },
      ],
      [{ '.env': 'DBMATE_MIGRATIONS_DIR=./db/m\n' }, { dir: 'db/m', layout: 'dbmate' }],
      [
        { 'migrations/00001_init.sql': '-- +goose Up\nSELECT 1;\n' },
        { dir: 'migrations', layout: 'goose' },
      ],
      [
        { 'supabase/config.toml': 'project_id = "x"\n' },
        { dir: 'supabase/migrations', layout: 'supabase' },
      ],
      [{ 'migrations/0001_init.sql': 'SELECT 1;' }, { dir: 'migrations', layout: 'airlock' }],
    ];
    for (const [files, expected] of cases) {
      await rm(path.join(root, 'project'), { recursive: true, force: true });
      expect(detectMigrations(await project(files))).toMatchObject(expected);
    }
  });
});
