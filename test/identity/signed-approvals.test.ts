/**
 * Signed approvals on real keys (made here by ssh-keygen), a real git repository holding the
 * allowed-signers file, and a real SQLite state: who may approve is what a signature proves,
 * verified against the file at the release's commit.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import type { ResolvedConfig } from '../../src/config/resolve.ts';
import { AirlockError } from '../../src/errors.ts';
import { evaluateApprovalGate } from '../../src/gates/approval-gate.ts';
import type { GateInputs } from '../../src/gates/gate.ts';
import { approvalFileText, statementText } from '../../src/identity/approval-statement.ts';
import { signStatement } from '../../src/identity/ssh-sign.ts';
import { parseSshSignature, verifySshSignature } from '../../src/identity/sshsig.ts';
import { countableApprovals } from '../../src/pipeline/approval-identity.ts';
import { recordApproval, signApproval } from '../../src/pipeline/approve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import type { Release } from '../../src/state/state-store.ts';
import { BIN } from '../helpers/project.ts';
import { stagedRelease } from '../helpers/staged-release.ts';

let dir: string;
let store: SqliteStateStore;
let config: ResolvedConfig;
const keys: Record<string, string> = {};
/** The commit listing alice (two keys) and bob; the later one without bob, with carol. */
let c1: string;
let c2: string;

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function key(name: string, type: 'ed25519' | 'rsa' | 'ecdsa'): string {
  const file = path.join(dir, '..', `${path.basename(dir)}-${name}`);
  sh('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
    '-N',
    '',
    '-C',
    name,
    '-f',
    file,
  ]);
  keys[name] = file;
  return readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
}

function commit(message: string): string {
  sh('git', ['add', '-A']);
  sh('git', ['-c', 'user.email=t@x', '-c', 'user.name=t', 'commit', '-q', '-m', message]);
  return sh('git', ['rev-parse', 'HEAD']).trim();
}

function ctxAs(actor: string): AirlockContext {
  return { config, store, actor, now: () => new Date() } as unknown as AirlockContext;
}

/** A release of `sha` deployed to staging by `deployer` (each test makes its own). */
function release(sha: string, deployer = 'dev@x'): Promise<Release> {
  return stagedRelease(store, sha, deployer);
}

/** The approval gate as a promotion would evaluate it now. */
async function gate(r: Release) {
  const env = config.environments.production!;
  const { approvals, notCounted } = await countableApprovals(ctxAs('x'), env, r);
  const deployers = (await store.listDeployments({ releaseId: r.id, limit: 10 })).map(
    (d) => d.actor,
  );
  return evaluateApprovalGate({
    environment: env,
    release: r,
    approvals,
    approvalsNotCounted: notCounted,
    deployers,
    rolledBack: null,
    now: new Date().toISOString(),
  } as unknown as GateInputs);
}

async function refusal(p: Promise<unknown>): Promise<AirlockError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AirlockError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const sign = (
  name: string,
  r: Release,
  extra: { decision?: 'approved' | 'rejected'; environment?: string } = {},
) =>
  signApproval(config, {
    environment: extra.environment ?? 'production',
    release: r.id,
    digest: r.digest,
    decision: extra.decision ?? 'approved',
    key: keys[name]!,
    now: new Date(),
  });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-signed-'));
  sh('git', ['init', '-q', '-b', 'main']);
  writeFileSync(
    path.join(dir, 'airlock.yaml'),
    [
      'project: shop',
      'pipeline: [staging, canary, production]',
      'services:',
      '  web: { build: { command: "true", output: . }, run: "true" }',
      'environments:',
      '  staging: { services: { web: { port: 4100 } } }',
      '  canary: { services: { web: { port: 4150 } } }',
      '  production:',
      '    promotion: { policy: manual, approval: { required: 1, identity: signed } }',
      '    services: { web: { port: 4200 } }',
      '',
    ].join('\n'),
  );
  const alice = key('alice', 'ed25519');
  const alice2 = key('alice2', 'ecdsa');
  const bob = key('bob', 'rsa');
  key('mallory', 'ed25519');
  const carol = key('carol', 'ed25519');
  mkdirSync(path.join(dir, '.approvals'));
  writeFileSync(
    path.join(dir, '.approvals/allowed_signers'),
    `# who may approve\nalice@x ${alice}\nalice@x namespaces="git,airlock-approval" ${alice2}\nbob@x ${bob}\n`,
  );
  c1 = commit('one');
  // Later: bob's key is removed and carol's added.
  writeFileSync(
    path.join(dir, '.approvals/allowed_signers'),
    `alice@x ${alice}\nalice@x ${alice2}\ncarol@x ${carol}\n`,
  );
  c2 = commit('two');
  config = loadConfig({ cwd: dir, env: process.env });
  // The state the CLI opens for this project (in this test file's AIRLOCK_HOME).
  if (config.state.kind !== 'sqlite') throw new Error('expected the SQLite state');
  store = await SqliteStateStore.open({ file: config.state.file });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('signed approvals', () => {
  it('verifies ssh-keygen signatures of each key type in Node, and rejects a changed byte', async () => {
    for (const name of ['alice', 'alice2', 'bob']) {
      const sig = parseSshSignature(await signStatement('hello', keys[name]!));
      expect(() => verifySshSignature(sig, 'hello', 'airlock-approval')).not.toThrow();
      expect(() => verifySshSignature(sig, 'hellO', 'airlock-approval')).toThrow(/does not match/);
      expect(() => verifySshSignature(sig, 'hello', 'git')).toThrow(/namespace/);
    }
  });

  it('under signed, a claimed name is no identity, and the deployer cannot approve as anyone else', async () => {
    const r1 = await release(c1);
    const r3 = await release(c1, 'alice@x');
    // The deployer claims to be bob (--as): refused, and on the record.
    const e = await refusal(
      recordApproval(ctxAs('bob@x'), {
        environment: 'production',
        release: r1.id,
        decision: 'approved',
      }),
    );
    expect(e.code).toBe('APPROVAL_IDENTITY_REQUIRED');
    const [refused] = await store.listAudit({ limit: 1 });
    expect(refused).toMatchObject({
      action: 'approval.refused',
      result: 'refused',
      detail: { reason: 'unverified-identity', claimed: 'bob@x' },
    });
    // Signing with their own key proves who they are: alice, who deployed r3 (self-review).
    const self = await refusal(
      recordApproval(ctxAs('bob@x'), {
        environment: 'production',
        release: r3.id,
        decision: 'approved',
        proof: { kind: 'sign', key: keys.alice! },
      }),
    );
    expect(self.code).toBe('SELF_APPROVAL');
    expect(self.message).toContain(`alice@x deployed ${r3.id}`);
    expect((await gate(r3)).status).toBe('pending');
    // A row written into the state directly, naming bob, proves nothing either.
    await store.addApproval({
      environment: 'production',
      releaseId: r1.id,
      actor: 'bob@x',
      decision: 'approved',
      comment: null,
      at: new Date().toISOString(),
      identity: 'unverified',
      nonce: null,
      evidence: null,
    });
    const g = await gate(r1);
    expect(g.status).toBe('pending');
    expect(g.reason).toContain('not counted: bob@x: not signed');
  });

  it('refuses forged, altered, replayed, wrong-release and wrong-environment signatures, each on the record', async () => {
    const r1 = await release(c1);
    const r2 = await release(c2);
    const importAs = (
      actor: string,
      signed: { statement: string; signature: string },
      release?: string,
    ) =>
      recordApproval(ctxAs(actor), {
        environment: 'production',
        decision: 'approved',
        ...(release ? { release } : {}),
        proof: { kind: 'ssh', signed, submittedBy: actor },
      });
    // Forged: a key not in the allowed-signers file.
    const forged = await refusal(importAs('mallory@x', await sign('mallory', r1)));
    expect(forged.code).toBe('SIGNATURE_REFUSED');
    expect(forged.details).toMatchObject({ reason: 'unknown-key' });
    // Altered: bob signed a rejection; the statement now says approved.
    const rejection = await sign('bob', r1, { decision: 'rejected' });
    const altered = {
      ...rejection,
      statement: rejection.statement.replace('"rejected"', '"approved"'),
    };
    expect((await refusal(importAs('mallory@x', altered))).details).toMatchObject({
      reason: 'bad-signature',
    });
    // Wrong release: bob's approval of r2 presented for r1.
    const forR2 = await sign('alice', r2);
    expect((await refusal(importAs('mallory@x', forR2, r1.id))).details).toMatchObject({
      reason: 'wrong-release',
    });
    // Wrong environment: approved for canary, presented for production.
    const canary = await sign('bob', r1, { environment: 'canary' });
    expect((await refusal(importAs('mallory@x', canary))).details).toMatchObject({
      reason: 'wrong-environment',
    });
    // Replayed: the same signed statement twice.
    const good = await sign('bob', r1);
    await importAs('bob@x', good);
    expect((await refusal(importAs('bob@x', good))).details).toMatchObject({ reason: 'replayed' });
    const reasons = (await store.listAudit({ limit: 20 }))
      .filter((a) => a.action === 'approval.refused')
      .map((a) => (a.detail as { reason: string }).reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'signature-unknown-key',
        'signature-bad-signature',
        'signature-wrong-release',
        'signature-wrong-environment',
        'signature-replayed',
      ]),
    );
    const g = await gate(r1);
    expect(g).toMatchObject({ status: 'holds' });
    expect(g.reason).toContain('approved by bob@x');
  });

  it("reads the allowed-signers file at the release's commit: a removed key stops counting, a later key does not reach back", async () => {
    const r2 = await release(c2);
    const r1 = await release(c1);
    const removed = await refusal(
      recordApproval(ctxAs('bob@x'), {
        environment: 'production',
        release: r2.id,
        decision: 'approved',
        proof: { kind: 'sign', key: keys.bob! },
      }),
    );
    expect(removed.details).toMatchObject({ reason: 'unknown-key' });
    // Written into the state past recordApproval, bob's valid signature still does not count for r2.
    const signed = await sign('bob', r2);
    await store.addApproval({
      environment: 'production',
      releaseId: r2.id,
      actor: 'bob@x',
      decision: 'approved',
      comment: null,
      at: new Date().toISOString(),
      identity: 'signed',
      nonce: JSON.parse(signed.statement).nonce,
      evidence: { kind: 'ssh', ...signed, fingerprint: 'SHA256:whatever', submittedBy: null },
    });
    const g = await gate(r2);
    expect(g.status).toBe('pending');
    expect(g.reason).toMatch(/bob@x: key SHA256:\S+ is not in the allowed-signers file/);
    // Carol, added at r2's commit, cannot approve r1 (built before her key was listed).
    const later = await refusal(
      recordApproval(ctxAs('carol@x'), {
        environment: 'production',
        release: r1.id,
        decision: 'approved',
        proof: { kind: 'sign', key: keys.carol! },
      }),
    );
    expect(later.details).toMatchObject({ reason: 'unknown-key' });
  });

  it('counts two keys of one principal once', async () => {
    const r2 = await release(c2);
    for (const k of ['alice', 'alice2'])
      await recordApproval(ctxAs('alice@x'), {
        environment: 'production',
        release: r2.id,
        decision: 'approved',
        proof: { kind: 'sign', key: keys[k]! },
      });
    const env = config.environments.production!;
    const { approvals } = await countableApprovals(ctxAs('x'), env, r2);
    expect(approvals.map((a) => a.actor)).toEqual(['alice@x', 'alice@x']);
    const strict = {
      ...env,
      promotion: { ...env.promotion, approval: { ...env.promotion.approval, required: 2 } },
    };
    const g = evaluateApprovalGate({
      environment: strict,
      release: r2,
      approvals,
      deployers: ['dev@x'],
      rolledBack: null,
      now: new Date().toISOString(),
    } as unknown as GateInputs);
    expect(g.status).toBe('pending');
    expect(g.reason).toContain('(1/2)');
  });

  it('an offline approval file handed in by someone else counts for its signer; a committed one counts too', async () => {
    const r1 = await release(c1);
    const r2 = await release(c2);
    // Signed on a machine without the state (no store involved), carried as a file.
    const file = approvalFileText(await sign('alice', r1));
    const { approval } = await recordApproval(ctxAs('mallory@x'), {
      environment: 'production',
      decision: 'approved',
      proof: { kind: 'ssh', signed: JSON.parse(file), submittedBy: 'mallory@x' },
    });
    expect(approval).toMatchObject({ actor: 'alice@x', identity: 'signed', releaseId: r1.id });
    expect(approval.evidence).toMatchObject({ kind: 'ssh', submittedBy: 'mallory@x' });
    const [event] = await store.listAudit({ limit: 1 });
    expect(event).toMatchObject({ action: 'approval.recorded', actor: 'mallory@x' });
    expect(event?.detail).toMatchObject({
      approver: 'alice@x',
      identity: 'signed',
      evidence: {
        fingerprint: expect.stringMatching(/^SHA256:/),
        signature: expect.stringContaining('SSH SIGNATURE'),
      },
    });
    // A file committed beside the allowed-signers file counts without being recorded.
    const r3 = await release(c1);
    writeFileSync(
      path.join(dir, '.approvals', 'r3-bob.sig'),
      approvalFileText(await sign('bob', r3)),
    );
    const g = await gate(r3);
    expect(g.status).toBe('holds');
    expect(g.reason).toContain('bob@x');
    // An unsigned statement written there counts for nobody.
    writeFileSync(
      path.join(dir, '.approvals', 'fake.sig'),
      approvalFileText({
        statement: statementText({
          project: 'shop',
          environment: 'production',
          release: r2.id,
          digest: r2.digest,
          decision: 'approved',
          reason: null,
          time: new Date().toISOString(),
        }),
        signature: '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----',
      }),
    );
    const { notCounted } = await countableApprovals(
      ctxAs('x'),
      config.environments.production!,
      r2,
    );
    expect(notCounted.some((u) => u.actor === '(signed file fake.sig)')).toBe(true);
  });

  it('from the command line: --output signs without the state, --import records it for its signer, history --json shows the evidence', async () => {
    const r = await release(c1);
    const cli = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [BIN, ...args],
          { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...env } },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      });
    const file = path.join(dir, '..', `${path.basename(dir)}-${r.id}.sig`);
    // No state reachable: --output never opens it.
    const out = await cli(
      [
        'approve',
        'production',
        '--release',
        r.id,
        '--digest',
        r.digest,
        '--key',
        keys.bob!,
        '--output',
        file,
      ],
      { AIRLOCK_STATE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    );
    expect(out.code, out.stderr + out.stdout).toBe(0);
    // A claimed name records nothing under signed.
    const claimed = await cli([
      'approve',
      'production',
      '--release',
      r.id,
      '--as',
      'bob@x',
      '--json',
    ]);
    expect(claimed.code).not.toBe(0);
    expect(JSON.parse(claimed.stdout).error.code).toBe('APPROVAL_IDENTITY_REQUIRED');
    // Someone else hands the file in: it counts for bob.
    const imported = await cli([
      'approve',
      'production',
      '--import',
      file,
      '--as',
      'mallory@x',
      '--json',
    ]);
    expect(imported.code, imported.stderr + imported.stdout).toBe(0);
    const result = JSON.parse(imported.stdout);
    expect(result.approval).toMatchObject({ actor: 'bob@x', identity: 'signed', releaseId: r.id });
    expect(result.blocked).toBe(true); // the other gates (deployed, checks) still wait
    expect(result.gates.find((g: { gate: string }) => g.gate === 'approval')).toMatchObject({
      status: 'holds',
    });
    const history = JSON.parse((await cli(['history', 'production', '--json'])).stdout);
    const recorded = history.events.find(
      (e: { action: string; releaseId: string }) =>
        e.action === 'approval.recorded' && e.releaseId === r.id,
    );
    expect(recorded).toMatchObject({
      actor: 'mallory@x',
      detail: {
        approver: 'bob@x',
        identity: 'signed',
        submittedBy: 'mallory@x',
        evidence: { kind: 'ssh', fingerprint: expect.stringMatching(/^SHA256:/) },
      },
    });
    expect(recorded.detail.evidence.signature).toContain('BEGIN SSH SIGNATURE');
  });

  it("does not count a dashboard (token) approval under signed unless the environment opts in: it is the server's word, not a signature", async () => {
    const r = await release(c1);
    const viaToken = {
      environment: 'production',
      release: r.id,
      decision: 'approved' as const,
      proof: { kind: 'token' as const, tokenId: 't1', principal: 'alice@x', address: '10.0.0.9' },
    };
    // The dashboard refuses to record it...
    const refused = await refusal(recordApproval(ctxAs('alice@x'), viaToken));
    expect(refused.code).toBe('APPROVAL_IDENTITY_REQUIRED');
    expect(refused.message).toContain('counts only SSH-signed approvals');
    expect(refused.hint).toContain(`airlock approve production --release ${r.id} --key`);
    // ...and one written into the state by whoever can write it does not count.
    await store.addApproval({
      environment: 'production',
      releaseId: r.id,
      actor: 'alice@x',
      decision: 'approved',
      comment: null,
      at: new Date().toISOString(),
      identity: 'token',
      nonce: null,
      evidence: { kind: 'token', tokenId: 't1', principal: 'alice@x', address: '10.0.0.9' },
    });
    const g = await gate(r);
    expect(g.status).toBe('pending');
    expect(g.reason).toContain(
      "given in the dashboard under alice@x's token, which proves no signature",
    );
    // An environment that opts in counts it, for a principal listed at the release's commit.
    const production = config.environments.production!;
    const optedIn = {
      ...production,
      promotion: {
        ...production.promotion,
        approval: { ...production.promotion.approval, dashboardApprovals: true },
      },
    };
    const counted = await countableApprovals(ctxAs('x'), optedIn, r);
    expect(counted.approvals.map((a) => a.actor)).toEqual(['alice@x']);
  });
});
