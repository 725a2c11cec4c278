/**
 * One monitor pass's probes: every monitored check (`monitor-settings.ts`) of every service
 * serving in every environment, run once against the URL its platform reports, a few at a
 * time. HTTP checks make one attempt (no retries: the next pass is the retry); unreachable
 * counts as failed. Reuses the deployment checks (`src/checks`).
 */
import path from 'node:path';
import type { CheckSpec } from '../checks/check.ts';
import { runCheck } from '../checks/run-checks.ts';
import { usableDatabase } from '../config/resolve.ts';
import { type AirlockContext, serviceTarget } from '../pipeline/context.ts';
import { checkSecrets } from '../pipeline/steps/check-step.ts';
import type { MonitorSample, Release } from '../state/state-store.ts';
import { type MonitorSettings, monitoredChecks } from './monitor-settings.ts';

/** What one environment looked like in a pass. */
export interface EnvironmentProbe {
  environment: string;
  /** Service → release serving (as recorded). */
  serving: Record<string, string>;
  /** Service → URL the platform reports. */
  urls: Record<string, string>;
  samples: MonitorSample[];
  /** Services skipped, with why (a variable a check reads is not set here). */
  skipped: string[];
}

/** Probes at once, at most. */
const CONCURRENCY = 16;

/** Runs `jobs` with at most `limit` at a time. */
async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return out;
}

/** One attempt: the monitor retries on its next pass, not within one. */
function once(spec: CheckSpec): CheckSpec {
  return spec.type === 'http' ? { ...spec, timeoutMs: 0 } : spec;
}

/**
 * Probes every environment of the pipeline that serves something, stamping every sample with
 * `at`. Never throws for an unreachable app or platform (those are failed samples).
 * @returns one entry per environment that serves something with monitored checks.
 */
export async function probeEnvironments(
  ctx: AirlockContext,
  settings: MonitorSettings,
  at: string,
  signal?: AbortSignal,
): Promise<EnvironmentProbe[]> {
  const releases = new Map<string, Release | undefined>();
  const release = async (id: string) => {
    if (!releases.has(id)) releases.set(id, await ctx.store.findRelease(id));
    return releases.get(id);
  };
  const probes: EnvironmentProbe[] = [];
  const jobs: Array<() => Promise<void>> = [];
  for (const name of ctx.config.pipeline) {
    const env = ctx.config.environments[name];
    if (!env) continue;
    const probe: EnvironmentProbe = {
      environment: name,
      serving: {},
      urls: {},
      samples: [],
      skipped: [],
    };
    for (const record of await ctx.store.getServing(name)) {
      const service = env.services[record.service];
      if (!service) continue;
      const specs = monitoredChecks(service.checks, settings);
      if (specs.length === 0) continue;
      probe.serving[record.service] = record.releaseId;
      // The app's vars are not needed to probe it (a scheduled monitor holds no app secrets);
      // an unset reference in a check is.
      const unset = service.unset.filter((u) => !/(^|\.)vars(\.|$)/.test(u.path));
      if (unset.length > 0) {
        probe.skipped.push(`${record.service}: ${unset.map((u) => u.message).join('; ')}`);
        continue;
      }
      jobs.push(async () => {
        const sample = (check: string, ok: boolean, latencyMs: number, message: string) =>
          probe.samples.push({
            environment: name,
            service: record.service,
            check,
            ok,
            latencyMs,
            at,
            message,
          });
        let url: string;
        try {
          url = (
            await ctx.providerFor(env).describe(serviceTarget(ctx.config, env, record.service))
          ).url;
        } catch (error) {
          const why = error instanceof Error ? error.message : String(error);
          for (const spec of specs) sample(spec.name, false, 0, `platform not reachable: ${why}`);
          return;
        }
        probe.urls[record.service] = url;
        const rel = await release(record.releaseId);
        const databaseUrl =
          service.database && !service.database.unset
            ? usableDatabase(service.database).url
            : undefined;
        for (const spec of specs) {
          const result = await runCheck(once(spec), {
            baseUrl: url.replace(/\/+$/, ''),
            environment: name,
            service: record.service,
            release: {
              id: record.releaseId,
              commit: rel?.commit ?? '',
              digest: rel?.digest ?? '',
            },
            serviceRoot: path.resolve(ctx.config.dir, service.root),
            ...(signal ? { signal } : {}),
            ...(databaseUrl ? { databaseUrl } : {}),
            secrets: checkSecrets(service.references, databaseUrl),
          });
          const latency =
            typeof result.details.latencyMs === 'number'
              ? result.details.latencyMs
              : result.durationMs;
          // Why only for a failure: a passing sample's message says nothing new (and the store stays smaller).
          const ok = result.status === 'passed';
          sample(spec.name, ok, latency, ok ? '' : result.message);
        }
      });
    }
    if (Object.keys(probe.serving).length > 0) probes.push(probe);
  }
  await pool(jobs, CONCURRENCY);
  return probes;
}
