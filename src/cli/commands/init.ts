import { defineCommand } from '../command-definition.ts';

/** `airlock init`. */
export const initDefinition = defineCommand({
  name: 'init',
  description:
    'write a starting airlock.yaml from the files this folder has (wrangler.toml, fly.toml, railway.json, package.json, migrations)',
  options: [
    { flags: '--force', description: 'replace an existing airlock.yaml' },
    { flags: '--print', description: 'print the file instead of writing it' },
  ],
  handler: async (io, opts: { force?: boolean; print?: boolean }) =>
    (await import('../init.ts')).initCommand(io, opts),
});
