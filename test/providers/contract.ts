/**
 * The provider contract (issue 6): one suite every provider passes — local, cloudflare (real
 * workerd through wrangler dev), command, and the recorded-CLI FAKES of fly and railway.
 * A harness gives the suite a provider, deployments of three releases (r1, r2, and `broken`,
 * which must fail to deploy), and a transcript of everything the provider sent out (argv, env,
 * stdin, logs) so the suite can prove secret values never leak.
 *
 * Use: `describeProviderContract('local', async () => harness)` in a test file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/errors.ts';
import type { Provider, ServiceDeployment, ServiceTarget } from '../../src/providers/provider.ts';

export interface ProviderHarness {
  provider: Provider;
  /** The two environments the suite deploys to (e.g. staging and production). */
  environments: [string, string];
  target(environment: string): ServiceTarget;
  /**
   * A deployment of `release` into `environment`. `broken` is a release that cannot come up
   * (its process exits, its health check never passes, its deploy command fails).
   */
  deployment(
    environment: string,
    release: 'r1' | 'r2' | 'broken',
    kind?: ServiceDeployment['kind'],
  ): Promise<ServiceDeployment>;
  /**
   * The release a live URL serves (GET /version → `{ release }`), or null when this harness
   * cannot reach the URL (a platform behind a recorded-CLI fake).
   */
  servedRelease(url: string): Promise<string | null>;
  /** Everything the provider sent to the outside world so far, as text. */
  transcript(): Promise<string>;
  cleanup(): Promise<void>;
}

/** A secret value unique enough to find anywhere it leaks. */
const SECRET_VALUE = 'contract-secret-9f2b7c1e0d4a';

export function describeProviderContract(
  name: string,
  createHarness: () => Promise<ProviderHarness>,
  options: { timeoutMs?: number } = {},
): void {
  describe(`provider contract: ${name}`, { timeout: options.timeoutMs ?? 120_000 }, () => {
    let h: ProviderHarness;
    let staging: string;
    let production: string;

    beforeAll(async () => {
      h = await createHarness();
      [staging, production] = h.environments;
    }, options.timeoutMs ?? 120_000);
    afterAll(async () => {
      if (!h) return;
      for (const environment of h.environments) await h.provider.stopEnvironment(environment);
      await h.cleanup();
    });

    it('describes an environment where nothing is deployed yet', async () => {
      const state = await h.provider.describe(h.target(staging));
      expect(state).toMatchObject({ environment: staging, release: null });
    });

    it('deploys a release, reports its URL, and describes it as serving', async () => {
      const outcome = await h.provider.deploy(await h.deployment(staging, 'r1'));
      expect(outcome.url).toMatch(/^https?:\/\//);
      expect(outcome.previousRelease).toBeNull();
      const state = await h.provider.describe(h.target(staging));
      expect(state).toMatchObject({ release: 'r1', url: outcome.url });
      const served = await h.servedRelease(outcome.url);
      if (served !== null) expect(served).toBe('r1');
    });

    it('deploys the same release into a second environment, apart from the first', async () => {
      const outcome = await h.provider.deploy(await h.deployment(production, 'r1', 'promote'));
      const first = await h.provider.describe(h.target(staging));
      expect(outcome.url).not.toBe(first.url);
      expect((await h.provider.describe(h.target(production))).release).toBe('r1');
    });

    it('replaces a release with a newer one', async () => {
      const outcome = await h.provider.deploy(await h.deployment(staging, 'r2'));
      expect(outcome.previousRelease).toBe('r1');
      expect((await h.provider.describe(h.target(staging))).release).toBe('r2');
      const served = await h.servedRelease(outcome.url);
      if (served !== null) expect(served).toBe('r2');
      // The other environment is untouched.
      expect((await h.provider.describe(h.target(production))).release).toBe('r1');
    });

    it('a release that cannot come up fails with a ProviderError, and the previous one keeps serving', async () => {
      const error = await h.provider
        .deploy(await h.deployment(staging, 'broken'))
        .then(() => null)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AirlockError);
      expect((error as AirlockError).kind).toBe('provider');
      expect((await h.provider.describe(h.target(staging))).release).toBe('r2');
    });

    it('rolls back to the earlier release', async () => {
      const outcome = await h.provider.rollback(await h.deployment(staging, 'r1', 'rollback'));
      expect(outcome.previousRelease).toBe('r2');
      expect((await h.provider.describe(h.target(staging))).release).toBe('r1');
      const served = await h.servedRelease(outcome.url);
      if (served !== null) expect(served).toBe('r1');
    });

    it('sets secrets by name; values never reach argv, logs or errors', async () => {
      const result = await h.provider.setSecrets(h.target(staging), {
        API_KEY: SECRET_VALUE,
      });
      expect(result.set).toEqual(['API_KEY']);
      expect(await h.provider.secretNames(h.target(staging))).toContain('API_KEY');
      expect(await h.provider.secretNames(h.target(production))).not.toContain('API_KEY');
      expect(await h.transcript()).not.toContain(SECRET_VALUE);
    });

    it('reports the platform configuration of each environment, secrets by name only', async () => {
      const config = await h.provider.platformConfig(h.target(staging));
      expect(config.secrets).toContain('API_KEY');
      expect(JSON.stringify(config)).not.toContain(SECRET_VALUE);
      expect(Array.isArray(config.vars)).toBe(true);
      expect(typeof config.settings).toBe('object');
    });
  });
}
