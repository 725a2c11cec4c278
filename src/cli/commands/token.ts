import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock token create|revoke|list`. */
export const tokenDefinition = defineGroup({
  name: 'token',
  description: 'personal tokens for the dashboard and API of `airlock serve`',
  commands: [
    defineCommand({
      name: 'create',
      description: 'make a token for a principal of the allowed-signers file (shown once)',
      options: [
        { flags: '--principal <name>', description: 'who it is for', required: true },
        {
          flags: '--role <role>',
          description: 'viewer (reads), approver (also approves), deployer (also deploys)',
          required: true,
        },
        { flags: '--expires <duration>', description: 'lifetime, e.g. 12h, 30d (default 30d)' },
      ],
      handler: async (io, opts: { principal: string; role: string; expires?: string }) =>
        (await import('../token.ts')).tokenCreateCommand(io, opts),
    }),
    defineCommand({
      name: 'revoke',
      description: 'revoke a token now (its browser sessions end)',
      arguments: ['<id>'],
      handler: async (io, id: string) => (await import('../token.ts')).tokenRevokeCommand(io, id),
    }),
    defineCommand({
      name: 'list',
      description: 'tokens, their principal, role and state (never the secrets)',
      handler: async (io) => (await import('../token.ts')).tokenListCommand(io),
    }),
  ],
});
