/**
 * Release drills on the notes example (real SQLite databases, real processes, real HTTP): the
 * rollback rehearsal on staging before production (`rollbackRehearsal: required`) and the perf
 * check against the release that served before. One project walks through every case, in
 * order, so the CI pays for one fixture:
 *
 * r1 serves everywhere (the fixture) → r2 adds a column: rehearsed, production's gate holds →
 * r3 carries a contract migration: the gate asks for --fix-forward, audited → r4 adds 50 ms to
 * GET /notes: the perf check fails against r3 and production's checks gate blocks → r5 renames
 * a column r3 reads: r3 fails on the new schema, the rehearsal fails and production's gate
 * blocks, in `airlock plan` too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import type { GateResult } from '../../src/gates/gate.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { deploy, planDeploy } from '../../src/pipeline/operations.ts';
import type { Plan } from '../../src/pipeline/plan.ts';
import { promotedProjectTestWith, stageAndApprove } from '../helpers/fixtures.ts';
import { liveVersion, REVIEWER, type TestProject } from '../helpers/project.ts';

const test = promotedProjectTestWith({
  config: (doc) => {
    doc.setIn(
      ['environments', 'production', 'promotion'],
      doc.createNode({ approval: { required: 1, identity: 'any' }, rollbackRehearsal: 'required' }),
    );
    // r3 will not start on r5's schema: do not wait 15 s for it.
    doc.setIn(['services', 'notes', 'health', 'timeoutMs'], 6000);
    // Lean checks: the smoke check, /health (it fails when a column the code reads is gone),
    // and short perf rounds on GET /notes.
    doc.setIn(
      ['services', 'notes', 'checks'],
      doc.createNode([
        {
          name: 'smoke',
          type: 'http',
          path: '/version',
          expect: { status: 200, json: { release: '${release.id}' } },
          timeoutMs: 5000,
        },
        { name: 'health', type: 'http', path: '/health', timeoutMs: 2000, intervalMs: 200 },
        { name: 'perf', type: 'perf', paths: ['/notes'], rate: 40, durationMs: 300, rounds: 3 },
      ]),
    );
  },
  commitMessage: 'Release drills: rehearse rollbacks for production, compare response times',
});

function edit(project: TestProject, file: string, from: string, to: string): string {
  const text = readFileSync(path.join(project.dir, file), 'utf8');
  expect(text).toContain(from);
  return text.replaceAll(from, to);
}

const gate = (plan: Plan, name: string) => plan.gates.find((g) => g.gate === name) as GateResult;

describe('release drills', () => {
  test('rehearses rollbacks on staging, gates production on them, and compares response times with the release before', async ({
    project,
  }) => {
    const dev = (await project.session()).ctx;
    const reviewer = (await project.session(REVIEWER)).ctx;

    // r2: an additive migration. r1 (what production would roll back to) runs on it.
    project.commitFiles(
      { 'migrations/0003_add_notes_tags.sql': 'ALTER TABLE notes ADD COLUMN tags TEXT;\n' },
      'Add notes.tags',
    );
    const staged2 = await deploy(dev, 'staging', {});
    expect(staged2.status, staged2.failedStep?.message ?? '').toBe('succeeded');
    const rehearse2 = staged2.steps.find((s) => s.name === 'rehearse:notes');
    expect(rehearse2?.message).toMatch(
      /^rollback rehearsed in \d+ ms: r1 passed its checks on the new schema \(0003_add_notes_tags\), then r2 again$/,
    );
    expect(rehearse2?.output).toMatchObject({ result: 'passed', previous: 'r1' });
    const perf2 = staged2.checks.find((c) => c.name === 'perf');
    expect(perf2?.status, perf2?.message).toBe('passed');
    expect(perf2?.details.baselineRelease).toBe('r1');
    expect(await liveVersion(project.url('staging'))).toMatchObject({ release: 'r2' });
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    const plan2 = await planDeploy(dev, 'production', {});
    expect(gate(plan2, 'rehearsal')).toEqual({
      gate: 'rehearsal',
      status: 'holds',
      reason: 'rollback rehearsed on staging: notes (r1 passed its checks on the new schema).',
    });
    const promoted2 = await deploy(dev, 'production', {});
    expect(promoted2.status, promoted2.failedStep?.message ?? '').toBe('succeeded');

    // r3: a contract migration. Its rollback is refused by design: fix-forward, acknowledged.
    project.commitFiles(
      {
        'migrations/0004_drop_notes_tags.sql':
          '-- airlock:contract\n-- Nothing reads notes.tags.\nALTER TABLE notes DROP COLUMN tags;\n',
      },
      'Contract: drop notes.tags',
    );
    await stageAndApprove(project);
    const plan3 = await planDeploy(dev, 'production', {});
    expect(plan3.blocked).toBe(true);
    expect(gate(plan3, 'rehearsal')).toMatchObject({
      status: 'fails',
      reason:
        'r3 carries a contract migration (notes/0004_drop_notes_tags.sql): once it runs on production, rolling back behind it is refused by design, so its rollback cannot be rehearsed — it is fix-forward only. Acknowledge it to promote.',
      next: 'airlock promote production --release r3 --fix-forward "<why fixing forward is acceptable>"',
    });
    const why = 'drops a column nothing reads; we fix forward';
    const promoted3 = await deploy(dev, 'production', { fixForward: why });
    expect(promoted3.status, promoted3.failedStep?.message ?? '').toBe('succeeded');
    expect(gate(promoted3.plan, 'rehearsal')).toMatchObject({ status: 'holds', overridden: why });
    const audit = await dev.store.listAudit({ environment: 'production', limit: 30 });
    expect(audit.find((a) => a.action === 'gate.overridden')).toMatchObject({
      releaseId: 'r3',
      detail: { gate: 'rehearsal', reason: why },
    });

    // r4: 50 ms more on GET /notes. The perf check fails against r3; production's gate blocks.
    project.commitFiles(
      {
        'src/server.js': edit(
          project,
          'src/server.js',
          'GET: async () => [200, await db.list()],',
          'GET: async () => {\n      await new Promise((resolve) => setTimeout(resolve, 50));\n      return [200, await db.list()];\n    },',
        ),
      },
      'Slow down GET /notes',
    );
    const staged4 = await deploy(dev, 'staging', {});
    expect(staged4.status).toBe('failed');
    const perf4 = staged4.checks.find((c) => c.name === 'perf');
    expect(perf4?.status).toBe('failed');
    expect(perf4?.message).toMatch(/^response time regressed against r3: \/notes p95 /);
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    const plan4 = await planDeploy(dev, 'production', {});
    expect(plan4.blocked).toBe(true);
    expect(gate(plan4, 'checks')).toMatchObject({ status: 'fails' });
    expect(gate(plan4, 'checks').reason).toContain('perf');

    // r5: renames a column r3 (production's rollback target) reads, without expand/contract
    // (and with the migration linter silenced).
    project.commitFiles(
      {
        'migrations/0005_rename_notes_body.sql':
          // The linter knows better; someone silenced it. The rehearsal is the next line of defence.
          '-- airlock:lint-ignore destructive-change-outside-contract the new code reads content\nALTER TABLE notes RENAME COLUMN body TO content;\n',
        'src/server.js': readFileSync(path.join(project.dir, 'src/server.js'), 'utf8').replace(
          /GET: async \(\) => \{\n.*\n.*\n {4}\},/,
          'GET: async () => [200, await db.list()],',
        ),
        'src/database.js': edit(
          project,
          'src/database.js',
          "'body', 'created_at'",
          "'content', 'created_at'",
        )
          .replaceAll('body: row.body', 'body: row.content')
          .replaceAll('(title, body,', '(title, content,')
          .replaceAll('body = ', 'content = '),
      },
      'Rename notes.body to content',
    );
    const staged5 = await deploy(dev, 'staging', {});
    expect(staged5.status).toBe('failed');
    expect(staged5.failedStep?.name).toBe('rehearse:notes');
    expect(staged5.failedStep?.message).toMatch(
      /^rollback rehearsal failed: r3 on the new schema \(0005_rename_notes_body\) — r3 did not start: .*HTTP 503.*; r5 serves again and passes its checks$/,
    );
    expect(await liveVersion(project.url('staging'))).toMatchObject({ release: 'r5' });
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    const plan5 = await planDeploy(dev, 'production', {});
    expect(plan5.blocked).toBe(true);
    expect(gate(plan5, 'rehearsal').status).toBe('fails');
    expect(gate(plan5, 'rehearsal').reason).toMatch(
      /^the rollback rehearsal on staging failed — notes: rollback rehearsal failed: r3 on the new schema/,
    );
    // `airlock plan` says why, and exits non-zero.
    const cli = await project.cli(['plan', 'production']);
    expect(cli.code).not.toBe(0);
    expect(cli.stdout + cli.stderr).toContain('the rollback rehearsal on staging failed');
    const refused = await deploy(dev, 'production', {}).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(await liveVersion(project.url('production'))).toMatchObject({ release: 'r3' });
  });
});
