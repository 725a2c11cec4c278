/**
 * The command provider's own contracts, beyond the shared suite: exactly the documented
 * variables, the URL rules, failures with the exit code and the tail of the output, timeouts
 * and Ctrl-C stopping the whole process group, secrets on standard input only and scrubbed from
 * every message, describe's JSON, and the var and secret names parity compares.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError, ProviderError } from '../../../src/errors.ts';
import { DEPLOY_VARIABLES, lastUrl } from '../../../src/providers/command/command-provider.ts';
import { runCommand } from '../../../src/providers/command/run-command.ts';
import { type CommandProject, commandProject, servedRelease } from './command-test-helpers.ts';

async function failure(p: Promise<unknown>): Promise<AirlockError> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AirlockError);
  return error as AirlockError;
}

/** True while `pid` runs (a killed process not yet reaped, a zombie, does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** `KEY=value` lines of an `env` dump as a map. */
function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

describe('command provider', () => {
  let project: CommandProject;
  beforeEach(() => {
    project = commandProject();
  });
  afterEach(() => {
    project.cleanup();
  });

  it('runs the deploy command in the service folder with exactly the documented variables and the vars', async () => {
    const dump = path.join(project.dir, 'env.txt');
    writeFileSync(
      path.join(project.serviceDir, 'dump.sh'),
      `#!/bin/sh\nenv > "${dump}"\necho "cwd=$(pwd)" >> "${dump}"\necho deployed\necho https://web-staging.example.com/\n`,
      { mode: 0o755 },
    );
    const d = project.deployment('staging', 'r1', {
      settings: { deploy: './dump.sh' },
      env: { LOG_LEVEL: 'debug', DATABASE_URL: 'file:///tmp/web.db', AIRLOCK_EXTRA: 'dropped' },
    });
    const outcome = await project.provider().deploy(d);
    expect(outcome).toMatchObject({
      url: 'https://web-staging.example.com/',
      previousRelease: null,
    });
    const env = parseEnv(readFileSync(dump, 'utf8'));
    const airlock = Object.keys(env)
      .filter((k) => k.startsWith('AIRLOCK_'))
      .sort();
    expect(airlock).toEqual([...DEPLOY_VARIABLES].sort());
    expect(env).toMatchObject({
      AIRLOCK_ARTIFACT_DIR: d.artifactDir,
      AIRLOCK_ENV: 'staging',
      AIRLOCK_SERVICE: 'web',
      AIRLOCK_RELEASE: 'r1',
      AIRLOCK_COMMIT: 'c'.repeat(40),
      AIRLOCK_DIGEST: d.release.digest,
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'file:///tmp/web.db',
      TRANSCRIPT: project.transcriptFile,
      cwd: project.serviceDir,
    });
    // Recorded for describe: release and URL only.
    const record = JSON.parse(
      readFileSync(path.join(project.home, 'envs', 'staging', 'command', 'web.json'), 'utf8'),
    );
    expect(record).toMatchObject({
      release: 'r1',
      url: 'https://web-staging.example.com/',
      secrets: [],
    });
  });

  it('takes the last line that is a URL, else the last URL in the output; command.url wins', async () => {
    expect(
      lastUrl('Deploying…\nhttps://a.example.com\nLogs: https://dash.example.com/logs\n'),
    ).toBe('https://a.example.com');
    expect(lastUrl('Visit your newly deployed app at https://app.fly.dev/.\n')).toBe(
      'https://app.fly.dev/',
    );
    expect(lastUrl('no url here')).toBeNull();

    const provider = project.provider();
    const print = { deploy: 'echo https://printed.example.com' };
    expect(
      (await provider.deploy(project.deployment('staging', 'r1', { settings: print }))).url,
    ).toBe('https://printed.example.com');
    expect(
      (
        await provider.deploy(
          project.deployment('staging', 'r2', {
            settings: { ...print, url: 'https://fixed.example.com' },
          }),
        )
      ).url,
    ).toBe('https://fixed.example.com');
    expect(
      (
        await provider.deploy(
          project.deployment('staging', 'r1', {
            settings: { ...print, url: 'echo "https://$AIRLOCK_ENV.from-command.example.com"' },
          }),
        )
      ).url,
    ).toBe('https://staging.from-command.example.com');
    const none = await failure(
      provider.deploy(project.deployment('production', 'r1', { settings: { deploy: 'echo ok' } })),
    );
    expect(none).toMatchObject({ code: 'PROVIDER_COMMAND_FAILED' });
    expect(none.message).toContain('printed no URL');
    expect(none.hint).toContain('command.url');
  });

  it('a failing command is PROVIDER_COMMAND_FAILED with its exit code and the tail of its output', async () => {
    const provider = project.provider();
    await provider.deploy(project.deployment('staging', 'r1'));
    const error = await failure(
      provider.deploy(
        project.deployment('staging', 'r2', {
          settings: {
            deploy:
              'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "line $i"; done; echo "boom: no quota" >&2; exit 7',
          },
        }),
      ),
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.code).toBe('PROVIDER_COMMAND_FAILED');
    expect(error.message).toMatch(/^deploy command `for i in .*` \(staging\/web\) exited 7:\n/);
    expect(error.message).toContain('    boom: no quota');
    expect(error.message).toContain('    line 12');
    expect(error.message).not.toContain('line 2\n');
    expect(error.details).toMatchObject({ command: 'deploy', exitCode: 7 });
    // The previous release keeps serving, and describe says so.
    expect((await provider.describe(project.target('staging'))).release).toBe('r1');
  });

  it('a command that runs too long is stopped with its whole process group', async () => {
    const marker = path.join(project.dir, 'child.pid');
    const error = await failure(
      project.provider().deploy(
        project.deployment('staging', 'r1', {
          settings: {
            deploy: `sleep 30 & echo $! > "${marker}"; echo waiting; wait`,
            timeoutMs: 300,
          },
        }),
      ),
    );
    expect(error.code).toBe('PROVIDER_COMMAND_FAILED');
    expect(error.message).toContain('timed out after 300 ms and was stopped:\n    waiting');
    expect(error.hint).toContain('command.timeoutMs');
    const pid = Number(readFileSync(marker, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    expect(running(pid)).toBe(false);
  });

  it('Ctrl-C (the abort signal) stops the command: DEPLOY_ABORTED', async () => {
    const controller = new AbortController();
    const started = project
      .provider()
      .deploy(
        project.deployment('staging', 'r1', { settings: { deploy: 'echo started; sleep 30' } }),
        {
          signal: controller.signal,
          onProgress: (line) => {
            if (line === 'started') controller.abort();
          },
        },
      );
    const error = await failure(started);
    expect(error.code).toBe('DEPLOY_ABORTED');
    expect((await project.provider().describe(project.target('staging'))).release).toBeNull();
  });

  it('passes each secret on standard input only; echoed values are scrubbed from errors and progress', async () => {
    const value = 'hunter2-value-7c1e';
    const provider = project.provider();
    const lines: string[] = [];
    const set = await provider.setSecrets(
      project.target('staging'),
      { SENTRY_DSN: value, API_KEY: `${value}-api` },
      { onProgress: (line) => lines.push(line) },
    );
    expect(set.set).toEqual(['API_KEY', 'SENTRY_DSN']);
    expect(
      readFileSync(
        path.join(project.platformDir, 'staging', 'web', 'secrets', 'SENTRY_DSN'),
        'utf8',
      ),
    ).toBe(value);
    expect(lines).toContain('set SENTRY_DSN on staging');
    expect(await provider.secretNames(project.target('staging'))).toEqual([
      'API_KEY',
      'SENTRY_DSN',
    ]);
    expect(await provider.secretNames(project.target('production'))).toEqual([]);
    const transcript = project.transcript();
    expect(transcript).toContain('AIRLOCK_SECRET_NAME=SENTRY_DSN');
    expect(transcript).not.toContain(value);

    // A command that prints the value and fails: the value appears nowhere in the error.
    const leaky = await failure(
      provider.setSecrets(
        project.target('staging', {
          secrets: 'read v; echo "got $v for $AIRLOCK_SECRET_NAME"; exit 2',
        }),
        { TOKEN: value },
        { onProgress: (line) => lines.push(line) },
      ),
    );
    expect(leaky.code).toBe('PROVIDER_COMMAND_FAILED');
    expect(leaky.message).toContain('got *** for TOKEN');
    expect(JSON.stringify(leaky.toJSON())).not.toContain(value);
    expect(lines.join('\n')).not.toContain(value);
    expect(await provider.secretNames(project.target('staging'))).not.toContain('TOKEN');

    // Without a secrets command, Airlock says how to give it one.
    const none = await failure(
      provider.setSecrets(project.target('staging', { secrets: null }), { X: 'y' }),
    );
    expect(none).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(none.hint).toContain('command.secrets');
  });

  it('scrubs a multi-line secret line by line', async () => {
    const pem = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----';
    const result = await runCommand('cat; echo; exit 1', {
      cwd: project.dir,
      env: { PATH: process.env.PATH ?? '' },
      input: pem,
      timeoutMs: 5000,
      scrub: [pem],
    });
    expect(result.tail.join('\n')).not.toContain('MIIBOgIBAAJBAKj34GkxFhD9');
    expect(result.stdout).not.toContain('MIIBOgIBAAJBAKj34GkxFhD9');
  });

  it("describe prints the describe command's JSON; an unparseable answer is an error", async () => {
    const provider = project.provider();
    const describeCommand = `echo '{"release":"r9","url":"https://x.example.com","healthy":false,"since":"2026-01-01T00:00:00.000Z"}'`;
    expect(
      await provider.describe(project.target('staging', { describe: describeCommand })),
    ).toMatchObject({
      release: 'r9',
      url: 'https://x.example.com',
      healthy: false,
      since: '2026-01-01T00:00:00.000Z',
    });
    expect(
      await provider.describe(project.target('staging', { describe: `echo '{"release":null}'` })),
    ).toMatchObject({ release: null, healthy: false });
    const bad = await failure(
      provider.describe(project.target('staging', { describe: 'echo not json' })),
    );
    expect(bad.code).toBe('PROVIDER_COMMAND_FAILED');
    expect(bad.message).toContain('printed no JSON object');
  });

  it('rolls back with command.rollback when set (the earlier release in AIRLOCK_RELEASE), else the deploy command', async () => {
    const provider = project.provider();
    await provider.deploy(project.deployment('staging', 'r1'));
    const r2 = await provider.deploy(project.deployment('staging', 'r2'));
    expect(await servedRelease(r2.url)).toBe('r2');
    const back = await provider.rollback(
      project.deployment('staging', 'r1', {
        kind: 'rollback',
        settings: { rollback: 'echo "rollback to $AIRLOCK_RELEASE" >> "$TRANSCRIPT"; ./deploy.sh' },
      }),
    );
    expect(back.previousRelease).toBe('r2');
    expect(await servedRelease(back.url)).toBe('r1');
    expect(project.transcript()).toContain('rollback to r1');
  });

  it('platformConfig: var names from airlock.yaml and the secret names, never values', async () => {
    const provider = project.provider({
      vars: { staging: { LOG_LEVEL: 'debug', FEATURE_X: 'on' }, production: { LOG_LEVEL: 'info' } },
    });
    await provider.setSecrets(project.target('staging'), { SENTRY_DSN: 'dsn-value-1234' });
    const staging = await provider.platformConfig(project.target('staging'));
    expect(staging).toMatchObject({
      settings: {},
      bindings: {},
      vars: ['FEATURE_X', 'LOG_LEVEL'],
      secrets: ['SENTRY_DSN'],
    });
    expect(JSON.stringify(staging)).not.toContain('dsn-value-1234');
    expect(JSON.stringify(staging)).not.toContain('debug');
    expect((await provider.platformConfig(project.target('production'))).vars).toEqual([
      'LOG_LEVEL',
    ]);
    expect(existsSync(staging.sources[0] as string)).toBe(true);
  });
});
