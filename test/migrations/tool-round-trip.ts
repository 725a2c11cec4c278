/**
 * Shared steps of the per-tool acceptance tests (layout-tools*.test.ts): run a tool installed
 * in node_modules (through src/process/run-tool.ts), apply a folder with Airlock (optionally
 * writing the tool's ledger too), and adopt the tool's ledger with the schema check.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { adoptLedger } from '../../src/migrations/adopt.ts';
import type { DatabaseLocation } from '../../src/migrations/migration-driver.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import type { MigrationFolderLayout } from '../../src/migrations/migration-layouts.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { PostgresMigrationDriver } from '../../src/migrations/postgres-migration-driver.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import type { ToolLayout } from '../../src/migrations/tool-ledgers.ts';
import { runTool } from '../../src/process/run-tool.ts';

/** The repository's node_modules (tools' temp projects link to it to resolve their imports). */
export const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

/** The path of an installed tool's command (`node_modules/.bin/<name>`). */
export const BIN = (name: string): string => `${NODE_MODULES}/.bin/${name}`;

/**
 * Runs `node_modules/.bin/<name> ...args` (or the program at an absolute `name`) in `cwd` with `env` added to this process's; fails
 * the test with the tool's output when it exits non-zero.
 * @returns standard output and standard error together.
 */
export async function runInstalledTool(
  name: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<string> {
  const result = await runTool({
    command: path.isAbsolute(name) ? name : BIN(name),
    args,
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    timeoutMs: options.timeoutMs ?? 60_000,
    ownGroup: true,
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.exitCode !== 0) {
    throw new Error(`${name} ${args.join(' ')} failed (exit ${result.exitCode}):\n${output}`);
  }
  return output;
}

/** Applies the folder with Airlock, writing `tool`'s ledger too; the names applied. */
export async function airlockApply(
  location: DatabaseLocation,
  folder: string,
  layout: MigrationFolderLayout,
  tool: ToolLayout | null,
): Promise<string[]> {
  const files = await readMigrationDir(folder, layout);
  const driver =
    location.engine === 'postgres'
      ? new PostgresMigrationDriver(location.url, { toolLedger: tool })
      : new SqliteMigrationDriver(location.url, { toolLedger: tool });
  try {
    const result = await new Migrator(driver, files).apply({ appliedBy: 'test', release: null });
    return result.applied.map((e) => e.name);
  } finally {
    await driver.close();
  }
}

/** Adopts `tool`'s ledger on `location` (its schema checked) and expects every file adopted. */
export async function adoptFromTool(
  tool: Exclude<ToolLayout, 'wrangler' | 'supabase'>,
  location: DatabaseLocation,
  folder: string,
  layout: MigrationFolderLayout,
  tmpDir: string,
): Promise<void> {
  const files = await readMigrationDir(folder, layout);
  const result = await adoptLedger({ tool, location }, location, files, {
    verifySchema: true,
    tmpDir,
  });
  expect(result.problems).toEqual([]);
  expect(result.adopted.map((e) => e.version)).toEqual(files.map((f) => f.version));
}
