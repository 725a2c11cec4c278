/**
 * The hints for an edited or missing applied migration name the project's real migrations folder
 * and, for a folder another tool writes (drizzle-kit here), that tool's command rather than
 * `airlock migrate create`, which refuses such a folder.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMigration } from '../../src/migrations/create-migration.ts';
import { verifyIntegrity, writeSumFile } from '../../src/migrations/integrity.ts';
import type { LedgerEntry } from '../../src/migrations/ledger.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { editedMigrationHint, planMigrations } from '../../src/migrations/migrator.ts';
import { caught } from './engines.ts';

let project: string;
beforeEach(async () => {
  project = await mkdtemp(path.join(tmpdir(), 'airlock-hints-'));
  await writeFile(path.join(project, 'airlock.yaml'), 'project: shop\n');
});
afterEach(async () => {
  await rm(project, { recursive: true, force: true });
});

async function tree(under: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(project, under);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

const drizzle = { layout: 'drizzle' } as const;

/** A drizzle-kit folder `drizzle/` with two migrations in its journal. */
function drizzleFolder(first = 'CREATE TABLE skus (id int, price int);') {
  const entry = (idx: number, tag: string) => ({
    idx,
    version: '7',
    when: 1700000000000 + idx,
    tag,
    breakpoints: true,
  });
  return tree('drizzle', {
    'meta/_journal.json': JSON.stringify({
      version: '7',
      dialect: 'postgresql',
      entries: [entry(0, '0000_create_skus'), entry(1, '0001_add_sku_price_check')],
    }),
    '0000_create_skus.sql': first,
    '0001_add_sku_price_check.sql':
      'ALTER TABLE skus ADD CONSTRAINT price_positive CHECK (price > 0);',
  });
}

function ledgerOf(files: Array<{ version: number; name: string; sha256: string }>): LedgerEntry[] {
  return files.map((f) => ({
    version: f.version,
    name: f.name,
    sha256: f.sha256,
    appliedAt: '2026-01-01T00:00:00.000Z',
    appliedBy: 'ci',
    durationMs: 1,
    release: 'r1',
  }));
}

describe('hints for an applied migration that changed', () => {
  it('drizzle: airlock.sum names drizzle/… and drizzle-kit, not `airlock migrate create`', async () => {
    const dir = await drizzleFolder();
    await writeSumFile(dir, await readMigrationDir(dir, drizzle));
    await writeFile(path.join(dir, '0000_create_skus.sql'), 'CREATE TABLE skus (id bigint);');
    const error = await caught(verifyIntegrity(dir, await readMigrationDir(dir, drizzle)));
    expect(error.code).toBe('MIGRATION_INTEGRITY');
    expect(error.hint).toContain('`git checkout -- drizzle/0000_create_skus.sql`');
    expect(error.hint).toContain(
      'put the change in a new migration, created with drizzle-kit (`drizzle-kit generate --name <name>`, then `airlock migrate hash`)',
    );
    expect(error.hint).not.toContain('airlock migrate create');
    expect(error.hint).not.toContain('migrations/');
  });

  it('drizzle: the ledger check names drizzle/… and drizzle-kit', async () => {
    const dir = await drizzleFolder();
    const ledger = ledgerOf(await readMigrationDir(dir, drizzle));
    await writeFile(path.join(dir, '0000_create_skus.sql'), 'CREATE TABLE skus (id bigint);');
    const [problem] = planMigrations(await readMigrationDir(dir, drizzle), ledger).problems;
    expect(problem?.code).toBe('MIGRATION_CHECKSUM_MISMATCH');
    expect(problem?.hint).toBe(
      'Never edit an applied migration: the ledger keeps the checksum it ran with. Restore 0000_create_skus.sql as it ran (`git checkout -- drizzle/0000_create_skus.sql` if the edit is not committed; if it is, `git log -p -- drizzle/0000_create_skus.sql` shows the commit that made it: `git checkout <commit>~1 -- drizzle/0000_create_skus.sql`, or `git revert <commit>`), run `airlock migrate hash`, and put the change in a new migration, created with drizzle-kit (`drizzle-kit generate --name <name>`, then `airlock migrate hash`).',
    );
    // With the release that ran it known (a deployment finds it in the state): its commit.
    const [file] = await readMigrationDir(dir, drizzle);
    if (!file) throw new Error('no file');
    expect(editedMigrationHint(file, { release: 'r1', commit: 'a'.repeat(40) })).toBe(
      `Never edit an applied migration: the ledger keeps the checksum it ran with. Restore 0000_create_skus.sql as r1 ran it (\`git checkout ${'a'.repeat(12)} -- drizzle/0000_create_skus.sql\`), run \`airlock migrate hash\`, and put the change in a new migration, created with drizzle-kit (\`drizzle-kit generate --name <name>\`, then \`airlock migrate hash\`).`,
    );
    // The same words as `airlock migrate create` when it refuses the folder.
    const refusal = await caught(createMigration(dir, 'x', drizzle));
    expect(refusal.message).toContain('create its migrations with drizzle-kit');
    expect(refusal.hint).toContain(
      '`drizzle-kit generate --name <name>`, then `airlock migrate hash`',
    );
  });

  it('drizzle: a file gone from the folder is restored into drizzle/', async () => {
    const dir = await drizzleFolder();
    const ledger = ledgerOf([
      ...(await readMigrationDir(dir, drizzle)),
      { version: 2, name: 'add_sku_name', sha256: 'f'.repeat(64) },
    ]);
    const [problem] = planMigrations(await readMigrationDir(dir, drizzle), ledger).problems;
    expect(problem?.code).toBe('MIGRATION_MISSING_FILE');
    expect(problem?.hint).toContain('`git checkout <commit> -- drizzle/0002_add_sku_name.sql`');
  });

  it("Airlock's own layout: its folder as configured, and `airlock migrate create`", async () => {
    const dir = await tree('db/migrations', {
      '0001_create_notes.sql': 'CREATE TABLE notes (id int);',
    });
    const ledger = ledgerOf(await readMigrationDir(dir));
    await writeSumFile(dir);
    await writeFile(path.join(dir, '0001_create_notes.sql'), 'CREATE TABLE notes (id bigint);');
    const [problem] = planMigrations(await readMigrationDir(dir), ledger).problems;
    expect(problem?.hint).toBe(
      'Never edit an applied migration: the ledger keeps the checksum it ran with. Restore 0001_create_notes.sql as it ran (`git checkout -- db/migrations/0001_create_notes.sql` if the edit is not committed; if it is, `git log -p -- db/migrations/0001_create_notes.sql` shows the commit that made it: `git checkout <commit>~1 -- db/migrations/0001_create_notes.sql`, or `git revert <commit>`), run `airlock migrate hash`, and put the change in a new migration (`airlock migrate create <name>`).',
    );
    const error = await caught(verifyIntegrity(dir, await readMigrationDir(dir)));
    expect(error.hint).toContain(
      'restore it as it ran (`git checkout -- db/migrations/0001_create_notes.sql` if the edit is not committed; if it is, `git log -p -- db/migrations/0001_create_notes.sql` shows the commit that made it: `git checkout <commit>~1 -- db/migrations/0001_create_notes.sql`, or `git revert <commit>`) and put the change in a new migration (`airlock migrate create <name>`).',
    );
  });
});
