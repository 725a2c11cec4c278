import { defineCommand } from '../command-definition.ts';

/** `airlock history [environment]`. */
export const historyDefinition = defineCommand({
  name: 'history',
  description: 'the audit log: who did what, when, with which result',
  arguments: ['[environment]'],
  options: [{ flags: '-n, --limit <n>', description: 'number of events', default: '30' }],
  handler: async (io, environment: string | undefined, opts: { limit: string }) =>
    (await import('../history.ts')).historyCommand(io, environment, opts),
});
