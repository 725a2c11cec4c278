import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock state grant`. */
export const stateDefinition = defineGroup({
  name: 'state',
  description: 'the state store (team mode on Postgres)',
  commands: [
    defineCommand({
      name: 'grant',
      description:
        'print (or --apply) least-privilege roles: the role CI uses may only insert and read audit events',
      options: [
        {
          flags: '--role <name>',
          description: 'the role to create and grant',
          default: 'airlock_ci',
        },
        { flags: '--apply', description: 'run the statements now (as the owner of the tables)' },
      ],
      handler: async (io, opts: { role: string; apply?: boolean }) =>
        (await import('../state.ts')).stateGrantCommand(io, opts),
    }),
  ],
});
