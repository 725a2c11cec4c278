/**
 * The `environments:` of `airlock.yaml`: per environment, its provider, its promotion policy
 * (approvals, soak time, CI, check age, windows and freezes), protection, what happens when
 * checks fail, and its service overrides.
 */
import { z } from 'zod';
import { field, msSchema } from './schema-fields.ts';
import { serviceOverrideSchema } from './service-schema.ts';

/** A duration such as `30m`, `2h`, `1d`, `90s` (parsed with `ms`). */
const durationSchema = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/, { error: 'a duration such as 30m, 2h or 1d' });

const approvalSchema = z.strictObject({
  required: field(z.number().int().min(0).max(20), {
    description: 'Number of distinct approvers needed before a promotion into this environment.',
    examples: [1],
  }),
  allowSelfApproval: field(z.boolean().default(false), {
    description:
      'Let the person who deployed the release approve its promotion (GitHub Environments: prevent self-review is on by default).',
    examples: [false],
  }),
  approvers: field(z.array(z.string().min(1)).min(1).optional(), {
    description:
      'Only these people may approve (identities as Airlock sees them: --as, AIRLOCK_ACTOR or git user.email). Default: anyone.',
    examples: [['ann@example.com', 'bo@example.com']],
  }),
  expiresAfter: field(durationSchema.optional(), {
    description:
      'An approval older than this no longer counts (e.g. 24h). Default: approvals do not expire.',
    examples: ['24h'],
  }),
  identity: field(z.enum(['signed', 'oidc', 'any']).default('any'), {
    description:
      "What proves who approved: `signed` (an SSH signature by a key in the allowed-signers file at the release's commit), `oidc` (GitHub Actions' OIDC token, verified against the issuer's keys), or `any` (the name Airlock is given, unverified; every such approval says so). Default: any.",
    examples: ['signed'],
  }),
  dashboardApprovals: field(z.boolean().default(false), {
    description:
      "With `identity: signed`: also count approvals given in the dashboard (`airlock serve`) under a personal token of a listed principal. Such an approval is the server's word, not a signature the gate can check again: whoever can create tokens or write the state can approve through it as any listed principal. Default: false (only SSH signatures count).",
    examples: [false],
  }),
  allowedSigners: field(z.string().min(1).default('.approvals/allowed_signers'), {
    description:
      "Path (from the project folder) of the allowed-signers file, in git's `allowed_signers` format (`principal[,principal] [options] keytype key`). Read at the release's commit, so a key added later does not approve an older release and a removed key stops counting.",
    examples: ['.approvals/allowed_signers'],
  }),
  oidc: field(
    z
      .strictObject({
        repository: field(z.string().regex(/^[^/\s]+\/[^/\s]+$/, { error: 'owner/name' }), {
          description: 'The GitHub repository (owner/name) whose workflows may approve.',
          examples: ['acme/shop'],
        }),
        audience: field(z.string().min(1).default('airlock'), {
          description: 'The audience Airlock requests the token for, and requires.',
          examples: ['airlock'],
        }),
        issuer: field(z.url().default('https://token.actions.githubusercontent.com'), {
          description: "The token's issuer, whose published keys verify it (GitHub's by default).",
          examples: ['https://token.actions.githubusercontent.com'],
        }),
      })
      .optional(),
    {
      description:
        'Where approvals under `identity: oidc` come from: the GitHub repository whose workflows may approve, and the token audience. Required with `identity: oidc`.',
      examples: [{ repository: 'acme/shop' }],
    },
  ),
});

const windowSchema = z.strictObject({
  days: field(
    z
      .array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']))
      .min(1)
      .default(['mon', 'tue', 'wed', 'thu', 'fri']),
    { description: 'Days promotions may run.', examples: [['mon', 'tue', 'wed', 'thu', 'fri']] },
  ),
  hours: field(
    z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/, { error: 'hours as HH:MM-HH:MM' })
      .default('09:00-17:00'),
    { description: 'Local hours promotions may run, HH:MM-HH:MM.', examples: ['09:00-17:00'] },
  ),
  timezone: field(z.string().min(1).default('UTC'), {
    description: 'IANA time zone of days and hours.',
    examples: ['Europe/Berlin'],
  }),
});

const freezeSchema = z.strictObject({
  from: field(z.iso.datetime({ offset: true }), {
    description: 'Start of the freeze (ISO 8601).',
    examples: ['2026-12-20T00:00:00Z'],
  }),
  to: field(z.iso.datetime({ offset: true }), {
    description: 'End of the freeze (ISO 8601).',
    examples: ['2027-01-04T00:00:00Z'],
  }),
  reason: field(z.string().min(1), {
    description: 'Shown to whoever is refused.',
    examples: ['holiday freeze'],
  }),
});

const promotionObjectSchema = z.strictObject({
  policy: field(z.enum(['manual', 'automatic']).default('manual'), {
    description:
      'manual: promote with `airlock promote`. automatic: promote as soon as the gate holds (passing it is both necessary and sufficient).',
    examples: ['manual'],
  }),
  approval: field(approvalSchema.optional(), {
    description: 'Approvals required by the gate.',
    examples: [{ required: 1 }],
  }),
  soak: field(durationSchema.optional(), {
    description:
      'Minimum time the release must have served on the previous environment (e.g. 30m).',
    examples: ['30m'],
  }),
  ci: field(z.boolean().optional(), {
    description:
      'Require CI green at the exact commit being promoted, as defined by the top-level `ci:` section.',
    examples: [true],
  }),
  livePrevious: field(z.boolean().optional(), {
    description:
      "Ask the previous environment's platform at promotion time whether it still serves the release and answers its health check; unreachable, stopped or serving another release blocks the `deployed` gate. Default true; false judges by Airlock's records alone (for a previous environment this machine cannot reach).",
    examples: [false],
  }),
  rollbackRehearsal: field(z.enum(['required', 'off']).optional(), {
    description:
      '`required`: after a release that changes the schema passes its checks on the previous environment, Airlock switches that environment back to the release that served before (old code, new schema), runs that release\'s checks, switches forward again and re-runs the candidate\'s checks; the `rehearsal` gate holds only when this passed (or the release changed no schema). A release carrying a contract migration cannot pass (its rollback is refused by design): the gate asks for `--fix-forward "reason"` (audited). Default: off.',
    examples: ['required'],
  }),
  checksMaxAge: field(durationSchema.optional(), {
    description:
      "Re-run the previous environment's checks before promoting when they passed longer ago than this (e.g. 1h).",
    examples: ['1h'],
  }),
  window: field(windowSchema.optional(), {
    description:
      'When promotions may run; outside it the gate waits (override with --override-window "reason").',
    examples: [
      {
        days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        hours: '09:00-17:00',
        timezone: 'Europe/Berlin',
      },
    ],
  }),
  freeze: field(z.array(freezeSchema).optional(), {
    description:
      'Periods when promotions are refused (override with --override-window "reason", audited).',
    examples: [
      [{ from: '2026-12-20T00:00:00Z', to: '2027-01-04T00:00:00Z', reason: 'holiday freeze' }],
    ],
  }),
});

export const promotionSchema = field(
  z.union([z.enum(['manual', 'automatic']), promotionObjectSchema]),
  {
    description:
      'How a release gets into this environment from the previous one: `manual`, `automatic`, or `{ approval: { required: N } }`.',
    examples: [{ approval: { required: 1 } }],
  },
);

export const environmentSchema = z.strictObject({
  provider: field(z.enum(['local', 'cloudflare', 'fly', 'railway', 'command']).default('local'), {
    description:
      "Where this environment runs. `local`: processes behind a local proxy. `cloudflare`: Workers (and D1) through the project's wrangler. `fly`: Fly.io apps through flyctl. `railway`: Railway through its CLI. `command`: your own deploy, rollback and URL commands. Each reads its settings from the service's `cloudflare`, `fly`, `railway` or `command` section.",
    examples: ['cloudflare'],
  }),
  promotion: field(promotionSchema.optional(), {
    description:
      "Promotion policy into this environment (ignored for the first environment of the pipeline, which is deployed directly). A release is held to the stricter of this policy and the one in airlock.yaml at the release's commit, field by field: a change that loosens it applies to releases built from a commit that has it.",
    examples: [{ approval: { required: 1 } }],
  }),
  protected: field(z.boolean().optional(), {
    description:
      'A protected environment asks for confirmation (or --yes) before any change. Default: true for the last environment of the pipeline.',
    examples: [true],
  }),
  onCheckFailure: field(z.enum(['rollback', 'keep']).optional(), {
    description:
      'What happens when checks fail after a deployment: roll back to the previous release, or keep the failed release serving (so it can be inspected). Default: keep on the first environment, rollback on the others.',
    examples: ['rollback'],
  }),
  checksLeaseMs: field(msSchema.optional(), {
    description:
      'How long (ms) a local environment waits for the checks of a new release after the switch: the running command renews this lease while its checks run and confirms it when they complete; if the lease runs out first (the command was killed), the local runtime switches back to the previous release by itself. 0 turns it off. Default: 30000.',
    examples: [30000],
  }),
  services: field(z.record(z.string(), serviceOverrideSchema).optional(), {
    description: 'Per-environment service settings, overriding the inheritable ones.',
    examples: [{ web: { port: 4200 } }],
  }),
});

export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type PromotionConfig = z.output<typeof promotionSchema>;
