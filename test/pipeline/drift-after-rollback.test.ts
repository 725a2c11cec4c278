/**
 * Drift after a rollback is not drift: staging applied a migration with a later release, then
 * rolled back to a release that does not carry it (migrations are never undone). The column it
 * added is explained by staging's ledger, whose file is in the later release's stored snapshot:
 * the drift gate holds. A column added by hand still fails it. Real promotions of the example
 * app on real SQLite databases.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { deploy, planDeploy, rollback } from '../../src/pipeline/operations.ts';
import { promotedProjectTest } from '../helpers/fixtures.ts';
import { projectHome, REVIEWER } from '../helpers/project.ts';

describe('drift after a rollback', () => {
  promotedProjectTest(
    "holds when the column is explained by staging's ledger (0003, carried by r2); still fails on a column added by hand",
    async ({ project }) => {
      const dev = (await project.session()).ctx;
      const reviewer = (await project.session(REVIEWER)).ctx;
      // r1 serves both environments (the fixture). r2 adds a column on staging, then staging
      // goes back to r1, which does not carry it.
      project.commitFiles(
        {
          'migrations/0003_add_notes_archived.sql':
            'ALTER TABLE notes ADD COLUMN archived INTEGER;\n',
        },
        'Add notes.archived',
      );
      const staged = await deploy(dev, 'staging', {});
      expect(staged.status).toBe('succeeded');
      expect(staged.plan.release.id).toBe('r2');
      expect((await rollback(dev, 'staging', 'r1')).status).toBe('succeeded');
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });

      // The column is explained by staging's ledger, not changed outside migrations.
      const plan = await planDeploy(dev, 'production', { release: 'r1' });
      expect(plan.release.id).toBe('r1');
      expect(plan.gates.find((g) => g.gate === 'drift')).toEqual({
        gate: 'drift',
        status: 'holds',
        reason: 'the live schemas of staging and production match their ledgers.',
      });

      // A column added by hand still fails the gate, naming only that column.
      const db = new DatabaseSync(
        path.join(projectHome(project.dir), 'envs', 'staging', 'data', 'notes.db'),
      );
      db.exec('ALTER TABLE notes ADD COLUMN hotfix_flag INTEGER');
      db.close();
      const drift = (await planDeploy(dev, 'production', { release: 'r1' })).gates.find(
        (g) => g.gate === 'drift',
      );
      expect(drift?.status).toBe('fails');
      expect(drift?.reason).toContain('hotfix_flag');
      expect(drift?.reason).not.toContain('archived');
    },
  );
});
