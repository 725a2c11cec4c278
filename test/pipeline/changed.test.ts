/**
 * `--changed` on a real local project of two services (the command provider deploying into
 * folders, state in SQLite, this checkout's CLI): a service whose artifact and migrations equal
 * those of the release serving it is not redeployed, is reported and audited as unchanged, and
 * is recorded as serving the new release; the promotion of that release holds its gate.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../helpers/local-registry.ts';
import { BIN } from '../helpers/project.ts';

let dir = '';
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.com',
  GIT_COMMITTER_NAME: 'Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.com',
};

function write(files: Record<string, string>, message: string): void {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: dir, env: { ...process.env, ...GIT_ENV } });
  git('add', '-A');
  git('commit', '-q', '-m', message);
}

async function airlock(...args: string[]) {
  const r = await run(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: {
      AIRLOCK_HOME: path.join(dir, '.airlock-home'),
      PLATFORM_DIR: path.join(dir, '.platform'),
    },
  });
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
  return r;
}

/** How many times the platform received `service` in `env`, and the release it serves. */
function platform(env: string, service: string): { deploys: number; release: string | null } {
  const where = path.join(dir, '.platform', env, service);
  const count = path.join(where, 'deploys');
  return {
    deploys: existsSync(count) ? readFileSync(count, 'utf8').trim().split('\n').length : 0,
    release: existsSync(path.join(where, 'release'))
      ? readFileSync(path.join(where, 'release'), 'utf8').trim()
      : null,
  };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-changed-'));
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  write(
    {
      '.gitignore': 'out/\n.platform/\n.airlock-home/\n',
      'api/index.js': "console.log('api 1');\n",
      'web/index.js': "console.log('web 1');\n",
      'build.mjs':
        "import { cpSync } from 'node:fs';\nconst s = process.argv[2];\ncpSync(s, `out/${s}`, { recursive: true });\n",
      // The "platform": a folder per environment and service, and a log of what it received.
      'deploy.sh': `#!/bin/sh
set -eu
dest="$PLATFORM_DIR/$AIRLOCK_ENV/$AIRLOCK_SERVICE"
mkdir -p "$dest"
rm -rf "$dest/files"
cp -R "$AIRLOCK_ARTIFACT_DIR" "$dest/files"
echo "$AIRLOCK_RELEASE" > "$dest/release"
echo "$AIRLOCK_RELEASE" >> "$dest/deploys"
echo "http://127.0.0.1:9/$AIRLOCK_ENV/$AIRLOCK_SERVICE"
`,
      'describe.sh': `#!/bin/sh
set -eu
f="$PLATFORM_DIR/$AIRLOCK_ENV/$AIRLOCK_SERVICE/release"
if [ -f "$f" ]; then printf '{"release":"%s"}\\n' "$(cat "$f")"; else echo '{"release":null}'; fi
`,
      'airlock.yaml': `project: shop
pipeline: [staging, production]
services:
  api:
    build: { command: node build.mjs api, output: out/api }
    command: { deploy: sh deploy.sh, describe: sh describe.sh }
  web:
    build: { command: node build.mjs web, output: out/web }
    command: { deploy: sh deploy.sh, describe: sh describe.sh }
environments:
  staging:
    provider: command
    services:
      api: { vars: { PLATFORM_DIR: "\${PLATFORM_DIR}" } }
      web: { vars: { PLATFORM_DIR: "\${PLATFORM_DIR}" } }
  production:
    provider: command
    promotion: manual
    services:
      api: { vars: { PLATFORM_DIR: "\${PLATFORM_DIR}" } }
      web: { vars: { PLATFORM_DIR: "\${PLATFORM_DIR}" } }
`,
    },
    'shop',
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('deploys and promotes only the services that changed (--changed); the others are skipped, unchanged', async () => {
  await airlock('deploy', 'staging', '--no-follow', '--yes');
  await airlock('promote', 'production', '--yes');
  expect(platform('production', 'api')).toEqual({ deploys: 1, release: 'r1' });

  // Only web changes: r2's api artifact is r1's, byte for byte.
  write({ 'web/index.js': "console.log('web 2');\n" }, 'web 2');
  const staged = await airlock('deploy', 'staging', '--changed', '--no-follow', '--yes', '--json');
  const result = JSON.parse(staged.stdout) as {
    status: string;
    release: { id: string };
    unchanged: Record<string, string>;
    serving: Record<string, string>;
    steps: { name: string; status: string; message: string | null }[];
  };
  expect(result.status).toBe('succeeded');
  expect(result.release.id).toBe('r2');
  expect(result.unchanged).toEqual({ api: 'r1' });
  // Recorded as serving r2 (the same bytes), never sent to the platform again.
  expect(result.serving).toEqual({ api: 'r2', web: 'r2' });
  expect(platform('staging', 'api')).toEqual({ deploys: 1, release: 'r1' });
  expect(platform('staging', 'web')).toEqual({ deploys: 2, release: 'r2' });
  const skip = result.steps.find((s) => s.name === 'unchanged:api');
  expect(skip?.status).toBe('succeeded');
  expect(skip?.message).toMatch(
    /^skipped, unchanged: the artifact \(sha256:[0-9a-f]{12}\) and migrations are those of r1/,
  );
  expect(result.steps.map((s) => s.name)).not.toContain('deploy:api');

  // The promotion: its gate holds (staging's api platform still says r1, with r2's artifact),
  // and production skips api too; the human output says so.
  const promoted = await airlock('promote', 'production', '--changed', '--yes');
  expect(promoted.stdout).toContain('r2 promoted to production');
  expect(promoted.stdout).toContain(
    'Skipped, unchanged (same artifact as the release serving them): api (r1).',
  );
  expect(platform('production', 'api')).toEqual({ deploys: 1, release: 'r1' });
  expect(platform('production', 'web')).toEqual({ deploys: 2, release: 'r2' });

  // The audit records what was skipped.
  const auditLog = await airlock('history', '--json');
  const events = (
    JSON.parse(auditLog.stdout) as {
      events: { action: string; releaseId: string; detail: { unchanged?: unknown } }[];
    }
  ).events.filter(
    (e) => /^(deployment|promotion)\.succeeded$/.test(e.action) && e.releaseId === 'r2',
  );
  expect(events.map((e) => [e.action, e.detail.unchanged])).toEqual([
    ['promotion.succeeded', { api: 'r1' }],
    ['deployment.succeeded', { api: 'r1' }],
  ]);

  // Now only api changes: it is deployed, web (r2's bytes) is skipped.
  write({ 'api/index.js': "console.log('api 3');\n" }, 'api 3');
  const all = JSON.parse(
    (await airlock('deploy', 'staging', '--changed', '--no-follow', '--yes', '--json')).stdout,
  );
  expect(all.unchanged).toEqual({ web: 'r2' });
  expect(platform('staging', 'api')).toEqual({ deploys: 2, release: 'r3' });
  expect(platform('staging', 'web')).toEqual({ deploys: 2, release: 'r2' });
});
