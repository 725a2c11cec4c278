/**
 * The fly provider (a staging app mirroring production, fly.staging.toml
 * beside fly.toml). Built once, one image:
 *
 * - `packageRelease` runs `fly deploy --build-only --push` in the release's clean checkout with
 *   the first environment's fly.toml and app, and writes the pushed image's digest into the
 *   build output (fly-image.json), so the digest is part of the release digest.
 * - every environment then deploys that digest: `fly deploy --image <repo>@sha256:… --config
 *   <env's fly.toml> --app <app> --env AIRLOCK_RELEASE=… --strategy bluegreen --yes`; the
 *   machines carry AIRLOCK_RELEASE, which is how `describe` (`fly status --json`) knows what
 *   serves, and their image digest is checked against the release's.
 * - a rollback deploys the earlier release's image the same way (its artifact's fly-image.json).
 * - secrets go through `fly secrets import --stage`, values on stdin only.
 *
 * flyctl authenticates with FLY_API_TOKEN (FLY_API_TOKEN_<ENV> first, so each environment can
 * use its own app-scoped deploy token); tokens are masked in every line passed on.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ProviderError, UserError } from '../../errors.ts';
import {
  type CliResult,
  envSuffix,
  lastErrorLine,
  type PlatformCliCall,
  runPlatformCli,
  scopedTokenEnv,
  tokenNameFor,
} from '../platform-cli.ts';
import type {
  DeployOptions,
  DeployOutcome,
  PlatformConfig,
  Provider,
  SecretsOutcome,
  ServiceDeployment,
  ServiceState,
  ServiceTarget,
} from '../provider.ts';
import { secretNamesPart } from '../provider.ts';
import {
  buildCommand,
  deployCommand,
  secretsImportCommand,
  secretsImportInput,
  secretsListCommand,
  statusCommand,
} from './fly-commands.ts';
import { type FlyTarget, flyConfigPath, resolveFlyTarget } from './fly-config.ts';
import { type FlyImage, flyImage, readFlyImage, writeFlyImage } from './fly-image.ts';
import {
  type FlyAppStatus,
  type FlyMachine,
  parsePushedImage,
  parseSecretNames,
  parseStatus,
} from './fly-output.ts';
import { flyPlatformConfig } from './fly-platform-config.ts';
import { registryDigest } from './registry-digest.ts';

export interface FlyProviderOptions {
  /** The process environment: PATH, FLY_API_TOKEN[_<ENV>], FLY_ACCESS_TOKEN. */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Each service's build output folder relative to its folder (airlock.yaml `build.output`):
   * packageRelease finds the release's clean checkout from the output folder it is given.
   */
  buildOutputs: Record<string, string>;
  /** Fly's registry, asked for a pushed tag's digest when flyctl does not print it. */
  registryUrl?: string;
  /** flyctl's executable names, tried in order. */
  bins?: string[];
  /**
   * Every environment's target of a service (from airlock.yaml), so a deploy can refuse when two
   * environments resolve to the same app (staging would overwrite production).
   */
  peers?: (service: string) => ServiceTarget[];
}

const TOKENS = ['FLY_API_TOKEN', 'FLY_ACCESS_TOKEN'] as const;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Build and push can take long (remote builder start, image layers). */
const BUILD_TIMEOUT_MS = 60 * 60_000;
/** flyctl's own --wait-timeout bounds each machine; this bounds the whole command. */
const DEPLOY_TIMEOUT_MS = 30 * 60_000;
const COMMAND_TIMEOUT_MS = 5 * 60_000;
/** Variables of a deployment that are secrets on Fly (set with `airlock secret set`), never --env. */
const NOT_ENV = new Set(['DATABASE_URL', 'PORT']);

const AUTH_FAILURE =
  /no access token available|you must be authenticated|not authorized|unauthorized|token (has )?expired|invalid token|\b401\b/i;

/** The folder of the release's clean checkout that holds this service (where its Dockerfile is). */
export function checkoutServiceDir(outputDir: string, buildOutput: string): string {
  const anchor = path.resolve('/airlock-anchor');
  return path.resolve(outputDir, path.relative(path.resolve(anchor, buildOutput), anchor));
}

/** A tag no other build reuses: commit, and when it was pushed (tags are never overwritten). */
export function imageLabel(release: { commit: string; dirty: boolean }, now = Date.now()): string {
  return `airlock-${release.commit.slice(0, 12)}${release.dirty ? '-dirty' : ''}-${now.toString(36)}`;
}

export class FlyProvider implements Provider {
  readonly name = 'fly' as const;
  readonly #options: FlyProviderOptions;

  constructor(options: FlyProviderOptions) {
    this.#options = options;
  }

  /** Runs flyctl for one environment (its token only) and classifies a failure. */
  async #fly(
    t: Pick<FlyTarget, 'environment' | 'app'>,
    args: string[],
    options: PlatformCliCall & { timeoutMs: number },
  ): Promise<CliResult> {
    const result = await runPlatformCli(
      {
        bins: this.#options.bins ?? ['fly', 'flyctl'],
        env: this.#options.env,
        credentials: TOKENS,
        missing: {
          message: 'flyctl is not installed here: neither `fly` nor `flyctl` is on PATH.',
          hint: 'Install flyctl (https://fly.io/docs/flyctl/install/) and run the command again.',
        },
      },
      t.environment,
      args,
      options,
    );
    if (result.exitCode === 0) return result;
    const line = lastErrorLine(result);
    const output = `${result.stderr}\n${result.tail.join('\n')}`;
    if (AUTH_FAILURE.test(output)) {
      const token = tokenNameFor(this.#options.env, TOKENS, t.environment);
      throw new ProviderError(
        'PROVIDER_AUTH',
        token
          ? `flyctl could not authenticate with ${token} for app ${t.app} (${t.environment}): ${line}`
          : `flyctl has no token for app ${t.app} (${t.environment}): ${line}`,
        {
          hint: `Set FLY_API_TOKEN_${envSuffix(t.environment)} (or FLY_API_TOKEN) to a valid token, e.g. \`fly tokens create deploy -a ${t.app}\`, and run the command again.`,
          details: { app: t.app, environment: t.environment, token: token ?? null },
        },
      );
    }
    if (/could not find app/i.test(output)) {
      throw new ProviderError(
        'PROVIDER_CONFIG_INVALID',
        `Fly has no app ${t.app} (${t.environment}): ${line}`,
        {
          hint: `Create it first: \`fly apps create ${t.app}\` (one app per environment).`,
        },
      );
    }
    if (result.timedOut) {
      throw new ProviderError('PROVIDER_COMMAND_FAILED', `${options.what} timed out: ${line}`);
    }
    throw new ProviderError('PROVIDER_COMMAND_FAILED', `${options.what} failed: ${line}`, {
      details: { exitCode: result.exitCode, tail: result.tail.slice(-10) },
    });
  }

  async #status(t: FlyTarget, cwd: string, signal?: AbortSignal): Promise<FlyAppStatus> {
    const result = await this.#fly(t, statusCommand(t), {
      cwd,
      timeoutMs: COMMAND_TIMEOUT_MS,
      what: `fly status for ${t.app}`,
      ...(signal ? { signal } : {}),
    });
    try {
      return parseStatus(result.stdout);
    } catch {
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        `fly status --json for ${t.app} did not print JSON.`,
        { hint: 'Update flyctl (`fly version upgrade`) and run the command again.' },
      );
    }
  }

  #state(t: FlyTarget, status: FlyAppStatus): ServiceState {
    const machines = status.machines.filter(
      (m) => m.processGroup !== 'release_command' && !/^destroy/.test(m.state),
    );
    const started = machines.filter((m) => m.state === 'started');
    const pool = started.length > 0 ? started : machines;
    const counts = new Map<string, FlyMachine[]>();
    for (const m of pool) {
      const release = m.env.AIRLOCK_RELEASE;
      if (!release) continue;
      counts.set(release, [...(counts.get(release) ?? []), m]);
    }
    const [release, running] = [...counts.entries()].sort(
      (a, b) => b[1].length - a[1].length,
    )[0] ?? [null, []];
    const since = running
      .map((m) => m.updatedAt ?? m.createdAt)
      .filter((at): at is string => at !== null)
      .sort()[0];
    const healthy =
      started.length > 0 &&
      counts.size === 1 &&
      started.every((m) => m.checks.every((c) => c === 'passing'));
    return {
      environment: t.environment,
      service: t.service,
      url: urlOf(t, status),
      release,
      pid: null,
      since: since ?? null,
      healthy: release !== null && healthy,
      restarts: 0,
      lastCrash: null,
      warm: [],
    };
  }

  async describe(target: ServiceTarget): Promise<ServiceState> {
    const t = resolveFlyTarget(target);
    return this.#state(t, await this.#status(t, target.serviceDir));
  }

  deploy(deployment: ServiceDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    return this.#deploy(deployment, options);
  }

  /** Fly keeps every pushed image: a rollback deploys the earlier release's digest again. */
  rollback(deployment: ServiceDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    return this.#deploy(deployment, options);
  }

  /** Environments never share an app (staging would overwrite production). @throws UserError `PROVIDER_CONFIG_INVALID`. */
  #refuseSharedApp(t: FlyTarget): void {
    for (const peer of this.#options.peers?.(t.service) ?? []) {
      if (peer.environment === t.environment || peer.settings.provider !== 'fly') continue;
      let other: FlyTarget;
      try {
        other = resolveFlyTarget(peer);
      } catch {
        continue;
      }
      if (other.app === t.app) {
        throw new UserError(
          'PROVIDER_CONFIG_INVALID',
          `${t.environment} and ${other.environment} both deploy ${t.service} to the Fly app ${t.app} (${path.basename(t.config)}, ${path.basename(other.config)}): one would overwrite the other.`,
          {
            hint: `Give each environment its own app: add fly.${t.environment}.toml with its own \`app\`, or set fly: { app: <name> } for ${t.environment} in airlock.yaml.`,
          },
        );
      }
    }
  }

  async #deploy(d: ServiceDeployment, options: DeployOptions): Promise<DeployOutcome> {
    const t = resolveFlyTarget(d);
    this.#refuseSharedApp(t);
    const image = readFlyImage(d.artifactDir, d.release.id);
    const progress = options.onProgress ?? (() => {});
    const signal = options.signal;
    const before = this.#state(t, await this.#status(t, d.serviceDir, signal));
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(d.env)) if (!NOT_ENV.has(name)) env[name] = value;
    progress(
      `${d.kind === 'rollback' ? 'rolling back to' : 'deploying'} ${d.release.id} as ${image.ref} on ${t.app}`,
    );
    const args = deployCommand(t, {
      image: image.ref,
      env,
      waitTimeoutMs: d.health.timeoutMs,
    });
    let result: CliResult;
    try {
      result = await this.#fly(t, args, {
        cwd: d.serviceDir,
        timeoutMs: DEPLOY_TIMEOUT_MS,
        what: `fly deploy of ${d.release.id} to ${t.app}`,
        onLine: (line) => {
          if (line.trim()) progress(line.trim());
        },
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (!(error instanceof ProviderError) || error.code !== 'PROVIDER_COMMAND_FAILED')
        throw error;
      const after = await this.#status(t, d.serviceDir)
        .then((s) => this.#state(t, s))
        .catch(() => null);
      const keeps = after?.release
        ? ` ${after.release} keeps serving on ${t.app}.`
        : before.release
          ? ` ${t.app} served ${before.release} before.`
          : '';
      const unhealthy = /health|check/i.test(error.message);
      throw new ProviderError(
        unhealthy ? 'HEALTH_TIMEOUT' : 'PROVIDER_COMMAND_FAILED',
        `${error.message}.${keeps}`,
        {
          hint: `Read the new machines' logs: \`fly logs --app ${t.app}\`. Fix the release and deploy a new one.`,
          details: { ...error.details, app: t.app, serving: after?.release ?? null },
          cause: error,
        },
      );
    }
    const status = await this.#status(t, d.serviceDir, signal);
    const after = this.#state(t, status);
    this.#verifyServing(t, d, image, status, after);
    return {
      url: after.url,
      reusedWarm: false,
      bootMs: Math.round(result.durationMs),
      switchMs: 0,
      previousRelease: before.release,
    };
  }

  /** flyctl can report success while machines reverted to the old image: believe the machines. */
  #verifyServing(
    t: FlyTarget,
    d: ServiceDeployment,
    image: FlyImage,
    status: FlyAppStatus,
    after: ServiceState,
  ): void {
    const digests = new Set(
      status.machines
        .filter((m) => m.state === 'started' && m.env.AIRLOCK_RELEASE === d.release.id)
        .map((m) => m.digest)
        .filter((digest): digest is string => digest !== null),
    );
    if (after.release !== d.release.id || (digests.size > 0 && !digests.has(image.digest))) {
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        `fly deploy reported success, but ${t.app} serves ${after.release ?? 'nothing Airlock deployed'}${
          digests.size > 0 && !digests.has(image.digest)
            ? ` from ${[...digests].join(', ')} instead of ${image.digest}`
            : ''
        }.`,
        { hint: `Inspect the machines: \`fly status --app ${t.app}\`.` },
      );
    }
  }

  async setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
    options: DeployOptions = {},
  ): Promise<SecretsOutcome> {
    const names = Object.keys(secrets);
    if (names.length === 0) return { set: [] };
    const bad = names.find((name) => !SECRET_NAME.test(name));
    if (bad !== undefined) {
      throw new UserError('USAGE', `"${bad}" is not a valid secret name.`, {
        hint: 'Use letters, digits and underscores, not starting with a digit.',
      });
    }
    const input = secretsImportInput(secrets);
    if (input === null) {
      const name = names.find((n) => secretsImportInput({ [n]: secrets[n] ?? '' }) === null);
      throw new UserError(
        'USAGE',
        `the value of ${name} cannot be passed to \`fly secrets import\` unchanged (it starts with a quote, holds """ or a carriage return).`,
        { hint: `Set it with flyctl directly: \`fly secrets set ${name}=… --stage\`.` },
      );
    }
    const t = resolveFlyTarget(target);
    await this.#fly(t, secretsImportCommand(t), {
      cwd: target.serviceDir,
      stdin: input,
      redact: Object.values(secrets),
      timeoutMs: COMMAND_TIMEOUT_MS,
      what: `fly secrets import for ${t.app}`,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress
        ? { onLine: (line: string) => line.trim() && options.onProgress?.(line.trim()) }
        : {}),
    });
    return { set: names };
  }

  async secretNames(target: ServiceTarget): Promise<string[]> {
    const t = resolveFlyTarget(target);
    const result = await this.#fly(t, secretsListCommand(t), {
      cwd: target.serviceDir,
      timeoutMs: COMMAND_TIMEOUT_MS,
      what: `fly secrets list for ${t.app}`,
    });
    try {
      return parseSecretNames(result.stdout);
    } catch {
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        `fly secrets list --json for ${t.app} did not print JSON.`,
      );
    }
  }

  async platformConfig(target: ServiceTarget): Promise<PlatformConfig> {
    const t = resolveFlyTarget(target);
    const config = flyPlatformConfig(t.config);
    return { ...config, ...(await secretNamesPart(() => this.secretNames(target))) };
  }

  async packageRelease(
    target: ServiceTarget,
    outputDir: string,
    release: { commit: string; dirty: boolean; sourceDir?: string },
    options: DeployOptions = {},
  ): Promise<void> {
    const checkout =
      release.sourceDir ??
      checkoutServiceDir(outputDir, this.#options.buildOutputs[target.service] ?? '.');
    // The release's own fly.toml (same path in the checkout), else the working tree's.
    const working = flyConfigPath(target);
    const relative = path.relative(target.serviceDir, working);
    const inCheckout = path.join(checkout, relative);
    const config =
      !relative.startsWith('..') && !path.isAbsolute(relative) && existsSync(inCheckout)
        ? inCheckout
        : working;
    const settings = target.settings as Extract<ServiceTarget['settings'], { provider: 'fly' }>;
    const t = resolveFlyTarget({
      ...target,
      serviceDir: checkout,
      settings: { ...settings, config },
    });
    const label = imageLabel(release);
    const progress = options.onProgress ?? (() => {});
    progress(`building one image for ${t.app} (${label})`);
    const result = await this.#fly(t, buildCommand(t, label), {
      cwd: checkout,
      timeoutMs: BUILD_TIMEOUT_MS,
      what: `fly deploy --build-only for ${t.app}`,
      onLine: (line) => {
        if (line.trim()) progress(line.trim());
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const pushed = parsePushedImage(`${result.stdout}\n${result.stderr}`, label);
    const image = pushed.image ?? `registry.fly.io/${t.app}:${label}`;
    let digest = pushed.digest;
    if (!digest) {
      progress(`asking Fly's registry for the digest of ${image}`);
      const { tokens } = scopedTokenEnv(this.#options.env, TOKENS, t.environment);
      digest = await registryDigest(
        this.#options.registryUrl ?? 'https://registry.fly.io',
        t.app,
        label,
        tokens[0] ?? null,
        options.signal,
      );
    }
    const record = flyImage({ app: t.app, image, label, digest, ...release });
    await writeFlyImage(outputDir, record);
    progress(`pushed ${record.ref}`);
  }

  async stopEnvironment(): Promise<void> {
    // Nothing runs on this machine: Fly apps keep serving until you scale or destroy them.
  }
}

function urlOf(t: FlyTarget, status: FlyAppStatus): string {
  if (t.url) return t.url.replace(/\/$/, '');
  if (status.hostname) return `https://${status.hostname}`;
  if (status.appUrl?.startsWith('https://')) return status.appUrl.replace(/\/$/, '');
  return `https://${t.app}.fly.dev`;
}
