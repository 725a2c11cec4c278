/**
 * The command provider: deploys with the user's own commands, for any platform Airlock
 * has no provider for. Every command runs with `sh -c` in the service folder, with the process
 * environment (minus any inherited AIRLOCK_* variable) plus exactly the documented variables,
 * under `command.timeoutMs` and the run's abort signal (docs/providers/command.md).
 *
 * - deploy: `command.deploy` with AIRLOCK_ARTIFACT_DIR, AIRLOCK_ENV, AIRLOCK_SERVICE,
 *   AIRLOCK_RELEASE, AIRLOCK_COMMIT, AIRLOCK_DIGEST and the service's vars (and DATABASE_URL
 *   when it has a database). Exit 0 means deployed. The URL is `command.url` (a URL, or a command
 *   printing one), else the last URL line of the deploy output.
 * - rollback: `command.rollback`, else the deploy command, with the earlier release's variables.
 * - describe: `command.describe`'s JSON, else what Airlock last deployed (recorded by release and
 *   URL under <home>/envs/<env>/command/<service>.json).
 * - secrets: `command.secrets` once per name, with AIRLOCK_SECRET_NAME and the value on standard
 *   input only; the names are recorded, never the values.
 */
import { InternalError, ProviderError } from '../../errors.ts';
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
import { commandRecordFile, readCommandRecord, updateCommandRecord } from './command-record.ts';
import { type CommandRunResult, runCommand } from './run-command.ts';

type CommandSettings = Extract<ServiceTarget['settings'], { provider: 'command' }>;

export interface CommandProviderOptions {
  /** The project's Airlock home (the provider's records live under envs/<env>/command/). */
  home: string;
  /** The process environment the commands start from (AIRLOCK_* variables are dropped). */
  env: Readonly<Record<string, string | undefined>>;
  /** The service's configured vars in an environment (for describe, url and platformConfig). */
  varsOf?: (target: ServiceTarget) => Record<string, string>;
}

/** The variables Airlock itself sets for a deploy or rollback command. */
export const DEPLOY_VARIABLES = [
  'AIRLOCK_ARTIFACT_DIR',
  'AIRLOCK_ENV',
  'AIRLOCK_SERVICE',
  'AIRLOCK_RELEASE',
  'AIRLOCK_COMMIT',
  'AIRLOCK_DIGEST',
] as const;

/** `kind` command of `target`, for messages: `deploy command \`./deploy.sh\` (staging/web)`. */
function label(kind: string, command: string, target: ServiceTarget): string {
  return `${kind} command \`${command}\` (${target.environment}/${target.service})`;
}

/** The ProviderError for a command that did not succeed: exit code and the tail of its output. */
export function commandFailure(
  kind: string,
  command: string,
  target: ServiceTarget,
  result: CommandRunResult,
  timeoutMs: number,
): ProviderError {
  const what = label(kind, command, target);
  const details = {
    command: kind,
    exitCode: result.exitCode,
    signal: result.signal,
    tail: result.tail,
  };
  if (result.aborted) {
    return new ProviderError('DEPLOY_ABORTED', `${what} was interrupted and stopped.`, {
      hint: 'Run the command again; check on the platform whether it finished what it started.',
      details,
    });
  }
  const tail = result.tail.filter((l) => l.trim()).slice(-10);
  const output = tail.length ? `\n${tail.map((l) => `    ${l}`).join('\n')}` : ' (no output)';
  if (result.spawnError) {
    return new ProviderError(
      'PROVIDER_COMMAND_FAILED',
      `${what} could not start: ${result.spawnError}`,
      { hint: `Check that ${target.serviceDir} exists and /bin/sh can run there.`, details },
    );
  }
  if (result.timedOut) {
    return new ProviderError(
      'PROVIDER_COMMAND_FAILED',
      `${what} timed out after ${timeoutMs} ms and was stopped:${output}`,
      {
        hint: `Raise command.timeoutMs in airlock.yaml if it needs longer, or find what it waits for.`,
        details,
      },
    );
  }
  const how =
    result.exitCode === null ? `was killed by ${result.signal}` : `exited ${result.exitCode}`;
  return new ProviderError('PROVIDER_COMMAND_FAILED', `${what} ${how}:${output}`, {
    hint: `Run it by hand in ${target.serviceDir} with the same variables (docs/providers/command.md lists them) to see why.`,
    details,
  });
}

const URL_ONLY = /^(https?:\/\/\S+)$/;
const URL_ANYWHERE = /https?:\/\/[^\s"'<>`]+/g;

/**
 * The URL a command printed: its last line that is a URL, else the last URL in any line.
 * Trailing punctuation (`.`, `,`, `)` …) is not part of it.
 */
export function lastUrl(output: string): string | null {
  const lines = output.split(/\r?\n/).map((l) => l.trim());
  const trim = (url: string) => url.replace(/[.,;:!?)\]}'"]+$/, '');
  for (let i = lines.length - 1; i >= 0; i--) {
    const only = URL_ONLY.exec(lines[i] as string)?.[1];
    if (only) return trim(only);
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const all = (lines[i] as string).match(URL_ANYWHERE);
    if (all?.length) return trim(all[all.length - 1] as string);
  }
  return null;
}

export class CommandProvider implements Provider {
  readonly name = 'command' as const;
  readonly #home: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #varsOf: (target: ServiceTarget) => Record<string, string>;

  constructor(options: CommandProviderOptions) {
    this.#home = options.home;
    this.#env = options.env;
    this.#varsOf = options.varsOf ?? (() => ({}));
  }

  #settings(target: ServiceTarget): CommandSettings {
    if (target.settings.provider !== 'command')
      throw new InternalError(
        'INTERNAL',
        `the command provider got ${target.settings.provider} settings for ${target.environment}/${target.service}`,
      );
    return target.settings;
  }

  #record(target: ServiceTarget): string {
    return commandRecordFile(this.#home, target.environment, target.service);
  }

  /** The process environment without AIRLOCK_* (only the documented ones are set), plus `extra`. */
  #environment(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(this.#env))
      if (value !== undefined && !key.startsWith('AIRLOCK_')) env[key] = value;
    return { ...env, ...extra };
  }

  /** What describe, url and secrets commands get: the service's vars, AIRLOCK_ENV and AIRLOCK_SERVICE. */
  #targetEnvironment(target: ServiceTarget, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return this.#environment({
      ...withoutAirlock(this.#varsOf(target)),
      AIRLOCK_ENV: target.environment,
      AIRLOCK_SERVICE: target.service,
      ...extra,
    });
  }

  deploy(deployment: ServiceDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    return this.#run(deployment, this.#settings(deployment).deploy, 'deploy', options);
  }

  rollback(deployment: ServiceDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    const settings = this.#settings(deployment);
    return settings.rollback
      ? this.#run(deployment, settings.rollback, 'rollback', options)
      : this.#run(deployment, settings.deploy, 'deploy', options);
  }

  async #run(
    d: ServiceDeployment,
    command: string,
    kind: 'deploy' | 'rollback',
    options: DeployOptions,
  ): Promise<DeployOutcome> {
    const settings = this.#settings(d);
    if (options.signal?.aborted) {
      throw new ProviderError(
        'DEPLOY_ABORTED',
        `${label(kind, command, d)} did not start: interrupted.`,
      );
    }
    const previousRelease = await this.describe(d)
      .then((s) => s.release)
      .catch(() => readCommandRecord(this.#record(d)).release);
    const env = this.#environment({
      ...withoutAirlock(d.env),
      AIRLOCK_ARTIFACT_DIR: d.artifactDir,
      AIRLOCK_ENV: d.environment,
      AIRLOCK_SERVICE: d.service,
      AIRLOCK_RELEASE: d.release.id,
      AIRLOCK_COMMIT: d.release.commit,
      AIRLOCK_DIGEST: d.release.digest,
    });
    options.onProgress?.(`running ${command}`);
    const result = await runCommand(command, {
      cwd: d.serviceDir,
      env,
      timeoutMs: settings.timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onLine: options.onProgress } : {}),
    });
    if (result.exitCode !== 0 || result.timedOut || result.aborted || result.spawnError)
      throw commandFailure(kind, command, d, result, settings.timeoutMs);
    const started = performance.now();
    const url = await this.#url(d, settings, result.stdout, env, options);
    const record = this.#record(d);
    if (!url) {
      // It deployed: say what serves, even though Airlock cannot check it without a URL.
      updateCommandRecord(record, { release: d.release.id, url: null, since: now() });
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        `${label(kind, command, d)} exited 0 but printed no URL, and command.url is not set, so ${d.release.id} cannot be checked.`,
        {
          hint: 'Print the service URL as the last line of the deploy output, or set command.url (a URL, or a command that prints it).',
        },
      );
    }
    updateCommandRecord(record, { release: d.release.id, url, since: now() });
    return {
      url,
      reusedWarm: false,
      bootMs: result.durationMs,
      switchMs: Math.round(performance.now() - started),
      previousRelease,
    };
  }

  /** `command.url` (a URL, or a command whose output holds one), else the deploy output's last URL. */
  async #url(
    target: ServiceTarget,
    settings: CommandSettings,
    deployOutput: string,
    env: NodeJS.ProcessEnv,
    options: DeployOptions,
  ): Promise<string | null> {
    if (!settings.url) return lastUrl(deployOutput);
    if (/^https?:\/\/\S+$/.test(settings.url)) return settings.url;
    const result = await runCommand(settings.url, {
      cwd: target.serviceDir,
      env,
      timeoutMs: settings.timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (result.exitCode !== 0 || result.timedOut || result.aborted || result.spawnError)
      throw commandFailure('url', settings.url, target, result, settings.timeoutMs);
    return lastUrl(result.stdout);
  }

  async describe(target: ServiceTarget): Promise<ServiceState> {
    const settings = this.#settings(target);
    const record = readCommandRecord(this.#record(target));
    const base: ServiceState = {
      environment: target.environment,
      service: target.service,
      url: record.url ?? '',
      release: record.release,
      pid: null,
      since: record.since,
      healthy: record.release !== null,
      restarts: 0,
      lastCrash: null,
      warm: [],
    };
    if (!settings.describe) return base;
    const result = await runCommand(settings.describe, {
      cwd: target.serviceDir,
      env: this.#targetEnvironment(target),
      timeoutMs: settings.timeoutMs,
    });
    if (result.exitCode !== 0 || result.timedOut || result.aborted || result.spawnError)
      throw commandFailure('describe', settings.describe, target, result, settings.timeoutMs);
    const json = parseDescribe(result.stdout);
    if (!json) {
      throw new ProviderError(
        'PROVIDER_COMMAND_FAILED',
        `${label('describe', settings.describe, target)} printed no JSON object.`,
        {
          hint: 'Print one JSON object such as {"release": "r3", "url": "https://…", "healthy": true} (release null when nothing is deployed).',
          details: { tail: result.tail },
        },
      );
    }
    const release = typeof json.release === 'string' && json.release ? json.release : null;
    return {
      ...base,
      url: typeof json.url === 'string' ? json.url : base.url,
      release,
      since:
        typeof json.since === 'string'
          ? json.since
          : release !== null && release === record.release
            ? record.since
            : null,
      healthy: typeof json.healthy === 'boolean' ? json.healthy : release !== null,
    };
  }

  async setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
    options: DeployOptions = {},
  ): Promise<SecretsOutcome> {
    const settings = this.#settings(target);
    if (!settings.secrets) {
      throw new ProviderError(
        'PROVIDER_UNAVAILABLE',
        `${target.environment}/${target.service} has no command.secrets, so Airlock cannot set secrets there.`,
        {
          hint: 'Set command.secrets in airlock.yaml: a command that reads AIRLOCK_SECRET_NAME and the value from standard input (docs/providers/command.md).',
        },
      );
    }
    const values = Object.values(secrets);
    const set: string[] = [];
    const record = this.#record(target);
    for (const name of Object.keys(secrets).sort()) {
      const result = await runCommand(settings.secrets, {
        cwd: target.serviceDir,
        env: this.#targetEnvironment(target, { AIRLOCK_SECRET_NAME: name }),
        input: secrets[name] ?? '',
        timeoutMs: settings.timeoutMs,
        scrub: values,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onLine: options.onProgress } : {}),
      });
      if (result.exitCode !== 0 || result.timedOut || result.aborted || result.spawnError) {
        if (set.length)
          updateCommandRecord(record, { secrets: [...readCommandRecord(record).secrets, ...set] });
        throw commandFailure(
          `secrets (${name})`,
          settings.secrets,
          target,
          result,
          settings.timeoutMs,
        );
      }
      set.push(name);
    }
    updateCommandRecord(record, { secrets: [...readCommandRecord(record).secrets, ...set] });
    return { set };
  }

  async secretNames(target: ServiceTarget): Promise<string[]> {
    return readCommandRecord(this.#record(target)).secrets;
  }

  /** Var names from airlock.yaml and the names of the secrets set through `command.secrets`. */
  async platformConfig(target: ServiceTarget): Promise<PlatformConfig> {
    return {
      settings: {},
      bindings: {},
      vars: Object.keys(this.#varsOf(target)).sort(),
      secrets: await this.secretNames(target),
      sources: [this.#record(target)],
    };
  }

  /** Airlock runs nothing for this provider; the platform keeps serving what the commands deployed. */
  async stopEnvironment(): Promise<void> {}
}

function now(): string {
  return new Date().toISOString();
}

function withoutAirlock(vars: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(vars).filter(([k]) => !k.startsWith('AIRLOCK_')));
}

/** The JSON object a describe command printed (the whole output, or its last line that is one). */
function parseDescribe(stdout: string): Record<string, unknown> | null {
  const candidates = [stdout.trim(), ...stdout.trim().split(/\r?\n/).reverse()];
  for (const text of candidates) {
    if (!text.startsWith('{')) continue;
    try {
      const value = JSON.parse(text) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value))
        return value as Record<string, unknown>;
    } catch {
      // not this one
    }
  }
  return null;
}
