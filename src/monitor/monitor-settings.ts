/**
 * `monitor:` in airlock.yaml with its defaults applied, and which of a service's checks the
 * monitor probes.
 */
import type { CheckSpec } from '../checks/check.ts';
import type { Config } from '../config/schema.ts';

export interface MonitorSettings {
  /** Time between passes (ms). */
  intervalMs: number;
  /** Consecutive failing passes before an incident opens. */
  openAfter: number;
  /** Consecutive passing passes before it resolves. */
  resolveAfter: number;
  /** Check names probed; null: every HTTP check (and command checks with `commandChecks`). */
  checks: string[] | null;
  commandChecks: boolean;
  /** Samples older than this (ms) are deleted. */
  retentionMs: number;
  /** Track incidents as GitHub issues (when the github: section is set). */
  issues: boolean;
  /** Branch whose head's CI is read on every pass, or null. */
  ci: string | null;
}

export const MONITOR_DEFAULTS: MonitorSettings = {
  intervalMs: 60_000,
  openAfter: 2,
  resolveAfter: 2,
  checks: null,
  commandChecks: false,
  retentionMs: 7 * 24 * 3_600_000,
  issues: true,
  ci: null,
};

/** The settings of a validated config's `monitor:` section, defaults filled in. */
export function monitorSettings(raw: Pick<Config, 'monitor'>): MonitorSettings {
  const m = raw.monitor;
  if (!m) return { ...MONITOR_DEFAULTS };
  return {
    intervalMs: m.intervalMs,
    openAfter: m.openAfter,
    resolveAfter: m.resolveAfter,
    checks: m.checks ?? null,
    commandChecks: m.commandChecks,
    retentionMs: m.retentionMs,
    issues: m.issues,
    ci: m.ci ?? null,
  };
}

/**
 * The checks of `specs` the monitor probes: those named in `monitor.checks` when it is set,
 * otherwise every HTTP check and, with `commandChecks`, every command check.
 */
export function monitoredChecks(specs: CheckSpec[], settings: MonitorSettings): CheckSpec[] {
  if (settings.checks) {
    const names = new Set(settings.checks);
    return specs.filter((s) => names.has(s.name));
  }
  return specs.filter((s) => s.type === 'http' || (s.type === 'command' && settings.commandChecks));
}
