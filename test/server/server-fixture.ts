/**
 * The project the server tests share: the notes example with an allowed-signers file naming
 * alice (who deploys), bob (who approves) and vera (who views), r1 deployed to staging by alice,
 * and a personal token per role (made through `airlock token create`, as a person would).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { Session } from '../../src/cli/session.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import { exampleProject, type TestProject } from '../helpers/project.ts';

export type Role = 'deployer' | 'approver' | 'viewer';

export interface ServerFixture {
  project: TestProject;
  /** alice's session on the project. */
  session: Session;
  /** Token by role: alice deploys, bob approves, vera views. */
  tokens: Record<Role, string>;
}

function publicKey(dir: string, name: string): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
}

/** Builds the shared project (call it in `beforeAll`; `project.cleanup()` in `afterAll`). */
export async function serverProject(): Promise<ServerFixture> {
  const project = await exampleProject();
  const keys = mkdtempSync(path.join(os.tmpdir(), 'airlock-keys-'));
  project.commitFiles(
    {
      '.approvals/allowed_signers': ['alice', 'bob', 'vera']
        .map((p) => `${p} ${publicKey(keys, p)}`)
        .join('\n'),
    },
    'allowed signers',
  );
  rmSync(keys, { recursive: true, force: true });
  const session = await project.session('alice');
  const staged = await deploy(session.ctx, 'staging', {});
  expect(staged.status, staged.failedStep?.message ?? '').toBe('succeeded');
  const tokens: Record<Role, string> = { deployer: '', approver: '', viewer: '' };
  for (const [role, principal] of [
    ['deployer', 'alice'],
    ['approver', 'bob'],
    ['viewer', 'vera'],
  ] as const) {
    const made = await project.cli([
      'token',
      'create',
      '--principal',
      principal,
      '--role',
      role,
      '--json',
    ]);
    expect(made.code, made.stderr).toBe(0);
    tokens[role] = JSON.parse(made.stdout).token;
  }
  return { project, session, tokens };
}
