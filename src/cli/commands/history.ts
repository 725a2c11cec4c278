import { defineCommand } from '../command-definition.ts';

/** `airlock history [environment]`. */
export const historyDefinition = defineCommand({
  name: 'history',
  description: 'the audit log: who did what, when, with which result',
  arguments: ['[environment]'],
  options: [
    { flags: '-n, --limit <n>', description: 'number of events', default: '30' },
    {
      flags: '--steps',
      description: "also each step's own events (step.succeeded, step.failed, …)",
    },
  ],
  handler: async (io, environment: string | undefined, opts: { limit: string; steps?: boolean }) =>
    (await import('../history.ts')).historyCommand(io, environment, opts),
});
