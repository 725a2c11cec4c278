// Shared helpers of the cloudflare provider tests: a Worker project in a temporary folder (its
// wrangler.toml in seed 000's layout, and "built" releases with their airlock-worker.json),
// targets and deployments as the pipeline hands them over.
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildWorkerManifest,
  WORKER_MANIFEST,
} from '../../../src/providers/cloudflare/worker-release.ts';
import type { ServiceDeployment, ServiceTarget } from '../../../src/providers/provider.ts';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** seed 000: the top level is staging (its own D1 database), [env.production] is production. */
export const SEED_000_WRANGLER = `name = "notes-worker"
main = "src/index.js"
compatibility_date = "2025-01-01"

# Default = staging
[vars]
GREETING = "hello from staging"

[[d1_databases]]
binding = "DB"
database_name = "notes-db-staging"
database_id = "00000000-0000-4000-8000-00000000aaaa"

[env.production]
[env.production.vars]
GREETING = "hello from production"

[[env.production.d1_databases]]
binding = "DB"
database_name = "notes-db-prod"
database_id = "00000000-0000-4000-8000-00000000bbbb"
`;

/** A Worker that reports its release (from the vars Airlock binds) and answers /health. */
export function workerSource(release: string): string {
  return `// release ${release}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/health') return new Response('ok');
    if (url.pathname === '/version') {
      return Response.json({
        release: env.AIRLOCK_RELEASE ?? null,
        digest: env.AIRLOCK_DIGEST ?? null,
        environment: env.AIRLOCK_ENV ?? null,
        greeting: env.GREETING ?? null,
        secret: env.API_KEY ? 'set' : 'unset',
      });
    }
    return new Response('not found', { status: 404 });
  },
};
`;
}

export interface WorkerProject {
  dir: string;
  home: string;
  /** A built release: its artifact folder (bundle + airlock-worker.json). */
  release(id: string, source?: string): { dir: string; digest: string };
}

/**
 * A Worker project in a temporary folder with `node_modules` linked to Airlock's own (so its
 * wrangler is the pinned one, found as `npx` would find it), unless `wrangler` says otherwise.
 */
export function workerProject(
  options: { wranglerToml?: string; linkNodeModules?: boolean } = {},
): WorkerProject {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-cf-'));
  const home = path.join(dir, '.airlock');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(dir, 'wrangler.toml'), options.wranglerToml ?? SEED_000_WRANGLER);
  if (options.linkNodeModules !== false)
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return {
    dir,
    home,
    release(id, source = workerSource(id)) {
      const out = path.join(dir, 'builds', id);
      mkdirSync(out, { recursive: true });
      writeFileSync(path.join(out, 'index.js'), source);
      const manifest = buildWorkerManifest(dir, path.join(dir, 'wrangler.toml'), out);
      writeFileSync(path.join(out, WORKER_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
      const digest = createHash('sha256');
      for (const f of readdirSync(out).sort())
        digest.update(f).update(readFileSync(path.join(out, f)));
      return { dir: out, digest: digest.digest('hex') };
    },
  };
}

export function cloudflareTarget(
  project: WorkerProject,
  environment: string,
  mode: 'local' | 'remote',
  port: number,
): ServiceTarget {
  return {
    environment,
    service: 'web',
    port,
    projectDir: project.dir,
    serviceDir: project.dir,
    settings: {
      provider: 'cloudflare',
      config: null,
      env: environment === 'staging' ? null : environment,
      mode,
      accountId: null,
    },
  };
}

export function cloudflareDeployment(
  target: ServiceTarget,
  release: { id: string; dir: string; digest: string },
  kind: ServiceDeployment['kind'] = 'deploy',
  options: { healthTimeoutMs?: number; keepWarmMs?: number } = {},
): ServiceDeployment {
  return {
    ...target,
    kind,
    release: { id: release.id, digest: release.digest, commit: 'c'.repeat(40) },
    artifactDir: release.dir,
    run: '',
    env: {
      AIRLOCK_ENV: target.environment,
      AIRLOCK_SERVICE: target.service,
      AIRLOCK_RELEASE: release.id,
      AIRLOCK_COMMIT: 'c'.repeat(40),
      AIRLOCK_DIGEST: release.digest,
      DATABASE_URL: `d1:${target.environment}/${target.service}`,
    },
    health: { path: '/health', timeoutMs: options.healthTimeoutMs ?? 30_000, intervalMs: 100 },
    drainTimeoutMs: 2_000,
    keepWarmMs: options.keepWarmMs ?? 60_000,
    stopTimeoutMs: 5_000,
  };
}

/** The FAKE wrangler (test/fakes/cloudflare/fake-wrangler.ts) as the project's own wrangler. */
export function installFakeWrangler(project: WorkerProject): {
  state: string;
  env: Record<string, string>;
  invocations(): { argv: string[]; env: Record<string, string>; stdin?: unknown }[];
  worker(name: string): {
    versions: {
      id: string;
      tag: string | null;
      vars: Record<string, string>;
      main_sha256: string;
    }[];
    deployments: { versions: { version_id: string; percentage: number }[] }[];
    secrets: Record<string, string>;
  } | null;
} {
  const bin = path.join(project.dir, 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  const fake = path.join(REPO, 'test', 'fakes', 'cloudflare', 'fake-wrangler.ts');
  writeFileSync(
    path.join(bin, 'wrangler'),
    `#!/bin/sh\n# FAKE wrangler for tests (test/fakes/cloudflare/fake-wrangler.ts)\nexec "${process.execPath}" "${fake}" "$@"\n`,
    { mode: 0o755 },
  );
  const state = path.join(project.dir, 'fake-cloudflare');
  mkdirSync(state, { recursive: true });
  return {
    state,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? project.dir,
      CLOUDFLARE_API_TOKEN: 'fake-api-token-7d1c2e',
      CLOUDFLARE_ACCOUNT_ID: '0123456789abcdef0123456789abcdef',
      FAKE_WRANGLER_STATE: state,
    },
    invocations() {
      try {
        return readFileSync(path.join(state, 'invocations.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line));
      } catch {
        return [];
      }
    },
    worker(name) {
      try {
        return JSON.parse(readFileSync(path.join(state, 'workers', `${name}.json`), 'utf8'));
      } catch {
        return null;
      }
    },
  };
}
