/**
 * A seed-003 project for the fly provider's tests, against the FAKE flyctl: a service folder with
 * fly.staging.toml (app notes-staging) beside fly.toml (app notes), a Dockerfile, and releases
 * packaged the way `airlock build` does it (a clean checkout per release whose build output
 * receives fly-image.json from packageRelease).
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FlyProvider } from '../../../src/providers/fly/fly-provider.ts';
import type { ServiceDeployment, ServiceTarget } from '../../../src/providers/provider.ts';
import { type FakeCliEnv, fakeCliEnv } from '../../fakes/cli/fake-cli-env.ts';

export const flyToml = (app: string, env: string, logLevel: string) => `app = "${app}"
primary_region = "syd"

[build]

[env]
  APP_ENV = "${env}"
  LOG_LEVEL = "${logLevel}"

[http_service]
  internal_port = 8080
  force_https = true
  auto_stop_machines = false
  auto_start_machines = true
  min_machines_running = 1
  processes = ["app"]

  [[http_service.checks]]
    grace_period = "5s"
    interval = "10s"
    method = "GET"
    path = "/health"
    timeout = "2s"

[[vm]]
  memory = "1gb"
  cpu_kind = "shared"
  cpus = 1
`;

export const FLY_TOKEN = 'fo1_FAKEtokenForTests0123456789abcdef';

export interface FlyTestProject {
  fake: FakeCliEnv;
  projectDir: string;
  serviceDir: string;
  provider: FlyProvider;
  /** Progress lines every call passed on (for "never printed" assertions). */
  lines: string[];
  target(environment: string): ServiceTarget;
  /** Packages a release like `airlock build`: a checkout of its source, output `dist/`. */
  packageRelease(id: string, options?: { broken?: boolean }): Promise<string>;
  deployment(
    environment: string,
    release: string,
    kind?: ServiceDeployment['kind'],
  ): ServiceDeployment;
  cleanup(): void;
}

export async function flyTestProject(
  options: { env?: Record<string, string>; token?: boolean; registryUrl?: string } = {},
): Promise<FlyTestProject> {
  const fake = fakeCliEnv({ flyApps: ['notes-staging', 'notes'] });
  const projectDir = mkdtempSync(path.join(os.tmpdir(), 'airlock-fly-'));
  const serviceDir = path.join(projectDir, 'web');
  mkdirSync(serviceDir, { recursive: true });
  writeFileSync(
    path.join(serviceDir, 'fly.staging.toml'),
    flyToml('notes-staging', 'staging', 'debug'),
  );
  writeFileSync(path.join(serviceDir, 'fly.toml'), flyToml('notes', 'production', 'info'));
  writeFileSync(
    path.join(serviceDir, 'Dockerfile'),
    'FROM node:24-slim\nWORKDIR /app\nCOPY . .\nCMD ["node", "server.js"]\n',
  );
  const artifacts = new Map<string, string>();
  const lines: string[] = [];
  const provider = new FlyProvider({
    env: {
      ...fake.env,
      ...(options.token === false ? {} : { FLY_API_TOKEN: FLY_TOKEN }),
      ...options.env,
    },
    buildOutputs: { web: 'dist' },
    peers: () => ['staging', 'production'].map((environment) => target(environment)),
    ...(options.registryUrl ? { registryUrl: options.registryUrl } : {}),
  });
  function target(environment: string): ServiceTarget {
    return {
      environment,
      service: 'web',
      port: 0,
      projectDir,
      serviceDir,
      settings: { provider: 'fly', config: null, app: null, url: null },
    };
  }
  return {
    fake,
    projectDir,
    serviceDir,
    provider,
    lines,
    target,
    async packageRelease(id, opts = {}) {
      // The clean checkout `airlock build` makes: the service folder at this release's commit.
      const checkout = path.join(projectDir, '.airlock', 'checkouts', id, 'web');
      mkdirSync(checkout, { recursive: true });
      cpSync(serviceDir, checkout, { recursive: true });
      writeFileSync(path.join(checkout, 'server.js'), `// release ${id}\nconsole.log('${id}');\n`);
      if (opts.broken) writeFileSync(path.join(checkout, 'FAKE_BROKEN'), 'boot fails\n');
      const output = path.join(checkout, 'dist');
      mkdirSync(output, { recursive: true });
      writeFileSync(path.join(output, 'server.js'), `// release ${id}\n`);
      await provider.packageRelease(
        target('staging'),
        output,
        { commit: commitOf(id), dirty: false },
        { onProgress: (line) => lines.push(line) },
      );
      artifacts.set(id, output);
      return output;
    },
    deployment(environment, release, kind = 'deploy') {
      const artifactDir = artifacts.get(release);
      if (!artifactDir) throw new Error(`release ${release} is not packaged`);
      return {
        ...target(environment),
        kind,
        release: { id: release, digest: digestOf(release), commit: commitOf(release) },
        artifactDir,
        run: '',
        env: {
          LOG_LEVEL: environment === 'staging' ? 'debug' : 'info',
          DATABASE_URL: `postgres://app:pw-${environment}@db.example.com:5432/notes`,
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
