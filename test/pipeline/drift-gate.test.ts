/**
 * The drift gate on a real promotion (issue 4): a manual `ALTER TABLE` on staging's real
 * SQLite database blocks the promotion, naming the column; `database.drift: warn` lets it
 * through and says so.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { deploy, planDeploy } from '../../src/pipeline/operations.ts';
import { projectTest, stageAndApprove } from '../helpers/fixtures.ts';
import { liveVersion, projectHome } from '../helpers/project.ts';

describe('schema drift blocks a promotion', () => {
  projectTest(
    'a column added by hand on staging blocks production until it is in a migration, or drift: warn',
    async ({ project }) => {
      const dev = await stageAndApprove(project);
      const clean = await planDeploy(dev, 'production', {});
      expect(clean.gates.find((g) => g.gate === 'drift')).toEqual({
        gate: 'drift',
        status: 'holds',
        reason: 'the live schemas of staging and production match their ledgers.',
      });

      // Someone "fixes" staging by hand.
      const db = new DatabaseSync(
        path.join(projectHome(project.dir), 'envs/staging/data/notes.db'),
      );
      db.exec('ALTER TABLE notes ADD COLUMN hotfix_flag INTEGER');
      db.close();

      const blocked = await planDeploy(dev, 'production', {});
      const drift = blocked.gates.find((g) => g.gate === 'drift');
      expect(drift?.status).toBe('fails');
      expect(drift?.reason).toContain('staging has');
      expect(drift?.reason).toContain('hotfix_flag');
      await expect(deploy(dev, 'production', {})).rejects.toMatchObject({ code: 'GATE_BLOCKED' });

      project.editConfig((doc) => {
        doc.setIn(['services', 'notes', 'database', 'drift'], 'warn');
      });
      const warned = (await project.session()).ctx;
      const plan = await planDeploy(warned, 'production', {});
      expect(plan.gates.find((g) => g.gate === 'drift')).toMatchObject({
        status: 'holds',
        reason: expect.stringMatching(
          /^schema drift, allowed by database\.drift: warn — notes: .*hotfix_flag/,
        ),
      });
      expect((await deploy(warned, 'production', {})).status).toBe('succeeded');
      expect((await liveVersion(project.url('production'))).release).toBe('r1');
    },
  );
});
