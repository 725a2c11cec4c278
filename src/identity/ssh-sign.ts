/**
 * Signing an approval statement with the approver's SSH key, as git signs commits:
 * `ssh-keygen -Y sign -f <key> -n airlock-approval` (through `runTool`, src/process/run-tool.ts),
 * the statement on standard input and the armored signature on standard output. The key is a
 * private key file, or a public key whose private half an ssh-agent holds (as git's
 * `user.signingkey` may name either, or hold `key::<public key>` literally).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { runTool } from '../process/run-tool.ts';
import { APPROVAL_NAMESPACE } from './approval-statement.ts';

/** Resolves `~/` in a key path the way git does. */
function expandHome(p: string): string {
  return p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

/**
 * Signs `statement` with `key` (a path, or `key::<public key>`) and returns the armored
 * signature.
 * @throws UserError `SIGNING_FAILED` with ssh-keygen's message when it cannot sign (no such
 *   key, a passphrase without an agent, ssh-keygen missing).
 */
export async function signStatement(
  statement: string,
  key: string,
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  let keyFile = expandHome(key);
  let tmp: string | null = null;
  if (key.startsWith('key::')) {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-key-'));
    keyFile = path.join(tmp, 'signing-key.pub');
    writeFileSync(keyFile, `${key.slice('key::'.length)}\n`);
  }
  try {
    const result = await runTool({
      command: 'ssh-keygen',
      args: ['-q', '-Y', 'sign', '-f', keyFile, '-n', APPROVAL_NAMESPACE],
      stdin: statement,
      timeoutMs: options.timeoutMs ?? 30_000,
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    if (result.spawnError || result.exitCode !== 0 || !result.stdout.includes('SSH SIGNATURE')) {
      const why = result.spawnError
        ? result.spawnError.code === 'ENOENT'
          ? 'ssh-keygen was not found on PATH (it comes with OpenSSH).'
          : result.spawnError.message
        : result.timedOut
          ? 'ssh-keygen did not finish within 30 s (waiting for a passphrase?).'
          : result.stderr.trim() || `ssh-keygen exited with ${result.exitCode}.`;
      throw new UserError('SIGNING_FAILED', `Could not sign the approval with ${key}: ${why}`, {
        hint: 'Sign with an SSH key ssh-keygen can use without a prompt: `--key ~/.ssh/id_ed25519` (or its .pub with the key in ssh-agent), or set git config user.signingkey.',
      });
    }
    return result.stdout.trim();
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
