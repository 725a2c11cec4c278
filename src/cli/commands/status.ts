import { defineCommand } from '../command-definition.ts';

/** `airlock status [environment]`. */
export const statusDefinition = defineCommand({
  name: 'status',
  description:
    'what serves in each environment (or only the one named): release, commit, since when, health',
  arguments: ['[environment]'],
  handler: async (io, environment: string | undefined) =>
    (await import('../status.ts')).statusCommand(io, environment),
});
