/**
 * What `airlock status` shows of the monitor, per environment: uptime over 24 h and 7 d (the
 * share of passes where every monitored check passed), the p95 latency of the samples over
 * 24 h (ms), and the incidents open now.
 */
import type { Incident, StateStore } from '../state/state-store.ts';

export interface EnvironmentHealth {
  environment: string;
  /** Percent of passing passes over 24 h, or null without samples. */
  uptime24h: number | null;
  uptime7d: number | null;
  /** ms over 24 h, or null without samples. */
  p95Ms: number | null;
  open: Incident[];
}

const DAY_MS = 24 * 3_600_000;

/** One entry per environment of `pipeline` that has samples or an open incident. */
export async function environmentHealth(
  store: Pick<StateStore, 'monitorStats' | 'listIncidents'>,
  pipeline: string[],
  now: Date,
): Promise<EnvironmentHealth[]> {
  const [day, week, open] = await Promise.all([
    store.monitorStats(new Date(now.getTime() - DAY_MS).toISOString()),
    store.monitorStats(new Date(now.getTime() - 7 * DAY_MS).toISOString()),
    store.listIncidents({ status: 'open', limit: 1000 }),
  ]);
  const uptime = (s: { passes: number; okPasses: number } | undefined) =>
    s && s.passes > 0 ? Math.floor((s.okPasses / s.passes) * 10_000) / 100 : null;
  return pipeline
    .map((environment) => {
      const d = day.find((s) => s.environment === environment);
      const w = week.find((s) => s.environment === environment);
      return {
        environment,
        uptime24h: uptime(d),
        uptime7d: uptime(w),
        p95Ms: d?.p95Ms ?? null,
        open: open.filter((i) => i.environment === environment),
      };
    })
    .filter((h) => h.uptime7d !== null || h.open.length > 0);
}
