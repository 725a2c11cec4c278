/**
 * A Worker release: the bundle the user's build command wrote (e.g. `wrangler deploy --dry-run
 * --outdir dist`) plus `airlock-worker.json`, which records the release's own wrangler
 * configuration (from the built commit, not from whatever the working tree holds later) and
 * which file is the entry point. Every environment deploys those bytes with `--no-bundle`:
 * built once, never rebuilt (Heroku's slug).
 *
 * At deploy time the recorded configuration becomes a wrangler file of its own beside the
 * environment's state (`<home>/envs/<env>/cloudflare/<service>/wrangler.<release>.jsonc`),
 * its `main` pointing into the verified artifact. What wrangler would otherwise rebuild is
 * left out of it (`[build]`, per-environment `main`, `base_dir`).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../errors.ts';
import { readWranglerConfig, type WranglerConfig, wranglerEnvironment } from './wrangler-config.ts';

/** The file `packageRelease` adds to a Worker's build output. */
export const WORKER_MANIFEST = 'airlock-worker.json';

export interface WorkerManifest {
  airlock: 1;
  /** The wrangler file it was read from, relative to the service folder (e.g. `wrangler.toml`). */
  source: string;
  /** The entry point, relative to the artifact (e.g. `index.js`). */
  main: string;
  /** The wrangler configuration (top level and `env`), `main` relative to the artifact. */
  config: Record<string, unknown>;
}

/** Keys that only matter when wrangler builds; the release is already built. */
const BUILD_ONLY = ['build', 'base_dir', 'no_bundle'] as const;

const isInside = (dir: string, file: string) => {
  const rel = path.relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/**
 * The entry point in a build output: the file named like the configured `main` (`src/index.ts`
 * → `index.js`), else the only top-level `.js`/`.mjs` file.
 * @throws UserError `PROVIDER_CONFIG_INVALID` when it cannot tell.
 */
export function findEntryPoint(outputDir: string, main: string | undefined): string {
  const files = readdirSync(outputDir);
  if (main) {
    const base = path.basename(main).replace(/\.(ts|tsx|mts|jsx|js|mjs|cjs)$/, '');
    for (const ext of ['.js', '.mjs', '.cjs']) if (files.includes(base + ext)) return base + ext;
  }
  const scripts = files.filter((f) => /\.(js|mjs)$/.test(f));
  if (scripts.length === 1 && scripts[0]) return scripts[0];
  throw new UserError(
    'PROVIDER_CONFIG_INVALID',
    `cannot tell which file of the build output ${outputDir} is the Worker (${scripts.length ? scripts.join(', ') : 'no .js file'}).`,
    {
      hint: 'Make the build command write the bundled Worker there (e.g. `wrangler deploy --dry-run --outdir dist`), with the entry point named like `main` in the wrangler file.',
    },
  );
}

/** Each section of a wrangler configuration: the top level and every `[env.<name>]`. */
function sections(config: Record<string, unknown>): Record<string, unknown>[] {
  const env = (config.env ?? {}) as Record<string, Record<string, unknown>>;
  return [config, ...Object.values(env).filter((s) => s && typeof s === 'object')];
}

/**
 * Builds the manifest of a Worker release from the built checkout.
 * @param serviceRoot the service folder in the checkout the build ran in.
 * @param wranglerFile the wrangler file in that checkout.
 * @param outputDir the build output (the artifact-to-be).
 * @throws UserError `PROVIDER_CONFIG_INVALID` (unreadable file, no entry point, static assets
 *   outside the build output, a Pages project).
 */
export function buildWorkerManifest(
  serviceRoot: string,
  wranglerFile: string,
  outputDir: string,
): WorkerManifest {
  const parsed = readWranglerConfig(wranglerFile);
  const config = JSON.parse(JSON.stringify({ ...parsed.top, env: parsed.env })) as Record<
    string,
    unknown
  >;
  if (Object.keys(config.env as object).length === 0) delete config.env;
  const source = path.relative(serviceRoot, wranglerFile);
  if (config.pages_build_output_dir !== undefined) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${source} describes a Cloudflare Pages project (pages_build_output_dir); the cloudflare provider deploys Workers.`,
      { hint: 'Deploy Pages with provider: command (`wrangler pages deploy`).' },
    );
  }
  const main = findEntryPoint(outputDir, typeof config.main === 'string' ? config.main : undefined);
  const configDir = path.dirname(wranglerFile);
  for (const section of sections(config)) {
    for (const key of BUILD_ONLY) delete section[key];
    delete section.main;
    const assets = section.assets as { directory?: unknown } | undefined;
    if (assets && typeof assets.directory === 'string') {
      const dir = path.resolve(configDir, assets.directory);
      if (!isInside(outputDir, dir)) {
        throw new UserError(
          'PROVIDER_CONFIG_INVALID',
          `${source}: assets.directory ${assets.directory} is outside the build output, so it would not be part of the release.`,
          {
            hint: 'Make the build write the static assets inside its output folder (services.<name>.build.output), and point assets.directory there.',
          },
        );
      }
      assets.directory = path.relative(outputDir, dir) || '.';
    }
  }
  config.main = main;
  return { airlock: 1, source, main, config };
}

/** The manifest in an artifact, or null when the release has none (built without packaging). */
export function readWorkerManifest(artifactDir: string): WorkerManifest | null {
  let text: string;
  try {
    text = readFileSync(path.join(artifactDir, WORKER_MANIFEST), 'utf8');
  } catch {
    return null;
  }
  const manifest = JSON.parse(text) as WorkerManifest;
  if (manifest?.airlock !== 1 || typeof manifest.main !== 'string') {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${path.join(artifactDir, WORKER_MANIFEST)} is not a Worker manifest this Airlock understands.`,
      { hint: 'Build the release again (`airlock build --rebuild`).' },
    );
  }
  return manifest;
}

/** The manifest's configuration as a `WranglerConfig` (to check environments and bindings). */
export function manifestConfig(manifest: WorkerManifest, file: string): WranglerConfig {
  const { env, ...top } = manifest.config as { env?: WranglerConfig['env'] };
  return { file, top, env: env ?? {} };
}

/**
 * Writes the wrangler file one environment deploys from: the manifest's configuration with
 * `main` (and static assets) pointing into the artifact. Leaves an identical file alone, so a
 * running `wrangler dev` watching it does not reload.
 * @throws UserError `PROVIDER_CONFIG_INVALID` when `env` has no section there.
 */
export function writeDeployConfig(
  manifest: WorkerManifest,
  artifactDir: string,
  file: string,
  env: string | null,
): void {
  wranglerEnvironment(manifestConfig(manifest, `${manifest.source} (as built)`), env);
  const config = JSON.parse(JSON.stringify(manifest.config)) as Record<string, unknown>;
  config.main = path.join(artifactDir, manifest.main);
  for (const section of sections(config)) {
    const assets = section.assets as { directory?: unknown } | undefined;
    if (assets && typeof assets.directory === 'string')
      assets.directory = path.join(artifactDir, assets.directory);
  }
  const text = `// Generated by Airlock from ${manifest.source} of this release; wrangler deploys ${manifest.main} from the verified artifact as is (--no-bundle). Do not edit.\n${JSON.stringify(config, null, 2)}\n`;
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // not written yet
  }
  if (current !== text) writeFileSync(file, text, { mode: 0o600 });
}
