/**
 * The drizzle-kit round trip shared by layout-drizzle-kit-*.test.ts: acceptance for the drizzle
 * layout against drizzle-kit itself (the pinned devDependency). A schema.ts in a temp project, `drizzle-kit generate` writes the migrations (the journal layout:
 * `meta/_journal.json` and flat `<idx>_<tag>.sql` files), `drizzle-kit migrate` applies them on
 * one database and Airlock on another, and both schemas are equal. Then Airlock adopts
 * `__drizzle_migrations` on the first, applies one newly generated migration (writing drizzle's
 * ledger row too), and `drizzle-kit migrate` afterwards changes nothing. SQLite and Postgres.
 */
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { describeSchema } from '../../src/migrations/introspect.ts';
import type { DatabaseLocation } from '../../src/migrations/migration-driver.ts';
import { readToolLedger } from '../../src/migrations/tool-ledger-read.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { adoptFromTool, airlockApply, NODE_MODULES, runInstalledTool } from './tool-round-trip.ts';

let dir: string;
/** Test databases to drop after the test. */
export const databases: TestDatabase[] = [];

/** Per test: a temp project folder linked to the repository's node_modules; removed after. */
export function useDrizzleProject(): void {
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'airlock-drizzle-kit-'));
    // schema.ts imports drizzle-orm: resolve it from the repository's node_modules
    await symlink(NODE_MODULES, path.join(dir, 'node_modules'), 'dir');
  });
  afterEach(async () => {
    await Promise.all(databases.splice(0).map((d) => d.drop()));
    await rm(dir, { recursive: true, force: true });
  });
}

/** The current test's project folder. */
export const projectDir = (): string => dir;

const drizzleKit = (args: string[]) =>
  runInstalledTool('drizzle-kit', args, { cwd: dir, env: { CI: '1', NO_COLOR: '1' } });

/** Writes drizzle.config.ts for `dialect`, migrations in `drizzle/`, applied to `url`. */
export async function writeConfig(dialect: 'sqlite' | 'postgresql', url: string): Promise<void> {
  await writeFile(
    path.join(dir, 'drizzle.config.ts'),
    `export default ${JSON.stringify({ dialect, schema: './schema.ts', out: './drizzle', dbCredentials: { url } })};\n`,
  );
}

/**
 * The whole round trip for one dialect: `schema` v1 then v2 (v2 only adds), the first
 * database migrated by drizzle-kit (`A`), the second by Airlock (`B`).
 */
export async function roundTrip(
  A: DatabaseLocation,
  B: DatabaseLocation,
  schema: [string, string],
) {
  const folder = path.join(dir, 'drizzle');
  const layout = { layout: 'drizzle' } as const;
  await writeFile(path.join(dir, 'schema.ts'), schema[0]);
  await drizzleKit(['generate', '--name', 'init']);
  // the layout drizzle-kit writes: a journal beside flat files numbered from 0000
  const journal = JSON.parse(await readFile(path.join(folder, 'meta', '_journal.json'), 'utf8'));
  expect(journal.entries.map((e: { tag: string }) => e.tag)).toEqual(['0000_init']);

  await drizzleKit(['migrate']);
  expect(await airlockApply(B, folder, layout, null)).toEqual(['init']);
  const reference = await describeSchema(A);
  expect(reference.tables.map((t) => t.name)).toContain('users');
  expect(await describeSchema(B)).toEqual(reference);

  await adoptFromTool('drizzle', A, folder, layout, dir);
  await writeFile(path.join(dir, 'schema.ts'), schema[1]);
  await drizzleKit(['generate', '--name', 'add_posts']);
  expect(await airlockApply(A, folder, layout, 'drizzle')).toEqual(['add_posts']);
  const after = await describeSchema(A);
  expect(after.tables.map((t) => t.name)).toContain('posts');
  expect(await readToolLedger('drizzle', A)).toHaveLength(2);

  // drizzle-kit finds its own row for the new file: nothing runs, nothing is recorded twice
  await drizzleKit(['migrate']);
  expect(await readToolLedger('drizzle', A)).toHaveLength(2);
  expect(await describeSchema(A)).toEqual(after);
}
