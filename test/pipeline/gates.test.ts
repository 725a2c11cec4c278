/** Each gate, alone: holds, fails and pending, each with its own reason. Pure, no I/O. */
import { describe, expect, it } from 'vitest';
import type { PromotionPolicy, ResolvedEnvironment } from '../../src/config/resolve.ts';
import { evaluateApprovalGate } from '../../src/gates/approval-gate.ts';
import { evaluateChecksGate } from '../../src/gates/checks-gate.ts';
import { evaluateDeployedGate } from '../../src/gates/deployed-gate.ts';
import { evaluateGates, gatesHold } from '../../src/gates/evaluate.ts';
import type { GateInputs } from '../../src/gates/gate.ts';
import { evaluateMigrationsGate } from '../../src/gates/migrations-gate.ts';
import type { MigrationFile } from '../../src/migrations/migration-files.ts';
import type { Approval, Deployment, Release } from '../../src/state/state-store.ts';

const release: Release = {
  id: 'r3',
  seq: 3,
  digest: 'd'.repeat(64),
  commit: 'c'.repeat(40),
  dirty: false,
  subject: 's',
  createdAt: 't',
  createdBy: 'dev@x',
  buildMs: 1,
  services: {},
};

function environment(promotion: Partial<PromotionPolicy['approval']> = {}): ResolvedEnvironment {
  return {
    name: 'production',
    index: 1,
    previous: 'staging',
    next: null,
    provider: 'local',
    promotion: {
      policy: 'manual',
      approval: { required: 1, allowSelfApproval: false, ...promotion },
    },
    protected: true,
    onCheckFailure: 'rollback',
    services: {},
  };
}

const deployment: Deployment = {
  id: 7,
  runId: 1,
  environment: 'staging',
  releaseId: 'r3',
  kind: 'deploy',
  status: 'succeeded',
  actor: 'dev@x',
  previousReleaseId: 'r2',
  startedAt: 't0',
  switchedAt: 't1',
  finishedAt: 't2',
  checksStatus: 'passed',
  message: null,
};

const approval = (
  actor: string,
  decision: Approval['decision'] = 'approved',
  comment: string | null = null,
): Approval => ({
  id: 1,
  environment: 'production',
  releaseId: 'r3',
  actor,
  decision,
  comment,
  at: 't',
});

function inputs(overrides: Partial<GateInputs> = {}): GateInputs {
  return {
    environment: environment(),
    previous: 'staging',
    release,
    previousServing: [
      { environment: 'staging', service: 'web', releaseId: 'r3', deploymentId: 7, since: 't1' },
    ],
    services: ['web'],
    previousDeployment: deployment,
    previousChecks: [
      {
        deploymentId: 7,
        service: 'web',
        at: 't',
        name: 'smoke',
        type: 'http',
        status: 'passed',
        durationMs: 3,
        attempts: 1,
        message: 'ok',
        details: {},
      },
    ],
    migrations: [
      {
        service: 'web',
        pending: [{ version: 3, filename: '0003_x.sql' }],
        notOnPrevious: [],
        problems: [],
      },
    ],
    approvals: [approval('reviewer@x')],
    deployers: ['dev@x'],
    ...overrides,
  };
}

const file = (version: number, filename: string): MigrationFile => ({
  version,
  name: filename.slice(5, -4),
  filename,
  path: `/m/${filename}`,
  sql: '',
  sha256: 'a'.repeat(64),
});

describe('gates', () => {
  it('all hold for a release deployed, checked, migrated on staging and approved', () => {
    const results = evaluateGates(inputs());
    expect(results.map((r) => [r.gate, r.status])).toEqual([
      ['deployed', 'holds'],
      ['checks', 'holds'],
      ['migrations', 'holds'],
      ['approval', 'holds'],
    ]);
    expect(gatesHold(results)).toBe(true);
    expect(results[2]?.reason).toBe(
      '1 pending migration already succeeded on staging with the same checksum (web/0003_x.sql).',
    );
  });

  it('deployed fails when staging serves another release, naming both', () => {
    const r = evaluateDeployedGate(
      inputs({
        previousServing: [
          { environment: 'staging', service: 'web', releaseId: 'r2', deploymentId: 6, since: 't' },
        ],
      }),
    );
    expect(r).toMatchObject({ status: 'fails', next: 'airlock deploy staging --release r3' });
    expect(r.reason).toBe(
      'staging serves r2, not r3: a release must pass staging before it is promoted.',
    );
  });

  it('deployed fails when nothing is deployed on staging', () => {
    const r = evaluateDeployedGate(inputs({ previousServing: [], previousDeployment: null }));
    expect(r).toMatchObject({ status: 'fails', reason: 'nothing is deployed on staging yet.' });
  });

  it('checks fail with the failing check and its message', () => {
    const r = evaluateChecksGate(
      inputs({
        previousDeployment: { ...deployment, checksStatus: 'failed' },
        previousChecks: [
          {
            deploymentId: 7,
            service: 'web',
            at: 't',
            name: 'e2e',
            type: 'command',
            status: 'failed',
            durationMs: 3,
            attempts: 1,
            message: 'exited 1: POST /notes → 500',
            details: {},
          },
        ],
      }),
    );
    expect(r.status).toBe('fails');
    expect(r.reason).toBe("r3's checks failed on staging — web/e2e: exited 1: POST /notes → 500.");
  });

  it('checks are pending while the staging deployment has not finished its checks', () => {
    const r = evaluateChecksGate(
      inputs({ previousDeployment: { ...deployment, checksStatus: null }, previousChecks: [] }),
    );
    expect(r).toMatchObject({
      status: 'pending',
      reason: "r3's checks on staging have not finished.",
    });
  });

  it('migrations fail for a file production would run that staging has not, or ran with another checksum', () => {
    const r = evaluateMigrationsGate(
      inputs({
        migrations: [
          {
            service: 'web',
            pending: [
              { version: 3, filename: '0003_x.sql' },
              { version: 4, filename: '0004_y.sql' },
            ],
            notOnPrevious: [
              { file: file(3, '0003_x.sql'), reason: 'checksum-differs' },
              { file: file(4, '0004_y.sql'), reason: 'not-applied' },
            ],
            problems: [],
          },
        ],
      }),
    );
    expect(r.status).toBe('fails');
    expect(r.reason).toBe(
      'production would run migrations that have not succeeded on staging first: web/0003_x.sql (different checksum on staging), web/0004_y.sql (not applied on staging).',
    );
  });

  it('migrations fail when the target ledger disagrees with the files (an edited migration)', () => {
    const r = evaluateMigrationsGate(
      inputs({
        migrations: [
          {
            service: 'web',
            pending: [],
            notOnPrevious: [],
            problems: [
              {
                code: 'MIGRATION_CHECKSUM_MISMATCH',
                version: 1,
                file: '/m/0001_a.sql',
                ledgerSha256: 'a',
                fileSha256: 'b',
                message: 'Migration /m/0001_a.sql was edited.',
                hint: 'h',
              },
            ],
          },
        ],
      }),
    );
    expect(r.status).toBe('fails');
    expect(r.reason).toContain('Migration /m/0001_a.sql was edited.');
  });

  it('approval is pending without approvals, and says by whom it may be given', () => {
    const r = evaluateApprovalGate(inputs({ approvals: [] }));
    expect(r).toMatchObject({ status: 'pending', next: 'airlock approve production --release r3' });
    expect(r.reason).toBe('1 more approval needed (0/1) by someone other than dev@x.');
  });

  it("approval does not count the deployer's own approval (prevent self-review)", () => {
    expect(evaluateApprovalGate(inputs({ approvals: [approval('dev@x')] })).status).toBe('pending');
    const allowed = evaluateApprovalGate(
      inputs({
        environment: environment({ allowSelfApproval: true }),
        approvals: [approval('dev@x')],
      }),
    );
    expect(allowed.status).toBe('holds');
  });

  it('approval needs N distinct people; the same person twice counts once', () => {
    const two = environment({ required: 2 });
    expect(
      evaluateApprovalGate(
        inputs({ environment: two, approvals: [approval('a@x'), approval('a@x')] }),
      ).reason,
    ).toBe('1 more approval needed (1/2) by someone other than dev@x.');
    expect(
      evaluateApprovalGate(
        inputs({ environment: two, approvals: [approval('a@x'), approval('b@x')] }),
      ),
    ).toMatchObject({
      status: 'holds',
      reason: 'approved by a@x, b@x (2/2).',
    });
  });

  it('a rejection fails the approval gate until that reviewer approves again', () => {
    const rejected = evaluateApprovalGate(
      inputs({ approvals: [approval('a@x'), approval('b@x', 'rejected', 'breaks checkout')] }),
    );
    expect(rejected).toMatchObject({
      status: 'fails',
      reason: 'r3 was rejected for production by b@x ("breaks checkout").',
    });
    const reconsidered = evaluateApprovalGate(
      inputs({ approvals: [approval('b@x', 'rejected', 'no'), approval('b@x', 'approved')] }),
    );
    expect(reconsidered.status).toBe('holds');
  });

  it('approval holds without approvals when none are required', () => {
    const none = environment({ required: 0 });
    expect(evaluateApprovalGate(inputs({ environment: none, approvals: [] }))).toMatchObject({
      status: 'holds',
      reason: 'no approval required (policy: manual).',
    });
  });
});
