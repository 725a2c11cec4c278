/**
 * The readers of flyctl's and the Railway CLI's output, on text taken from real transcripts and
 * from the tools' source (not from the FAKEs), and the CLI runner both providers use.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parsePushedImage,
  parseSecretNames,
  parseStatus,
} from '../../src/providers/fly/fly-output.ts';
import { goDuration, runCli } from '../../src/providers/platform-cli.ts';
import { releaseInMessage } from '../../src/providers/railway/railway-commands.ts';
import {
  parseDeployments,
  parseUp,
  parseVariables,
  servingDeployment,
} from '../../src/providers/railway/railway-output.ts';

describe('flyctl output', () => {
  it('reads the pushed image and digest from a real `fly deploy` push (superfly/flyctl#1183)', () => {
    const output = [
      'deployment-1660693181: digest: sha256:33e427a7fdf80d46d0bd26d99dcc401cf0d1b05dd59efa4a4b9a51a9c1efbb97 size: 3684',
      '--> Pushing image done',
      'image: registry.fly.io/expertli-muncher-test:deployment-1660693181',
      'image size: 2.1 GB',
    ].join('\n');
    expect(parsePushedImage(output, 'deployment-1660693181')).toEqual({
      image: 'registry.fly.io/expertli-muncher-test:deployment-1660693181',
      digest: 'sha256:33e427a7fdf80d46d0bd26d99dcc401cf0d1b05dd59efa4a4b9a51a9c1efbb97',
    });
    // Another tag's digest (a cache push) is not ours.
    expect(parsePushedImage(output, 'airlock-x').digest).toBeNull();
  });

  it('reads `fly status --json` (AppStatus with machines, as flyctl renders it)', () => {
    const status = parseStatus(
      JSON.stringify({
        ID: 'shmuel-tech-api',
        Name: 'shmuel-tech-api',
        Status: 'deployed',
        Deployed: true,
        Hostname: 'shmuel-tech-api.fly.dev',
        AppURL: '',
        Version: 12,
        PlatformVersion: 'machines',
        Organization: { Slug: 'personal' },
        Machines: [
          {
            id: '148ed726c17298',
            state: 'started',
            region: 'syd',
            image_ref: {
              registry: 'registry.fly.io',
              repository: 'shmuel-tech-api',
              tag: 'deployment-01H1WEPC0CKJD2HNP5055FXY8P',
              digest: 'sha256:875867fff7acfa5c6a3fc798d9e91b43eb0c660476df1025fb8055019bc2656e',
            },
            created_at: '2026-11-20T10:00:00Z',
            updated_at: '2026-11-21T10:00:00Z',
            config: {
              env: { AIRLOCK_RELEASE: 'r7', PRIMARY_REGION: 'syd' },
              metadata: { fly_process_group: 'app', fly_release_version: '12' },
            },
            checks: [{ name: 'servicecheck-00-http-8080', status: 'passing' }],
          },
          {
            id: 'e784e2dda2dd18',
            state: 'stopped',
            config: { metadata: { fly_process_group: 'release_command' } },
          },
        ],
      }),
    );
    expect(status.hostname).toBe('shmuel-tech-api.fly.dev');
    expect(status.machines[0]).toMatchObject({
      env: { AIRLOCK_RELEASE: 'r7' },
      digest: 'sha256:875867fff7acfa5c6a3fc798d9e91b43eb0c660476df1025fb8055019bc2656e',
      checks: ['passing'],
      processGroup: 'app',
    });
    expect(status.machines[1]).toMatchObject({ processGroup: 'release_command', env: {} });
  });

  it('reads secret names from both shapes of `fly secrets list --json`', () => {
    expect(
      parseSecretNames(
        '[{"Name":"DATABASE_URL","Digest":"d41d8cd98f00b204","CreatedAt":"2026-11-21T10:00:00Z"}]',
      ),
    ).toEqual(['DATABASE_URL']);
    expect(parseSecretNames('[{"name":"B","digest":"x","status":"Staged"},{"name":"A"}]')).toEqual([
      'A',
      'B',
    ]);
    expect(parseSecretNames('null\n')).toEqual([]);
  });
});

describe('Railway CLI output', () => {
  it('reads `up --detach --json`, `deployment list --json` and `variable list --json`', () => {
    expect(
      parseUp(
        '{"deploymentId":"3f1e2d4c-0000-4000-a000-000000000001","logsUrl":"https://railway.com/x"}\n',
      ),
    ).toEqual({
      deploymentId: '3f1e2d4c-0000-4000-a000-000000000001',
      logsUrl: 'https://railway.com/x',
    });
    expect(parseUp('Indexing...\nUploading...\n')).toBeNull();
    const list = parseDeployments(
      JSON.stringify([
        {
          id: 'd3',
          status: 'FAILED',
          createdAt: '2026-11-21T10:03:00Z',
          meta: { commitMessage: 'airlock r3 sha256:0123456789ab 1a2b3c4' },
        },
        {
          id: 'd2',
          status: 'SUCCESS',
          createdAt: '2026-11-21T10:02:00Z',
          meta: { message: 'airlock r2 sha256:abcdefabcdef 9f8e7d6' },
        },
        { id: 'd1', status: 'REMOVED', createdAt: '2026-11-21T10:01:00Z', meta: null },
      ]),
    );
    expect(list.map((d) => d.release)).toEqual(['r3', 'r2', null]);
    expect(servingDeployment(list)?.id).toBe('d2');
    const vars = parseVariables(
      '{"API_KEY":"sk-1","AIRLOCK_RELEASE":"r2","RAILWAY_PUBLIC_DOMAIN":"web-production.up.railway.app"}',
      ['AIRLOCK_RELEASE'],
    );
    expect(vars).toEqual({
      names: ['AIRLOCK_RELEASE', 'API_KEY', 'RAILWAY_PUBLIC_DOMAIN'],
      publicDomain: 'web-production.up.railway.app',
      kept: { AIRLOCK_RELEASE: 'r2' },
    });
    expect(JSON.stringify(vars)).not.toContain('sk-1');
    expect(releaseInMessage('deploy: airlock r12 sha256:00112233445566 abc')).toEqual({
      release: 'r12',
      digest: '00112233445566',
    });
  });
});

describe('platform CLI runner', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-cli-run-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };

  it('passes stdin, masks secrets and tokens in every line it passes on, keeps stdout whole', async () => {
    const bin = script(
      'echoer',
      'read v; echo "got $v"; echo "token=$TOK" >&2; echo \'{"ok":true}\'',
    );
    const lines: string[] = [];
    const result = await runCli({
      bins: [bin],
      args: [],
      cwd: dir,
      env: { PATH: process.env.PATH, TOK: 'tok-123456' },
      stdin: 'secret-value\n',
      redact: ['secret-value', 'tok-123456'],
      onLine: (line) => lines.push(line),
    });
    expect(result.exitCode).toBe(0);
    expect(lines.sort()).toEqual(['got ***', 'token=***', '{"ok":true}'].sort());
    expect(result.stderr).toBe('token=***\n');
    expect(result.stdout).toContain('{"ok":true}');
  });

  it('tries the next executable when one is missing, and reports none found', async () => {
    const bin = script('second', 'echo second');
    const found = await runCli({ bins: ['/nonexistent/fly', bin], args: [], cwd: dir, env: {} });
    expect(found.bin).toBe(bin);
    const none = await runCli({
      bins: ['/nonexistent/a', '/nonexistent/b'],
      args: [],
      cwd: dir,
      env: {},
    });
    expect(none.bin).toBeNull();
  });

  it('stops the whole process group on abort', async () => {
    const bin = script('sleeper', 'sleep 30 & wait');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const result = await runCli({
      bins: [bin],
      args: [],
      cwd: dir,
      env: { PATH: process.env.PATH },
      signal: controller.signal,
    });
    expect(result.aborted).toBe(true);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('formats durations for flyctl', () => {
    expect(goDuration(30_000)).toBe('30s');
    expect(goDuration(1)).toBe('1s');
  });
});
