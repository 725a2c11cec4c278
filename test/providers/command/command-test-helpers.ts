// A project folder for the command-provider tests: the user's scripts (deploy.sh,
// set-secret.sh and the tiny platform they drive) in the service folder, one artifact folder
// per release of the version app, and a transcript of everything the scripts were given.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResolvedService } from '../../../src/config/resolve.ts';
import { CommandProvider } from '../../../src/providers/command/command-provider.ts';
import type { ServiceDeployment, ServiceTarget } from '../../../src/providers/provider.ts';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/command/', import.meta.url));

export type CommandSettings = Extract<ResolvedService['provider'], { provider: 'command' }>;

export interface CommandProject {
  dir: string;
  home: string;
  serviceDir: string;
  platformDir: string;
  transcriptFile: string;
  /** The environment the provider's commands start from. */
  env: Record<string, string>;
  provider(options?: { vars?: Record<string, Record<string, string>> }): CommandProvider;
  target(environment: string, settings?: Partial<CommandSettings>): ServiceTarget;
  /** An artifact folder of the version app for `release` (`broken`: it exits at once). */
  artifact(release: string): string;
  deployment(
    environment: string,
    release: string,
    options?: {
      kind?: ServiceDeployment['kind'];
      settings?: Partial<CommandSettings>;
      env?: Record<string, string>;
    },
  ): ServiceDeployment;
  /** The transcript, Airlock's records and the platform's logs (not its secret store). */
  transcript(): string;
  /** Stops every app process the platform started. */
  stopAll(): void;
  cleanup(): void;
}

export const DEFAULT_SETTINGS: CommandSettings = {
  provider: 'command',
  deploy: './deploy.sh',
  rollback: null,
  url: null,
  describe: null,
  secrets: './set-secret.sh',
  timeoutMs: 30_000,
};

export function commandProject(): CommandProject {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-command-'));
  const home = path.join(dir, '.airlock');
  const serviceDir = path.join(dir, 'web');
  const platformDir = path.join(dir, 'platform');
  const transcriptFile = path.join(dir, 'transcript.log');
  mkdirSync(serviceDir, { recursive: true });
  for (const file of ['deploy.sh', 'set-secret.sh', 'platform.mjs'])
    copyFileSync(path.join(FIXTURES, file), path.join(serviceDir, file));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    TRANSCRIPT: transcriptFile,
    PLATFORM_DIR: platformDir,
    APP_RUN: 'node server.mjs',
    APP_HEALTH: '/health',
    // Inherited AIRLOCK_* variables never reach a command: only the documented ones do.
    AIRLOCK_STATE_URL: 'postgres://airlock:inherited@db.invalid/airlock',
  };
  const artifact = (release: string) => {
    const folder = path.join(dir, 'artifacts', release);
    mkdirSync(folder, { recursive: true });
    copyFileSync(path.join(FIXTURES, 'version-app.mjs'), path.join(folder, 'server.mjs'));
    if (release === 'broken') writeFileSync(path.join(folder, 'BROKEN'), '');
    return folder;
  };
  const target = (environment: string, settings: Partial<CommandSettings> = {}): ServiceTarget => ({
    environment,
    service: 'web',
    port: 0,
    projectDir: dir,
    serviceDir,
    settings: { ...DEFAULT_SETTINGS, ...settings },
  });
  const readAll = (folder: string, skip: (file: string) => boolean): string[] => {
    let entries: string[] = [];
    try {
      entries = readdirSync(folder, { recursive: true, encoding: 'utf8' });
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const rel of entries) {
      const file = path.join(folder, rel);
      if (skip(file)) continue;
      try {
        out.push(`--- ${file}\n${readFileSync(file, 'utf8')}`);
      } catch {
        // a folder
      }
    }
    return out;
  };
  return {
    dir,
    home,
    serviceDir,
    platformDir,
    transcriptFile,
    env,
    provider: (options = {}) =>
      new CommandProvider({
        home,
        env,
        varsOf: (t) => options.vars?.[t.environment] ?? {},
      }),
    target,
    artifact,
    deployment(environment, release, options = {}) {
      const id = release === 'broken' ? 'r3' : release;
      return {
        ...target(environment, options.settings),
        kind: options.kind ?? 'deploy',
        release: { id, digest: `${id}`.padEnd(64, '0'), commit: 'c'.repeat(40) },
        artifactDir: artifact(release),
        run: '',
        env: { LOG_LEVEL: 'debug', AIRLOCK_ENV: environment, AIRLOCK_RELEASE: id, ...options.env },
        health: { path: '/health', timeoutMs: 10_000, intervalMs: 50 },
        drainTimeoutMs: 1000,
        keepWarmMs: 0,
        stopTimeoutMs: 1000,
      };
    },
    transcript: () =>
      [...readAll(dir, (file) => file.includes(`${path.sep}secrets${path.sep}`))].join('\n'),
    stopAll() {
      let pids: string[] = [];
      try {
        pids = readFileSync(path.join(platformDir, 'pids'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return;
      }
      for (const pid of pids) {
        try {
          process.kill(-Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
    },
    cleanup() {
      this.stopAll();
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    },
  };
}

/** The release a URL of the version app serves (GET /version), or null when unreachable. */
export async function servedRelease(url: string): Promise<string | null> {
  try {
    const response = await fetch(`${url}/version`, { signal: AbortSignal.timeout(2000) });
    return ((await response.json()) as { release: string }).release;
  } catch {
    return null;
  }
}
