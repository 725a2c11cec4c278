import { defineCommand, defineGroup } from '../command-definition.ts';

/** `--service` of the migrate subcommands that act on every service with a database. */
const EVERY_SERVICE = {
  flags: '--service <service>',
  description: 'only this service (default: every service with a database)',
};

/** `airlock migrate status|apply|create|hash|lint|drift|resolve|adopt`. See docs/migrations.md. */
export const migrateDefinition = defineGroup({
  name: 'migrate',
  description: 'database migrations: numbered, append-only, checksummed',
  commands: [
    defineCommand({
      name: 'status',
      description: "compare an environment's ledger with the migration files",
      arguments: ['<environment>'],
      options: [
        {
          flags: '--release <release>',
          description: "use the release's migrations instead of the working tree's",
        },
      ],
      handler: async (io, environment: string, opts: { release?: string }) =>
        (await import('../migrate/status.ts')).migrateStatusCommand(io, environment, opts),
    }),
    defineCommand({
      name: 'apply',
      description: 'apply pending migrations to an environment (each file in its own transaction)',
      arguments: ['<environment>'],
      options: [
        {
          flags: '--release <release>',
          description: "apply the release's migrations instead of the working tree's",
        },
        {
          flags: '--dry-run',
          description:
            'run the pending migrations on a throwaway copy of the database and report; changes nothing',
        },
      ],
      handler: async (io, environment: string, opts: { release?: string; dryRun?: boolean }) =>
        (await import('../migrate/apply.ts')).migrateApplyCommand(io, environment, opts),
    }),
    defineCommand({
      name: 'create',
      description: 'create the next numbered migration file and record it in airlock.sum',
      arguments: ['<name>'],
      options: [
        {
          flags: '--service <service>',
          description:
            'service whose migrations folder to use (default: the only one with a database)',
        },
      ],
      handler: async (io, name: string, opts: { service?: string }) =>
        (await import('../migrate/create.ts')).migrateCreateCommand(io, name, opts),
    }),
    defineCommand({
      name: 'hash',
      description:
        'write migrations/airlock.sum (the checksum of every migration file) and show what changed',
      options: [EVERY_SERVICE],
      handler: async (io, opts: { service?: string }) =>
        (await import('../migrate/hash.ts')).migrateHashCommand(io, opts),
    }),
    defineCommand({
      name: 'lint',
      description:
        'find migrations that are unsafe to promote or roll back past (default: those the first environment has not run)',
      options: [
        EVERY_SERVICE,
        { flags: '--all', description: 'lint every migration, also those already applied' },
        {
          flags: '--format <format>',
          description:
            'text (default), json, sarif (SARIF 2.1.0, for GitHub code scanning) or github (workflow annotations)',
        },
      ],
      handler: async (io, opts: { service?: string; all?: boolean; format?: string }) =>
        (await import('../migrate/lint.ts')).migrateLintCommand(io, opts),
    }),
    defineCommand({
      name: 'drift',
      description:
        "compare two environments' live schemas: changes made outside migrations (drift, exit 1) apart from pending migrations",
      arguments: ['<environment>', '<other>'],
      options: [EVERY_SERVICE],
      handler: async (io, environment: string, other: string, opts: { service?: string }) =>
        (await import('../migrate/drift.ts')).migrateDriftCommand(io, environment, other, opts),
    }),
    defineCommand({
      name: 'resolve',
      description:
        'record a migration as applied on an environment without running it, once the equivalent change was made there by hand (audited)',
      arguments: ['<environment>', '<migration>'],
      options: [
        {
          flags: '--applied',
          description: 'record it as applied (required: running nothing is the point)',
        },
        {
          flags: '-m, --message <why>',
          description: 'what was done by hand, and why (goes into the audit log)',
          required: true,
        },
        {
          flags: '--service <service>',
          description:
            'service whose database to record it in (default: the only one with a database)',
        },
      ],
      handler: async (
        io,
        environment: string,
        migration: string,
        opts: { applied?: boolean; message: string; service?: string },
      ) =>
        (await import('../migrate/resolve.ts')).migrateResolveCommand(
          io,
          environment,
          migration,
          opts,
        ),
    }),
    defineCommand({
      name: 'adopt',
      description:
        "take over a database another tool (wrangler, Supabase CLI, drizzle, Prisma, dbmate, goose, node-pg-migrate, postgrator) has been migrating: import its ledger as Airlock's, running nothing",
      arguments: ['<environment>'],
      options: [
        {
          flags: '--from <tool>',
          description:
            'the tool whose ledger to import: wrangler, supabase, drizzle, prisma, dbmate, goose, node-pg-migrate or postgrator',
        },
        {
          flags: '--d1-database <path>',
          description:
            "wrangler: the local D1 database (a .sqlite file, or the binding's database id; default: the environment's database when it has d1_migrations, else the one wrangler made in .wrangler/)",
        },
        {
          flags: '--map <version=file>',
          description:
            'supabase: the Airlock file a Supabase version ran as, when their names differ (repeatable)',
          parse: (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
        },
        { flags: '--dry-run', description: 'show what would be adopted; write nothing' },
        {
          flags: '--service <service>',
          description: 'service whose database to adopt (default: the only one with a database)',
        },
      ],
      handler: async (
        io,
        environment: string,
        opts: {
          from?: string;
          d1Database?: string;
          map?: string[];
          dryRun?: boolean;
          service?: string;
        },
      ) => (await import('../migrate/adopt.ts')).migrateAdoptCommand(io, environment, opts),
    }),
  ],
});
