/**
 * The Migrator itself: the pure plan, and the lock protocol of `apply` (lock, then plan, then
 * apply, then unlock, whatever happens). Drivers here are a real SQLite driver with a
 * recording `lock()` added; real locks are tested in postgres-migration-driver.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import type { LedgerEntry } from '../../src/migrations/ledger.ts';
import type { ApplyMeta, MigrationDriver } from '../../src/migrations/migration-driver.ts';
import { type MigrationFile, readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator, planMigrations } from '../../src/migrations/migrator.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import { caught } from './engines.ts';

const NOTES = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
const UPDATED_AT = 'ALTER TABLE notes ADD COLUMN updated_at TEXT;\n';

let root: string;
let dir: string;
const drivers: MigrationDriver[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-migrator-'));
  dir = join(root, 'migrations');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, '0001_create_notes.sql'), NOTES);
  await writeFile(join(dir, '0002_add_updated_at.sql'), UPDATED_AT);
});

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  await rm(root, { recursive: true, force: true });
});

function sha(text: string): string {
  return createHash('sha256').update(Buffer.from(text)).digest('hex');
}

/** A SQLite driver that records every call, with a lock() that can be made to fail. */
class RecordingDriver implements MigrationDriver {
  readonly engine = 'sqlite' as const;
  readonly events: string[] = [];
  readonly #inner = new SqliteMigrationDriver(join(root, 'app.db'));
  lockError: Error | undefined;
  unlockError: Error | undefined;
  /** Called as each file starts (e.g. to press Ctrl-C while it runs). */
  onApply: ((file: MigrationFile) => void) | undefined;

  async lock(): Promise<() => Promise<void>> {
    if (this.lockError) throw this.lockError;
    this.events.push('lock');
    return async () => {
      this.events.push('unlock');
      if (this.unlockError) throw this.unlockError;
    };
  }
  readLedger(): Promise<LedgerEntry[]> {
    this.events.push('readLedger');
    return this.#inner.readLedger();
  }
  applyFile(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry> {
    this.events.push(`apply ${file.version}`);
    this.onApply?.(file);
    return this.#inner.applyFile(file, meta);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

function recording(): RecordingDriver {
  const d = new RecordingDriver();
  drivers.push(d);
  return d;
}

const meta = { appliedBy: 'tester', release: null };

describe('Migrator.apply with a driver lock', () => {
  it('takes the lock first, plans under it, applies, then releases it', async () => {
    const d = recording();
    const migrator = new Migrator(d, await readMigrationDir(dir));
    await migrator.status();
    expect(d.events).toEqual(['readLedger']); // status() reads without locking
    d.events.length = 0;
    await migrator.apply(meta);
    expect(d.events).toEqual(['lock', 'readLedger', 'apply 1', 'apply 2', 'unlock']);
  });

  it('releases the lock when a file fails, and reports the file, not the unlock', async () => {
    await writeFile(join(dir, '0002_add_updated_at.sql'), 'ALTER TABLE nope ADD COLUMN x;\n');
    const d = recording();
    d.unlockError = new Error('connection lost');
    const error = await caught(new Migrator(d, await readMigrationDir(dir)).apply(meta));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('0002_add_updated_at.sql');
    expect(d.events).toEqual(['lock', 'readLedger', 'apply 1', 'apply 2', 'unlock']);
  });

  it('releases the lock when the plan has a problem', async () => {
    const d = recording();
    await new Migrator(d, await readMigrationDir(dir)).apply(meta);
    await writeFile(join(dir, '0001_create_notes.sql'), `${NOTES}-- edited\n`);
    d.events.length = 0;
    const error = await caught(new Migrator(d, await readMigrationDir(dir)).apply(meta));
    expect(error.code).toBe('MIGRATION_CHECKSUM_MISMATCH');
    expect(d.events).toEqual(['lock', 'readLedger', 'unlock']);
  });

  it('reads and applies nothing when the lock cannot be had', async () => {
    const d = recording();
    d.lockError = new UserError('MIGRATION_LOCKED', 'Another process is migrating.');
    const error = await caught(new Migrator(d, await readMigrationDir(dir)).apply(meta));
    expect(error.code).toBe('MIGRATION_LOCKED');
    expect(d.events).toEqual([]);
  });

  it('reports an unlock failure after a successful apply', async () => {
    const d = recording();
    d.unlockError = new UserError('MIGRATION_FAILED', 'could not unlock');
    const error = await caught(new Migrator(d, await readMigrationDir(dir)).apply(meta));
    expect(error.message).toBe('could not unlock');
  });
});

describe('Migrator.apply stopped by its signal (Ctrl-C)', () => {
  it('lets a file the driver cannot stop finish and be recorded, then starts no other', async () => {
    const d = recording();
    const interrupt = new AbortController();
    // SQLite runs a file synchronously: the press is seen only once the file has committed.
    d.onApply = (file) => {
      if (file.version === 1) interrupt.abort(new Error('interrupted by Ctrl-C'));
    };
    const error = await caught(
      new Migrator(d, await readMigrationDir(dir)).apply({ ...meta, signal: interrupt.signal }),
    );
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toBe(
      `Migrations stopped by Ctrl-C before ${join(dir, '0002_add_updated_at.sql')}, which did not run (the file before it stays applied, with its ledger row).`,
    );
    expect(error.details).toMatchObject({ cancelled: true, version: 2 });
    expect((error.details.applied as LedgerEntry[]).map((e) => e.version)).toEqual([1]);
    expect(d.events).toEqual(['lock', 'readLedger', 'apply 1', 'unlock']);
    expect((await d.readLedger()).map((e) => e.version)).toEqual([1]);
  });
});

describe('planMigrations', () => {
  it('is pure: the same inputs give the same plan and are not mutated', async () => {
    const files = await readMigrationDir(dir);
    const ledger: LedgerEntry[] = [
      {
        version: 1,
        name: 'create_notes',
        sha256: sha(NOTES),
        appliedAt: '2026-01-01T00:00:00.000Z',
        appliedBy: 'ci',
        durationMs: 3,
        release: 'r1',
      },
    ];
    const frozenFiles = structuredClone(files);
    const frozenLedger = structuredClone(ledger);
    const plan = planMigrations(files, ledger);
    expect(plan.applied).toEqual(ledger);
    expect(plan.pending.map((f) => f.version)).toEqual([2]);
    expect(plan.problems).toEqual([]);
    expect(planMigrations(files, ledger)).toEqual(plan);
    expect(files).toEqual(frozenFiles);
    expect(ledger).toEqual(frozenLedger);
  });
});
