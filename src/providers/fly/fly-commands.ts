/**
 * The flyctl commands Airlock runs, as data (Kamal's command builders): one function per
 * command, returning argv without the executable. Tests assert these exact arrays; docs/providers/
 * fly.md lists them. Secret values never appear here: they go to `fly secrets import` on stdin.
 */
import { goDuration } from '../platform-cli.ts';
import type { FlyTarget } from './fly-config.ts';

/** Build from the release's checkout and push one image to the first environment's app registry. */
export function buildCommand(target: FlyTarget, label: string): string[] {
  return [
    'deploy',
    '--build-only',
    '--push',
    '--config',
    target.config,
    '--app',
    target.app,
    '--image-label',
    label,
  ];
}

export interface DeployCommandOptions {
  /** The image by digest: `registry.fly.io/<app>@sha256:…`. */
  image: string;
  /** Non-secret variables for the machines (AIRLOCK_RELEASE, AIRLOCK_DIGEST, the configured vars). */
  env: Record<string, string>;
  /** How long flyctl waits for machines to start and pass their checks (ms). */
  waitTimeoutMs: number;
}

/**
 * Deploy an already-pushed image by digest to this environment's app. Blue-green unless the
 * fly.toml chose a strategy: new machines must pass their checks before traffic moves, so a
 * release that cannot come up never replaces the one serving.
 */
export function deployCommand(target: FlyTarget, options: DeployCommandOptions): string[] {
  const env = Object.keys(options.env)
    .sort()
    .flatMap((name) => ['--env', `${name}=${options.env[name]}`]);
  return [
    'deploy',
    '--config',
    target.config,
    '--app',
    target.app,
    '--image',
    options.image,
    ...env,
    ...(target.strategy ? [] : ['--strategy', 'bluegreen']),
    '--wait-timeout',
    goDuration(options.waitTimeoutMs),
    '--yes',
  ];
}

export function statusCommand(target: FlyTarget): string[] {
  return ['status', '--json', '--config', target.config, '--app', target.app];
}

/** Values arrive on stdin as NAME=VALUE lines; `--stage` leaves the running machines alone. */
export function secretsImportCommand(target: FlyTarget): string[] {
  return ['secrets', 'import', '--stage', '--config', target.config, '--app', target.app];
}

export function secretsListCommand(target: FlyTarget): string[] {
  return ['secrets', 'list', '--json', '--config', target.config, '--app', target.app];
}

/**
 * The stdin of `fly secrets import`: one NAME=VALUE per line, a value with newlines between
 * triple quotes (flyctl's parser).
 * @returns null for a value flyctl's parser cannot carry unchanged.
 */
export function secretsImportInput(secrets: Record<string, string>): string | null {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    if (value.includes('"""') || value.startsWith('"')) return null;
    if (value.includes('\r')) return null;
    lines.push(value.includes('\n') ? `${name}="""${value}"""` : `${name}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}
