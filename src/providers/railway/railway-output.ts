/**
 * Readers of the Railway CLI's JSON output (src/commands/up.rs, deployment.rs, variable.rs):
 * `up --detach --json` → {"deploymentId","logsUrl"}; `deployment list --json` →
 * [{id,status,createdAt,meta}] newest first; `variable list --json` → {NAME: value}.
 * Variable values are parsed only to be dropped: callers keep names (and Railway's own
 * RAILWAY_PUBLIC_DOMAIN).
 */
import { releaseInMessage } from './railway-commands.ts';

export interface RailwayDeployment {
  id: string;
  /** SUCCESS, FAILED, CRASHED, BUILDING, DEPLOYING, INITIALIZING, QUEUED, WAITING, REMOVED, SLEEPING, … */
  status: string;
  createdAt: string | null;
  /** The Airlock release its message names, when there is one. */
  release: string | null;
}

/** The deployment id `up --detach --json` printed. */
export function parseUp(stdout: string): { deploymentId: string; logsUrl: string | null } | null {
  for (const line of stdout.split(/\r?\n/).reverse()) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const data = JSON.parse(trimmed) as { deploymentId?: unknown; logsUrl?: unknown };
      if (typeof data.deploymentId === 'string')
        return {
          deploymentId: data.deploymentId,
          logsUrl: typeof data.logsUrl === 'string' ? data.logsUrl : null,
        };
    } catch {
      // a log line, not the result
    }
  }
  return null;
}

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object')
    for (const v of Object.values(value)) strings(v, out);
  return out;
}

/** `deployment list --json`, newest first. @throws SyntaxError when stdout is not JSON. */
export function parseDeployments(stdout: string): RailwayDeployment[] {
  const data = JSON.parse(stdout.trim() || '[]') as unknown;
  return (Array.isArray(data) ? data : []).map((raw) => {
    const d = (raw ?? {}) as Record<string, unknown>;
    const found = strings(d.meta)
      .map(releaseInMessage)
      .find((r) => r !== null);
    return {
      id: typeof d.id === 'string' ? d.id : '',
      status: typeof d.status === 'string' ? d.status.toUpperCase() : 'UNKNOWN',
      createdAt: typeof d.createdAt === 'string' ? d.createdAt : null,
      release: found?.release ?? null,
    };
  });
}

/** The deployment serving traffic: the newest that succeeded (Railway removes the older ones). */
export function servingDeployment(list: RailwayDeployment[]): RailwayDeployment | null {
  return list.find((d) => d.status === 'SUCCESS' || d.status === 'SLEEPING') ?? null;
}

export interface RailwayVariables {
  names: string[];
  /** Railway's own public domain of the service in this environment. */
  publicDomain: string | null;
  /** Values of the `keep` variables only (the non-secret ones Airlock sets), to restore on failure. */
  kept: Record<string, string>;
}

/**
 * `variable list --json`: names, the public domain and the values of `keep` (variables Airlock
 * itself sets, never secrets); every other value is dropped here.
 */
export function parseVariables(stdout: string, keep: readonly string[] = []): RailwayVariables {
  const data = JSON.parse(stdout.trim() || '{}') as Record<string, unknown>;
  const names = Object.keys(data).sort();
  const kept: Record<string, string> = {};
  for (const name of keep) {
    const value = data[name];
    if (typeof value === 'string') kept[name] = value;
  }
  const domain = data.RAILWAY_PUBLIC_DOMAIN;
  return {
    names,
    publicDomain: typeof domain === 'string' && domain ? domain : null,
    kept,
  };
}
