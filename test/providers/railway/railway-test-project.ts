/**
 * A seed-001 project for the railway provider's tests, against the FAKE Railway CLI: one Railway
 * project with staging and production environments, a service `web`, one project token per
 * environment (RAILWAY_TOKEN_STAGING, RAILWAY_TOKEN_PRODUCTION: credentials never shared), and
 * release artifacts as `airlock build` stores them (a folder of built files with railway.json).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServiceDeployment, ServiceTarget } from '../../../src/providers/provider.ts';
import { RailwayProvider } from '../../../src/providers/railway/railway-provider.ts';
import { type FakeCliEnv, fakeCliEnv } from '../../fakes/cli/fake-cli-env.ts';

export const STAGING_TOKEN = 'rw-staging-7c1d9e2f-0a4b-4c3d-9e8f-FAKE';
export const PRODUCTION_TOKEN = 'rw-production-3b5a1c9d-7e6f-4a2b-8c1d-FAKE';

export const RAILWAY_JSON = {
  $schema: 'https://railway.com/railway.schema.json',
  build: { builder: 'RAILPACK' },
  deploy: {
    startCommand: 'node server.js',
    healthcheckPath: '/health',
    healthcheckTimeout: 100,
    restartPolicyType: 'ON_FAILURE',
    numReplicas: 1,
  },
  environments: { production: { deploy: { numReplicas: 2 } } },
};

export interface RailwayTestProject {
  fake: FakeCliEnv;
  projectDir: string;
  serviceDir: string;
  home: string;
  provider: RailwayProvider;
  lines: string[];
  target(environment: string): ServiceTarget;
  artifact(id: string, options?: { broken?: boolean }): string;
  deployment(
    environment: string,
    release: string,
    kind?: ServiceDeployment['kind'],
  ): ServiceDeployment;
  cleanup(): void;
}

export function railwayTestProject(
  options: {
    env?: Record<string, string>;
    tokens?: boolean;
    scopedTokens?: boolean;
    /** Airlock environment → Railway environment (default: the same name). */
    railwayEnvironments?: Record<string, string>;
  } = {},
): RailwayTestProject {
  const fake = fakeCliEnv({
    railway: {
      project: 'archon-api',
      environments: ['staging', 'production'],
      services: ['web'],
      tokens:
        options.scopedTokens === false
          ? {}
          : { [STAGING_TOKEN]: 'staging', [PRODUCTION_TOKEN]: 'production' },
    },
  });
  const projectDir = mkdtempSync(path.join(os.tmpdir(), 'airlock-railway-'));
  const serviceDir = path.join(projectDir, 'web');
  const home = path.join(projectDir, '.airlock');
  mkdirSync(serviceDir, { recursive: true });
  writeFileSync(
    path.join(serviceDir, 'railway.json'),
    `${JSON.stringify(RAILWAY_JSON, null, 2)}\n`,
  );
  const artifacts = new Map<string, string>();
  const lines: string[] = [];
  const provider = new RailwayProvider({
    env: {
      ...fake.env,
      ...(options.tokens === false
        ? {}
        : { RAILWAY_TOKEN_STAGING: STAGING_TOKEN, RAILWAY_TOKEN_PRODUCTION: PRODUCTION_TOKEN }),
      ...options.env,
    },
    home,
    varsOf: () => ['LOG_LEVEL'],
    pollIntervalMs: 5,
    peers: () => ['staging', 'production'].map((environment) => target(environment)),
  });
  function target(environment: string): ServiceTarget {
    return {
      environment,
      service: 'web',
      port: 0,
      projectDir,
      serviceDir,
      settings: {
        provider: 'railway',
        project: null,
        environment: options.railwayEnvironments?.[environment] ?? environment,
        service: 'web',
        url: null,
      },
    };
  }
  return {
    fake,
    projectDir,
    serviceDir,
    home,
    provider,
    lines,
    target,
    artifact(id, opts = {}) {
      const dir = path.join(home, 'artifacts', id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'server.js'), `// release ${id}\n`);
      writeFileSync(path.join(dir, 'railway.json'), `${JSON.stringify(RAILWAY_JSON, null, 2)}\n`);
      if (opts.broken) writeFileSync(path.join(dir, 'FAKE_BROKEN'), 'exits at boot\n');
      artifacts.set(id, dir);
      return dir;
    },
    deployment(environment, release, kind = 'deploy') {
      const artifactDir = artifacts.get(release) ?? this.artifact(release);
      return {
        ...target(environment),
        kind,
        release: { id: release, digest: digestOf(release), commit: commitOf(release) },
        artifactDir,
        run: '',
        env: {
          LOG_LEVEL: environment === 'staging' ? 'debug' : 'info',
          DATABASE_URL: `postgres://app:pw-${environment}@db.supabase.example:5432/postgres`,
          AIRLOCK_ENV: environment,
          AIRLOCK_SERVICE: 'web',
          AIRLOCK_RELEASE: release,
          AIRLOCK_COMMIT: commitOf(release),
          AIRLOCK_DIGEST: digestOf(release),
        },
        health: { path: '/health', timeoutMs: 30_000, intervalMs: 100 },
        drainTimeoutMs: 30_000,
        keepWarmMs: 0,
        stopTimeoutMs: 10_000,
      };
    },
    cleanup() {
      fake.cleanup();
      rmSync(projectDir, { recursive: true, force: true });
    },
  };
}

export const commitOf = (release: string) =>
  createHash('sha1').update(`commit:${release}`).digest('hex');
export const digestOf = (release: string) =>
  createHash('sha256').update(`artifact:${release}`).digest('hex');
