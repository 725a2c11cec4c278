import { defineCommand } from '../command-definition.ts';

/** `airlock check <environment>`. */
export const checkDefinition = defineCommand({
  name: 'check',
  description:
    "run an environment's checks again against what serves, and record them (the gate into the next environment reads them)",
  arguments: ['<environment>'],
  options: [],
  handler: async (io, environment: string) =>
    (await import('../check.ts')).checkCommand(io, environment),
});
