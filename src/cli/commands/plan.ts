import { defineCommand } from '../command-definition.ts';

/** `airlock plan <environment>`. */
export const planDefinition = defineCommand({
  name: 'plan',
  description:
    'show what deploy or promote would do, and each gate with its reason; changes nothing',
  arguments: ['<environment>'],
  options: [
    { flags: '--release <release>', description: 'release to plan for' },
    { flags: '--commit <sha>', description: 'plan for the release of this commit' },
    {
      flags: '--override-window <reason>',
      description: 'plan as if the deploy window were overridden',
    },
    {
      flags: '--fix-forward <reason>',
      description:
        'plan as if a contract release were acknowledged as fix-forward only (rehearsal gate)',
    },
  ],
  handler: async (
    io,
    environment: string,
    opts: { release?: string; commit?: string; overrideWindow?: string; fixForward?: string },
  ) => (await import('../plan.ts')).planCommand(io, environment, opts),
});
