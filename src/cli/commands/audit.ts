import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock audit verify|accept`. */
export const auditDefinition = defineGroup({
  name: 'audit',
  description: "the audit log's hash chain: verify it, accept a break",
  commands: [
    defineCommand({
      name: 'verify',
      description:
        'check the whole audit log against its hash chain; names the first altered event',
      handler: async (io) => (await import('../audit.ts')).auditVerifyCommand(io),
    }),
    defineCommand({
      name: 'accept',
      description: 'start a new segment after a break (audited), so gates hold again',
      options: [
        {
          flags: '--reason <why>',
          description: 'why the break is accepted, kept in the log',
          required: true,
        },
      ],
      handler: async (io, opts: { reason: string }) =>
        (await import('../audit.ts')).auditAcceptCommand(io, opts),
    }),
  ],
});
