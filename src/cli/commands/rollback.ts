import { defineCommand } from '../command-definition.ts';
import { WAIT_OPTION } from './common-options.ts';

/** `airlock rollback <environment>`. */
export const rollbackDefinition = defineCommand({
  name: 'rollback',
  description: 'serve an earlier release again (instant when it is still warm)',
  arguments: ['<environment>'],
  options: [
    {
      flags: '--to <release>',
      description: 'release to return to (default: the one before the current)',
    },
    WAIT_OPTION,
    {
      flags: '--force',
      description:
        'roll back even to a release older than a contract migration applied there (audited)',
    },
  ],
  handler: async (io, environment: string, opts: { to?: string; wait?: string; force?: boolean }) =>
    (await import('../rollback.ts')).rollbackCommand(io, environment, opts),
});
