/**
 * The monitor's part of the state-store contract (samples, passes, stats, incidents), looped
 * over SQLite and Postgres (Postgres skipped without AIRLOCK_TEST_POSTGRES_URL; CI sets it).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { MonitorSample, StateStore } from '../../src/state/state-store.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';

const at = (s: number) => new Date(Date.UTC(2026, 5, 1, 10, 0, s)).toISOString();
const sample = (s: number, ok: boolean, latencyMs = 10, check = 'health'): MonitorSample => ({
  environment: 'staging',
  service: 'web',
  check,
  ok,
  latencyMs,
  at: at(s),
  message: ok ? '→ 200' : 'connection refused',
});

for (const impl of stateImplementations) {
  impl.describe(`monitor state: ${impl.name}`, () => {
    let store: StateStore;
    let cleanup: () => void | Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await impl.open());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('groups samples into passes, newest first, a pass failing when one sample fails', async () => {
      await store.recordMonitorSamples([sample(1, true), sample(1, true, 20, 'version')]);
      await store.recordMonitorSamples([sample(2, true), sample(2, false, 30, 'version')]);
      expect(await store.recentMonitorPasses('staging', 5)).toEqual([
        { at: at(2), ok: false },
        { at: at(1), ok: true },
      ]);
      expect(await store.monitorStats(at(0))).toEqual([
        { environment: 'staging', passes: 2, okPasses: 1, p95Ms: 30 },
      ]);
      expect(await store.compactMonitorSamples(at(2))).toBe(2);
      expect(await store.recentMonitorPasses('staging', 5)).toEqual([{ at: at(2), ok: false }]);
    });

    it('keeps one open incident per environment and cause, and resolves it once', async () => {
      const base = {
        environment: 'staging',
        cause: 'checks',
        startedAt: at(1),
        openedAt: at(2),
        failing: [{ service: 'web', check: 'health', message: 'down' }],
        releaseId: 'r1',
      };
      const opened = await store.openIncident(base);
      expect(opened).toMatchObject({ id: expect.any(Number), status: 'open', issueNumber: null });
      expect(await store.openIncident(base)).toBeUndefined();
      await store.updateIncident(opened?.id ?? 0, { issueNumber: 7, issueUrl: 'https://x/7' });
      expect(await store.resolveIncident(opened?.id ?? 0, at(4), 3000)).toBe(true);
      expect(await store.resolveIncident(opened?.id ?? 0, at(5), 4000)).toBe(false);
      expect(await store.getIncident(opened?.id ?? 0)).toMatchObject({
        status: 'resolved',
        durationMs: 3000,
        issueNumber: 7,
        issueUrl: 'https://x/7',
        failing: base.failing,
      });
      // Resolved, a new one may open.
      const again = await store.openIncident({ ...base, startedAt: at(8), openedAt: at(9) });
      expect(again?.id).not.toBe(opened?.id);
      expect(
        (await store.listIncidents({ environment: 'staging', status: 'open', limit: 5 })).map(
          (i) => i.id,
        ),
      ).toEqual([again?.id]);
    });
  });
}
