/**
 * The CLI's half of a switch's checks lease (the platform's half is
 * `providers/local/checks-lease.ts`): once a service has switched to the new release under a
 * lease, this process renews it every third of its length until the service's checks complete,
 * then confirms it (or, when they failed and an automatic rollback follows, lets the rollback
 * replace it). If this process dies, renewals stop and the platform switches back by itself
 * within the lease. A confirmation that finds another release serving means that already
 * happened: the checks did not check the release, and the step says so.
 */
import type { ResolvedConfig, ResolvedEnvironment } from '../config/resolve.ts';
import type { ChecksLeaseState, Provider } from '../providers/provider.ts';
import { serviceTarget } from './context.ts';

interface Held {
  release: string;
  ms: number;
  timer: NodeJS.Timeout;
}

/** The leases one run holds, per service; see the module comment. */
export class ChecksLeaseKeeper {
  readonly #provider: Provider;
  readonly #config: ResolvedConfig;
  readonly #env: ResolvedEnvironment;
  readonly #held = new Map<string, Held>();

  constructor(provider: Provider, config: ResolvedConfig, env: ResolvedEnvironment) {
    this.#provider = provider;
    this.#config = config;
    this.#env = env;
  }

  /** True when the provider keeps leases at all. */
  get supported(): boolean {
    return typeof this.#provider.checksLease === 'function';
  }

  /**
   * Starts renewing `service`'s lease on `release` every `ms / 3` (each renewal extends it by
   * `ms`). Renewals that fail (the runtime restarting) are retried at the next tick.
   */
  hold(service: string, release: string, ms: number): void {
    if (!this.supported || ms <= 0) return;
    this.#stop(service);
    const timer = setInterval(
      () => void this.#call(service, release, 'renew', ms).catch(() => undefined),
      Math.max(50, Math.floor(ms / 3)),
    );
    timer.unref();
    this.#held.set(service, { release, ms, timer });
  }

  /** True while this run renews `service`'s lease. */
  holds(service: string): boolean {
    return this.#held.has(service);
  }

  /**
   * The checks of `service` completed: `confirm` ends the lease (the release stays); otherwise it
   * is renewed once more and kept renewed (an automatic rollback comes next). Null when no lease
   * is held for it.
   * @throws what the provider throws (the runtime unreachable).
   */
  async settle(service: string, confirm: boolean): Promise<ChecksLeaseState | null> {
    const held = this.#held.get(service);
    if (!held) return null;
    if (!confirm) return this.#call(service, held.release, 'renew', held.ms);
    this.#stop(service);
    return this.#call(service, held.release, 'confirm');
  }

  /** Stops every renewal (the run ended): a lease still pending then runs out on the platform. */
  releaseAll(): void {
    for (const service of [...this.#held.keys()]) this.#stop(service);
  }

  #stop(service: string): void {
    const held = this.#held.get(service);
    if (held) clearInterval(held.timer);
    this.#held.delete(service);
  }

  #call(
    service: string,
    release: string,
    action: 'renew' | 'confirm',
    ms?: number,
  ): Promise<ChecksLeaseState> {
    const lease = this.#provider.checksLease as NonNullable<Provider['checksLease']>;
    return lease.call(
      this.#provider,
      serviceTarget(this.#config, this.#env, service),
      release,
      action,
      ms,
    );
  }
}
