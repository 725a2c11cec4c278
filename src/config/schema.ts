/**
 * The one schema of `airlock.yaml`. It gives the TypeScript types, the validation (strict:
 * unknown keys are errors), the published JSON Schema (`schema/airlock.schema.json`, written by
 * `airlock config schema`) and the configuration reference (`docs/configuration.md`).
 * (DESIGN.md principle 4; wrangler's config design: fields are global-only, inheritable, or
 * must be set per environment.)
 *
 * Every field carries metadata: a description, an example (used in error fixes), and for
 * service fields its inheritance class.
 */

import { z } from 'zod';
import { notifySchema } from '../notify/notify-config.ts';
import { DEFAULT_PARITY_ALLOW } from '../parity/allow-list.ts';

/**
 * How a service field behaves across environments (wrangler's environments model).
 * - `global-only`: set once under `services`, never per environment (the release is built once).
 * - `inheritable`: set under `services`, optionally overridden in `environments.<env>.services`.
 * - `per-environment`: must be set in each environment; never inherited.
 * - `non-inheritable`: may be set at the top, but an environment that does not repeat it does
 *   not get it (wrangler's `vars`); Airlock warns when that happens.
 */
export type Inheritance = 'global-only' | 'inheritable' | 'per-environment' | 'non-inheritable';

export interface FieldMeta {
  description: string;
  /** Example value (YAML-ready), used in docs and in error fixes. */
  examples?: unknown[];
  inherit?: Inheritance;
  [key: string]: unknown;
}

function field<T extends z.ZodType>(schema: T, meta: FieldMeta): T {
  return schema.meta(meta);
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;
const nameSchema = (what: string) =>
  z.string().regex(NAME_PATTERN, {
    error: `a ${what} name (lowercase letters, digits and dashes, starting with a letter, at most 40 characters)`,
  });

const msSchema = z.number().int().min(0);
const portSchema = z.number().int().min(1).max(65535);
const envVarsSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    error: 'an environment variable name (letters, digits and _, not starting with a digit)',
  }),
  z.string(),
);

// ---------------------------------------------------------------------------------------------
// Checks

const checkName = field(nameSchema('check'), {
  description: 'Name shown in output and history; unique within the service.',
  examples: ['smoke'],
});

export const httpCheckSchema = field(
  z.strictObject({
    name: checkName,
    type: z.literal('http'),
    method: field(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'), {
      description: 'HTTP method.',
      examples: ['GET'],
    }),
    path: field(z.string().startsWith('/', { error: 'a path starting with "/"' }), {
      description: 'Path requested on the environment URL.',
      examples: ['/version'],
    }),
    headers: field(z.record(z.string(), z.string()).optional(), {
      description: 'Request headers.',
      examples: [{ accept: 'application/json' }],
    }),
    body: field(z.string().optional(), {
      description: 'Request body, sent as is.',
      examples: ['{"title":"smoke"}'],
    }),
    expect: field(
      z
        .strictObject({
          status: field(z.number().int().min(100).max(599).default(200), {
            description: 'Expected status code.',
            examples: [200],
          }),
          json: field(z.unknown().optional(), {
            description:
              'A JSON subset the body must contain. Strings may use ${release.id}, ${release.commit}, ${release.digest}, ${environment}, ${service}.',
            examples: [{ release: '${release.id}' }],
          }),
          bodyIncludes: field(z.string().optional(), {
            description: 'A substring the body must contain (same interpolation).',
            examples: ['ok'],
          }),
        })
        .default({ status: 200 }),
      { description: 'What a passing response looks like.', examples: [{ status: 200 }] },
    ),
    maxLatencyMs: field(msSchema.optional(), {
      description: 'Latency budget: a passing attempt must answer within this many ms.',
      examples: [500],
    }),
    timeoutMs: field(msSchema.default(30_000), {
      description: 'Retry until this many ms have passed, then fail.',
      examples: [30000],
    }),
    intervalMs: field(msSchema.default(500), {
      description: 'Pause between attempts (ms).',
      examples: [500],
    }),
    requestTimeoutMs: field(msSchema.default(5_000), {
      description: 'Abort one attempt after this many ms.',
      examples: [5000],
    }),
  }),
  {
    description:
      'Requests a path on the environment URL, retrying until the response matches `expect` or `timeoutMs` passes. An unreachable environment fails.',
    examples: [{ name: 'smoke', type: 'http', path: '/version', expect: { status: 200 } }],
  },
);

export const commandCheckSchema = field(
  z.strictObject({
    name: checkName,
    type: z.literal('command'),
    run: field(z.string().min(1), {
      description:
        'Shell command (an E2E suite); exit code 0 passes. Runs with BASE_URL, AIRLOCK_ENV, AIRLOCK_RELEASE, AIRLOCK_COMMIT set.',
      examples: ['node e2e/notes.e2e.mjs'],
    }),
    cwd: field(z.string().optional(), {
      description: 'Working directory, relative to the service root.',
      examples: ['e2e'],
    }),
    env: field(envVarsSchema.optional(), {
      description: 'Extra environment variables for the command.',
      examples: [{ CI: '1' }],
    }),
    timeoutMs: field(msSchema.default(300_000), {
      description: 'Kill the command and fail after this many ms.',
      examples: [120000],
    }),
  }),
  {
    description:
      'Runs a shell command (an E2E suite, a script) against the live environment; exit code 0 passes. The whole process group is killed on timeout.',
    examples: [{ name: 'e2e', type: 'command', run: 'node e2e/notes.e2e.mjs' }],
  },
);

export const latencyCheckSchema = field(
  z.strictObject({
    name: checkName,
    type: z.literal('latency'),
    path: field(z.string().startsWith('/', { error: 'a path starting with "/"' }), {
      description: 'Path requested with GET.',
      examples: ['/health'],
    }),
    requests: field(z.number().int().min(1).max(100_000).default(50), {
      description: 'Number of requests.',
      examples: [50],
    }),
    concurrency: field(z.number().int().min(1).max(256).default(4), {
      description: 'Requests in flight at once.',
      examples: [4],
    }),
    p95Ms: field(msSchema, {
      description: 'Budget for the 95th percentile latency (ms).',
      examples: [200],
    }),
    requestTimeoutMs: field(msSchema.default(5_000), {
      description: 'Abort one request after this many ms.',
      examples: [5000],
    }),
  }),
  {
    description:
      'Sends GET requests to a path and passes when the 95th percentile latency is within `p95Ms` (seed 003: response-time benchmarks).',
    examples: [{ name: 'speed', type: 'latency', path: '/health', p95Ms: 200 }],
  },
);

export const checkSchema = field(
  z.discriminatedUnion('type', [httpCheckSchema, commandCheckSchema, latencyCheckSchema]),
  {
    description: 'A verification against the live environment after every deployment.',
    examples: [{ name: 'smoke', type: 'http', path: '/health' }],
  },
);

// ---------------------------------------------------------------------------------------------
// Services

const healthPathMeta: FieldMeta = {
  description: 'Path that answers 200 once the app is ready to serve.',
  examples: ['/health'],
};
const healthTimeoutMeta: FieldMeta = {
  description: 'A new process that is not healthy after this many ms fails the deployment.',
  examples: [30000],
};
const healthIntervalMeta: FieldMeta = {
  description: 'Pause between health probes (ms).',
  examples: [100],
};
const healthPath = z.string().startsWith('/', { error: 'a path starting with "/"' });

const healthSchema = z.strictObject({
  path: field(healthPath.default('/health'), healthPathMeta),
  timeoutMs: field(msSchema.default(30_000), healthTimeoutMeta),
  intervalMs: field(msSchema.default(100), healthIntervalMeta),
});

/**
 * An environment's health probe: the same fields without defaults, because it is merged over
 * the service's (a default here would silently replace an inherited value).
 */
const healthOverrideSchema = z.strictObject({
  path: field(healthPath.optional(), healthPathMeta),
  timeoutMs: field(msSchema.optional(), healthTimeoutMeta),
  intervalMs: field(msSchema.optional(), healthIntervalMeta),
});

// ---------------------------------------------------------------------------------------------
// Provider settings: each platform provider reads the user's own files (wrangler.toml, fly.toml,
// railway.json); these say only which file, which environment or app, and how to reach it.

export const cloudflareSettingsSchema = z.strictObject({
  config: field(z.string().min(1).optional(), {
    description:
      "The Worker's wrangler file, relative to the service folder. Default: the first of wrangler.jsonc, wrangler.json, wrangler.toml there.",
    examples: ['wrangler.toml'],
  }),
  env: field(z.string().min(1).nullable().optional(), {
    description:
      'The wrangler environment this Airlock environment deploys as: null for the top level, or the name of an [env.<name>] section. Default: the top level for the first environment of the pipeline and the Airlock environment name for the others (seed 000: staging at the top level, production in env.production).',
    examples: ['production'],
  }),
  mode: field(z.enum(['remote', 'local']).optional(), {
    description:
      "Default `remote`. `remote`: deploy to Cloudflare with the project's own wrangler (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID). `local`: run the Worker with `wrangler dev` (workerd) on this machine behind the environment's port, its D1 databases under .airlock/envs/<env>/wrangler/.",
    examples: ['local'],
  }),
  accountId: field(z.string().min(1).optional(), {
    description:
      'Cloudflare account id for remote D1 migrations. Default: CLOUDFLARE_ACCOUNT_ID, then account_id in the wrangler file.',
    examples: ['0123456789abcdef0123456789abcdef'],
  }),
});

export const flySettingsSchema = z.strictObject({
  config: field(z.string().min(1).optional(), {
    description:
      'The fly.toml of this environment, relative to the service folder. Default: fly.<environment>.toml when it exists (seed 003: fly.staging.toml), else fly.toml.',
    examples: ['fly.staging.toml'],
  }),
  app: field(z.string().min(1).optional(), {
    description: 'The Fly app (`-a`). Default: `app` in that fly.toml.',
    examples: ['notes-staging'],
  }),
  url: field(z.string().url().optional(), {
    description:
      "The environment's public URL (a custom domain), where checks run. Default: the app's hostname, https://<app>.fly.dev.",
    examples: ['https://staging.notes.example.com'],
  }),
});

export const railwaySettingsSchema = z.strictObject({
  project: field(z.string().min(1).optional(), {
    description: 'The Railway project id. Default: RAILWAY_PROJECT_ID, then the linked project.',
    examples: ['6f1c2d3e-…'],
  }),
  environment: field(z.string().min(1).optional(), {
    description: 'The Railway environment. Default: the Airlock environment name.',
    examples: ['production'],
  }),
  service: field(z.string().min(1).optional(), {
    description: 'The Railway service. Default: the Airlock service name.',
    examples: ['web'],
  }),
  url: field(z.string().url().optional(), {
    description:
      "The environment's public URL (a custom domain), where checks run. Default: the service's RAILWAY_PUBLIC_DOMAIN.",
    examples: ['https://notes.example.com'],
  }),
});

export const commandSettingsSchema = z.strictObject({
  deploy: field(z.string().min(1).optional(), {
    description:
      'Deploys the release (required for provider: command). Runs in the service folder with AIRLOCK_ARTIFACT_DIR, AIRLOCK_ENV, AIRLOCK_SERVICE, AIRLOCK_RELEASE, AIRLOCK_COMMIT, AIRLOCK_DIGEST and the vars set; the last line it prints that is a URL is the service URL. Exit 0 means deployed.',
    examples: ['./deploy.sh'],
  }),
  rollback: field(z.string().min(1).optional(), {
    description:
      'Serves an earlier release again (same variables, AIRLOCK_RELEASE being the earlier one). Default: the deploy command with the earlier release.',
    examples: ['./rollback.sh'],
  }),
  url: field(z.string().min(1).optional(), {
    description:
      "The service URL: a URL, or a command that prints it (run with the deploy command's variables). Default: the last line of the deploy command's output that is a URL.",
    examples: ['https://notes.example.com'],
  }),
  describe: field(z.string().min(1).optional(), {
    description:
      'Prints what serves as JSON: {"release": "r3", "url": "…", "healthy": true}. Default: what Airlock last deployed.',
    examples: ['./status.sh'],
  }),
  secrets: field(z.string().min(1).optional(), {
    description:
      'Sets one secret: gets AIRLOCK_SECRET_NAME, and the value on standard input (never in argv or the environment).',
    examples: ['./set-secret.sh'],
  }),
  timeoutMs: field(msSchema.optional(), {
    description: 'Kill a command after this long (ms). Default 600000.',
    examples: [600000],
  }),
});

const providerSettingsFields = {
  cloudflare: field(cloudflareSettingsSchema.optional(), {
    description: 'Settings for `provider: cloudflare` (Workers, D1).',
    examples: [{ env: 'production' }],
    inherit: 'inheritable',
  }),
  fly: field(flySettingsSchema.optional(), {
    description: 'Settings for `provider: fly`.',
    examples: [{ config: 'fly.staging.toml' }],
    inherit: 'inheritable',
  }),
  railway: field(railwaySettingsSchema.optional(), {
    description: 'Settings for `provider: railway`.',
    examples: [{ environment: 'production' }],
    inherit: 'inheritable',
  }),
  command: field(commandSettingsSchema.optional(), {
    description: 'Settings for `provider: command`: your own deploy, rollback and URL commands.',
    examples: [{ deploy: './deploy.sh', url: 'https://notes.example.com' }],
    inherit: 'inheritable',
  }),
};

/** Service fields an environment may override (inheritable and per-environment ones). */
const overridableServiceFields = {
  run: field(z.string().min(1).optional(), {
    description:
      'Command that starts the app inside the build output folder (provider local). It must listen on $PORT.',
    examples: ['node server.js'],
    inherit: 'inheritable',
  }),
  health: field(healthSchema.optional(), {
    description: 'Health probe a new process must pass before traffic switches to it.',
    examples: [{ path: '/health', timeoutMs: 30000 }],
    inherit: 'inheritable',
  }),
  checks: field(z.array(checkSchema).optional(), {
    description:
      'Checks run against the environment URL after every deployment. An environment that sets checks replaces the list.',
    examples: [[{ name: 'smoke', type: 'http', path: '/health' }]],
    inherit: 'inheritable',
  }),
  vars: field(envVarsSchema.optional(), {
    description:
      'Plain environment variables for the app. Not inherited: an environment that sets none gets none (as in wrangler).',
    examples: [{ LOG_LEVEL: 'info' }],
    inherit: 'non-inheritable',
  }),
  keepWarmMs: field(msSchema.optional(), {
    description:
      'Keep the previous release running this long (ms) after a switch, so a rollback is instant.',
    examples: [300000],
    inherit: 'inheritable',
  }),
  drainTimeoutMs: field(msSchema.optional(), {
    description: "Wait at most this long (ms) for the old release's in-flight requests.",
    examples: [30000],
    inherit: 'inheritable',
  }),
  stopTimeoutMs: field(msSchema.optional(), {
    description: 'Grace period (ms) between SIGTERM and SIGKILL.',
    examples: [10000],
    inherit: 'inheritable',
  }),
  ...providerSettingsFields,
};

const portField = field(portSchema, {
  description:
    "The environment's stable local port for this service (local provider). Each environment needs its own.",
  examples: [4100],
  inherit: 'per-environment',
});

const databaseUrlField = field(z.string().min(1), {
  description:
    "The environment's own database (engine postgres): a postgres:// URL, or `${NAME}` to read it from the environment variable NAME so credentials stay out of the file. Two environments may never share a database.",
  examples: ['${STAGING_DATABASE_URL}'],
  inherit: 'per-environment',
});

const buildSchema = z.strictObject({
  command: field(z.string().min(1), {
    description: 'Command that builds the service, run once per release in a clean checkout.',
    examples: ['npm ci && npm run build'],
  }),
  output: field(z.string().min(1), {
    description:
      'Folder (relative to the service root) holding the build output; stored content-addressed as the release artifact.',
    examples: ['dist'],
  }),
  env: field(envVarsSchema.optional(), {
    description: 'Environment variables for the build command.',
    examples: [{ NODE_ENV: 'production' }],
  }),
});

const databaseSchema = z.strictObject({
  engine: field(z.enum(['sqlite', 'postgres', 'd1']), {
    description:
      "Database engine. `sqlite`: each environment gets its own file under .airlock/envs/<env>/data/. `postgres`: each environment sets its own `databaseUrl`. `d1`: Cloudflare D1, the database bound as `binding` in each environment's wrangler configuration (provider cloudflare).",
    examples: ['sqlite'],
  }),
  binding: field(z.string().min(1).optional(), {
    description:
      'engine d1: the binding name of the database in the wrangler file ([[d1_databases]] binding). Default: the only D1 database there.',
    examples: ['DB'],
  }),
  migrations: field(z.string().min(1).default('migrations'), {
    description:
      'Folder (relative to the service root) of numbered, append-only NNNN_name.sql files.',
    examples: ['migrations'],
  }),
  migrate: field(z.enum(['before-switch', 'after-switch']).default('before-switch'), {
    description:
      'When migrations run in a deployment: before traffic switches to the new release (default) or after.',
    examples: ['before-switch'],
  }),
  lockTimeoutMs: field(msSchema.optional(), {
    description:
      'Postgres: a migration waits at most this long (ms) for a lock (lock_timeout). Default 5000.',
    examples: [5000],
  }),
  statementTimeoutMs: field(msSchema.optional(), {
    description:
      'Postgres: one migration statement may run at most this long (ms) (statement_timeout). Default 60000.',
    examples: [60000],
  }),
  drift: field(z.enum(['block', 'warn']).default('block'), {
    description:
      "Schema drift (a change made outside migrations, found by comparing each environment's live schema with what its ledger implies): `block` refuses promotions (the `drift` gate fails), `warn` lets them through and says so.",
    examples: ['warn'],
  }),
});

export const serviceSchema = z.strictObject({
  root: field(z.string().default('.'), {
    description: 'Service folder, relative to airlock.yaml.',
    examples: ['.'],
    inherit: 'global-only',
  }),
  build: field(buildSchema, {
    description: 'How a release of this service is built. A release is built once.',
    examples: [{ command: 'npm run build', output: 'dist' }],
    inherit: 'global-only',
  }),
  database: field(databaseSchema.optional(), {
    description: "The service's database and its migrations.",
    examples: [{ engine: 'sqlite', migrations: 'migrations' }],
    inherit: 'global-only',
  }),
  ...overridableServiceFields,
});

export const serviceOverrideSchema = z.strictObject({
  ...overridableServiceFields,
  health: field(healthOverrideSchema.optional(), {
    description:
      "Health probe a new process must pass before traffic switches to it. Fields set here replace the service's; the others are inherited.",
    examples: [{ timeoutMs: 60000 }],
    inherit: 'inheritable',
  }),
  port: portField.optional(),
  databaseUrl: databaseUrlField.optional(),
});

// ---------------------------------------------------------------------------------------------
// Environments

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
      'manual: promote with `airlock promote`. automatic: promote as soon as the gate holds (seed 001).',
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
      'Require CI green at the exact commit (seed 001), as defined by the top-level `ci:` section.',
    examples: [true],
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
      'Promotion policy into this environment (ignored for the first environment of the pipeline, which is deployed directly).',
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
  services: field(z.record(z.string(), serviceOverrideSchema).optional(), {
    description: 'Per-environment service settings, overriding the inheritable ones.',
    examples: [{ web: { port: 4200 } }],
  }),
});

// ---------------------------------------------------------------------------------------------
// The file

export const configSchema = z.strictObject({
  $schema: field(z.string().optional(), {
    description: 'Path or URL of the JSON Schema, for editors.',
    examples: ['./node_modules/airlock/schema/airlock.schema.json'],
  }),
  project: field(nameSchema('project'), {
    description: 'Project name.',
    examples: ['notes'],
  }),
  state: field(z.string().optional(), {
    description:
      'Where Airlock keeps its state (releases, deployments, approvals, locks, audit log): a SQLite file path (default .airlock/state.db), or a postgres:// URL (team mode; `${NAME}` reads it from an environment variable). AIRLOCK_STATE_URL overrides it.',
    examples: ['${AIRLOCK_STATE_URL}'],
  }),
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
        "Staging as a production mirror (seed 003): each environment's profile — the Airlock settings that must match (health, checks by name, database engine, migrate mode, timeouts) and the platform's configuration read from your own files (settings, bindings by kind, var and secret names; never values) — is compared with the previous environment's on every promotion and by `airlock diff`.",
      examples: [{ allow: ['platform.vm.*.memory'], gate: 'block' }],
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
export type ServiceConfig = z.output<typeof serviceSchema>;
export type ServiceOverride = z.output<typeof serviceOverrideSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type PromotionConfig = z.output<typeof promotionSchema>;

/** The JSON Schema of `airlock.yaml`, generated from the zod schema (input shape: defaults optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: 'https://airlock.dev/schema/airlock.schema.json',
    title: 'airlock.yaml',
  };
}
