/**
 * Seeds (idempotent by their ledger, refused on the last environment) and a scrubbed refresh
 * between two real SQLite files (the notes example's local environments), through the CLI.
 */
import { DatabaseSync } from 'node:sqlite';
import { expect } from 'vitest';
import { refreshData } from '../../src/data/refresh.ts';
import { seedData } from '../../src/data/seed.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import { notesDatabase } from '../helpers/project.ts';

const test = projectTestWith({
  config(doc) {
    doc.setIn(['services', 'notes', 'data'], {
      seed: 'seeds',
      scrub: { 'notes.title': 'fullName', 'notes.body': 'hash' },
      keep: ['notes.id', 'notes.created_at', 'notes.updated_at'],
    });
  },
});

function sqlite<T>(file: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
/** Every row of every table, as text: what a dump of the file would show. */
const dump = (file: string) =>
  sqlite(file, (db) =>
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
      .map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all()))
      .join('\n'),
  );
const rows = (file: string) =>
  sqlite(file, (db) => db.prepare('SELECT id, title, body FROM notes').all());

test('seeds run once per content, never on production; refresh copies production scrubbed', async ({
  project,
}) => {
  project.commitFiles(
    {
      'seeds/001_notes.sql':
        "INSERT INTO notes (title, body, created_at) VALUES ('Seeded welcome', 'hello', '2026-01-01');\n",
    },
    'seed files',
  );
  const env = { AIRLOCK_DATA_SALT: 'sqlite-test-salt-0123456789' };
  // The schema first (migrations, in process), then seeds through the CLI.
  const { ctx } = await project.session();
  for (const environment of ['staging', 'production']) {
    const database = ctx.config.environments[environment]!.services.notes!.database!;
    const driver = await ctx.databases.open(database);
    await new Migrator(driver, await readMigrationDir(database.migrationsDir)).apply({
      appliedBy: 'test',
      release: null,
    });
    await driver.close();
  }
  const first = await project.cli(['data', 'seed', 'staging'], { env });
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout + first.stderr).toContain('1 seed file run on staging');
  expect(await seedData(ctx, 'staging')).toMatchObject([
    {
      ran: [],
      skipped: ['seeds/001_notes.sql'],
    },
  ]);
  const staging = notesDatabase(project, 'staging');
  const production = notesDatabase(project, 'production');
  expect(rows(staging)).toHaveLength(1);

  await expect(seedData(ctx, 'production')).rejects.toMatchObject({
    code: 'DATA_SEED_REFUSED',
    message: expect.stringContaining('last environment'),
  });

  sqlite(production, (db) =>
    db.exec(
      "INSERT INTO notes (title, body, created_at) VALUES ('Dr. Realperson Secretname', 'call +1 555 0199 about the diagnosis', '2026-02-02'), ('Second private note', 'iban DE00 1234', '2026-02-03');",
    ),
  );
  const refreshed = await project.cli(['data', 'refresh', 'staging', '--from', 'production'], {
    env,
  });
  expect(refreshed.code, refreshed.stderr).toBe(0);
  const copy = dump(staging);
  for (const secret of ['Realperson', 'Secretname', 'diagnosis', 'DE00', 'Seeded welcome'])
    expect(copy).not.toContain(secret);
  expect(rows(staging)).toHaveLength(2);

  await expect(refreshData(ctx, { target: 'production', source: 'staging' })).rejects.toMatchObject(
    { code: 'DATA_TARGET_REFUSED', message: expect.stringContaining('last environment') },
  );
  expect(dump(production)).toContain('Realperson');
});
