import { defineCommand } from '../command-definition.ts';

/** `airlock diff <environment> <other>`. */
export const diffDefinition = defineCommand({
  name: 'diff',
  description:
    "compare two environments' configuration side by side (Airlock settings, platform resources, bindings, var and secret names): drift outside parity.allow exits 1",
  arguments: ['<environment>', '<other>'],
  options: [
    { flags: '--service <service>', description: 'only this service (default: every service)' },
  ],
  handler: async (io, environment: string, other: string, opts: { service?: string }) =>
    (await import('../diff.ts')).diffCommand(io, environment, other, opts),
});
