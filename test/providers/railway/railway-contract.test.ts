/**
 * The railway provider passes the provider contract against the FAKE Railway CLI (a recorded-CLI
 * fake: the Railway CLI cannot run here), with one project token per environment. `broken` is an
 * upload whose deployment ends FAILED.
 */
import { describeProviderContract } from '../contract.ts';
import { railwayTestProject } from './railway-test-project.ts';

describeProviderContract('railway (FAKE Railway CLI)', async () => {
  const p = railwayTestProject();
  p.artifact('r1');
  p.artifact('r2');
  p.artifact('r3', { broken: true });
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
