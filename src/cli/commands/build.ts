import { defineCommand } from '../command-definition.ts';

/** `airlock build`. */
export const buildDefinition = defineCommand({
  name: 'build',
  description: 'build a release of a commit once, in a clean checkout, and store its artifacts',
  options: [
    {
      flags: '--commit <sha>',
      description: 'commit to build (default: HEAD, or the working tree when it has changes)',
    },
    { flags: '--rebuild', description: 'build even if a release of this commit exists' },
  ],
  handler: async (io, opts: { commit?: string; rebuild?: boolean }) =>
    (await import('../build.ts')).buildCommand(io, opts),
});
