import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock ci run|init`. */
export const ciDefinition = defineGroup({
  name: 'ci',
  description: 'CI green at the exact commit, and CI workflows',
  commands: [
    defineCommand({
      name: 'run',
      description:
        "run the project's checks (ci.command) in a clean checkout of a commit and record the result",
      options: [{ flags: '--commit <sha>', description: 'commit to check (default: HEAD)' }],
      handler: async (io, opts: { commit?: string }) =>
        (await import('../ci.ts')).ciRunCommand(io, opts),
    }),
    defineCommand({
      name: 'init',
      description:
        'write the GitHub Actions workflows of a promotion flow: manual, automatic or staging-branch',
      arguments: ['<provider>'],
      options: [
        {
          flags: '--flow <flow>',
          description:
            'manual | automatic | staging-branch (default: automatic when the last environment promotes automatically, else manual)',
        },
        { flags: '--force', description: 'replace workflow files that differ' },
        { flags: '--print', description: 'print the workflows instead of writing them' },
        { flags: '--node <version>', description: 'Node.js version for setup-node (default 24)' },
        {
          flags: '--install <command>',
          description:
            'how the jobs install dependencies (default: from the lockfile: npm ci, pnpm install --frozen-lockfile or yarn install --immutable)',
        },
      ],
      handler: async (
        io,
        provider: string,
        opts: { flow?: string; force?: boolean; print?: boolean; node?: string; install?: string },
      ) => (await import('../ci.ts')).ciInitCommand(io, provider, opts),
    }),
  ],
});
