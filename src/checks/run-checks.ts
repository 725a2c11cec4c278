/**
 * Runs an environment's checks after a deployment, in the order configured.
 */

import type { CheckContext, CheckResult, CheckSpec } from './check.ts';
import { runCommandCheck } from './command-check.ts';
import { runHttpCheck } from './http-check.ts';
import { runLatencyCheck } from './latency-check.ts';
import { runPerfCheck } from './perf-check.ts';

/** Runs one check of any type. Never throws. */
export function runCheck(spec: CheckSpec, ctx: CheckContext): Promise<CheckResult> {
  switch (spec.type) {
    case 'http':
      return runHttpCheck(spec, ctx);
    case 'command':
      return runCommandCheck(spec, ctx);
    case 'latency':
      return runLatencyCheck(spec, ctx);
    case 'perf':
      return runPerfCheck(spec, ctx);
  }
}

/**
 * Runs every check in order, one at a time (a failure does not skip the rest, so the report
 * shows everything that is wrong), calling `onResult` after each.
 *
 * When `ctx.signal` aborts, the running check stops and the checks not started yet are reported
 * as failed with `details.cancelled: true` and `attempts: 0`, so the result always has one
 * entry per spec. Never throws.
 *
 * @returns one result per spec, in spec order.
 */
export async function runChecks(
  specs: CheckSpec[],
  ctx: CheckContext,
  onResult?: (result: CheckResult) => void,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const spec of specs) {
    const result = ctx.signal?.aborted
      ? {
          name: spec.name,
          type: spec.type,
          status: 'failed' as const,
          durationMs: 0,
          attempts: 0,
          message: `${spec.name} not run: cancelled`,
          details: { cancelled: true },
        }
      : await runCheck(spec, ctx);
    results.push(result);
    onResult?.(result);
  }
  return results;
}
