/**
 * `airlock monitor`: continuous health of every environment. A pass probes every monitored
 * check (`probe.ts`), records one sample per check in the state store, and moves incidents on
 * (`incident-rules.ts`): opened, changed, resolved — audited, notified and tracked as GitHub
 * issues (`incident-issues.ts`). Several monitors (several machines, one state store) share one
 * lease (the state store's lock row `@monitor`): only its holder runs passes, the others stand
 * by and take over when its lease runs out; a unique index keeps one open incident per
 * environment and cause even if two ever race.
 */
import { randomUUID } from 'node:crypto';
import type { GitHubClient } from '../github/github-client.ts';
import { createNotificationEvent, type NotificationEvent } from '../notify/notification-event.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import { audit } from '../state/audit.ts';
import type { Incident, IncidentCheck, Lock, MonitorSample } from '../state/state-store.ts';
import type { IncidentContext, IncidentIssues } from './incident-issues.ts';
import { decideIncident } from './incident-rules.ts';
import type { MonitorSettings } from './monitor-settings.ts';
import { type EnvironmentProbe, probeEnvironments } from './probe.ts';

/** The lock row the monitors share (not an environment name: those cannot start with @). */
export const MONITOR_LEASE = '@monitor';
/** The environment's monitored checks fail. */
export const CHECKS_CAUSE = 'checks';
/** CI is red at the head of a branch (`monitor.ci`); its incidents' environment is `ci:<branch>`. */
export const CI_CAUSE = 'ci';

/** CI at the head of a branch, as the monitor reads it. */
export type BranchCi = (
  branch: string,
) => Promise<{ state: 'success' | 'failure' | 'pending' | 'none'; summary: string }>;

/** GitHub's page of an environment's deployments, from the API root (GitHub Enterprise: `/api/v3`). */
export function deploymentsPage(
  apiUrl: string | null,
  repository: string,
  environment: string,
): string {
  const web = apiUrl ? apiUrl.replace(/\/api\/v3\/?$/, '') : 'https://github.com';
  return `${web}/${repository}/deployments/${encodeURIComponent(environment)}`;
}

/** CI at a branch's head from GitHub's combined status and check runs. */
export function gitHubBranchCi(github: GitHubClient): BranchCi {
  return async (branch) => {
    const r = await github.ciStatus(branch, { branch: true });
    return { state: r.state, summary: r.summary };
  };
}

export interface MonitorDeps {
  ctx: AirlockContext;
  settings: MonitorSettings;
  /** Where incidents become issues; null: not tracked. */
  issues: IncidentIssues | null;
  /** Sends a notification (deliveries are recorded by the caller); never awaited for long. */
  notify?: (event: NotificationEvent) => unknown;
  /** Reads CI at a branch's head (GitHub); needed for `monitor.ci`. */
  ci?: BranchCi;
  /** This monitor's lease token. Default: a new one. */
  token?: string;
}

export interface MonitorPassResult {
  at: string;
  /** Another monitor holds the lease: nothing was probed. */
  standby: Lock | null;
  environments: EnvironmentProbe[];
  opened: Incident[];
  changed: Incident[];
  resolved: Incident[];
  /** Open after the pass (every environment). */
  open: Incident[];
  /** Things that went wrong without failing the pass (GitHub, a skipped service). */
  warnings: string[];
}

/** One monitor: keeps its lease token across passes. */
export class Monitor {
  readonly #deps: MonitorDeps;
  readonly #token: string;

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#token = deps.token ?? randomUUID();
  }

  /** Lease length: three intervals (at least 30 s), renewed on every pass. */
  get leaseMs(): number {
    return Math.max(30_000, 3 * this.#deps.settings.intervalMs);
  }

  /**
   * Runs one pass if this monitor holds (or can take) the lease.
   * @throws whatever the state store throws (exit 2 for `--once`).
   */
  async pass(signal?: AbortSignal): Promise<MonitorPassResult> {
    const { ctx, settings } = this.#deps;
    const now = ctx.now();
    const at = now.toISOString();
    const result: MonitorPassResult = {
      at,
      standby: null,
      environments: [],
      opened: [],
      changed: [],
      resolved: [],
      open: [],
      warnings: [],
    };
    const lease = await this.#lease(now);
    if (lease) {
      result.standby = lease;
      result.open = await ctx.store.listIncidents({ status: 'open', limit: 1000 });
      return result;
    }
    result.environments = await probeEnvironments(ctx, settings, at, signal);
    if (settings.ci) result.environments.push(await this.#probeCi(settings.ci, at, result));
    const samples: MonitorSample[] = result.environments.flatMap((e) => e.samples);
    await ctx.store.recordMonitorSamples(samples);
    for (const probe of result.environments) {
      for (const s of probe.skipped) result.warnings.push(`${probe.environment}/${s}`);
      await this.#incidents(probe, result);
    }
    await ctx.store.compactMonitorSamples(
      new Date(now.getTime() - settings.retentionMs).toISOString(),
    );
    result.open = await ctx.store.listIncidents({ status: 'open', limit: 1000 });
    return result;
  }

  /** Frees the lease (a stopping monitor lets a standby take over at once). */
  async release(): Promise<void> {
    await this.#deps.ctx.store.releaseLock(MONITOR_LEASE, this.#token);
  }

  /** Takes or renews the lease; @returns the other holder when it is not ours. */
  async #lease(now: Date): Promise<Lock | null> {
    const { ctx } = this.#deps;
    if (await ctx.store.renewLock(MONITOR_LEASE, this.#token, this.leaseMs, now)) return null;
    const attempt = await ctx.store.acquireLock({
      environment: MONITOR_LEASE,
      token: this.#token,
      holder: ctx.actor,
      runId: null,
      pid: ctx.pid,
      host: ctx.host,
      message: 'airlock monitor',
      ttlMs: this.leaseMs,
      now,
    });
    return attempt.acquired ? null : attempt.holder;
  }

  /** CI at the branch's head as one sample (pending and none count as passing). */
  async #probeCi(branch: string, at: string, result: MonitorPassResult): Promise<EnvironmentProbe> {
    const probe: EnvironmentProbe = {
      environment: `ci:${branch}`,
      serving: {},
      urls: {},
      samples: [],
      skipped: [],
    };
    const sample = (ok: boolean, latencyMs: number, message: string) =>
      probe.samples.push({
        environment: probe.environment,
        service: branch,
        check: 'ci',
        ok,
        latencyMs,
        at,
        message,
      });
    if (!this.#deps.ci) {
      result.warnings.push(
        `monitor.ci is set, but CI cannot be read here (needs the github: section and GITHUB_TOKEN).`,
      );
      return probe;
    }
    const started = performance.now();
    try {
      const ci = await this.#deps.ci(branch);
      const ok = ci.state !== 'failure';
      sample(ok, Math.round(performance.now() - started), ok ? '' : `CI is red: ${ci.summary}`);
    } catch (error) {
      // GitHub unreachable says nothing about CI: no sample, a warning.
      result.warnings.push(
        `could not read CI at ${branch}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return probe;
  }

  async #incidents(probe: EnvironmentProbe, result: MonitorPassResult): Promise<void> {
    if (probe.samples.length === 0) return;
    const { ctx, settings } = this.#deps;
    const environment = probe.environment;
    const failing: IncidentCheck[] = probe.samples
      .filter((s) => !s.ok)
      .map((s) => ({ service: s.service, check: s.check, message: s.message }))
      .sort((a, b) => `${a.service}/${a.check}`.localeCompare(`${b.service}/${b.check}`));
    const [open] = await ctx.store.listIncidents({ environment, status: 'open', limit: 1 });
    const passes = await ctx.store.recentMonitorPasses(
      environment,
      Math.max(settings.openAfter, settings.resolveAfter) + 50,
    );
    const decision = decideIncident(passes, open, failing, settings);
    const releaseId = Object.values(probe.serving)[0] ?? null;
    const writer = { store: ctx.store, actor: ctx.actor, now: ctx.now };
    if (decision.kind === 'open') {
      const incident = await ctx.store.openIncident({
        environment,
        cause: environment.startsWith('ci:') ? CI_CAUSE : CHECKS_CAUSE,
        startedAt: decision.since,
        openedAt: result.at,
        failing,
        releaseId,
      });
      if (!incident) return; // another monitor opened it
      await this.#track(incident, probe, result);
      const opened = (await ctx.store.getIncident(incident.id)) ?? incident;
      result.opened.push(opened);
      await audit(writer, 'incident.opened', {
        environment,
        releaseId,
        result: 'failed',
        detail: {
          incident: opened.id,
          cause: opened.cause,
          failing,
          since: opened.startedAt,
          issue: opened.issueUrl,
        },
      });
      this.#notify('incident.opened', opened, {
        reason: failing.map((c) => `${c.service} ${c.check}: ${c.message}`).join('; '),
      });
      return;
    }
    if (!open) return;
    if (open.issueNumber === null) await this.#track(open, probe, result);
    const current = (await ctx.store.getIncident(open.id)) ?? open;
    if (decision.kind === 'change') {
      await ctx.store.updateIncident(open.id, { failing });
      const changed = { ...current, failing };
      result.changed.push(changed);
      await audit(writer, 'incident.changed', {
        environment,
        releaseId,
        result: 'failed',
        detail: { incident: open.id, failing },
      });
      await this.#github(result, `comment on the issue of incident #${open.id}`, () =>
        this.#deps.issues?.changed(changed),
      );
    } else if (decision.kind === 'resolve') {
      if (!(await ctx.store.resolveIncident(open.id, decision.at, decision.durationMs))) return;
      const resolved = (await ctx.store.getIncident(open.id)) ?? current;
      result.resolved.push(resolved);
      await audit(writer, 'incident.resolved', {
        environment,
        releaseId,
        detail: {
          incident: open.id,
          cause: open.cause,
          durationMs: decision.durationMs,
          issue: resolved.issueUrl,
        },
      });
      await this.#github(result, `close the issue of incident #${open.id}`, () =>
        this.#deps.issues?.resolved(resolved),
      );
      this.#notify('incident.resolved', resolved, {
        reason: `outage of ${Math.round(decision.durationMs / 1000)} s`,
      });
    }
  }

  /** Opens (or finds) the incident's issue and records it; a failure is a warning, retried next pass. */
  async #track(incident: Incident, probe: EnvironmentProbe, result: MonitorPassResult) {
    const { ctx, issues } = this.#deps;
    if (!issues) return;
    const [last] = await ctx.store.listDeployments({
      environment: incident.environment,
      limit: 1,
    });
    const context: IncidentContext = {
      project: ctx.config.project,
      serving: probe.serving,
      urls: probe.urls,
      lastDeployment: last
        ? `#${last.id} ${last.kind} ${last.releaseId} ${last.status} at ${last.finishedAt ?? last.startedAt} by ${last.actor}`
        : null,
      deploymentsUrl: ctx.config.github
        ? deploymentsPage(
            ctx.config.github.apiUrl,
            ctx.config.github.repository,
            incident.environment,
          )
        : null,
      resolveAfter: this.#deps.settings.resolveAfter,
    };
    await this.#github(
      result,
      `open an issue for incident #${incident.id} (tried again on the next pass)`,
      async () => {
        const issue = await issues.open(incident, context);
        await ctx.store.updateIncident(incident.id, {
          issueNumber: issue.number,
          issueUrl: issue.url,
        });
      },
    );
  }

  async #github(result: MonitorPassResult, what: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      result.warnings.push(
        `could not ${what} on GitHub: ${error instanceof Error ? error.message : String(error)} `,
      );
    }
  }

  #notify(
    type: 'incident.opened' | 'incident.resolved',
    incident: Incident,
    details: Record<string, unknown>,
  ): void {
    const { ctx, notify } = this.#deps;
    if (!notify) return;
    notify(
      createNotificationEvent({
        type,
        at: ctx.now().toISOString(),
        project: ctx.config.project,
        environment: incident.environment,
        release: null,
        actor: ctx.actor,
        details: {
          ...details,
          incident: incident.id,
          cause: incident.cause,
          failing: incident.failing,
          since: incident.startedAt,
          durationMs: incident.durationMs,
          issue: incident.issueUrl,
        },
      }),
    );
  }
}
