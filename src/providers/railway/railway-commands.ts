/**
 * The Railway CLI commands Airlock runs, as data: one function per command, returning argv
 * without the executable. Tests assert these exact arrays; docs/providers/railway.md lists them.
 * Secret values never appear here: they go to `railway variable set NAME --stdin`.
 */
import type { RailwayTarget } from './railway-config.ts';

const scope = (t: RailwayTarget) => [
  '--service',
  t.railwayService,
  '--environment',
  t.railwayEnvironment,
];

/**
 * Upload a release's verified artifact folder as the deployment's source, exactly as it is:
 * `--path-as-root` (the folder is the archive root), `--no-gitignore` (the artifact lives under
 * Airlock's home, outside the repository), `--detach --json` (returns the deployment id; Airlock polls).
 */
export function upCommand(t: RailwayTarget, artifactDir: string, message: string): string[] {
  return [
    'up',
    artifactDir,
    '--path-as-root',
    '--no-gitignore',
    ...scope(t),
    ...(t.project ? ['--project', t.project] : []),
    '--detach',
    '--json',
    '--message',
    message,
  ];
}

export function deploymentListCommand(t: RailwayTarget, limit = 20): string[] {
  return ['deployment', 'list', ...scope(t), '--json', '--limit', String(limit)];
}

export function variableListCommand(t: RailwayTarget): string[] {
  return ['variable', 'list', ...scope(t), '--json'];
}

/** Non-secret variables (AIRLOCK_RELEASE, the configured vars): values in argv are fine. */
export function variableSetCommand(t: RailwayTarget, values: Record<string, string>): string[] {
  const pairs = Object.keys(values)
    .sort()
    .map((name) => `${name}=${values[name]}`);
  return ['variable', 'set', ...pairs, ...scope(t), '--skip-deploys', '--json'];
}

/** One secret; its value is the command's stdin. */
export function variableSetStdinCommand(t: RailwayTarget, name: string): string[] {
  return ['variable', 'set', name, '--stdin', ...scope(t), '--skip-deploys', '--json'];
}

export function variableDeleteCommand(t: RailwayTarget, name: string): string[] {
  return ['variable', 'delete', name, ...scope(t), '--json'];
}

/** The deployment message that tells which Airlock release a Railway deployment runs. */
export function deploymentMessage(release: { id: string; digest: string; commit: string }): string {
  return `airlock ${release.id} sha256:${release.digest.slice(0, 12)} ${release.commit.slice(0, 7)}`;
}

/** The release a deployment message (anywhere in a deployment's meta) names, or null. */
export function releaseInMessage(text: string): { release: string; digest: string } | null {
  const match = /\bairlock (\S+) sha256:([0-9a-f]{12,64})\b/.exec(text);
  return match?.[1] && match[2] ? { release: match[1], digest: match[2] } : null;
}
