import { defineCommand } from '../command-definition.ts';

/** `airlock approve <environment>`. */
export const approveDefinition = defineCommand({
  name: 'approve',
  description: "approve (or reject) a release's promotion into an environment",
  arguments: ['<environment>'],
  options: [
    {
      flags: '--release <release>',
      description: 'release (default: the one a promotion would take)',
    },
    { flags: '-m, --message <comment>', description: 'a comment, recorded with the approval' },
    { flags: '--reject', description: 'record a rejection instead; it blocks the promotion' },
  ],
  handler: async (
    io,
    environment: string,
    opts: { release?: string; message?: string; reject?: boolean },
  ) => (await import('../approve.ts')).approveCommand(io, environment, opts),
});
