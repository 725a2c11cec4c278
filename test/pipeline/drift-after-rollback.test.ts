/**
 * Drift after a rollback is not drift: staging applied a migration with a later release, then
 * rolled back to a release that does not carry it (migrations are never undone). The column it
 * added is explained by staging's ledger, whose file is in the later release's stored snapshot:
 * the drift gate holds. A column added by hand still fails it. Real promotions of the example
 * app on real SQLite databases.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { deploy, planDeploy, rollback } from '../../src/pipeline/operations.ts';
import { exampleProject, projectHome, REVIEWER, type TestProject } from '../helpers/project.ts';

describe('drift after a rollback', () => {
  let project: TestProject;
  let dev: AirlockContext;

  const database = (environment: string) =>
    path.join(projectHome(project.dir), 'envs', environment, 'data', 'notes.db');

  beforeAll(async () => {
    project = await exampleProject();
    dev = (await project.session()).ctx;
    const reviewer = (await project.session(REVIEWER)).ctx;
    expect((await deploy(dev, 'staging', {})).status).toBe('succeeded');
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    expect((await deploy(dev, 'production', {})).status).toBe('succeeded');
    // r2 adds a column on staging, then staging goes back to r1, which does not carry it.
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
  });
  afterAll(async () => {
    await project?.cleanup();
  });

  it("holds: the column is explained by staging's ledger (0003, carried by r2), not changed outside migrations", async () => {
    const plan = await planDeploy(dev, 'production', { release: 'r1' });
    expect(plan.release.id).toBe('r1');
    expect(plan.gates.find((g) => g.gate === 'drift')).toEqual({
      gate: 'drift',
      status: 'holds',
      reason: 'the live schemas of staging and production match their ledgers.',
    });
  });

  it('still fails on a column added by hand', async () => {
    const db = new DatabaseSync(database('staging'));
    db.exec('ALTER TABLE notes ADD COLUMN hotfix_flag INTEGER');
    db.close();
    const drift = (await planDeploy(dev, 'production', { release: 'r1' })).gates.find(
      (g) => g.gate === 'drift',
    );
    expect(drift?.status).toBe('fails');
    expect(drift?.reason).toContain('hotfix_flag');
    expect(drift?.reason).not.toContain('archived');
  });
});
