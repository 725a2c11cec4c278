/**
 * CI identity from GitHub Actions' OIDC token, against a FAKE issuer on 127.0.0.1 (GitHub's
 * issuer cannot be reached from here): it publishes a discovery document and a JWKS, and mints
 * RS256 tokens (keys and JWTs made with jose) shaped after GitHub's documented token; it also
 * plays the runner's token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL, bearer
 * ACTIONS_ID_TOKEN_REQUEST_TOKEN, `&audience=`). The approve workflow `airlock ci init` writes
 * is run end to end: its step's script, under bash, with the variables GitHub would set.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateWorkflows } from '../../src/ci/github-workflows.ts';
import { loadConfig } from '../../src/config/load.ts';
import { OidcTokenError, verifyGithubOidcToken } from '../../src/identity/github-oidc.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import { BIN } from '../helpers/project.ts';
import { stagedRelease } from '../helpers/staged-release.ts';

const REPOSITORY = 'acme/shop';
const RUNNER_SECRET = 'runner-bearer-secret';
let server: Server;
let issuer: string;
let sign: (claims: JWTPayload, options?: { other?: boolean }) => Promise<string>;
/** Claims the runner endpoint puts in the next token (the fake's "who is running"). */
let runnerClaims: JWTPayload = {};

/** GitHub's documented claims for a workflow_dispatch run (values made up). */
function githubClaims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    jti: randomUUID(),
    sub: `repo:${REPOSITORY}:ref:refs/heads/main`,
    aud: 'airlock',
    ref: 'refs/heads/main',
    sha: 'c'.repeat(40),
    repository: REPOSITORY,
    repository_owner: 'acme',
    actor_id: '12',
    actor: 'octocat',
    run_id: '4242',
    run_number: '7',
    run_attempt: '1',
    workflow: 'Airlock: approve for production',
    event_name: 'workflow_dispatch',
    iss: issuer,
    nbf: now - 5,
    iat: now - 5,
    exp: now + 300,
    ...overrides,
  };
}

beforeAll(async () => {
  const main = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(main.publicKey)), kid: 'fake-1', alg: 'RS256', use: 'sig' };
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration')
      return json(200, { issuer, jwks_uri: `${issuer}/.well-known/jwks` });
    if (url.pathname === '/.well-known/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/runner/token') {
      if (req.headers.authorization !== `bearer ${RUNNER_SECRET}`) return json(401, {});
      const audience = url.searchParams.get('audience') ?? REPOSITORY;
      void sign(githubClaims({ aud: audience, ...runnerClaims })).then((value) =>
        json(200, { count: 1, value }),
      );
      return;
    }
    json(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sign = (claims, options = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'fake-1', typ: 'JWT' })
      .sign(options.other ? other.privateKey : main.privateKey);
});

afterAll(() => {
  server?.close();
});

describe('GitHub OIDC tokens (FAKE issuer on 127.0.0.1)', () => {
  const expectation = () => ({
    issuer,
    audience: 'airlock',
    repository: REPOSITORY,
    now: new Date(),
  });
  const reason = async (token: Promise<string>) => {
    try {
      await verifyGithubOidcToken(await token, expectation());
    } catch (e) {
      if (e instanceof OidcTokenError) return e.reason;
      throw e;
    }
    return 'accepted';
  };

  it('accepts a token of the repository for the audience, and names its actor', async () => {
    const v = await verifyGithubOidcToken(await sign(githubClaims()), expectation());
    expect(v).toMatchObject({ actor: 'octocat', repository: REPOSITORY, runId: '4242' });
    expect(v.claims).toMatchObject({ run_id: '4242', event_name: 'workflow_dispatch' });
  });

  it('refuses the wrong audience, issuer or repository, an expired token and a forged signature', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expect(await reason(sign(githubClaims({ aud: 'https://github.com/acme' })))).toBe(
      'wrong-audience',
    );
    expect(await reason(sign(githubClaims({ iss: 'https://token.example.com' })))).toBe(
      'wrong-issuer',
    );
    expect(await reason(sign(githubClaims({ repository: 'evil/shop' })))).toBe('wrong-repository');
    expect(await reason(sign(githubClaims({ iat: past - 600, nbf: past - 600, exp: past })))).toBe(
      'expired',
    );
    expect(await reason(sign(githubClaims(), { other: true }))).toBe('bad-signature');
  });
});

describe('the approve workflow, end to end against the FAKE issuer', () => {
  let dir: string;
  let bin: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-oidc-'));
    bin = path.join(dir, '..', `${path.basename(dir)}-bin`);
    mkdirSync(bin);
    // `npx airlock` is this checkout's CLI.
    writeFileSync(
      path.join(bin, 'npx'),
      `#!/bin/sh\n[ "$1" = airlock ] && shift\nexec "${process.execPath}" "${BIN}" "$@"\n`,
    );
    chmodSync(path.join(bin, 'npx'), 0o755);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
  });

  it('a reviewer approves from GitHub: the run proves who they are; a token of another repository is refused', async () => {
    writeFileSync(
      path.join(dir, 'airlock.yaml'),
      [
        'project: shop',
        'pipeline: [staging, production]',
        'services:',
        '  web: { build: { command: "true", output: . }, command: { deploy: "true", describe: "true" } }',
        'environments:',
        '  staging: { provider: command }',
        '  production:',
        '    promotion:',
        '      policy: manual',
        `      approval: { required: 1, identity: oidc, oidc: { repository: ${REPOSITORY}, issuer: "${issuer}" } }`,
        '    provider: command',
        '',
      ].join('\n'),
    );
    // What `ci init` requires: Airlock as a devDependency, locked.
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({
        name: 'shop',
        private: true,
        devDependencies: { 'airlock-deploy': '0.1.0' },
      }),
    );
    writeFileSync(path.join(dir, 'package-lock.json'), '{}\n');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('-c', 'user.email=dev@x', '-c', 'user.name=dev', 'commit', '-q', '-m', 'init');
    const config = loadConfig({ cwd: dir, env: process.env });
    const workflows = generateWorkflows(config, { flow: 'manual' });
    const approve = workflows.find((w) => w.path === '.github/workflows/airlock-approve.yml');
    expect(approve, workflows.map((w) => w.path).join(', ')).toBeDefined();
    const doc = parse(approve!.content);
    expect(Object.keys(doc.on.workflow_dispatch.inputs)).toEqual(['release', 'decision', 'reason']);
    const job = doc.jobs['approve-production'];
    expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    const step = job.steps.at(-1) as { run: string; env: Record<string, string> };

    // A release deployed to staging by the developer, in the state the CLI opens.
    if (config.state.kind !== 'sqlite') throw new Error('expected the SQLite state');
    const store = await SqliteStateStore.open({ file: config.state.file });
    const release = await stagedRelease(store, git('rev-parse', 'HEAD').trim(), 'dev@x', 'init');
    await store.close();

    /**
     * Runs the step's script as the runner would, with the inputs and GitHub's variables
     * (asynchronously: the fake issuer answers from this process).
     */
    const runStep = (
      inputs: Record<string, string>,
    ): Promise<{ status: number | null; stdout: string; stderr: string }> => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(step.env))
        env[k] = v.replace(/\$\{\{ inputs\.(\w+) \}\}/, (_, name: string) => inputs[name] ?? '');
      delete env.AIRLOCK_STATE_URL; // `${{ secrets.… }}`: here the state is the project's SQLite file
      const options = {
        cwd: dir,
        encoding: 'utf8' as const,
        env: {
          ...process.env,
          ...env,
          PATH: `${bin}:${process.env.PATH}`,
          GITHUB_ACTIONS: 'true',
          ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer}/runner/token?api-version=2.0`,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER_SECRET,
          AIRLOCK_ACTOR: 'runner',
        },
      };
      return new Promise((resolve) => {
        execFile('bash', ['-eo', 'pipefail', '-c', step.run], options, (error, stdout, stderr) =>
          resolve({
            status: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            stdout,
            stderr,
          }),
        );
      });
    };

    runnerClaims = { actor: 'octocat' };
    const ok = await runStep({
      release: release.id,
      decision: 'approve',
      reason: 'staging looks right',
    });
    expect(ok.status, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout + ok.stderr).toContain(`octocat approved ${release.id} for production`);

    runnerClaims = { actor: 'mallory', repository: 'evil/shop' };
    const refused = await runStep({ release: release.id, decision: 'reject', reason: '' });
    expect(refused.status).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain('not acme/shop');

    const check = await SqliteStateStore.open({ file: config.state.file });
    const approvals = await check.listApprovals('production', release.id);
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({
      actor: 'octocat',
      identity: 'oidc',
      decision: 'approved',
      comment: 'staging looks right',
      evidence: {
        kind: 'oidc',
        claims: { repository: REPOSITORY, run_id: '4242', actor: 'octocat' },
      },
    });
    const refusal = (await check.listAudit({ limit: 5 })).find(
      (e) => e.action === 'approval.refused',
    );
    expect(refusal?.detail).toMatchObject({ reason: 'oidc-wrong-repository' });

    // One token records one approval: the same token again is refused as replayed.
    const ctx = {
      config,
      store: check,
      actor: 'runner',
      now: () => new Date(),
    } as unknown as AirlockContext;
    const token = await sign(githubClaims({ actor: 'hubot' }));
    const once = { environment: 'production', release: release.id, decision: 'approved' as const };
    const first = await recordApproval(ctx, { ...once, proof: { kind: 'oidc', token } });
    expect(first.approval).toMatchObject({ actor: 'hubot', identity: 'oidc' });
    await expect(
      recordApproval(ctx, { ...once, proof: { kind: 'oidc', token } }),
    ).rejects.toMatchObject({ code: 'OIDC_TOKEN_REFUSED' });
    const [replayed] = await check.listAudit({ limit: 1 });
    expect(replayed).toMatchObject({ action: 'approval.refused', detail: { reason: 'replayed' } });
    await check.close();
  });
});
