import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock secret set|list|keygen`. */
export const secretDefinition = defineGroup({
  name: 'secret',
  description:
    "an environment's secrets, through its provider (values from stdin, names only shown)",
  commands: [
    defineCommand({
      name: 'set',
      description:
        'set a secret from standard input (never an argument); takes effect at the next deployment',
      arguments: ['<environment>', '<name>'],
      options: [{ flags: '--service <service>', description: 'service (default: the only one)' }],
      handler: async (io, environment: string, name: string, opts: { service?: string }) =>
        (await import('../secrets.ts')).secretSetCommand(io, environment, name, opts),
    }),
    defineCommand({
      name: 'list',
      description: "names of an environment's secrets",
      arguments: ['<environment>'],
      options: [{ flags: '--service <service>', description: 'service (default: the only one)' }],
      handler: async (io, environment: string, opts: { service?: string }) =>
        (await import('../secrets.ts')).secretListCommand(io, environment, opts),
    }),
    defineCommand({
      name: 'keygen',
      description:
        "secrets.store.encryptedFile: create an environment's encrypted file (public key, to commit) and its private key (in the Airlock home, for that environment's CI secret)",
      arguments: ['<environment>'],
      handler: async (io, environment: string) =>
        (await import('../secrets.ts')).secretKeygenCommand(io, environment),
    }),
  ],
});
