/**
 * The provider contract (issue 6): one suite every provider passes — local, cloudflare (real
 * workerd through wrangler dev), command, and the recorded-CLI FAKES of fly and railway.
 * A harness gives the suite a provider, deployments of three releases (r1, r2, and `broken`,
 * which must fail to deploy), and a transcript of everything the provider sent out (argv, env,
 * stdin, logs) so the suite can prove secret values never leak.
 *
 * Use: `describeProviderContract('local', async () => harness)` in a test file.
 */
import { describe, expect, test } from 'vitest';
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
  // Each test gets a harness of its own (its own home, ports, fake platform state), stopped
  // and cleaned up after it, so the tests run alone and in any order.
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  const contractTest = test.extend('h', async ({}, { onCleanup }) => {
    const h = await createHarness();
    onCleanup(async () => {
      for (const environment of h.environments) await h.provider.stopEnvironment(environment);
      await h.cleanup();
    });
    return h;
  });

  describe(`provider contract: ${name}`, { timeout: options.timeoutMs ?? 120_000 }, () => {
    contractTest('describes an environment where nothing is deployed yet', async ({ h }) => {
      const [staging] = h.environments;
      const state = await h.provider.describe(h.target(staging));
      expect(state).toMatchObject({ environment: staging, release: null });
    });

    contractTest(
      'deploys, promotes apart, replaces, survives a release that cannot come up, and rolls back',
      async ({ h }) => {
        const [staging, production] = h.environments;
        const served = async (url: string, release: string) => {
          const live = await h.servedRelease(url);
          if (live !== null) expect(live).toBe(release);
        };

        // A release is deployed, its URL reported, and it is described as serving.
        const first = await h.provider.deploy(await h.deployment(staging, 'r1'));
        expect(first.url).toMatch(/^https?:\/\//);
        expect(first.previousRelease).toBeNull();
        expect(await h.provider.describe(h.target(staging))).toMatchObject({
          release: 'r1',
          url: first.url,
        });
        await served(first.url, 'r1');

        // The same release goes into a second environment, apart from the first.
        const promoted = await h.provider.deploy(await h.deployment(production, 'r1', 'promote'));
        expect(promoted.url).not.toBe(first.url);
        expect((await h.provider.describe(h.target(production))).release).toBe('r1');

        // A newer release replaces it; the other environment is untouched.
        const newer = await h.provider.deploy(await h.deployment(staging, 'r2'));
        expect(newer.previousRelease).toBe('r1');
        expect((await h.provider.describe(h.target(staging))).release).toBe('r2');
        await served(newer.url, 'r2');
        expect((await h.provider.describe(h.target(production))).release).toBe('r1');

        // A release that cannot come up fails with a ProviderError; the previous one keeps serving.
        const error = await h.provider
          .deploy(await h.deployment(staging, 'broken'))
          .then(() => null)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AirlockError);
        expect((error as AirlockError).kind).toBe('provider');
        expect((await h.provider.describe(h.target(staging))).release).toBe('r2');

        // A rollback puts the earlier release back.
        const back = await h.provider.rollback(await h.deployment(staging, 'r1', 'rollback'));
        expect(back.previousRelease).toBe('r2');
        expect((await h.provider.describe(h.target(staging))).release).toBe('r1');
        await served(back.url, 'r1');
      },
    );

    contractTest(
      'sets secrets by name, in one environment only; values never reach argv, logs, errors or the platform configuration',
      async ({ h }) => {
        const [staging, production] = h.environments;
        // Some platforms keep secrets on a deployed service only (a Worker must exist).
        await h.provider.deploy(await h.deployment(staging, 'r1'));
        const result = await h.provider.setSecrets(h.target(staging), { API_KEY: SECRET_VALUE });
        expect(result.set).toEqual(['API_KEY']);
        expect(await h.provider.secretNames(h.target(staging))).toContain('API_KEY');
        expect(await h.provider.secretNames(h.target(production))).not.toContain('API_KEY');
        expect(await h.transcript()).not.toContain(SECRET_VALUE);

        // The platform configuration of the environment names the secret, never its value.
        const config = await h.provider.platformConfig(h.target(staging));
        expect(config.secrets).toContain('API_KEY');
        expect(JSON.stringify(config)).not.toContain(SECRET_VALUE);
        expect(Array.isArray(config.vars)).toBe(true);
        expect(typeof config.settings).toBe('object');
      },
    );
  });
}
