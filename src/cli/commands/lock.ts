import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock lock acquire|release|status`. */
export const lockDefinition = defineGroup({
  name: 'lock',
  description: 'environment locks: one deployment per environment at a time',
  commands: [
    defineCommand({
      name: 'acquire',
      description: 'hold an environment (no deployment can start) until released',
      arguments: ['<environment>'],
      options: [
        {
          flags: '-m, --message <why>',
          description: 'why, shown to everyone the lock stops',
          required: true,
        },
      ],
      handler: async (io, environment: string, opts: { message: string }) =>
        (await import('../lock.ts')).lockAcquireCommand(io, environment, opts),
    }),
    defineCommand({
      name: 'release',
      description:
        "release your manual lock (or, with --force, someone else's or a running command's lock)",
      arguments: ['<environment>'],
      options: [
        {
          flags: '--force',
          description:
            "also release another person's manual lock, or a lock a live command holds (its writes are then refused); audited as forced",
        },
      ],
      handler: async (io, environment: string, opts: { force?: boolean }) =>
        (await import('../lock.ts')).lockReleaseCommand(io, environment, opts),
    }),
    defineCommand({
      name: 'status',
      description: 'who holds each environment, since when and why; who waits',
      arguments: ['[environment]'],
      handler: async (io, environment: string | undefined) =>
        (await import('../lock.ts')).lockStatusCommand(io, environment),
    }),
  ],
});
