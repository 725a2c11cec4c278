/**
 * `airlock secret set | list` through the real CLI on the example project (local provider):
 * the value comes from stdin only and is never printed, audited or stored in Airlock's state.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';
import { BIN, projectHome } from '../helpers/project.ts';

const VALUE = 'whsec_cli-secret-value-7d1e';

/** Runs the CLI with `input` on stdin. */
function cliWithInput(
  dir: string,
  args: string[],
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: dir,
        env: { ...process.env, CI: '1', NO_COLOR: '1', AIRLOCK_ACTOR: 'dev@airlock.demo' },
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout,
          stderr,
        }),
    );
    child.stdin?.end(input);
  });
}

describe('airlock secret', () => {
  projectTest(
    'sets a secret from stdin, lists names only, and keeps the value out of output and state',
    async ({ project }) => {
      const set = await cliWithInput(
        project.dir,
        ['secret', 'set', 'staging', 'WEBHOOK_SECRET'],
        `${VALUE}\n`,
      );
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toContain('WEBHOOK_SECRET set for notes on staging (local)');
      const list = await project.cli(['secret', 'list', 'staging']);
      expect(list.stdout).toContain('notes on staging: WEBHOOK_SECRET');
      expect((await project.cli(['secret', 'list', 'production'])).stdout).toContain(
        'notes on production has no secrets.',
      );
      const history = await project.cli(['history', '--json']);
      expect(history.stdout).toContain('secret.set');
      for (const text of [set.stdout, set.stderr, list.stdout, history.stdout])
        expect(text).not.toContain(VALUE);
      const state = readFileSync(path.join(projectHome(project.dir), 'state.db'));
      expect(state.includes(Buffer.from(VALUE))).toBe(false);
    },
  );

  projectTest('refuses a bad name and an empty value', async ({ project }) => {
    const bad = await cliWithInput(project.dir, ['secret', 'set', 'staging', '1BAD'], 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"1BAD" is not a secret name.');
    const empty = await cliWithInput(project.dir, ['secret', 'set', 'staging', 'EMPTY'], '');
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('no value for EMPTY on standard input.');
  });
});
