/**
 * Expand/contract across real promotions (issue 4), on the example app with real SQLite
 * databases: a `-- airlock:contract` migration is held back in each environment until the
 * release serving there carries it, then applied by the next deployment; the rollback guard
 * refuses to go back behind it, and `--force` is audited.
 */
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { deploy, planDeploy, rollback } from '../../src/pipeline/operations.ts';
import { promotedProjectTest, ship } from '../helpers/fixtures.ts';
import { ledgerVersions, notesDatabase, REVIEWER, type TestProject } from '../helpers/project.ts';

const EXPAND = '0003_add_notes_legacy.sql';
const CONTRACT = '0004_drop_notes_legacy.sql';

/** Column names of `notes` and the ledger's versions, in one environment's database. */
function schemaOf(
  project: TestProject,
  environment: string,
): { columns: string[]; ledger: number[] } {
  const db = new DatabaseSync(notesDatabase(project, environment), { readOnly: true });
  try {
    const columns = db.prepare('PRAGMA table_info(notes)').all() as Array<{ name: string }>;
    return { columns: columns.map((c) => c.name), ledger: ledgerVersions(project, environment) };
  } finally {
    db.close();
  }
}

describe('expand/contract', () => {
  promotedProjectTest(
    'holds a contract migration back until the release serving the environment carries it, then applies it; refuses to roll back behind it, and --force is audited',
    async ({ project }) => {
      const dev = (await project.session()).ctx;
      const reviewer = (await project.session(REVIEWER)).ctx;
      // r1 serves everywhere (the fixture). Expand: a column the next releases stop needing.
      project.commitFiles(
        { [`migrations/${EXPAND}`]: 'ALTER TABLE notes ADD COLUMN legacy TEXT;\n' },
        'Expand: add notes.legacy',
      );
      expect(await ship(project)).toBe('r2');

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
      expect(schemaOf(project, 'staging')).toMatchObject({ ledger: [1, 2, 3] });
      expect(schemaOf(project, 'staging').columns).toContain('legacy');

      // Production serves r2 as well: the same hold, and the gate says why.
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      const toProduction = await planDeploy(dev, 'production', {});
      expect(toProduction.gates.find((g) => g.gate === 'migrations')?.reason).toBe(
        `no pending migrations for production. Held back (contract, until a release that carries it serves production): notes/${CONTRACT}.`,
      );
      expect((await deploy(dev, 'production', {})).status).toBe('succeeded');
      expect(schemaOf(project, 'production').ledger).toEqual([1, 2, 3]);
      const audit = await dev.store.listAudit({ environment: 'production', limit: 30 });
      expect(audit.find((a) => a.action === 'migrations.held_back')).toMatchObject({
        releaseId: 'r3',
        detail: { service: 'notes', serving: 'r2', contract: { filename: CONTRACT } },
      });

      // r3 serves everywhere now; the next release applies the contract, staging first.
      project.commitFiles({ 'CHANGELOG.md': 'r4\n' }, 'Next change');
      expect(await ship(project)).toBe('r4');
      for (const environment of ['staging', 'production']) {
        expect(schemaOf(project, environment).ledger).toEqual([1, 2, 3, 4]);
        expect(schemaOf(project, environment).columns).not.toContain('legacy');
      }

      // The rollback guard: going back behind an applied contract migration is refused.
      // r3 carries the contract migration: going back to it is safe.
      expect((await rollback(dev, 'production', 'r3')).status).toBe('succeeded');
      await expect(rollback(dev, 'production', 'r2')).rejects.toMatchObject({
        code: 'ROLLBACK_UNSAFE',
        message: `rolling production back to r2 would start its code against a schema it does not know: notes/${CONTRACT} is a contract migration applied on production that r2 does not carry.`,
      });
      const refused = await project.cli(['rollback', 'production', '--to', 'r2', '--yes']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('Fix forward instead');

      const forced = await project.cli([
        'rollback',
        'production',
        '--to',
        'r2',
        '--yes',
        '--force',
      ]);
      expect(forced.code, forced.stderr).toBe(0);
      const rollbacks = await dev.store.listAudit({ environment: 'production', limit: 30 });
      expect(rollbacks.map((a) => a.action)).toContain('rollback.refused');
      expect(rollbacks.find((a) => a.action === 'rollback.forced')).toMatchObject({
        releaseId: 'r2',
        detail: { contracts: [{ service: 'notes', version: 4, filename: CONTRACT }] },
      });
    },
  );
});
