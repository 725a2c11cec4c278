/**
 * A view of a state store that masks every secret Airlock knows (`secrets/known-secrets.ts`)
 * in what it writes: step output and messages, run and deployment messages, check results,
 * approvals' reasons, CI results and audit events. A crashing app that prints its environment,
 * or a check that does, never puts a secret into a row, where an append-only audit log would keep
 * it for good. Reads pass through unchanged.
 */
import type { SecretMask } from '../secrets/known-secrets.ts';
import type { StateStore } from './state-store.ts';

/** The methods whose arguments carry text written into a row. */
const WRITES = new Set<string>([
  'insertRelease',
  'createRun',
  'updateRun',
  'saveStep',
  'createDeployment',
  'updateDeployment',
  'setServing',
  'recordCheckResults',
  'addApproval',
  'enqueue',
  'updateQueueEntry',
  'recordCiResult',
  'appendAudit',
  'acceptAudit',
  'markAuditBroken',
  'recordMonitorSamples',
  'openIncident',
  'updateIncident',
]);

/** `store` with its writes masked by `mask` (also in its fenced views and transactions). */
export function maskingStore(store: StateStore, mask: SecretMask): StateStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const name = String(property);
      if (name === 'fenced')
        return (...args: unknown[]) =>
          maskingStore((value as (...a: unknown[]) => StateStore).apply(target, args), mask);
      if (name === 'transaction')
        return (fn: (s: StateStore) => Promise<unknown>) =>
          (value as (f: typeof fn) => Promise<unknown>).call(target, (inner: StateStore) =>
            fn(maskingStore(inner, mask)),
          );
      if (WRITES.has(name))
        return (...args: unknown[]) =>
          (value as (...a: unknown[]) => unknown).apply(
            target,
            args.map((a) => mask.deep(a)),
          );
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
