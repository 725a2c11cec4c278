/**
 * The railway provider (Railway, per-environment variables, credentials never
 * shared). Everything goes through the Railway CLI:
 *
 * - deploy: the release's verified artifact folder, byte for byte, is the deployment's source:
 *   `railway up <artifact> --path-as-root --no-gitignore --service S --environment E --detach
 *   --json --message "airlock r3 sha256:… <commit>"`, then `railway deployment list --json` until
 *   that deployment is SUCCESS (or FAILED/CRASHED). Promotion uploads the same bytes to the next
 *   environment. Railway builds the upload in each environment (it has no cross-environment
 *   image promotion in its CLI): the bytes are identical and verified, the build runs per
 *   environment; see docs/providers/railway.md.
 * - AIRLOCK_RELEASE and the other non-secret variables are set first with `railway variable set
 *   K=V … --skip-deploys`, and put back if the deployment fails.
 * - the deployment message names the release, which is how `describe` knows what serves (and a
 *   ledger under <home>/railway/ as a fallback).
 * - rollback re-uploads the earlier release's artifact.
 * - secrets: `railway variable set NAME --stdin --skip-deploys`, one value per call on stdin.
 *
 * Tokens: RAILWAY_TOKEN (a project token, which Railway scopes to one environment) or
 * RAILWAY_API_TOKEN, each first as RAILWAY_TOKEN_<ENV>; masked in every line passed on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError, ProviderError, UserError } from '../../errors.ts';
import {
  type CliResult,
  envSuffix,
  lastErrorLine,
  type PlatformCliCall,
  runPlatformCli,
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
  deploymentListCommand,
  deploymentMessage,
  upCommand,
  variableDeleteCommand,
  variableListCommand,
  variableSetCommand,
  variableSetStdinCommand,
} from './railway-commands.ts';
import {
  type RailwayTarget,
  railwayPlatformConfig,
  resolveRailwayTarget,
} from './railway-config.ts';
import {
  parseDeployments,
  parseUp,
  parseVariables,
  type RailwayDeployment,
  type RailwayVariables,
  servingDeployment,
} from './railway-output.ts';

export interface RailwayProviderOptions {
  /** The process environment: PATH, RAILWAY_TOKEN[_<ENV>], RAILWAY_API_TOKEN[_<ENV>], RAILWAY_PROJECT_ID. */
  env: Readonly<Record<string, string | undefined>>;
  /** The project's Airlock home (a ledger of which deployment runs which release). */
  home: string;
  /** The plain variables airlock.yaml configures for a service in an environment (names). */
  varsOf?: (environment: string, service: string) => string[];
  /** Longest pause between `deployment list` polls (ms); the first ones are shorter. Default 3 s. */
  pollIntervalMs?: number;
  /** Give up waiting for a deployment after this long (ms). Default 20 min (Railway builds it). */
  deployTimeoutMs?: number;
  bins?: string[];
  /**
   * Every environment's target of a service (from airlock.yaml), so a deploy can refuse when two
   * environments resolve to the same Railway environment and service.
   */
  peers?: (service: string) => ServiceTarget[];
}

const TOKENS = ['RAILWAY_TOKEN', 'RAILWAY_API_TOKEN'] as const;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COMMAND_TIMEOUT_MS = 5 * 60_000;
const UPLOAD_TIMEOUT_MS = 30 * 60_000;
/** Variables of a deployment that are not Airlock's to set on Railway. */
const NOT_VARIABLES = new Set(['DATABASE_URL', 'PORT']);
const FINAL = new Set(['SUCCESS', 'FAILED', 'CRASHED', 'REMOVED', 'SKIPPED', 'SLEEPING']);
const AUTH_FAILURE =
  /unauthorized|invalid railway_(api_)?token|not authorized|please (run `railway login`|login with)|token (has )?expired/i;

interface LedgerEntry {
  release: string;
  environment: string;
  service: string;
  at: string;
}

export class RailwayProvider implements Provider {
  readonly name = 'railway' as const;
  readonly #options: RailwayProviderOptions;

  constructor(options: RailwayProviderOptions) {
    this.#options = options;
  }

  get #ledgerFile(): string {
    return path.join(this.#options.home, 'railway', 'deployments.json');
  }

  #ledger(): Record<string, LedgerEntry> {
    if (!existsSync(this.#ledgerFile)) return {};
    try {
      return JSON.parse(readFileSync(this.#ledgerFile, 'utf8')) as Record<string, LedgerEntry>;
    } catch {
      return {};
    }
  }

  async #remember(id: string, entry: LedgerEntry): Promise<void> {
    const ledger = this.#ledger();
    ledger[id] = entry;
    await mkdir(path.dirname(this.#ledgerFile), { recursive: true });
    await writeFile(this.#ledgerFile, `${JSON.stringify(ledger, null, 2)}\n`);
  }

  async #railway(t: RailwayTarget, args: string[], options: PlatformCliCall): Promise<CliResult> {
    const result = await runPlatformCli(
      {
        bins: this.#options.bins ?? ['railway'],
        env: this.#options.env,
        credentials: TOKENS,
        missing: {
          message: 'the Railway CLI is not installed here: `railway` is not on PATH.',
          hint: 'Install it (`npm i -g @railway/cli`, see https://docs.railway.com/cli) and run the command again.',
        },
      },
      t.environment,
      args,
      { ...options, timeoutMs: options.timeoutMs ?? COMMAND_TIMEOUT_MS },
    );
    if (result.exitCode === 0) return result;
    const line = lastErrorLine(result);
    const output = `${result.stderr}\n${result.tail.join('\n')}`;
    const where = `${t.railwayService} in ${t.railwayEnvironment}`;
    if (AUTH_FAILURE.test(output)) {
      const token = tokenNameFor(this.#options.env, TOKENS, t.environment);
      const suffix = envSuffix(t.environment);
      throw new ProviderError(
        'PROVIDER_AUTH',
        token
          ? `the Railway CLI could not authenticate with ${token} for ${where}: ${line}`
          : `the Railway CLI has no token for ${where}: ${line}`,
        {
          hint: `Set RAILWAY_TOKEN_${suffix} to a project token created in the ${t.railwayEnvironment} environment (project settings → Tokens), or RAILWAY_API_TOKEN to an account token, and run the command again.`,
          details: { environment: t.environment, token: token ?? null },
        },
      );
    }
    if (/(environment|service) .*not found|no linked project/i.test(output)) {
      throw new ProviderError('PROVIDER_CONFIG_INVALID', `Railway cannot find ${where}: ${line}`, {
        hint: `Check railway.environment and railway.service for ${t.service} in airlock.yaml (default: the Airlock names), and the project (railway.project, RAILWAY_PROJECT_ID, a project token or \`railway link\`).`,
      });
    }
    throw new ProviderError('PROVIDER_COMMAND_FAILED', `${options.what} failed: ${line}`, {
      details: { exitCode: result.exitCode, tail: result.tail.slice(-10) },
    });
  }

  async #deployments(
    t: RailwayTarget,
    cwd: string,
    signal?: AbortSignal,
  ): Promise<RailwayDeployment[]> {
    const result = await this.#railway(t, deploymentListCommand(t), {
      cwd,
      what: `railway deployment list for ${t.railwayService}`,
      ...(signal ? { signal } : {}),
    });
    let list: RailwayDeployment[];
    try {
      list = parseDeployments(result.stdout);
    } catch {
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        '`railway deployment list --json` did not print JSON.',
        { hint: 'Update the Railway CLI and run the command again.' },
      );
    }
    const ledger = this.#ledger();
    return list.map((d) => (d.release ? d : { ...d, release: ledger[d.id]?.release ?? null }));
  }

  async #variables(
    t: RailwayTarget,
    cwd: string,
    keep: readonly string[] = [],
  ): Promise<RailwayVariables> {
    const result = await this.#railway(t, variableListCommand(t), {
      cwd,
      what: `railway variable list for ${t.railwayService}`,
    });
    try {
      return parseVariables(result.stdout, keep);
    } catch {
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        '`railway variable list --json` did not print JSON.',
        { hint: 'Update the Railway CLI and run the command again.' },
      );
    }
  }

  async describe(target: ServiceTarget): Promise<ServiceState> {
    const t = resolveRailwayTarget(target, this.#options.env);
    const serving = servingDeployment(await this.#deployments(t, target.serviceDir));
    const variables = await this.#variables(t, target.serviceDir);
    return {
      environment: target.environment,
      service: target.service,
      url: urlOf(variables, target.settings),
      release: serving?.release ?? null,
      pid: null,
      since: serving?.createdAt ?? null,
      healthy: serving?.status === 'SUCCESS',
      restarts: 0,
      lastCrash: null,
      warm: [],
    };
  }

  deploy(deployment: ServiceDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    return this.#deploy(deployment, options);
  }

  /** Re-uploads the earlier release's artifact (Railway builds it again). */
  rollback(deployment: ServiceDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    return this.#deploy(deployment, options);
  }

  /** Environments never share a Railway environment (credentials are never shared). @throws UserError `PROVIDER_CONFIG_INVALID`. */
  #refuseShared(t: RailwayTarget): void {
    for (const peer of this.#options.peers?.(t.service) ?? []) {
      if (peer.environment === t.environment || peer.settings.provider !== 'railway') continue;
      const other = resolveRailwayTarget(peer, this.#options.env);
      if (
        other.project === t.project &&
        other.railwayEnvironment === t.railwayEnvironment &&
        other.railwayService === t.railwayService
      ) {
        throw new UserError(
          'PROVIDER_CONFIG_INVALID',
          `${t.environment} and ${other.environment} both deploy to Railway service ${t.railwayService} in environment ${t.railwayEnvironment}: one would overwrite the other.`,
          {
            hint: `Give each Airlock environment its own Railway environment (railway: { environment: <name> } in airlock.yaml; default: the Airlock environment name).`,
          },
        );
      }
    }
  }

  async #deploy(d: ServiceDeployment, options: DeployOptions): Promise<DeployOutcome> {
    const t = resolveRailwayTarget(d, this.#options.env);
    this.#refuseShared(t);
    const cwd = d.serviceDir;
    const signal = options.signal;
    const progress = options.onProgress ?? (() => {});
    const desired: Record<string, string> = {};
    for (const [name, value] of Object.entries(d.env))
      if (!NOT_VARIABLES.has(name)) desired[name] = value;
    const variables = await this.#variables(t, cwd, Object.keys(desired));
    const before = servingDeployment(await this.#deployments(t, cwd, signal));
    const changed = Object.keys(desired).filter((name) => variables.kept[name] !== desired[name]);
    if (changed.length > 0) {
      await this.#railway(
        t,
        variableSetCommand(t, Object.fromEntries(changed.map((n) => [n, desired[n] as string]))),
        {
          cwd,
          what: `railway variable set for ${t.railwayService}`,
          ...(signal ? { signal } : {}),
        },
      );
    }
    const started = performance.now();
    try {
      progress(
        `${d.kind === 'rollback' ? 'rolling back to' : 'uploading'} ${d.release.id} (sha256:${d.release.digest.slice(0, 12)}) to ${t.railwayService} in ${t.railwayEnvironment}`,
      );
      const up = await this.#railway(t, upCommand(t, d.artifactDir, deploymentMessage(d.release)), {
        cwd,
        timeoutMs: UPLOAD_TIMEOUT_MS,
        what: `railway up of ${d.release.id} to ${t.railwayService} (${t.railwayEnvironment})`,
        ...(signal ? { signal } : {}),
      });
      const parsed = parseUp(up.stdout);
      if (!parsed) {
        throw new ProviderError(
          'PROVIDER_COMMAND_FAILED',
          '`railway up --detach --json` printed no deployment id.',
          { hint: 'Update the Railway CLI (`railway up --detach --json` needs a recent one).' },
        );
      }
      await this.#remember(parsed.deploymentId, {
        release: d.release.id,
        environment: t.railwayEnvironment,
        service: t.railwayService,
        at: new Date().toISOString(),
      });
      const final = await this.#waitFor(t, cwd, parsed.deploymentId, progress, signal);
      if (final.status !== 'SUCCESS') {
        const keeps = before?.release ? ` ${before.release} keeps serving.` : '';
        throw new ProviderError(
          final.status === 'CRASHED' ? 'APP_EXITED' : 'PROVIDER_COMMAND_FAILED',
          `Railway deployment ${parsed.deploymentId} of ${d.release.id} to ${t.railwayService} (${t.railwayEnvironment}) ended ${final.status}.${keeps}`,
          {
            hint: `Read its build and deploy logs${parsed.logsUrl ? `: ${parsed.logsUrl}` : ' in the Railway dashboard'}. Fix the release and deploy a new one.`,
            details: {
              deploymentId: parsed.deploymentId,
              status: final.status,
              serving: before?.release ?? null,
            },
          },
        );
      }
    } catch (error) {
      await this.#restore(t, cwd, changed, variables.kept, progress);
      throw error;
    }
    return {
      url: urlOf(variables, d.settings),
      reusedWarm: false,
      bootMs: Math.round(performance.now() - started),
      switchMs: 0,
      previousRelease: before?.release ?? null,
    };
  }

  async #waitFor(
    t: RailwayTarget,
    cwd: string,
    id: string,
    progress: (message: string) => void,
    signal?: AbortSignal,
  ): Promise<RailwayDeployment> {
    const deadline = performance.now() + (this.#options.deployTimeoutMs ?? 20 * 60_000);
    let last = '';
    const cap = this.#options.pollIntervalMs ?? 3_000;
    for (let poll = 0; ; poll += 1) {
      // 250 ms, 500 ms, 1 s, 2 s, then every `cap`: quick deployments are seen quickly.
      const pause = Math.min(cap, 250 * 2 ** Math.min(poll, 8));
      try {
        await sleep(pause, undefined, signal ? { signal } : {});
      } catch {
        throw new ProviderError('DEPLOY_ABORTED', `stopped waiting for Railway deployment ${id}.`, {
          hint: 'Railway may still finish it; `airlock status` shows what serves.',
        });
      }
      const found = (await this.#deployments(t, cwd, signal)).find((d) => d.id === id);
      if (found && found.status !== last) {
        last = found.status;
        progress(`Railway deployment ${id.slice(0, 8)}: ${found.status.toLowerCase()}`);
      }
      if (found && FINAL.has(found.status)) return found;
      if (performance.now() > deadline) {
        throw new ProviderError(
          'PROVIDER_COMMAND_FAILED',
          `Railway deployment ${id} is still ${last.toLowerCase() || 'not listed'} after ${Math.round((this.#options.deployTimeoutMs ?? 20 * 60_000) / 60_000)} min.`,
          { hint: 'Look at it in the Railway dashboard; `airlock status` shows what serves.' },
        );
      }
    }
  }

  /** Puts back the variables a failed deployment changed (best effort; says so when it cannot). */
  async #restore(
    t: RailwayTarget,
    cwd: string,
    changed: string[],
    previous: Record<string, string>,
    progress: (message: string) => void,
  ): Promise<void> {
    if (changed.length === 0) return;
    try {
      const back = changed.filter((n) => n in previous);
      if (back.length > 0)
        await this.#railway(
          t,
          variableSetCommand(t, Object.fromEntries(back.map((n) => [n, previous[n] as string]))),
          {
            cwd,
            what: 'railway variable set (restore)',
          },
        );
      for (const name of changed.filter((n) => !(n in previous)))
        await this.#railway(t, variableDeleteCommand(t, name), {
          cwd,
          what: 'railway variable delete (restore)',
        });
    } catch (error) {
      progress(
        `could not put back ${changed.join(', ')} on ${t.railwayService}: ${error instanceof AirlockError ? error.message : String(error)}`,
      );
    }
  }

  async setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
    options: DeployOptions = {},
  ): Promise<SecretsOutcome> {
    const names = Object.keys(secrets);
    const bad = names.find((name) => !SECRET_NAME.test(name));
    if (bad !== undefined) {
      throw new UserError('USAGE', `"${bad}" is not a valid secret name.`, {
        hint: 'Use letters, digits and underscores, not starting with a digit.',
      });
    }
    const unfit = names.find((name) => {
      const value = secrets[name] ?? '';
      return value === '' || /[\r\n]$/.test(value);
    });
    if (unfit !== undefined) {
      throw new UserError(
        'USAGE',
        `the value of ${unfit} is empty or ends with a line break, which \`railway variable set --stdin\` would not keep.`,
        { hint: `Set it in the Railway dashboard, or remove the trailing line break.` },
      );
    }
    const t = resolveRailwayTarget(target, this.#options.env);
    const values = Object.values(secrets);
    for (const name of names) {
      await this.#railway(t, variableSetStdinCommand(t, name), {
        cwd: target.serviceDir,
        stdin: secrets[name] ?? '',
        redact: values,
        what: `railway variable set ${name} for ${t.railwayService}`,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      options.onProgress?.(`set ${name} on ${t.railwayService} in ${t.railwayEnvironment}`);
    }
    return { set: names };
  }

  /**
   * Railway has variables, not secrets: the names of this service's variables in this
   * environment, less Railway's own (RAILWAY_*), Airlock's (AIRLOCK_*) and the plain vars of
   * airlock.yaml.
   */
  async secretNames(target: ServiceTarget): Promise<string[]> {
    const t = resolveRailwayTarget(target, this.#options.env);
    const plain = new Set(this.#options.varsOf?.(target.environment, target.service) ?? []);
    const { names } = await this.#variables(t, target.serviceDir);
    return names.filter(
      (n) => !n.startsWith('RAILWAY_') && !n.startsWith('AIRLOCK_') && !plain.has(n),
    );
  }

  async platformConfig(target: ServiceTarget): Promise<PlatformConfig> {
    const t = resolveRailwayTarget(target, this.#options.env);
    const config = railwayPlatformConfig(target.serviceDir, t.railwayEnvironment);
    return {
      ...config,
      vars: [...(this.#options.varsOf?.(target.environment, target.service) ?? [])].sort(),
      ...(await secretNamesPart(() => this.secretNames(target))),
    };
  }

  async stopEnvironment(): Promise<void> {
    // Nothing runs on this machine: Railway services keep serving.
  }
}

/** `railway.url` from airlock.yaml (a custom domain), else the service's RAILWAY_PUBLIC_DOMAIN. */
function urlOf(variables: RailwayVariables, settings: ServiceTarget['settings']): string {
  if (settings.provider === 'railway' && settings.url) return settings.url.replace(/\/$/, '');
  return variables.publicDomain ? `https://${variables.publicDomain}` : '';
}
