import { defineCommand } from '../command-definition.ts';

/** `airlock demo`. */
export const demoDefinition = defineCommand({
  name: 'demo',
  description:
    'run the whole flow on a copy of the example app: build → staging → promote → rollback',
  options: [
    { flags: '--keep', description: 'leave both environments running afterwards' },
    {
      flags: '--dir <dir>',
      description: 'create the demo project here instead of a temporary folder',
    },
    {
      flags: '--postgres <url>',
      description:
        "run on Postgres (team mode): Airlock's state and each environment's database in new databases on this server",
    },
  ],
  handler: async (io, opts: { keep?: boolean; dir?: string; postgres?: string }) =>
    (await import('../demo.ts')).demoCommand(io, opts),
});
