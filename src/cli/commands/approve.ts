import type { ApproveOptions } from '../approve.ts';
import { defineCommand } from '../command-definition.ts';

/** `airlock approve <environment>`. */
export const approveDefinition = defineCommand({
  name: 'approve',
  description: "approve (or reject) a release's promotion into an environment",
  arguments: ['<environment>'],
  options: [
    {
      flags: '--release <release>',
      description: 'release (default: the one a promotion would take)',
    },
    { flags: '-m, --message <comment>', description: 'a comment, recorded with the approval' },
    { flags: '--reject', description: 'record a rejection instead; it blocks the promotion' },
    {
      flags: '--key <key>',
      description: "sign the approval with this SSH key (default: git's user.signingkey)",
    },
    {
      flags: '--output <file>',
      description: 'write a signed approval file instead of recording it (no state needed)',
    },
    { flags: '--digest <sha256>', description: "the release's digest, with --output" },
    {
      flags: '--import <file>',
      description: 'record a signed approval file; it counts for its signer',
    },
    {
      flags: '--oidc',
      description: "prove who approves with GitHub Actions' OIDC token (in a workflow)",
    },
  ],
  handler: async (io, environment: string, opts: ApproveOptions) =>
    (await import('../approve.ts')).approveCommand(io, environment, opts),
});
