/**
 * `cloudflare.mode: remote`: the release's bundle goes to Cloudflare through the project's own
 * wrangler, with CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID from the environment.
 *
 * - deploy:   `wrangler deploy --no-bundle --config <generated> --env=<e> --tag <release>
 *              --message "…" --var AIRLOCK_RELEASE:r3 …`; the Worker version id and URL come from
 *              wrangler's output file. Every deploy is a Worker version tagged with the release.
 * - rollback: `wrangler rollback <version-id> --message "…" -y` when the release's version is
 *              known (recorded here, or found by its tag in `wrangler versions list --json`):
 *              exactly those bytes, vars and bindings serve again. Otherwise the release is
 *              deployed again from its artifact.
 * - describe: what Airlock recorded, checked against `wrangler deployments status --json`.
 * - secrets:  `wrangler secret bulk` with a JSON object on stdin (one request, one new version;
 *              values exact and never in argv); names from `wrangler secret list --format json`.
 *
 * What Airlock deployed is recorded per environment in
 * `<home>/envs/<env>/cloudflare/<service>/deployments.json` (release, digest, version id, URL).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProviderError } from '../../errors.ts';
import { envSuffix, scopedTokenEnv, tokenNameFor } from '../platform-cli.ts';
import type {
  DeployOptions,
  DeployOutcome,
  SecretsOutcome,
  ServiceDeployment,
  ServiceState,
  ServiceTarget,
} from '../provider.ts';
import {
  type CloudflareSettings,
  deployConfigFor,
  envFlag,
  envLabel,
  releaseVars,
  settingsOf,
  varFlags,
  workDir,
  wranglerFileOf,
  wranglerLog,
} from './worker-target.ts';
import {
  findWrangler,
  runWrangler,
  type WranglerResult,
  type WranglerRun,
  wranglerFailure,
} from './wrangler-cli.ts';
import { CLOUDFLARE_CREDENTIALS } from './wrangler-config.ts';

/** One Worker version Airlock deployed. */
export interface DeployedVersion {
  release: string;
  digest: string;
  commit: string;
  versionId: string;
  url: string;
  /** ISO time it started serving. */
  at: string;
}

export interface RemoteRecord {
  current: DeployedVersion | null;
  /** Newest last; at most HISTORY entries. */
  history: DeployedVersion[];
}

const HISTORY = 50;
const DEPLOY_TIMEOUT_MS = 10 * 60_000;
const COMMAND_TIMEOUT_MS = 2 * 60_000;

function recordFile(home: string, environment: string, service: string): string {
  return path.join(workDir(home, environment, service), 'deployments.json');
}

export function readRecord(home: string, environment: string, service: string): RemoteRecord {
  try {
    const data = JSON.parse(
      readFileSync(recordFile(home, environment, service), 'utf8'),
    ) as RemoteRecord;
    return { current: data.current ?? null, history: data.history ?? [] };
  } catch {
    return { current: null, history: [] };
  }
}

function writeRecord(home: string, environment: string, service: string, record: RemoteRecord) {
  const file = recordFile(home, environment, service);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

/**
 * The public URL among wrangler's deploy targets: a workers.dev URL first, else the first route
 * or custom domain (`example.com/* (zone name: example.com)` → `https://example.com`).
 */
export function urlFromTargets(targets: readonly string[]): string | null {
  const http = targets.find((t) => /^https?:\/\//.test(t));
  if (http) return http.replace(/\/\*?$/, '');
  const first = targets[0]?.split(' ')[0];
  if (!first) return null;
  const host = first.replace(/^\*\.?/, '').replace(/\/.*$/, '');
  return host ? `https://${host}` : null;
}

/** Parses wrangler's JSON output, which follows any warning lines wrangler printed first. */
function parseJson<T>(stdout: string): T | null {
  const start = stdout.search(/^[[{]/m);
  if (start < 0) return null;
  try {
    return JSON.parse(stdout.slice(start)) as T;
  } catch {
    return null;
  }
}

interface WorkerVersion {
  id: string;
  annotations?: Record<string, string>;
}

interface WorkerDeployment {
  versions?: { version_id: string; percentage: number }[];
}

export class RemoteWorkers {
  readonly #home: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #healthPath: (target: ServiceTarget) => string;

  constructor(
    home: string,
    env: Readonly<Record<string, string | undefined>>,
    healthPath: (target: ServiceTarget) => string,
  ) {
    this.#home = home;
    this.#env = env;
    this.#healthPath = healthPath;
  }

  /**
   * The environment wrangler runs with: the provider's, with `cloudflare.accountId` as
   * CLOUDFLARE_ACCOUNT_ID when set.
   * @throws ProviderError `PROVIDER_AUTH` without CLOUDFLARE_API_TOKEN.
   */
  #wranglerEnv(
    target: ServiceTarget,
    settings: CloudflareSettings,
    what: string,
  ): Record<string, string | undefined> {
    // CLOUDFLARE_API_TOKEN_<ENV> over CLOUDFLARE_API_TOKEN; other environments' variants removed.
    const { env } = scopedTokenEnv(this.#env, CLOUDFLARE_CREDENTIALS, target.environment);
    if (!env.CLOUDFLARE_API_TOKEN) {
      const own = `CLOUDFLARE_API_TOKEN_${envSuffix(target.environment)}`;
      throw new ProviderError(
        'PROVIDER_AUTH',
        `${what} needs ${own} or CLOUDFLARE_API_TOKEN, which is not set.`,
        {
          hint: `Export ${own} or CLOUDFLARE_API_TOKEN (a Cloudflare API token with Workers Scripts: Edit, and D1: Edit for migrations) and CLOUDFLARE_ACCOUNT_ID, then run the command again. To run the Worker on this machine instead, with no Cloudflare account, set \`cloudflare: { mode: local }\` on the service in airlock.yaml and a port for each environment.`,
        },
      );
    }
    return {
      ...env,
      ...(settings.accountId ? { CLOUDFLARE_ACCOUNT_ID: settings.accountId } : {}),
    };
  }

  async #run(
    target: ServiceTarget,
    settings: CloudflareSettings,
    what: string,
    run: Omit<WranglerRun, 'cwd' | 'env' | 'logFile'>,
  ): Promise<{ result: WranglerResult; logFile: string }> {
    const env = this.#wranglerEnv(target, settings, what);
    const bin = findWrangler(target.serviceDir, env);
    const logFile = wranglerLog(this.#home, target.environment, target.service);
    const result = await runWrangler(bin, { ...run, cwd: target.serviceDir, env, logFile });
    return { result, logFile };
  }

  async deploy(
    d: ServiceDeployment,
    settings: CloudflareSettings,
    options: DeployOptions = {},
  ): Promise<DeployOutcome> {
    const progress = options.onProgress ?? (() => {});
    const { file } = deployConfigFor(this.#home, d, settings, progress);
    const record = readRecord(this.#home, d.environment, d.service);
    const args = [
      'deploy',
      '--no-bundle',
      '--config',
      file,
      envFlag(settings),
      '--tag',
      d.release.id,
      '--message',
      `Airlock ${d.kind} ${d.release.id} sha256:${d.release.digest.slice(0, 12)} commit ${d.release.commit.slice(0, 7)}`,
      ...varFlags(releaseVars(d.env)),
    ];
    progress(`wrangler deploy ${d.release.id} (${envLabel(settings)}, --no-bundle)`);
    const what = `\`wrangler deploy\` of ${d.release.id} to ${d.environment}`;
    const { result, logFile } = await this.#run(d, settings, what, {
      args,
      timeoutMs: DEPLOY_TIMEOUT_MS,
      onLine: (line) => {
        if (line.trim()) progress(line.trim());
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (result.exitCode !== 0) {
      throw wranglerFailure(what, result, {
        logFile,
        hint: `${record.current ? `${record.current.release} keeps serving.` : 'Nothing was deployed.'} Read the last lines of wrangler’s output (details.tail).`,
      });
    }
    const entry = result.output.find((e) => e.type === 'deploy');
    const versionId =
      (typeof entry?.version_id === 'string' ? entry.version_id : null) ??
      /Current Version ID:\s*(\S+)/.exec(result.stdout)?.[1] ??
      null;
    const targets = Array.isArray(entry?.targets)
      ? (entry.targets as unknown[]).filter((t): t is string => typeof t === 'string')
      : result.stdout
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /^https:\/\//.test(l));
    const url = urlFromTargets(targets) ?? record.current?.url ?? null;
    if (!versionId) {
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        `${what} succeeded but reported no Worker version id, so Airlock cannot tell what serves.`,
        {
          hint: `Check \`wrangler deployments status ${envFlag(settings)}\`. Its output is in ${logFile}.`,
          details: { tail: result.tail },
        },
      );
    }
    const deployed: DeployedVersion = {
      release: d.release.id,
      digest: d.release.digest,
      commit: d.release.commit,
      versionId,
      url: url ?? '',
      at: new Date().toISOString(),
    };
    writeRecord(this.#home, d.environment, d.service, {
      current: deployed,
      history: [...record.history, deployed].slice(-HISTORY),
    });
    if (!url) {
      throw new ProviderError(
        'PROVIDER_CONFIG_INVALID',
        `${d.release.id} is deployed to ${d.environment} (version ${versionId}), but wrangler reported no URL for it, so its checks cannot reach it.`,
        {
          hint: `Enable workers_dev, or add a route or custom domain, in ${envLabel(settings)} of the wrangler file.`,
        },
      );
    }
    return {
      url,
      reusedWarm: false,
      bootMs: result.durationMs,
      switchMs: 0,
      previousRelease: record.current?.release ?? null,
    };
  }

  /** The Worker version of `release` in this environment: recorded, or found by its tag. */
  async #versionOf(
    d: ServiceDeployment,
    settings: CloudflareSettings,
    record: RemoteRecord,
  ): Promise<string | null> {
    const known = [...record.history]
      .reverse()
      .find((v) => v.release === d.release.id && v.digest === d.release.digest);
    if (known) return known.versionId;
    const versions = await this.#versions(d, settings);
    return versions.find((v) => v.annotations?.['workers/tag'] === d.release.id)?.id ?? null;
  }

  async #versions(target: ServiceTarget, settings: CloudflareSettings): Promise<WorkerVersion[]> {
    const { result } = await this.#run(target, settings, '`wrangler versions list`', {
      args: [
        'versions',
        'list',
        '--json',
        '--config',
        wranglerFileOf(target, settings),
        envFlag(settings),
      ],
      timeoutMs: COMMAND_TIMEOUT_MS,
    });
    if (result.exitCode !== 0) return [];
    return parseJson<WorkerVersion[]>(result.stdout) ?? [];
  }

  async rollback(
    d: ServiceDeployment,
    settings: CloudflareSettings,
    options: DeployOptions = {},
  ): Promise<DeployOutcome> {
    const progress = options.onProgress ?? (() => {});
    const record = readRecord(this.#home, d.environment, d.service);
    const versionId = await this.#versionOf(d, settings, record);
    if (!versionId) {
      progress(
        `no Worker version of ${d.release.id} is known in ${d.environment}; deploying it again from its artifact`,
      );
      return this.deploy(d, settings, options);
    }
    const { file } = deployConfigFor(this.#home, d, settings, progress);
    const what = `\`wrangler rollback\` of ${d.environment} to ${d.release.id} (version ${versionId})`;
    progress(`wrangler rollback ${versionId} (${d.release.id})`);
    const { result, logFile } = await this.#run(d, settings, what, {
      args: [
        'rollback',
        versionId,
        '--config',
        file,
        envFlag(settings),
        '--message',
        `Airlock rollback to ${d.release.id}`,
        '-y',
      ],
      timeoutMs: DEPLOY_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (result.exitCode !== 0) {
      throw wranglerFailure(what, result, {
        logFile,
        hint: `${record.current?.release ?? 'The current release'} keeps serving. Run \`airlock rollback ${d.environment} --to ${d.release.id}\` again, or deploy it: \`airlock deploy ${d.environment} --release ${d.release.id}\`.`,
      });
    }
    const known = record.history.find((v) => v.versionId === versionId);
    const url = known?.url || record.current?.url || '';
    const deployed: DeployedVersion = {
      release: d.release.id,
      digest: d.release.digest,
      commit: d.release.commit,
      versionId,
      url,
      at: new Date().toISOString(),
    };
    writeRecord(this.#home, d.environment, d.service, {
      current: deployed,
      history: [...record.history, deployed].slice(-HISTORY),
    });
    return {
      url,
      reusedWarm: true,
      bootMs: 0,
      switchMs: result.durationMs,
      previousRelease: record.current?.release ?? null,
    };
  }

  /**
   * What serves: the version `wrangler deployments status` reports (mapped to a release by
   * Airlock's record, else by its tag), with what Airlock recorded when wrangler cannot be asked.
   */
  async describe(target: ServiceTarget): Promise<ServiceState> {
    const settings = settingsOf(target);
    const record = readRecord(this.#home, target.environment, target.service);
    const current = record.current;
    const state: ServiceState = {
      environment: target.environment,
      service: target.service,
      url: current?.url ?? '',
      release: current?.release ?? null,
      pid: null,
      since: current?.at ?? null,
      healthy: false,
      restarts: 0,
      lastCrash: null,
      warm: [],
    };
    if (!tokenNameFor(this.#env, ['CLOUDFLARE_API_TOKEN'], target.environment)) return state;
    const { result } = await this.#run(target, settings, '`wrangler deployments status`', {
      args: [
        'deployments',
        'status',
        '--json',
        '--config',
        wranglerFileOf(target, settings),
        envFlag(settings),
      ],
      timeoutMs: COMMAND_TIMEOUT_MS,
    });
    const deployment = result.exitCode === 0 ? parseJson<WorkerDeployment>(result.stdout) : null;
    if (!deployment) return state;
    const serving = [...(deployment.versions ?? [])].sort((a, b) => b.percentage - a.percentage)[0];
    if (!serving) return { ...state, release: null };
    const recorded = [...record.history].reverse().find((v) => v.versionId === serving.version_id);
    const release =
      recorded?.release ??
      (await this.#versions(target, settings)).find((v) => v.id === serving.version_id)
        ?.annotations?.['workers/tag'] ??
      null;
    const url = recorded?.url || state.url;
    return {
      ...state,
      release,
      url,
      since:
        recorded?.versionId === current?.versionId ? (current?.at ?? null) : (recorded?.at ?? null),
      healthy:
        release !== null && url !== '' && (await answers(`${url}${this.#healthPath(target)}`)),
    };
  }

  async setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
    options: DeployOptions = {},
  ): Promise<SecretsOutcome> {
    const settings = settingsOf(target);
    const values = Object.values(secrets);
    const what = `\`wrangler secret bulk\` for ${target.service} in ${target.environment}`;
    const { result, logFile } = await this.#run(target, settings, what, {
      args: ['secret', 'bulk', '--config', wranglerFileOf(target, settings), envFlag(settings)],
      stdin: JSON.stringify(secrets),
      redact: values,
      timeoutMs: COMMAND_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress
        ? { onLine: (line: string) => line.trim() && options.onProgress?.(line.trim()) }
        : {}),
    });
    if (result.exitCode !== 0) throw wranglerFailure(what, result, { redact: values, logFile });
    return { set: Object.keys(secrets).sort() };
  }

  async secretNames(target: ServiceTarget): Promise<string[]> {
    const settings = settingsOf(target);
    const what = `\`wrangler secret list\` for ${target.service} in ${target.environment}`;
    const { result, logFile } = await this.#run(target, settings, what, {
      args: [
        'secret',
        'list',
        '--format',
        'json',
        '--config',
        wranglerFileOf(target, settings),
        envFlag(settings),
      ],
      timeoutMs: COMMAND_TIMEOUT_MS,
    });
    if (result.exitCode !== 0) {
      // A Worker that was never deployed has no secrets.
      if (/not found/i.test(result.tail.join('\n'))) return [];
      throw wranglerFailure(what, result, { logFile });
    }
    const list = parseJson<{ name: string }[]>(result.stdout);
    if (!Array.isArray(list)) {
      throw new ProviderError('PROVIDER_COMMAND_FAILED', `${what} printed no JSON list.`, {
        hint: `Its output is in ${logFile}.`,
        details: { tail: result.tail },
      });
    }
    return list
      .map((s) => s.name)
      .filter((n) => typeof n === 'string')
      .sort();
  }
}

/** One GET of a public URL: true on 200 within 3 s. */
async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}
