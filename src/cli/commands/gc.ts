import { defineCommand } from '../command-definition.ts';

/** `airlock gc`. */
export const gcDefinition = defineCommand({
  name: 'gc',
  description:
    'remove release copies and stored files nothing needs (keeps what serves, warm, recent, pending)',
  options: [
    { flags: '--dry-run', description: 'only list what would be removed' },
    {
      flags: '--remote',
      description:
        'collect the shared artifact store (`artifacts:`) instead: remove the artifacts of releases nothing keeps',
    },
  ],
  handler: async (io, opts: { dryRun?: boolean; remote?: boolean }) =>
    (await import('../gc.ts')).gcCommand(io, opts),
});
