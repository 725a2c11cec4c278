import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock config validate|show|schema`. */
export const configDefinition = defineGroup({
  name: 'config',
  description: 'airlock.yaml: validate it, show it resolved, print its JSON Schema',
  commands: [
    defineCommand({
      name: 'validate',
      description: 'check airlock.yaml; every problem with file:line:col and a fix',
      handler: async (io) => (await import('../config.ts')).configValidateCommand(io),
    }),
    defineCommand({
      name: 'show',
      description: 'print the configuration as resolved for each environment (inheritance applied)',
      options: [{ flags: '--env <environment>', description: 'only this environment' }],
      handler: async (io, opts: { env?: string }) =>
        (await import('../config.ts')).configShowCommand(io, opts),
    }),
    defineCommand({
      name: 'schema',
      description: 'print the JSON Schema of airlock.yaml',
      handler: async (io) => (await import('../config.ts')).configSchemaCommand(io),
    }),
  ],
});
