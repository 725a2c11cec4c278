/**
 * The `services:` of `airlock.yaml` and their per-environment overrides
 * (`environments.<env>.services`): how a service is built, run, health-checked, checked,
 * migrated, and deployed by each provider. Each field's `inherit` says how it behaves across
 * environments (see `Inheritance` in schema-fields.ts).
 */
import { z } from 'zod';
import { MIGRATION_LAYOUTS } from '../migrations/migration-name.ts';
import { checkSchema } from './check-schema.ts';
import { providerSettingsFields } from './provider-settings-schema.ts';
import { envVarsSchema, type FieldMeta, field, msSchema, portSchema } from './schema-fields.ts';

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
      'Plain environment variables for the app; `${NAME}` in a value reads the environment variable NAME (unset: the commands that touch this environment stop, naming it). Not inherited: an environment that sets none gets none (as in wrangler).',
    examples: [{ LOG_LEVEL: 'info' }],
    inherit: 'non-inheritable',
  }),
  keepWarmMs: field(msSchema.optional(), {
    description:
      'Keep the previous release running this long (ms) after a switch, so a rollback is instant.',
    examples: [300000],
    inherit: 'inheritable',
  }),
  keepWarmReleases: field(z.number().int().min(1).optional(), {
    description:
      'At most this many earlier releases are kept warm at once (default 1: the previous one); beyond it the oldest warm process is stopped.',
    examples: [2],
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
    "The environment's own database (engine postgres): a postgres:// URL, or `${NAME}` to read it from the environment variable NAME so credentials stay out of the file (a password written here is warned about, at its line). Two environments may never share a database.",
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
  allowLinksOutside: field(z.boolean().optional(), {
    description:
      'Keep symbolic links in the build output that point outside it (by default a build that leaves one is refused: the release would carry a path into the build machine, such as /etc). Each build that keeps one records the links in its audit event.',
    examples: [true],
  }),
  env: field(envVarsSchema.optional(), {
    description:
      'Environment variables for the build command, which otherwise sees only a least environment (PATH, HOME, locale, proxies, npm settings; no credentials): `${NAME}` in a value hands it a variable of your shell on purpose.',
    examples: [{ NODE_ENV: 'production' }],
  }),
});

const migrationsObjectSchema = z.strictObject({
  dir: field(z.string().min(1), {
    description: 'The migrations folder, relative to the service root.',
    examples: ['supabase/migrations'],
  }),
  layout: field(z.enum(MIGRATION_LAYOUTS).default('airlock'), {
    description:
      'How the folder is laid out: `airlock` (NNNN_name.sql from 0001, no gaps; default), or the layout of the tool that writes it, read as that tool reads it: `wrangler`, `supabase`, `drizzle` (meta/_journal.json, or <timestamp>_<name>/migration.sql), `prisma`, `dbmate`, `goose` (their up sections), `node-pg-migrate` (SQL files), `postgrator` (NNN.do.name.sql).',
    examples: ['supabase'],
  }),
  pattern: field(z.string().min(1).optional(), {
    description:
      "layout wrangler: the files that are migrations, a glob relative to `dir` (wrangler's `migrations_pattern` without its `migrations_dir/` prefix). Default `*.sql`.",
    examples: ['*/migration.sql'],
  }),
  toolLedger: field(z.boolean().optional(), {
    description:
      "Also write the tool's own ledger row (wrangler's d1_migrations, Supabase's schema_migrations, drizzle's __drizzle_migrations, …) for each migration Airlock applies, so running the tool afterwards finds nothing to do. Default: true for every layout but `airlock`.",
    examples: [false],
  }),
});

const databaseSchema = z.strictObject({
  engine: field(z.enum(['sqlite', 'postgres', 'd1']), {
    description:
      "Database engine. `sqlite`: each environment gets its own file in the Airlock home of the project (envs/<env>/data/). `postgres`: each environment sets its own `databaseUrl`. `d1`: Cloudflare D1, the database bound as `binding` in each environment's wrangler configuration (provider cloudflare).",
    examples: ['sqlite'],
  }),
  binding: field(z.string().min(1).optional(), {
    description:
      'engine d1: the binding name of the database in the wrangler file ([[d1_databases]] binding). Default: the only D1 database there.',
    examples: ['DB'],
  }),
  migrations: field(z.union([z.string().min(1), migrationsObjectSchema]).default('migrations'), {
    description:
      "The migrations folder (relative to the service root): a folder of Airlock's numbered, append-only NNNN_name.sql files, or `{ dir, layout }` for a folder another tool writes (wrangler, supabase, drizzle, prisma, dbmate, goose, node-pg-migrate, postgrator), read in that tool's order and names.",
    examples: ['migrations', { dir: 'drizzle', layout: 'drizzle' }],
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

/** A scrub rule: what a column's values become in a copied environment. */
const scrubRuleSchema = z.union([
  z.enum([
    'keep',
    'null',
    'email',
    'fullName',
    'firstName',
    'lastName',
    'phone',
    'username',
    'streetAddress',
    'uuid',
    'hash',
    'empty',
  ]),
  z.strictObject({
    value: field(z.union([z.string(), z.number(), z.boolean(), z.null()]), {
      description: 'A constant every row gets.',
      examples: ['redacted'],
    }),
  }),
]);

const dataSchema = z.strictObject({
  seed: field(
    z
      .union([
        z.string().min(1),
        z.strictObject({
          command: field(z.string().min(1), {
            description:
              'A command that seeds the environment (DATABASE_URL, AIRLOCK_ENV set; a least environment otherwise). It must be idempotent.',
            examples: ['node scripts/seed.mjs'],
          }),
        }),
      ])
      .optional(),
    {
      description:
        'Seed data for `airlock data seed <env>`: a .sql file or a folder of them (run in name order, each in one transaction; write them idempotently, e.g. INSERT … ON CONFLICT DO NOTHING), or `{ command }`.',
      examples: ['seeds', { command: 'node scripts/seed.mjs' }],
    },
  ),
  seedLast: field(z.boolean().default(false), {
    description:
      'Allow `airlock data seed` on the last environment of the pipeline (production). Off by default.',
    examples: [false],
  }),
  scrub: field(
    z
      .record(
        z.string().regex(/^[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*$/, { error: 'table.column' }),
        scrubRuleSchema,
      )
      .default({}),
    {
      description:
        '`airlock data refresh`: what each column becomes in the copy, as `table.column: rule`. Rules: keep, null, empty, email, fullName, firstName, lastName, phone, username, streetAddress, uuid, hash (deterministic with the salt: the same input gives the same pseudonym, so joins and unique constraints hold), or `{ value: <constant> }`.',
      examples: [{ 'users.email': 'email', 'users.name': 'fullName', 'users.id': 'keep' }],
    },
  ),
  keep: field(z.array(z.string().min(1)).default([]), {
    description:
      'Columns copied as they are, as `table.column` or `table.*` (every column of that table): the same as `keep` in `scrub`, shorter for whole tables of non-personal data.',
    examples: [['orders.*', 'users.id']],
  }),
  exclude: field(z.array(z.string().min(1)).default([]), {
    description:
      "Tables not copied: emptied in the target (sessions, tokens, audit trails of the source's users).",
    examples: [['sessions']],
  }),
  strict: field(z.boolean().default(true), {
    description:
      'Fail closed (default): every column of every copied table needs a rule or an explicit keep; a column none covers (one a new migration added) refuses the refresh, naming it. false: such columns are copied as they are (and listed as a warning).',
    examples: [true],
  }),
  salt: field(z.string().min(1).default('${AIRLOCK_DATA_SALT}'), {
    description:
      'The secret that makes pseudonyms unguessable, read from an environment variable (`${NAME}`); the same salt gives the same pseudonyms on every machine. Keep it out of the repository.',
    examples: ['${AIRLOCK_DATA_SALT}'],
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
  data: field(dataSchema.optional(), {
    description:
      "Staging data: seeds (`airlock data seed`) and a scrubbed copy of another environment's database (`airlock data refresh staging --from production`): docs/staging-data.md.",
    examples: [{ seed: 'seeds', scrub: { 'users.email': 'email' }, keep: ['orders.*'] }],
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

export type ServiceConfig = z.output<typeof serviceSchema>;
export type ServiceOverride = z.output<typeof serviceOverrideSchema>;
export type DataConfig = z.output<typeof dataSchema>;
export type ScrubRule = z.output<typeof scrubRuleSchema>;
