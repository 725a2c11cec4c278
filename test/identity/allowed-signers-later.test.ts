/**
 * A signed approval refused because the release's commit has no allowed-signers file (or one
 * without the key), while the file is there now: the refusal says what happened — the file is
 * read at the release's own commit — and what to do (deploy a release that includes it, approve
 * that one), instead of asking again for the line already committed. The rule itself holds: the
 * older release is still refused. Real git repositories, real ssh-keygen keys, a real SQLite state.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { AirlockError } from '../../src/errors.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import type { Release } from '../../src/state/state-store.ts';
import { BIN } from '../helpers/project.ts';
import { stagedRelease } from '../helpers/staged-release.ts';

const SIGNERS = '.approvals/allowed_signers';

interface Repo {
  dir: string;
  store: SqliteStateStore;
  /** ann's private key file, and her allowed-signers line. */
  key: string;
  line: string;
  commit(message: string): string;
  /** A release of `sha` deployed to staging by dev@x. */
  release(sha: string): Promise<Release>;
  /** `recordApproval` signed with ann's key; the refusal (or null when it counted). */
  approve(release: Release): Promise<AirlockError | null>;
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A project whose production takes signed approvals, committed without an allowed-signers file. */
async function makeRepo(): Promise<Repo & { first: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-signers-later-'));
  const sh = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  sh('git', ['init', '-q', '-b', 'main']);
  writeFileSync(
    path.join(dir, 'airlock.yaml'),
    [
      'project: shop',
      'pipeline: [staging, production]',
      'services:',
      '  web: { build: { command: "true", output: . }, run: "true" }',
      'environments:',
      '  staging: { services: { web: { port: 4100 } } }',
      '  production:',
      '    promotion: { policy: manual, approval: { required: 1, identity: signed } }',
      '    services: { web: { port: 4200 } }',
      '',
    ].join('\n'),
  );
  const key = `${dir}-ann`;
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ann', '-f', key]);
  const line = `ann@x ${readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`;
  const commit = (message: string) => {
    sh('git', ['add', '-A']);
    sh('git', ['-c', 'user.email=t@x', '-c', 'user.name=t', 'commit', '-q', '-m', message]);
    return sh('git', ['rev-parse', 'HEAD']).trim();
  };
  const first = commit('airlock.yaml, no allowed signers yet');
  const config = loadConfig({ cwd: dir, env: process.env });
  if (config.state.kind !== 'sqlite') throw new Error('expected the SQLite state');
  const store = await SqliteStateStore.open({ file: config.state.file });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
  });
  const ctx = { config, store, actor: 'ann@x', now: () => new Date() } as unknown as AirlockContext;
  return {
    dir,
    store,
    key,
    line,
    first,
    commit,
    release: (sha) => stagedRelease(store, sha),
    async approve(release) {
      try {
        await recordApproval(ctx, {
          environment: 'production',
          release: release.id,
          decision: 'approved',
          proof: { kind: 'sign', key },
        });
        return null;
      } catch (e) {
        if (e instanceof AirlockError) return e;
        throw e;
      }
    },
    cli: (args) =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          [BIN, ...args],
          { cwd: dir, env: { ...process.env, NO_COLOR: '1' } },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      }),
  };
}

describe('a key listed after the release was built', () => {
  it('says the file is read at the release commit and to deploy a release that has it, not to add the line again', async () => {
    const repo = await makeRepo();
    const r1 = await repo.release(repo.first);
    const built = repo.first.slice(0, 12);

    // Nothing anywhere yet: add the line and commit it, and approve a release built from then on.
    const none = await repo.approve(r1);
    expect(none?.code).toBe('SIGNATURE_REFUSED');
    expect(none?.details).toMatchObject({ reason: 'no-allowed-signers' });
    expect(none?.hint).toMatch(
      /^Add the key's line \(`<principal> <keytype> <key>`\) to \.approvals\/allowed_signers and commit it\./,
    );
    expect(none?.hint).toContain(`not for ${r1.id} (commit ${built})`);
    expect(none?.hint).toContain('`airlock deploy staging`');

    // Written, not committed yet.
    mkdirSync(path.join(repo.dir, '.approvals'));
    writeFileSync(path.join(repo.dir, SIGNERS), repo.line);
    const uncommitted = await repo.approve(r1);
    expect(uncommitted?.hint).toContain(
      `.approvals/allowed_signers is in the working tree, with this key, but ${r1.id} was built from commit ${built}, which does not have it.`,
    );
    expect(uncommitted?.hint).toContain('commit it, deploy a new release that includes it');

    // Committed: the user's case. The same release is still refused (the rule holds), and the
    // hint no longer asks for the line.
    const head = repo.commit('ann may approve');
    const committed = await repo.approve(r1);
    expect(committed?.code).toBe('SIGNATURE_REFUSED');
    expect(committed?.message).toContain(
      `there is no allowed-signers file (.approvals/allowed_signers at commit ${built})`,
    );
    expect(committed?.hint).toBe(
      `${r1.id} was built from commit ${built}, before .approvals/allowed_signers was committed (HEAD ${head.slice(0, 12)} has it, with this key). The file is read at each release's own commit, so that a release cannot approve itself into production with signers added after it was built: deploy a new release that includes it to staging (\`airlock deploy staging\`), then approve that one (\`airlock approve production\` takes the release serving on staging).`,
    );
    expect(committed?.hint).not.toContain("Add the key's line");

    // From the command line, as the user saw it.
    const shown = await repo.cli(['approve', 'production', '--release', r1.id, '--key', repo.key]);
    expect(shown.code).not.toBe(0);
    expect(shown.stderr).toContain('before .approvals/allowed_signers was committed');
    expect(shown.stderr).toContain('`airlock deploy staging`');
    expect(shown.stderr).not.toContain("Add the key's line");

    // A release built from that commit counts ann's signature.
    const r2 = await repo.release(head);
    expect(await repo.approve(r2)).toBeNull();
  });

  it("says so when the release's file lacks the key and HEAD's has it", async () => {
    const repo = await makeRepo();
    mkdirSync(path.join(repo.dir, '.approvals'));
    writeFileSync(path.join(repo.dir, SIGNERS), '# who may approve\n');
    const without = repo.commit('allowed signers, empty');
    const r1 = await repo.release(without);
    writeFileSync(path.join(repo.dir, SIGNERS), `# who may approve\n${repo.line}`);
    const head = repo.commit('ann may approve');
    const refused = await repo.approve(r1);
    expect(refused?.details).toMatchObject({ reason: 'unknown-key' });
    expect(refused?.hint).toMatch(
      new RegExp(
        `^${r1.id} was built from commit ${without.slice(0, 12)}, whose \\.approvals/allowed_signers does not list this key; HEAD ${head.slice(0, 12)} does\\. .* deploy a new release that includes it to staging \\(\`airlock deploy staging\`\\)`,
      ),
    );
  });
});
