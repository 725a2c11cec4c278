/**
 * The command provider passes the provider contract twice: with Airlock's own record for
 * describe and the deploy command for rollbacks, and with the user's describe and rollback
 * commands. Real shell scripts deploy a real app on 127.0.0.1 (in its own session, so it
 * outlives the command); secrets go to the script on standard input only.
 */
import { describeProviderContract } from '../contract.ts';
import { type CommandSettings, commandProject, servedRelease } from './command-test-helpers.ts';

function harness(settings: Partial<CommandSettings>) {
  return async () => {
    const project = commandProject();
    const provider = project.provider({ vars: { staging: { LOG_LEVEL: 'debug' } } });
    return {
      provider,
      environments: ['staging', 'production'] as [string, string],
      target: (environment: string) => project.target(environment, settings),
      deployment: async (
        environment: string,
        release: 'r1' | 'r2' | 'broken',
        kind: 'deploy' | 'promote' | 'rollback' = 'deploy',
      ) => project.deployment(environment, release, { kind, settings }),
      servedRelease,
      transcript: async () => project.transcript(),
      cleanup: async () => project.cleanup(),
    };
  };
}

describeProviderContract('command (record, deploy as rollback)', harness({}));

describeProviderContract(
  'command (describe and rollback commands)',
  harness({
    describe: 'node ./platform.mjs status',
    rollback: 'ROLLING_BACK=1 ./deploy.sh',
  }),
);
