/** Each gate, alone: holds, fails and pending, each with its own reason. Pure, no I/O. */
import { describe, expect, it } from 'vitest';
import type { PromotionPolicy, ResolvedEnvironment } from '../../src/config/resolve.ts';
import { evaluateApprovalGate } from '../../src/gates/approval-gate.ts';
import { checksStale, evaluateChecksGate } from '../../src/gates/checks-gate.ts';
import { evaluateCiGate } from '../../src/gates/ci-gate.ts';
import { evaluateDeployedGate } from '../../src/gates/deployed-gate.ts';
import { evaluateDriftGate } from '../../src/gates/drift-gate.ts';
import { evaluateGates, gatesHold } from '../../src/gates/evaluate.ts';
import type { GateInputs } from '../../src/gates/gate.ts';
import { evaluateMigrationsGate } from '../../src/gates/migrations-gate.ts';
import { evaluateParityGate } from '../../src/gates/parity-gate.ts';
import { evaluateRehearsalGate } from '../../src/gates/rehearsal-gate.ts';
import { evaluateSoakGate } from '../../src/gates/soak-gate.ts';
import { evaluateWindowGate } from '../../src/gates/window-gate.ts';
import type { MigrationFile } from '../../src/migrations/migration-files.ts';
import type {
  Approval,
  Deployment,
  Release,
  StoredCheckResult,
} from '../../src/state/state-store.ts';
import { promotionPolicy } from '../helpers/promotion-policy.ts';

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

function environment(
  approval: Partial<PromotionPolicy['approval']> = {},
  policy: Partial<Omit<PromotionPolicy, 'approval'>> = {},
): ResolvedEnvironment {
  return {
    name: 'production',
    index: 1,
    previous: 'staging',
    next: null,
    provider: 'local',
    promotion: promotionPolicy(approval, policy),
    protected: true,
    onCheckFailure: 'rollback',
    checksLeaseMs: 30_000,
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
  at: '2026-11-21T11:00:00.000Z',
  identity: 'unverified',
  nonce: null,
  evidence: null,
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
        held: null,
        pending: [{ version: 3, filename: '0003_x.sql' }],
        notOnPrevious: [],
        problems: [],
      },
    ],
    approvals: [approval('reviewer@x')],
    rolledBack: null,
    deployers: ['dev@x'],
    drift: [],
    parity: [],
    now: '2026-11-21T12:00:00.000Z',
    ci: null,
    windowOverride: null,
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

  it('lists the ci, soak and window gates only when the policy configures them', () => {
    const results = evaluateGates(
      inputs({
        environment: environment(
          {},
          {
            ci: true,
            soakMs: 60_000,
            freeze: [
              { from: '2026-12-20T00:00:00Z', to: '2027-01-02T00:00:00Z', reason: 'holidays' },
            ],
          },
        ),
        ci: { state: 'success', source: 'command', summary: 'passed', failing: [] },
      }),
    );
    expect(results.map((r) => [r.gate, r.status])).toEqual([
      ['deployed', 'holds'],
      ['checks', 'holds'],
      ['migrations', 'holds'],
      ['ci', 'holds'],
      ['soak', 'pending'],
      ['window', 'holds'],
      ['approval', 'holds'],
    ]);
  });

  it('drift blocks with each finding, holds with a warning in warn mode, and holds when clean', () => {
    const finding =
      'staging has column notes.title (TEXT) that none of its applied migrations creates: it was changed outside migrations';
    const blocked = evaluateDriftGate(
      inputs({ drift: [{ service: 'web', mode: 'block', findings: [finding] }] }),
    );
    expect(blocked).toMatchObject({ status: 'fails', reason: `schema drift — web: ${finding}.` });
    expect(blocked.next).toContain('airlock migrate drift staging production');
    expect(blocked.next).toContain('`airlock migrate create <name>`');
    // A folder drizzle-kit writes: the advice names drizzle-kit, not a command that refuses.
    const drizzle = evaluateDriftGate(
      inputs({
        drift: [{ service: 'web', mode: 'block', layout: 'drizzle', findings: [finding] }],
      }),
    );
    expect(drizzle.next).toContain('created with drizzle-kit');
    expect(drizzle.next).not.toContain('airlock migrate create');
    expect(
      evaluateDriftGate(inputs({ drift: [{ service: 'web', mode: 'warn', findings: [finding] }] })),
    ).toMatchObject({
      status: 'holds',
      reason: `schema drift, allowed by database.drift: warn — web: ${finding}.`,
    });
    expect(
      evaluateDriftGate(
        inputs({ drift: [{ service: 'web', mode: 'block', findings: [], error: 'no scratch' }] }),
      ),
    ).toMatchObject({
      status: 'fails',
      reason: 'schema drift — web: drift could not be checked (no scratch).',
    });
    expect(
      evaluateDriftGate(inputs({ drift: [{ service: 'web', mode: 'block', findings: [] }] })),
    ).toMatchObject({
      status: 'holds',
      reason: 'the live schemas of staging and production match their ledgers.',
    });
    // Listed only for services with a database.
    expect(evaluateGates(inputs()).map((g) => g.gate)).not.toContain('drift');
    expect(
      evaluateGates(inputs({ drift: [{ service: 'web', mode: 'block', findings: [] }] })).map(
        (g) => g.gate,
      ),
    ).toContain('drift');
  });

  it('parity fails naming each drifted key, holds in warn mode, fails when a platform cannot be read, and is listed after drift', () => {
    const drift = [
      { key: 'platform.vm.0.memory', previous: '1gb', target: '512mb' },
      { key: 'secrets.SENTRY_DSN', previous: 'set', target: null },
      { key: 'bindings.CACHE', previous: null, target: 'kv' },
    ];
    const blocked = evaluateParityGate(
      inputs({ parity: [{ service: 'web', mode: 'block', drift, allowed: 2 }] }),
    );
    expect(blocked).toMatchObject({
      gate: 'parity',
      status: 'fails',
      reason:
        'production does not mirror staging — web: platform.vm.0.memory (1gb on staging, 512mb on production), secrets.SENTRY_DSN (only on staging), bindings.CACHE (only on production).',
    });
    expect(blocked.next).toContain('airlock diff staging production');
    expect(blocked.next).toContain('parity.allow');
    expect(
      evaluateParityGate(inputs({ parity: [{ service: 'web', mode: 'warn', drift, allowed: 0 }] })),
    ).toMatchObject({
      status: 'holds',
      reason:
        'staging and production differ, allowed by parity.gate: warn — web: platform.vm.0.memory (1gb on staging, 512mb on production), secrets.SENTRY_DSN (only on staging), bindings.CACHE (only on production).',
    });
    const unreadable = { service: 'web', drift: [], allowed: 0, error: 'fly.toml cannot be read' };
    expect(
      evaluateParityGate(inputs({ parity: [{ ...unreadable, mode: 'block' }] })),
    ).toMatchObject({
      status: 'fails',
      reason:
        'production does not mirror staging — web: parity could not be checked (fly.toml cannot be read).',
    });
    expect(evaluateParityGate(inputs({ parity: [{ ...unreadable, mode: 'warn' }] }))).toMatchObject(
      {
        status: 'holds',
        reason:
          'staging and production differ, allowed by parity.gate: warn — web: parity could not be checked (fly.toml cannot be read).',
      },
    );
    expect(
      evaluateParityGate(
        inputs({ parity: [{ service: 'web', mode: 'block', drift: [], allowed: 3 }] }),
      ),
    ).toEqual({
      gate: 'parity',
      status: 'holds',
      reason: 'production mirrors staging (3 allowed differences: names, ids, databases, …).',
    });
    // Many keys: the reason names five and counts the rest.
    const many = Array.from({ length: 8 }, (_, i) => ({
      key: `platform.k${i}`,
      previous: 'a',
      target: 'b',
    }));
    expect(
      evaluateParityGate(
        inputs({ parity: [{ service: 'web', mode: 'block', drift: many, allowed: 0 }] }),
      ).reason,
    ).toContain('platform.k4 (a on staging, b on production) and 3 more.');
    // Listed after drift, and only when parity.gate is not off (facts are then empty).
    expect(
      evaluateGates(
        inputs({
          drift: [{ service: 'web', mode: 'block', findings: [] }],
          parity: [{ service: 'web', mode: 'block', drift: [], allowed: 0 }],
        }),
      ).map((g) => g.gate),
    ).toEqual(['deployed', 'checks', 'migrations', 'drift', 'parity', 'approval']);
    expect(evaluateGates(inputs()).map((g) => g.gate)).not.toContain('parity');
  });

  it('checks older than checksMaxAge still hold but are marked for re-verification', () => {
    const aged = (at: string) =>
      inputs({
        environment: environment({}, { checksMaxAgeMs: 3_600_000 }),
        previousChecks: [{ ...(inputs().previousChecks[0] as StoredCheckResult), at }],
      });
    const fresh = aged('2026-11-21T11:30:00.000Z');
    expect(checksStale(fresh)).toBe(false);
    expect(evaluateChecksGate(fresh).reason).toBe('1 check passed on staging (web/smoke).');
    const stale = aged('2026-11-21T09:00:00.000Z');
    expect(checksStale(stale)).toBe(true);
    expect(evaluateChecksGate(stale)).toMatchObject({
      status: 'holds',
      reason:
        '1 check passed on staging (web/smoke), 3.0 h ago: older than checksMaxAge, so the promotion re-runs them there first.',
    });
    // Without a maximum age, any age is fine.
    expect(checksStale({ ...stale, environment: environment() })).toBe(false);
  });

  it('rehearsal: listed only when required; holds when passed or not needed, fails when failed, missing or stale, and a contract release needs --fix-forward', () => {
    const fact = (result: 'passed' | 'failed' | 'not-needed' | 'missing', previous = 'r2') => ({
      service: 'web',
      result,
      message: result === 'failed' ? 'rollback rehearsal failed: r2 did not start' : null,
      previous,
      contracts: [],
    });
    const serving = [
      { environment: 'production', service: 'web', releaseId: 'r2', deploymentId: 3, since: 't' },
    ];
    expect(evaluateGates(inputs()).map((g) => g.gate)).not.toContain('rehearsal');
    const required = environment({}, { rollbackRehearsal: 'required' });
    const at = (overrides: Partial<GateInputs>) =>
      evaluateRehearsalGate(
        inputs({ environment: required, targetServing: serving, ...overrides }),
      );
    expect(
      evaluateGates(inputs({ environment: required, rehearsal: [fact('passed')] })).map(
        (g) => g.gate,
      ),
    ).toContain('rehearsal');
    expect(at({ rehearsal: [fact('passed')] })).toEqual({
      gate: 'rehearsal',
      status: 'holds',
      reason: 'rollback rehearsed on staging: web (r2 passed its checks on the new schema).',
    });
    expect(at({ rehearsal: [fact('not-needed')] }).status).toBe('holds');
    expect(at({ rehearsal: [fact('failed')] })).toMatchObject({
      status: 'fails',
      reason: expect.stringMatching(
        /^the rollback rehearsal on staging failed — web: rollback rehearsal failed: r2 did not start\./,
      ),
    });
    expect(at({ rehearsal: [fact('missing')] })).toMatchObject({
      status: 'fails',
      next: 'airlock deploy staging --release r3',
    });
    // Rehearsed against r1, but production serves r2 now.
    expect(at({ rehearsal: [fact('passed', 'r1')] })).toMatchObject({
      status: 'fails',
      next: 'airlock deploy staging --release r3',
    });
    const contract = {
      migrations: [
        {
          service: 'web',
          held: null,
          pending: [{ version: 4, filename: '0004_drop.sql' }],
          notOnPrevious: [],
          problems: [],
          contracts: ['0004_drop.sql'],
        },
      ],
      rehearsal: [fact('not-needed')],
    };
    expect(at(contract)).toMatchObject({
      status: 'fails',
      next: 'airlock promote production --release r3 --fix-forward "<why fixing forward is acceptable>"',
    });
    expect(at({ ...contract, fixForward: 'nothing reads it' })).toMatchObject({
      status: 'holds',
      overridden: 'nothing reads it',
    });
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

  /** A failed e2e check result of the staging deployment, with `message`. */
  const failedE2e = (message: string): GateInputs['previousChecks'][number] => ({
    deploymentId: 7,
    service: 'web',
    at: 't',
    name: 'e2e',
    type: 'command',
    status: 'failed',
    durationMs: 3,
    attempts: 1,
    message,
    details: {},
  });

  it('checks fail with the failing check and its message', () => {
    const r = evaluateChecksGate(
      inputs({
        previousDeployment: { ...deployment, checksStatus: 'failed' },
        previousChecks: [failedE2e('exited 1: POST /notes → 500')],
      }),
    );
    expect(r.status).toBe('fails');
    expect(r.reason).toBe("r3's checks failed on staging — web/e2e: exited 1: POST /notes → 500.");
    // A message that ends a sentence itself gets no second period.
    const ended = evaluateChecksGate(
      inputs({
        previousDeployment: { ...deployment, checksStatus: 'failed' },
        previousChecks: [failedE2e('exited 1: Command failed with exit code 1.')],
      }),
    );
    expect(ended.reason).toBe(
      "r3's checks failed on staging — web/e2e: exited 1: Command failed with exit code 1.",
    );
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
            held: null,
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
            held: null,
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

  it('a pending signed or OIDC approval tells how to give one that counts', () => {
    const signed = evaluateApprovalGate(
      inputs({ approvals: [], environment: environment({ identity: 'signed' }) }),
    );
    expect(signed.reason).toContain('1 more signed approval needed');
    expect(signed.next).toContain(
      'airlock approve production --release r3 --key ~/.ssh/id_ed25519',
    );
    expect(signed.next).toContain('.approvals/allowed_signers');
    const oidc = evaluateApprovalGate(
      inputs({ approvals: [], environment: environment({ identity: 'oidc' }) }),
    );
    expect(oidc.next).toContain('.github/workflows/airlock-approve.yml');
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

  it('approval counts only listed approvers, and not expired approvals', () => {
    const listed = environment({ approvers: ['ann@x', 'bo@x'] });
    expect(
      evaluateApprovalGate(inputs({ environment: listed, approvals: [approval('eve@x')] })),
    ).toMatchObject({
      status: 'pending',
      reason: '1 more approval needed (0/1) from ann@x, bo@x.',
    });
    expect(
      evaluateApprovalGate(inputs({ environment: listed, approvals: [approval('bo@x')] })).status,
    ).toBe('holds');
    const expiring = environment({ expiresAfterMs: 30 * 60_000 }); // the approval is 1 h old
    expect(evaluateApprovalGate(inputs({ environment: expiring }))).toMatchObject({
      status: 'pending',
      reason: '1 more approval needed (0/1) by someone other than dev@x; older approvals expired.',
    });
    expect(
      evaluateApprovalGate(inputs({ environment: environment({ expiresAfterMs: 2 * 3_600_000 }) }))
        .status,
    ).toBe('holds');
  });

  it('approvals given before the release was rolled back from the environment no longer count', () => {
    // The approval is from 11:00; production rolled r3 back at 11:30.
    const rolledBack = { at: '2026-11-21T11:30:00.000Z', actor: 'ops@x', to: 'r2' };
    expect(evaluateApprovalGate(inputs({ rolledBack }))).toMatchObject({
      status: 'pending',
      reason:
        '1 more approval needed (0/1) by someone other than dev@x; r3 was rolled back from production by ops@x at 2026-11-21T11:30:00.000Z (to r2), so the approval given before (reviewer@x) no longer counts.',
      next: 'airlock approve production --release r3',
    });
    // A fresh approval after the rollback counts.
    const fresh = { ...approval('reviewer@x'), at: '2026-11-21T11:45:00.000Z' };
    expect(
      evaluateApprovalGate(inputs({ rolledBack, approvals: [approval('reviewer@x'), fresh] }))
        .status,
    ).toBe('holds');
    // A rollback before the approval does not void it.
    expect(
      evaluateApprovalGate(
        inputs({ rolledBack: { ...rolledBack, at: '2026-11-21T10:00:00.000Z' } }),
      ).status,
    ).toBe('holds');
  });
});

describe('soak gate', () => {
  const soaking = environment({}, { soakMs: 30 * 60_000 });
  it('is pending until the release has served long enough on the previous environment', () => {
    const r = evaluateSoakGate(
      inputs({
        environment: soaking,
        previousDeployment: { ...deployment, switchedAt: '2026-11-21T11:50:00.000Z' },
      }),
    );
    expect(r).toMatchObject({
      status: 'pending',
      reason: 'r3 has served on staging for 10 min of the 30 min soak; 20 min to go.',
    });
  });
  it('holds once it has', () => {
    const r = evaluateSoakGate(
      inputs({
        environment: soaking,
        previousDeployment: { ...deployment, switchedAt: '2026-11-21T11:00:00.000Z' },
      }),
    );
    expect(r).toMatchObject({
      status: 'holds',
      reason: 'r3 has served on staging for 60 min (at least 30 min).',
    });
  });
  it('holds without a soak time', () => {
    expect(evaluateSoakGate(inputs()).status).toBe('holds');
  });
});

describe('window gate', () => {
  const window = {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    startMinute: 9 * 60,
    endMinute: 17 * 60,
    timezone: 'Europe/Berlin',
    text: 'mon-fri 09:00-17:00 Europe/Berlin',
  };
  // 2026-11-21 is a Saturday; 2026-11-23 a Monday.
  it('is pending outside the window, naming the local time', () => {
    const r = evaluateWindowGate(
      inputs({ environment: environment({}, { window }), now: '2026-11-21T12:00:00.000Z' }),
    );
    expect(r).toMatchObject({
      status: 'pending',
      reason:
        'outside the deploy window (mon-fri 09:00-17:00 Europe/Berlin; it is sat 13:00 there).',
    });
  });
  it('holds inside the window, in the configured time zone', () => {
    expect(
      evaluateWindowGate(
        inputs({ environment: environment({}, { window }), now: '2026-11-23T08:30:00.000Z' }),
      ).status,
    ).toBe('holds'); // 09:30 in Berlin
    expect(
      evaluateWindowGate(
        inputs({ environment: environment({}, { window }), now: '2026-11-23T16:30:00.000Z' }),
      ).status,
    ).toBe('pending'); // 17:30 in Berlin
  });
  it('fails during a freeze, with its reason; an override lets it through', () => {
    const freeze = [
      { from: '2026-11-20T00:00:00Z', to: '2026-11-30T00:00:00Z', reason: 'Black Friday' },
    ];
    const frozen = evaluateWindowGate(inputs({ environment: environment({}, { freeze }) }));
    expect(frozen).toMatchObject({
      status: 'fails',
      reason: 'production is frozen until 2026-11-30T00:00:00Z: Black Friday.',
    });
    const overridden = evaluateWindowGate(
      inputs({ environment: environment({}, { freeze }), windowOverride: 'security fix' }),
    );
    expect(overridden).toMatchObject({
      status: 'holds',
      reason: 'frozen until 2026-11-30T00:00:00Z (Black Friday), overridden: "security fix".',
    });
  });
});

describe('ci gate', () => {
  const requiring = environment({}, { ci: true });
  it('holds when CI is green at the exact commit', () => {
    const r = evaluateCiGate(
      inputs({
        environment: requiring,
        ci: { state: 'success', source: 'github', summary: '3 checks passed', failing: [] },
      }),
    );
    expect(r).toMatchObject({
      status: 'holds',
      reason: 'CI is green at ccccccc: 3 checks passed.',
    });
  });
  it('fails when it is red, naming what failed', () => {
    const r = evaluateCiGate(
      inputs({
        environment: requiring,
        ci: { state: 'failure', source: 'github', summary: '1 of 3 failed', failing: ['test'] },
      }),
    );
    expect(r).toMatchObject({
      status: 'fails',
      reason: 'CI is red at ccccccc (test): 1 of 3 failed.',
    });
  });
  it('is pending while CI runs or has not reported', () => {
    expect(
      evaluateCiGate(
        inputs({
          environment: requiring,
          ci: { state: 'pending', source: 'github', summary: '1 running', failing: [] },
        }),
      ).status,
    ).toBe('pending');
    expect(
      evaluateCiGate(
        inputs({
          environment: requiring,
          ci: { state: 'none', source: 'command', summary: 'not run', failing: [] },
        }),
      ),
    ).toMatchObject({
      status: 'pending',
      next: 'airlock ci run --commit ccccccc',
    });
  });
  it('holds when the environment does not require CI', () => {
    expect(evaluateCiGate(inputs()).status).toBe('holds');
  });
  it('fails for a release built from uncommitted changes, even with CI green at its commit', () => {
    const r = evaluateCiGate(
      inputs({
        environment: requiring,
        release: { ...release, dirty: true },
        ci: { state: 'success', source: 'github', summary: '3 checks passed', failing: [] },
      }),
    );
    expect(r).toMatchObject({
      status: 'fails',
      reason: `${release.id} was built from uncommitted changes on top of ccccccc: CI at ccccccc did not test them.`,
    });
  });
});

describe('audit gate', () => {
  it('is listed, and fails with the first altered event, only when the audit chain is altered', () => {
    const altered = { ok: false, head: '3:abc', alteration: 'audit log altered at #2: edited.' };
    const audit = (i: GateInputs) => evaluateGates(i).filter((g) => g.gate === 'audit');
    expect(audit(inputs({ audit: altered }))).toMatchObject([
      { status: 'fails', reason: expect.stringContaining('audit log altered at #2') },
    ]);
    expect(gatesHold(evaluateGates(inputs({ audit: altered })))).toBe(false);
    expect(audit(inputs({ audit: { ...altered, ok: true, alteration: null } }))).toEqual([]);
    expect(audit(inputs())).toEqual([]);
  });
});
