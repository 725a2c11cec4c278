/**
 * Builds the `AirlockContext` for a command from the global flags: loads airlock.yaml, opens
 * the state store, resolves who is acting, picks providers, and first recovers any run a dead
 * process left behind (reporting it).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCachedConfig } from '../config/config-cache.ts';
import type { ResolvedConfig } from '../config/resolve.ts';
import { type ConfigDiagnostic, UserError } from '../errors.ts';
import { RUNTIME_ENTRY } from '../package-paths.ts';
import { type AirlockContext, DEFAULT_LOCK_TTL_MS, processIdentity } from '../pipeline/context.ts';
import { createDatabases } from '../pipeline/databases.ts';
import { type InterruptedRun, recoverInterruptedRuns } from '../pipeline/recover.ts';
import { localSecretsFile, readLocalSecrets } from '../providers/local/local-secrets.ts';
import { createProviders, hostedDatabaseEngines } from '../providers/registry.ts';
import { ArtifactStore, type ArtifactStoreOptions } from '../releases/artifact-store.ts';
import { artifactDigestLabel } from '../releases/digest-label.ts';
import { gitUserEmail } from '../releases/git.ts';
import { knownSecrets } from '../secrets/known-secrets.ts';
import { maskingStore } from '../state/masking-store.ts';
import { openStateStore } from '../state/open-state-store.ts';
import { type Integrations, integrations } from './observers.ts';
import type { Reporter } from './reporter.ts';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  verbose?: boolean;
  yes?: boolean;
  as?: string;
  /** `full`: re-hash every file of a release, ignoring the verified cache. */
  verify?: string;
}

export interface Session {
  ctx: AirlockContext;
  /** Notifications and GitHub, as configured (see observers.ts). */
  integrations: Integrations;
  interrupted: InterruptedRun[];
  close(): Promise<void>;
}

function positiveInt(text: string | undefined): number | undefined {
  const n = Number(text);
  return text && Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Fault injection for crash tests: AIRLOCK_FAULT_PAUSE=after:deploy:web makes the run stop at
 * that step boundary (after writing `<home>/fault-paused`) and wait to be killed.
 */
function faultPause(
  boundary: string | undefined,
  home: string,
): { pause?: (b: string) => Promise<void> } {
  if (!boundary) return {};
  return {
    pause: async (b) => {
      if (b !== boundary) return;
      writeFileSync(path.join(home, 'fault-paused'), `${b} ${process.pid}\n`);
      await new Promise(() => {});
    },
  };
}

/** `--as`, then `AIRLOCK_ACTOR`, then git's `user.email`, then `user@host`. */
export async function resolveActor(
  dir: string,
  as: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return (
    as ||
    env.AIRLOCK_ACTOR ||
    (await gitUserEmail(dir)) ||
    `${os.userInfo().username}@${os.hostname()}`
  );
}

/**
 * This project's Airlock home (`config.home.dir`, outside the project tree; see
 * `config/home.ts`), created 0700 with a `.gitignore` (in case AIRLOCK_HOME points inside a
 * repository).
 * @throws UserError `HOME_MOVE_NEEDED` while the project still has files in `.airlock/` from the
 *   earlier layout: `airlock home move` moves them (nothing is ignored or silently duplicated).
 */
export function airlockHome(config: ResolvedConfig): string {
  const { dir: home, legacyDir } = config.home;
  if (legacyDir) {
    throw new UserError(
      'HOME_MOVE_NEEDED',
      `${legacyDir} holds Airlock's state, artifacts and local environments from an earlier version; Airlock now keeps them outside the project, in ${home}.`,
      {
        hint: 'Run `airlock home move` to move them there (the local runtime restarts; what served keeps serving), then carry on.',
        details: { legacy: legacyDir, home },
      },
    );
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const ignore = path.join(home, '.gitignore');
  if (!existsSync(ignore))
    writeFileSync(ignore, '# Airlock state, artifacts and local environments\n*\n');
  return home;
}

/** How the CLI starts the local runtime: through `runtime-entry.ts`, which audits crashes. */
export function localRuntimeOptions(
  config: ResolvedConfig,
  home: string,
): { home: string; daemonEntry: string; daemonArgs: string[]; daemonEnv: Record<string, string> } {
  const state = config.state;
  return {
    home,
    daemonEntry: RUNTIME_ENTRY,
    daemonArgs: state.kind === 'sqlite' ? ['--state', state.file] : [],
    daemonEnv:
      state.kind === 'postgres'
        ? { AIRLOCK_STATE_URL: state.url }
        : state.kind === 'd1'
          ? {
              AIRLOCK_STATE_URL: state.url,
              ...(state.apiToken ? { AIRLOCK_STATE_TOKEN: state.apiToken } : {}),
              ...(state.baseUrl ? { CLOUDFLARE_API_BASE_URL: state.baseUrl } : {}),
            }
          : {},
  };
}

/**
 * airlock.yaml (`-c` or the nearest), validated: from the cache of validated files when its
 * text is unchanged (config/config-cache.ts; no YAML parser or schema loads then), else in full
 * (always with `full`, which neither reads nor fills the cache), with its secret-looking strings
 * as warnings (`loadCheckedConfig`).
 * @throws ConfigError `CONFIG_NOT_FOUND` or `CONFIG_INVALID`, with file, line and field.
 */
export async function loadProjectConfig(
  globals: GlobalOptions,
  how: { full?: boolean } = {},
): Promise<ResolvedConfig> {
  const options = {
    cwd: process.cwd(),
    env: process.env,
    ...(globals.config ? { file: globals.config } : {}),
  };
  const cached = how.full ? undefined : loadCachedConfig(options);
  if (cached) return cached;
  const { loadCheckedConfig } = await import('../config/load.ts');
  return loadCheckedConfig({ ...options, cache: !how.full });
}

/**
 * A configuration warning as commands print it: `file:line:col: field: what. Fix: how.` (the
 * same line `airlock config validate` prints).
 */
export function configWarningLine(w: ConfigDiagnostic): string {
  return `${w.file}:${w.line}:${w.col}: ${w.path ? `${w.path}: ` : ''}${w.message}${w.fix ? ` Fix: ${w.fix}` : ''}`;
}

/**
 * `--verify <mode>`: `cached` (default; read-only files verified before are not read again) or
 * `full`. @throws UserError `USAGE` for another value.
 */
export function verifyMode(value: string | undefined): 'cached' | 'full' {
  if (value === undefined || value === 'cached' || value === 'full') return value ?? 'cached';
  throw new UserError('USAGE', `--verify is ${JSON.stringify(value)}.`, {
    hint: 'Use `--verify full` (re-hash every file of the release) or `--verify cached` (the default).',
  });
}

export interface SessionOptions {
  /** false: leave runs a dead process left as they are (default: recover them). */
  recover?: boolean;
  config?: ResolvedConfig;
  /**
   * The environment names the command was given (undefined: an optional one left out), checked
   * before anything else happens or prints: an unknown one stops the command (exit 2), naming
   * the environment it likely means.
   */
  environments?: ReadonlyArray<string | undefined>;
}

/**
 * Each of `names` is an environment of `config`.
 * @throws ConfigError `UNKNOWN_ENVIRONMENT`.
 */
export async function checkEnvironmentNames(
  config: ResolvedConfig,
  names: ReadonlyArray<string | undefined>,
): Promise<void> {
  for (const name of names) {
    if (name === undefined || config.environments[name]) continue;
    // Loaded only for a name that is not there (its suggestions need the diagnostics module).
    (await import('../config/environments.ts')).environmentNamed(config, name);
  }
}

/**
 * Opens a session. Reports configuration warnings and interrupted runs through the reporter.
 * @throws ConfigError (`UNKNOWN_ENVIRONMENT` for a name in `options.environments`); UserError
 *   `STATE_SCHEMA_TOO_NEW`.
 */
export async function openSession(
  globals: GlobalOptions,
  reporter: Reporter,
  options: SessionOptions = {},
): Promise<Session> {
  const config = options.config ?? (await loadProjectConfig(globals));
  await checkEnvironmentNames(config, options.environments ?? []);
  for (const w of config.warnings) reporter.warn(configWarningLine(w));
  const home = airlockHome(config);
  // `git config` runs in its own process while the store opens.
  const actor = resolveActor(config.dir, globals.as, process.env);
  // Every secret this command knows is masked wherever it would be written (see known-secrets.ts).
  const mask = reporter.mask;
  mask.add(knownSecrets(config, process.env, localSecretValues(config, home)));
  // D1's client (and the Cloudflare code it needs) loads only for a d1:// state.
  const d1 =
    config.state.kind === 'd1'
      ? { d1Client: (await import('../providers/cloudflare/d1-state-client.ts')).openD1StateClient }
      : {};
  const store = maskingStore(await openStateStore(config.state, d1), mask);
  const providerFor = await createProviders(config, {
    home,
    env: process.env,
    local: localRuntimeOptions(config, home),
  });
  const outward = await integrations(config, store, reporter, process.env);
  const shared = await sharedArtifactStore(config, reporter);
  const ctx: AirlockContext = {
    config,
    store,
    artifacts: new ArtifactStore(path.join(home, 'artifacts'), {
      materialize: config.releases.materialize,
      fullVerify: verifyMode(globals.verify) === 'full',
      ...shared,
    }),
    home,
    actor: await actor,
    now: () => new Date(),
    providerFor,
    databases: createDatabases(hostedDatabaseEngines(providerFor, config), config.project),
    sink: reporter,
    mask,
    ...processIdentity(),
    lockTtlMs: positiveInt(process.env.AIRLOCK_LOCK_TTL_MS) ?? DEFAULT_LOCK_TTL_MS,
    ...faultPause(process.env.AIRLOCK_FAULT_PAUSE, home),
    ...(outward.bus.size > 0
      ? {
          observe: (event: Parameters<typeof outward.bus.publish>[0]) =>
            outward.bus.publish(mask.deep(event)),
        }
      : {}),
    ...(outward.githubCi ? { githubCi: outward.githubCi } : {}),
  };
  const interrupted = options.recover === false ? [] : await recoverInterruptedRuns(ctx);
  if (interrupted.length > 0) reporter.result({ interrupted });
  for (const r of interrupted) {
    const serving = Object.entries(r.serving)
      .map(([service, release]) => `${service} → ${release ?? 'nothing'}`)
      .join(', ');
    reporter.warn(
      `run #${r.runId} (${r.kind} ${r.releaseId ?? ''} → ${r.environment}) was interrupted${r.step ? ` during ${r.step}` : ''}: process ${r.pid} on ${r.host} is gone.${r.lockFreed ? ` The ${r.environment} lock is released.` : ''} ${r.environment} serves: ${serving || 'nothing'}. \`airlock resume ${r.environment}\` finishes it (a new deployment there replaces it).`,
    );
  }
  return {
    ctx,
    integrations: outward,
    interrupted,
    close: async () => {
      // Deliveries still in flight are finished (or recorded as failed) before the store closes.
      await outward.flush();
      await store.close();
    },
  };
}

/**
 * The shared artifact store of `artifacts:` (credentials from the environment), if any; its
 * client (OCI or S3) loads only then.
 */
async function sharedArtifactStore(
  config: ResolvedConfig,
  reporter: Reporter,
): Promise<Pick<ArtifactStoreOptions, 'remote' | 'onTransfer'>> {
  if (!config.artifacts) return {};
  let remote: NonNullable<ArtifactStoreOptions['remote']>;
  if (config.artifacts.startsWith('s3://')) {
    const { S3Store, s3SettingsFromEnv } = await import('../releases/s3-store.ts');
    remote = new S3Store(config.artifacts, s3SettingsFromEnv(process.env));
  } else {
    const { OciStore, ociCredentialsFromEnv } = await import('../releases/oci-store.ts');
    remote = new OciStore(config.artifacts, ociCredentialsFromEnv(config.artifacts, process.env));
  }

  return {
    remote,
    onTransfer: ({ kind, digest, stats }) => {
      if (!stats.transferred) return;
      reporter.note(
        `${kind === 'push' ? 'pushed' : 'pulled'} ${artifactDigestLabel(digest)} ${kind === 'push' ? 'to' : 'from'} ${remote.label}: ${stats.moved} of ${stats.blobs} blobs, ${(stats.bytes / 1024).toFixed(1)} KiB`,
      );
    },
  };
}

/** The values of every environment's local secrets files (provider local), to be masked. */
function localSecretValues(config: ResolvedConfig, home: string): string[] {
  const values: string[] = [];
  for (const env of Object.values(config.environments))
    for (const service of Object.keys(env.services))
      values.push(...Object.values(readLocalSecrets(localSecretsFile(home, env.name, service))));
  return values;
}

/** Runs `fn` with an open session and always closes it. */
export async function withSession<T>(
  io: { globals: GlobalOptions; reporter: Reporter },
  fn: (session: Session) => Promise<T>,
  options: Omit<SessionOptions, 'config'> = {},
): Promise<T> {
  const session = await openSession(io.globals, io.reporter, options);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
