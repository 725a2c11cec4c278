/**
 * Expand/contract across real promotions (issue 4), on the example app with real SQLite
 * databases: a `-- airlock:contract` migration is held back in each environment until the
 * release serving there carries it, then applied by the next deployment; the rollback guard
 * refuses to go back behind it, and `--force` is audited.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { deploy, planDeploy, rollback } from '../../src/pipeline/operations.ts';
import { exampleProject, projectHome, REVIEWER, type TestProject } from '../helpers/project.ts';

const EXPAND = '0003_add_notes_legacy.sql';
const CONTRACT = '0004_drop_notes_legacy.sql';

describe('expand/contract', () => {
  let project: TestProject;
  let dev: AirlockContext;
  let reviewer: AirlockContext;

  /** Column names of `notes` and the ledger's files, in one environment's database. */
  function schemaOf(environment: string): { columns: string[]; ledger: number[] } {
    const db = new DatabaseSync(
      path.join(projectHome(project.dir), 'envs', environment, 'data', 'notes.db'),
      { readOnly: true },
    );
    try {
      const columns = db.prepare('PRAGMA table_info(notes)').all() as Array<{ name: string }>;
      const ledger = db.prepare('SELECT version FROM airlock_migrations ORDER BY version').all();
      return {
        columns: columns.map((c) => c.name),
        ledger: (ledger as Array<{ version: number }>).map((r) => Number(r.version)),
      };
    } finally {
      db.close();
    }
  }

  async function ship(): Promise<string> {
    const staged = await deploy(dev, 'staging', {});
    expect(staged.status, staged.failedStep?.message ?? '').toBe('succeeded');
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    const promoted = await deploy(dev, 'production', {});
    expect(promoted.status, promoted.failedStep?.message ?? '').toBe('succeeded');
    return promoted.plan.release.id;
  }

  beforeAll(async () => {
    project = await exampleProject();
    dev = (await project.session()).ctx;
    reviewer = (await project.session(REVIEWER)).ctx;
    expect(await ship()).toBe('r1');
    // Expand: a column the next releases stop needing.
    project.commitFiles(
      { [`migrations/${EXPAND}`]: 'ALTER TABLE notes ADD COLUMN legacy TEXT;\n' },
      'Expand: add notes.legacy',
    );
    expect(await ship()).toBe('r2');
  });
  afterAll(async () => {
    await project?.cleanup();
  });

  it('holds a contract migration back until the release serving the environment carries it', async () => {
    project.commitFiles(
      {
        [`migrations/${CONTRACT}`]:
          '-- airlock:contract\n-- Nothing reads notes.legacy since r2.\nALTER TABLE notes DROP COLUMN legacy;\n',
      },
      'Contract: drop notes.legacy',
    );
    const staged = await deploy(dev, 'staging', {});
    expect(staged.status).toBe('succeeded');
    expect(staged.plan.release.id).toBe('r3');
    expect(staged.plan.notes).toEqual([
      `notes: ${CONTRACT} is a contract migration and staging serves r2, which predates it, so it is held back until a release that carries it serves staging; the next deployment there applies it.`,
    ]);
    expect(staged.steps.find((s) => s.name === 'migrate:notes')?.message).toBe(
      `up to date (3 applied); held back ${CONTRACT} (contract: staging served r2, which predates it)`,
    );
    expect(schemaOf('staging')).toMatchObject({ ledger: [1, 2, 3] });
    expect(schemaOf('staging').columns).toContain('legacy');

    // Production serves r2 as well: the same hold, and the gate says why.
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    const toProduction = await planDeploy(dev, 'production', {});
    expect(toProduction.gates.find((g) => g.gate === 'migrations')?.reason).toBe(
      `no pending migrations for production. Held back (contract, until a release that carries it serves production): notes/${CONTRACT}.`,
    );
    expect((await deploy(dev, 'production', {})).status).toBe('succeeded');
    expect(schemaOf('production').ledger).toEqual([1, 2, 3]);
    const audit = await dev.store.listAudit({ environment: 'production', limit: 30 });
    expect(audit.find((a) => a.action === 'migrations.held_back')).toMatchObject({
      releaseId: 'r3',
      detail: { service: 'notes', serving: 'r2', contract: { filename: CONTRACT } },
    });

    // r3 serves everywhere now; the next release applies the contract, staging first.
    project.commitFiles({ 'CHANGELOG.md': 'r4\n' }, 'Next change');
    expect(await ship()).toBe('r4');
    for (const environment of ['staging', 'production']) {
      expect(schemaOf(environment).ledger).toEqual([1, 2, 3, 4]);
      expect(schemaOf(environment).columns).not.toContain('legacy');
    }
  });

  it('refuses to roll back behind an applied contract migration; --force goes ahead, audited', async () => {
    // r3 carries the contract migration: going back to it is safe.
    expect((await rollback(dev, 'production', 'r3')).status).toBe('succeeded');
    await expect(rollback(dev, 'production', 'r2')).rejects.toMatchObject({
      code: 'ROLLBACK_UNSAFE',
      message: `rolling production back to r2 would start its code against a schema it does not know: notes/${CONTRACT} is a contract migration applied on production that r2 does not carry.`,
    });
    const refused = await project.cli(['rollback', 'production', '--to', 'r2', '--yes']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('Fix forward instead');

    const forced = await project.cli(['rollback', 'production', '--to', 'r2', '--yes', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    const audit = await dev.store.listAudit({ environment: 'production', limit: 30 });
    const actions = audit.map((a) => a.action);
    expect(actions).toContain('rollback.refused');
    expect(audit.find((a) => a.action === 'rollback.forced')).toMatchObject({
      releaseId: 'r2',
      detail: { contracts: [{ service: 'notes', version: 4, filename: CONTRACT }] },
    });
  });
});
