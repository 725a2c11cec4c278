/**
 * The fly provider passes the provider contract against the FAKE flyctl (a recorded-CLI fake:
 * flyctl cannot run here). Releases are packaged as `airlock build` does: one image pushed per
 * release, its digest in the artifact's fly-image.json; `broken` is an image whose machines
 * never pass their health checks.
 */
import { describeProviderContract } from '../contract.ts';
import { flyTestProject } from './fly-test-project.ts';

describeProviderContract('fly (FAKE flyctl)', async () => {
  const p = await flyTestProject();
  await p.packageRelease('r1');
  await p.packageRelease('r2');
  await p.packageRelease('r3', { broken: true });
  return {
    provider: p.provider,
    environments: ['staging', 'production'],
    target: (environment) => p.target(environment),
    deployment: async (environment, release, kind = 'deploy') =>
      p.deployment(environment, release === 'broken' ? 'r3' : release, kind),
    servedRelease: async () => null,
    transcript: async () => `${p.fake.transcriptText()}\n${p.lines.join('\n')}`,
    async cleanup() {
      p.cleanup();
    },
  };
});
