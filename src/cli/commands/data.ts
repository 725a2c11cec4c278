import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock data seed|refresh`. */
export const dataDefinition = defineGroup({
  name: 'data',
  description: "staging data: seeds, and a scrubbed copy of another environment's database",
  commands: [
    defineCommand({
      name: 'seed',
      description: "run a service's seed files (new or changed ones) or seed command",
      arguments: ['<environment>'],
      options: [{ flags: '--service <name>', description: 'only this service' }],
      handler: async (io, environment: string, opts: { service?: string }) =>
        (await import('../data.ts')).dataSeedCommand(io, environment, opts),
    }),
    defineCommand({
      name: 'refresh',
      description:
        "replace an environment's data with a scrubbed copy of another's (never into the last environment)",
      arguments: ['<environment>'],
      options: [
        {
          flags: '--from <environment>',
          description: 'the environment to copy from',
          required: true,
        },
        { flags: '--service <name>', description: 'only this service' },
        {
          flags: '--check',
          description:
            "re-run the environment's checks on the refreshed data (exit 1 when one fails)",
        },
      ],
      handler: async (
        io,
        environment: string,
        opts: { from: string; service?: string; check?: boolean },
      ) => (await import('../data.ts')).dataRefreshCommand(io, environment, opts),
    }),
  ],
});
