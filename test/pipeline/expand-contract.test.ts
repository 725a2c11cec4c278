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
import { candidateFor } from '../../src/server/pipeline-view.ts';
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
        `notes: ${CONTRACT} is a contract migration and staging serves r2, which predates it (its code may still use what the migration removes), so it is held back. Once r3 serves staging, run \`airlock deploy staging\` again to apply it.`,
      ]);
      expect(staged.steps.find((s) => s.name === 'migrate:notes')?.message).toBe(
        `up to date (3 applied); held back ${CONTRACT} (contract: staging served r2, which predates it; run \`airlock deploy staging\` again once r3 serves there)`,
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

  promotedProjectTest(
    'a contract shipped with the code that stops needing the old shape: held back on its first deployment into each environment, then applied by the same command run again once that release serves there (the CLI)',
    async ({ project }) => {
      const dev = (await project.session()).ctx;
      const reviewer = (await project.session(REVIEWER)).ctx;
      // r2: the code change and its contract migration in one release.
      const contract = '0003_drop_notes_created_at_index.sql';
      project.commitFiles(
        {
          [`migrations/${contract}`]:
            '-- airlock:contract\n-- r2 no longer sorts notes by created_at.\nDROP INDEX notes_created_at;\n',
          'CHANGELOG.md': 'r2: notes are listed by id\n',
        },
        'Stop sorting by created_at; drop its index',
      );
      const first = await deploy(dev, 'staging', {});
      expect(first.steps.find((s) => s.name === 'migrate:notes')?.message).toBe(
        `up to date (2 applied); held back ${contract} (contract: staging served r1, which predates it; run \`airlock deploy staging\` again once r2 serves there)`,
      );
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });

      // Production: the first promotion holds it back and says what applies it.
      const promoted = await project.cli(['promote', 'production', '-y']);
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(promoted.stdout).toContain(
        `held back ${contract} (contract: production served r1, which predates it; run \`airlock promote production\` again once r2 serves there)`,
      );
      expect(promoted.stdout).toContain(
        `ℹ notes: ${contract} was held back: it is a contract migration, and r1 served production when it would have run. Now that r2 serves there, run \`airlock promote production\` again to apply it (afterwards, rolling production back to r1 is refused).`,
      );
      expect(ledgerVersions(project, 'production')).toEqual([1, 2]);
      // Staging first: production applies it once staging has.
      const early = await project.cli(['promote', 'production', '-y']);
      expect(early.code, early.stderr).toBe(0);
      expect(early.stdout).toBe(
        `✔ production already serves r2 but has not run notes/${contract}, which must succeed on staging first; nothing to promote yet.\n  → Run \`airlock deploy staging --release r2\` to apply it there, then \`airlock promote production\` again.\n`,
      );
      const again = await deploy(dev, 'staging', { release: 'r2' });
      expect(again.steps.find((s) => s.name === 'migrate:notes')?.message).toBe(
        'applied 0003_drop_notes_created_at_index',
      );

      // The plan and the next promotion agree: it applies the held-back contract.
      const plan = await project.cli(['plan', 'production']);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toContain('• Migrate notes (1 pending)');
      expect(plan.stdout).toContain('Every gate holds.');
      expect(plan.stdout).toContain(
        `ℹ production already serves r2 but has not run one of its migrations yet (notes/${contract}): this promotion applies it, deploys r2 again and checks it.`,
      );
      // The dashboard agrees: production still has a promotion waiting.
      const waiting = await candidateFor(dev, 'production');
      expect(waiting.note).toBeNull();
      expect(waiting.plan?.migrations).toEqual({ notes: [contract] });
      const finished = await project.cli(['promote', 'production', '-y']);
      expect(finished.code, finished.stderr).toBe(0);
      expect(finished.stdout).toContain('applied 0003_drop_notes_created_at_index');
      expect(finished.stdout).toContain('✔ r2 promoted to production');

      const status = await project.cli(['migrate', 'status', 'production', '--json']);
      expect(JSON.parse(status.stdout).services[0]).toMatchObject({ pending: [] });
      expect(ledgerVersions(project, 'production')).toEqual([1, 2, 3]);
      // Done: promotion is idempotent again.
      const done = await project.cli(['promote', 'production', '-y']);
      expect(done.stdout).toContain('✔ production already serves r2; nothing to promote.');
      expect(await candidateFor(dev, 'production')).toEqual({
        plan: null,
        note: 'r2 already serves production; nothing waits to be promoted.',
      });
    },
  );
});
