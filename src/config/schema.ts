/**
 * The one schema of `airlock.yaml`. It gives the TypeScript types, the validation (strict:
 * unknown keys are errors), the published JSON Schema (`schema/airlock.schema.json`, written by
 * `airlock config schema`) and the configuration reference (`docs/configuration.md`).
 * (wrangler's config design: fields are global-only, inheritable, or must be set per
 * environment.)
 *
 * Every field carries metadata: a description, an example (used in error fixes), and for
 * service fields its inheritance class (`schema-fields.ts`). This file is the top level; the
 * parts have their own files: `service-schema.ts` (with `check-schema.ts` and
 * `provider-settings-schema.ts`) and `environment-schema.ts`.
 */

import { z } from 'zod';
import { notifySchema } from '../notify/notify-config.ts';
import { DEFAULT_PARITY_ALLOW } from '../parity/allow-list.ts';
import { environmentSchema } from './environment-schema.ts';
import { field, msSchema, nameSchema } from './schema-fields.ts';
import { secretsSchema } from './secrets-schema.ts';
import { serviceSchema } from './service-schema.ts';

export const configSchema = z.strictObject({
  $schema: field(z.string().optional(), {
    description: 'Path or URL of the JSON Schema, for editors.',
    examples: ['./node_modules/airlock-deploy/schema/airlock.schema.json'],
  }),
  project: field(nameSchema('project'), {
    description: 'Project name.',
    examples: ['notes'],
  }),
  state: field(z.string().optional(), {
    description:
      'Where Airlock keeps its state (releases, deployments, approvals, locks, audit log): a SQLite file path (default: state.db in the Airlock home of the project, outside the project; see docs/configuration.md), a postgres:// URL (team mode; `${NAME}` reads it from an environment variable), or d1://<account-id>/<database-id> (team mode on Cloudflare D1, through its HTTP API; the token comes from AIRLOCK_STATE_TOKEN, else CLOUDFLARE_API_TOKEN). AIRLOCK_STATE_URL overrides it.',
    examples: ['${AIRLOCK_STATE_URL}'],
  }),
  artifacts: field(
    z
      .string()
      .regex(
        /^(oci:\/\/[^/@\s]+\/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[A-Za-z0-9._\-/]*)?)$/,
        {
          message:
            'write oci://<registry host[:port]>/<repository> (lower case, e.g. oci://ghcr.io/acme/app) or s3://<bucket>/<prefix>, with no credentials in it (they come from AIRLOCK_REGISTRY_USER and AIRLOCK_REGISTRY_TOKEN, or the AWS variables)',
        },
      )
      .optional(),
    {
      description:
        "A shared artifact store, so any machine promotes and rolls back the bytes another built: an OCI registry repository (oci://<host[:port]>/<repository>; loopback hosts over plain HTTP, others HTTPS) or an S3-compatible bucket (s3://<bucket>/<prefix>; endpoint from AWS_ENDPOINT_URL_S3 for R2 or MinIO). `airlock build` pushes each artifact's files there (only those the registry lacks); a deployment, promotion or rollback on a machine without them pulls and verifies them. Credentials come from AIRLOCK_REGISTRY_USER and AIRLOCK_REGISTRY_TOKEN (OCI) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (S3), never from this file. Without it, releases stay in this machine's store. See docs/artifact-stores.md.",
      examples: ['oci://ghcr.io/acme/app', 's3://acme-releases/app'],
    },
  ),
  ci: field(
    z
      .union([
        z.strictObject({
          github: field(
            z.strictObject({
              required: field(z.array(z.string().min(1)).optional(), {
                description:
                  'Only these status contexts / check names count (GitHub Environments required_contexts). Default: all reported.',
                examples: [['test', 'lint']],
              }),
            }),
            {
              description:
                "Read CI from GitHub: the commit's combined status and its check runs (needs the github: section and GITHUB_TOKEN).",
              examples: [{ required: ['test'] }],
            },
          ),
        }),
        z.strictObject({
          command: field(z.string().min(1), {
            description:
              "The project's own checks, run by `airlock ci run` in a clean checkout of the commit; the result is recorded by commit.",
            examples: ['npm ci && npm test'],
          }),
          timeoutMs: field(msSchema.default(1_800_000), {
            description: 'Kill the command after this many ms.',
            examples: [600000],
          }),
        }),
      ])
      .optional(),
    {
      description:
        'What "CI green at the exact commit" means for the `ci` gate: GitHub commit statuses and check runs, or a command Airlock runs (`airlock ci run`).',
      examples: [{ github: { required: ['test'] } }],
    },
  ),
  github: field(
    z
      .strictObject({
        repository: field(z.string().regex(/^[\w.-]+\/[\w.-]+$/, { error: 'owner/name' }), {
          description: 'The GitHub repository, owner/name. The token comes from GITHUB_TOKEN.',
          examples: ['acme/notes'],
        }),
        deployments: field(z.boolean().default(true), {
          description:
            'Report every deployment through the GitHub Deployments API (queued → in_progress → success | failure).',
          examples: [true],
        }),
        apiUrl: field(z.string().url().optional(), {
          description: 'API base URL for GitHub Enterprise Server. Default https://api.github.com.',
          examples: ['https://github.example.com/api/v3'],
        }),
      })
      .optional(),
    {
      description:
        'GitHub integration: the `ci` gate reads commit statuses and check runs; deployments are reported to the Deployments API.',
      examples: [{ repository: 'acme/notes' }],
    },
  ),
  notify: field(notifySchema.optional(), {
    description:
      'Where pipeline events are sent: Slack-compatible incoming webhooks and signed JSON webhooks (docs/notifications.md). A failed delivery is recorded in the audit log and never fails a deployment.',
    examples: [[{ kind: 'slack', url: '${SLACK_WEBHOOK_URL}', environments: ['production'] }]],
  }),
  monitor: field(
    z
      .strictObject({
        intervalMs: field(msSchema.min(1000).default(60_000), {
          description: '`airlock monitor`: time between passes (ms).',
          examples: [60000],
        }),
        openAfter: field(z.number().int().min(1).default(2), {
          description:
            'Consecutive failing passes of an environment before an incident opens (one per environment and cause).',
          examples: [2],
        }),
        resolveAfter: field(z.number().int().min(1).default(2), {
          description: 'Consecutive passing passes before an open incident is resolved.',
          examples: [2],
        }),
        checks: field(z.array(z.string().min(1)).optional(), {
          description:
            "The checks (by name) the monitor probes in every environment. Default: every service's HTTP checks. A command check is probed only when named here or when `commandChecks` is true; latency checks only when named.",
          examples: [['health', 'version']],
        }),
        commandChecks: field(z.boolean().default(false), {
          description: 'Also probe command checks (an E2E suite) on every pass. Default false.',
          examples: [true],
        }),
        retentionMs: field(msSchema.default(604_800_000), {
          description:
            'Samples older than this (ms) are deleted at the end of a pass. Default 7 days (what `airlock status` shows).',
          examples: [1209600000],
        }),
        ci: field(z.string().min(1).optional(), {
          description:
            'A branch whose head the monitor reads CI at on every pass (GitHub combined status and check runs; needs the github: section and GITHUB_TOKEN): red there opens a `ci` incident, as an environment does.',
          examples: ['main'],
        }),
        issues: field(z.boolean().default(true), {
          description:
            'Open a GitHub issue (label `airlock-incident`) per incident, comment on changes and close it on recovery; needs the github: section and GITHUB_TOKEN with `issues: write`.',
          examples: [true],
        }),
      })
      .optional(),
    {
      description:
        'Continuous health of every environment (`airlock monitor`, docs/monitor.md): which checks are probed, when an incident opens and resolves, and GitHub issues for incidents. An open incident on an environment blocks promotions out of it (the `health` gate).',
      examples: [{ intervalMs: 60000, openAfter: 2, resolveAfter: 2 }],
    },
  ),
  parity: field(
    z
      .strictObject({
        allow: field(
          z
            .array(
              z.string().regex(/^[A-Za-z0-9_.*?-]+$/, {
                error:
                  'a glob over dotted keys (letters, digits, _ - . and the wildcards * ** ?), e.g. vm.*.cpus',
              }),
            )
            .optional(),
          {
            description: `More differences parity allows, added to the default list: globs over the dotted keys \`airlock diff\` prints (\`*\` within a segment, \`**\` across segments; a pattern matches the whole key or any tail of it, so \`memory\` matches \`platform.vm.0.memory\`). Default list: ${DEFAULT_PARITY_ALLOW.map((p) => `\`${p}\``).join(', ')}.`,
            examples: [['vars.FEATURE_*', 'platform.vm.*.memory', 'secrets.STAGING_ONLY_TOKEN']],
          },
        ),
        gate: field(z.enum(['block', 'warn', 'off']).default('block'), {
          description:
            '`block`: the `parity` gate fails a promotion while the previous environment and this one differ outside the allow list. `warn`: it holds and names the differences. `off`: no parity gate (`airlock diff` still compares).',
          examples: ['warn'],
        }),
      })
      .optional(),
    {
      description:
        "Staging as a production mirror: each environment's profile — the Airlock settings that must match (health, checks by name, database engine, migrate mode, timeouts) and the platform's configuration read from your own files (settings, bindings by kind, var and secret names; never values) — is compared with the previous environment's on every promotion and by `airlock diff`.",
      examples: [{ allow: ['platform.vm.*.memory'], gate: 'block' }],
    },
  ),
  secrets: field(secretsSchema.optional(), {
    description:
      'Secret isolation: the names each environment needs, the names shared on purpose, and where values live (docs/secrets.md). Airlock keeps a keyed fingerprint of every value set with `airlock secret set`; the same value under a name that is not shared is refused in a second environment.',
    examples: [{ required: ['SESSION_SECRET'], shared: ['MAPS_API_KEY'] }],
  }),
  releases: field(
    z
      .strictObject({
        materialize: field(z.enum(['link', 'copy']).default('link'), {
          description:
            "How an environment's copy of a release is made from the store: `link` (hard links to the store's read-only files, or a copy where the file system refuses links) or `copy` (always copies, reflinks where the file system has them). See docs/releases.md.",
          examples: ['copy'],
        }),
        keep: field(z.number().int().min(1).default(3), {
          description:
            '`airlock gc` keeps the last this many releases deployed to each environment (besides what serves, warm releases and pending promotions).',
          examples: [5],
        }),
        gcAfterDeploy: field(z.boolean().default(true), {
          description:
            'Run the garbage collection after a successful deployment, at most once an hour (`airlock gc` runs it by hand, any time).',
          examples: [false],
        }),
      })
      .optional(),
    {
      description:
        "The release store in the Airlock home: each file once, by sha256; environments' copies made of links; garbage collection. See docs/releases.md.",
      examples: [{ materialize: 'link', keep: 3, gcAfterDeploy: true }],
    },
  ),
  pipeline: field(z.array(nameSchema('environment')).min(1), {
    description: 'Environments in promotion order; a release enters at the first one.',
    examples: [['staging', 'production']],
  }),
  services: field(z.record(nameSchema('service'), serviceSchema), {
    description: 'Deployable units. A release holds one artifact per service.',
    examples: [
      { web: { build: { command: 'npm run build', output: 'dist' }, run: 'node server.js' } },
    ],
  }),
  environments: field(z.record(nameSchema('environment'), environmentSchema), {
    description: 'Settings per environment. Every environment of the pipeline must appear here.',
    examples: [{ staging: { services: { web: { port: 4100 } } } }],
  }),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;

/** The JSON Schema of `airlock.yaml`, generated from the zod schema (input shape: defaults optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: 'https://airlock.dev/schema/airlock.schema.json',
    title: 'airlock.yaml',
  };
}
