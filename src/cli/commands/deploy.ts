import { defineCommand } from '../command-definition.ts';
import { WAIT_OPTION } from './common-options.ts';

/** `airlock deploy <environment>`. */
export const deployDefinition = defineCommand({
  name: 'deploy',
  description: 'deploy a release: build if needed → lock → migrate → deploy → check → record',
  arguments: ['<environment>'],
  options: [
    {
      flags: '--release <release>',
      description: 'release to deploy (r3, digest or commit prefix)',
    },
    { flags: '--commit <sha>', description: 'deploy the release of this commit (built if needed)' },
    { flags: '--no-follow', description: 'do not run automatic promotions afterwards' },
    WAIT_OPTION,
    {
      flags: '--changed',
      description:
        'deploy only the services whose artifact differs from what serves them there; the others are skipped (reported and audited as unchanged)',
    },
  ],
  handler: async (
    io,
    environment: string,
    opts: { release?: string; commit?: string; follow: boolean; wait?: string; changed?: boolean },
  ) => (await import('../deploy.ts')).deployCommand(io, environment, opts, 'deploy'),
});
