import { defineCommand } from '../command-definition.ts';

/** `airlock status`. */
export const statusDefinition = defineCommand({
  name: 'status',
  description: 'what serves in each environment: release, commit, since when, health',
  handler: async (io) => (await import('../status.ts')).statusCommand(io),
});
