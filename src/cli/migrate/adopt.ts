/**
 * `airlock migrate adopt <env> --from <tool>` (wrangler, supabase, drizzle, prisma, dbmate, goose,
 * node-pg-migrate, postgrator): takes over a database another tool
 * has been migrating, by importing its ledger as Airlock's (no SQL runs). Refuses, writing
 * nothing, when the ledger and the files disagree. Under the environment's lock; audited.
 */
import path from 'node:path';
import { environmentNamed } from '../../config/environments.ts';
import type { ResolvedDatabase } from '../../config/resolve.ts';
import { UserError } from '../../errors.ts';
import {
  type AdoptSource,
  adoptError,
  adoptLedger,
  type LedgerTarget,
} from '../../migrations/adopt.ts';
import { localD1Source } from '../../migrations/local-d1-source.ts';
import type { DatabaseLocation } from '../../migrations/migration-driver.ts';
import {
  formatMigrationVersion,
  isMigrationLayout,
  MIGRATION_LAYOUTS,
  migrationFilename,
} from '../../migrations/migration-name.ts';
import { sqlitePathFromUrl } from '../../migrations/sqlite-migration-driver.ts';
import { type ToolLayout, toolLedgerTable } from '../../migrations/tool-ledgers.ts';
import { verifiedMigrationFiles } from '../../migrations/verified-migration-files.ts';
import { databaseOf } from '../../pipeline/context.ts';
import type { Databases } from '../../pipeline/databases.ts';
import { acquireEnvironmentLock } from '../../pipeline/lock.ts';
import { audit } from '../../state/audit.ts';
import type { CommandIO } from '../command-io.ts';
import { confirmChange } from '../confirm.ts';
import { withSession } from '../session.ts';
import { oneServiceWithDatabase, shown } from './migration-sources.ts';

/** The adopt flags, as commander parses them. */
export interface AdoptOptions {
  from?: string;
  d1Database?: string;
  dryRun?: boolean;
  service?: string;
  /** `--map <version=file>`, repeatable. */
  map?: string[];
}

/** Where the ledger comes from, where it goes, and how to say so. */
interface Adoption {
  source: AdoptSource;
  /** e.g. `d1_migrations in .wrangler/state/…/x.sqlite`. */
  from: string;
  /** Null: the environment's database itself. */
  target: DatabaseLocation | LedgerTarget | null;
  /** Closed once adopted (a remote D1 connection). */
  close?: () => Promise<void>;
}

export async function migrateAdoptCommand(
  io: CommandIO,
  environment: string,
  opts: AdoptOptions,
): Promise<number> {
  const { tool, mapping } = parseAdoptOptions(opts);
  return withSession(
    io,
    async (session) => {
      const { ctx } = session;
      const env = environmentNamed(ctx.config, environment);
      const service = oneServiceWithDatabase(ctx.config, opts.service);
      const database = databaseOf(ctx.config, env.name, service.name);
      const files = await verifiedMigrationFiles(database.migrationsDir, database.layout);

      let adoption: Adoption;
      if (tool === 'wrangler') {
        if (database.engine === 'postgres') {
          throw new UserError(
            'USAGE',
            `${service.name}'s database on ${env.name} is Postgres, and wrangler's ledger belongs to a D1 (SQLite) database.`,
            { hint: 'Use `--from supabase` for a database the Supabase CLI migrated.' },
          );
        }
        if (database.engine === 'd1' && database.d1?.mode !== 'local') {
          if (opts.d1Database) {
            throw new UserError(
              'USAGE',
              `--d1-database names a local D1 file, but ${service.name}'s database on ${env.name} is Cloudflare's (cloudflare.mode: remote).`,
              { hint: `Run \`airlock migrate adopt ${env.name} --from wrangler\` without it.` },
            );
          }
          adoption = await remoteD1Adoption(ctx.databases, database, env.name);
        } else {
          const location = await ctx.databases.location(database);
          const file = await localD1Source({
            projectDir: path.resolve(ctx.config.dir, service.root),
            own: sqlitePathFromUrl(location.url),
            given: opts.d1Database,
            environment: env.name,
            cwd: process.cwd(),
          });
          adoption = {
            source: { tool: 'wrangler', sqlitePath: file },
            from: `d1_migrations in ${shown(file)}`,
            target: location,
          };
        }
      } else if (tool !== 'supabase') {
        if (database.engine === 'd1' && database.d1?.mode !== 'local') {
          throw new UserError(
            'USAGE',
            `${service.name}'s database on ${env.name} is Cloudflare's D1 (remote); Airlock adopts ${tool}'s ledger from a local SQLite file or a Postgres database.`,
            { hint: 'On D1, wrangler applies the migrations: use `--from wrangler`.' },
          );
        }
        const location = await ctx.databases.location(database);
        adoption = {
          source: { tool, location },
          from: `${toolLedgerTable(tool, location.engine)} in ${location.engine === 'postgres' ? database.display : shown(sqlitePathFromUrl(location.url))}`,
          target: null,
        };
      } else {
        if (database.engine !== 'postgres') {
          throw new UserError(
            'USAGE',
            `${service.name}'s database on ${env.name} is SQLite; Supabase's ledger lives in a Postgres database.`,
            {
              hint: 'Point the environment at the Supabase database (`database: { engine: postgres }` and its `databaseUrl`), or use `--from wrangler` for a D1 database.',
            },
          );
        }
        adoption = {
          source: { tool: 'supabase', url: database.url, mapping },
          from: `supabase_migrations.schema_migrations in ${database.display}`,
          target: null,
        };
      }
      const { from } = adoption;

      if (!opts.dryRun && env.protected) {
        await confirmChange(
          io,
          `Adopt ${tool}'s migration ledger into ${env.name}'s (protected)?`,
          env.name,
        );
      }
      const lock = opts.dryRun
        ? null
        : await acquireEnvironmentLock(ctx, env.name, `migrate adopt --from ${tool}`);
      let result: Awaited<ReturnType<typeof adoptLedger>>;
      try {
        result = await adoptLedger(
          adoption.source,
          adoption.target ?? (await ctx.databases.location(database)),
          files,
          { dryRun: Boolean(opts.dryRun) },
        );
        if (result.written) {
          await audit(ctx, 'migrations.adopted', {
            environment: env.name,
            detail: {
              service: service.name,
              tool,
              source: from,
              files: result.adopted.map((e) => migrationFilename(e.version, e.name)),
              skipped: result.skipped.map((s) => s.file),
            },
          });
        }
      } finally {
        await adoption.close?.();
        await lock?.release();
      }

      io.reporter.info(
        `${service.name} on ${env.name}: ${tool}'s ledger (${from})${opts.dryRun ? ' (dry run: nothing is written)' : ''}:`,
      );
      if (result.adopted.length > 0) {
        io.reporter.table(
          ['VERSION', 'FILE', 'APPLIED', 'BY'],
          result.adopted.map((e) => [
            formatMigrationVersion(e.version),
            migrationFilename(e.version, e.name),
            e.appliedAt.replace('T', ' ').slice(0, 19),
            e.appliedBy,
          ]),
        );
      }
      for (const s of result.skipped) io.reporter.info(`  = ${s.file}: skipped (${s.reason})`);
      for (const p of result.problems) io.reporter.info(`  ✖ ${p.message}`);
      io.reporter.result({
        environment: env.name,
        service: service.name,
        tool,
        source: from,
        dryRun: Boolean(opts.dryRun),
        ...result,
      });
      if (result.problems.length > 0) {
        const error = adoptError(result);
        const n = result.problems.length;
        throw io.reporter.json
          ? error
          : new UserError(
              error.code,
              `Refusing to adopt ${tool}'s ledger (${n} problem${n === 1 ? '' : 's'}, listed above); nothing was written.`,
              { hint: error.hint, details: error.details },
            );
      }
      const n = result.adopted.length;
      const migrations = `${n} migration${n === 1 ? '' : 's'}`;
      if (opts.dryRun) {
        io.reporter.success(
          n === 0
            ? `Nothing to adopt: ${env.name}'s ledger already has every migration ${tool} ran.`
            : `Would adopt ${migrations} into ${env.name}'s ledger. Run the command again without --dry-run to write ${n === 1 ? 'it' : 'them'}.`,
        );
      } else if (n === 0) {
        io.reporter.success(
          `Nothing to adopt: ${env.name}'s ledger already has every migration ${tool} ran.`,
        );
      } else {
        io.reporter.success(
          `Adopted ${migrations} into ${env.name}'s ledger without running them; \`airlock migrate apply ${env.name}\` runs only newer files from now on.`,
        );
      }
      return 0;
    },
    { environments: [environment] },
  );
}

/**
 * The tool and the Supabase version → file mapping, from flags that must agree with each other.
 * @throws UserError `USAGE`.
 */
function parseAdoptOptions(opts: AdoptOptions): {
  tool: ToolLayout;
  mapping: Record<string, string>;
} {
  const tool = opts.from;
  const tools = MIGRATION_LAYOUTS.filter((l) => l !== 'airlock');
  if (!tool || tool === 'airlock' || !isMigrationLayout(tool)) {
    throw new UserError(
      'USAGE',
      tool
        ? `cannot adopt migrations from "${tool}".`
        : `say which tool has been running the migrations: --from ${tools.join('|')}.`,
      {
        hint: `\`--from wrangler\` reads the d1_migrations table of a (local) D1 database; \`--from supabase\` reads supabase_migrations.schema_migrations; the others read their tool's own table (${tools
          .filter((t) => t !== 'wrangler' && t !== 'supabase')
          .map((t) => `${t}: ${toolLedgerTable(t, 'postgres')}`)
          .join(', ')}) in the environment's database.`,
      },
    );
  }
  if (opts.d1Database && tool !== 'wrangler') {
    throw new UserError('USAGE', '--d1-database is only for --from wrangler.', {
      hint: "`--from supabase` reads the ledger from the environment's own database.",
    });
  }
  if (opts.map && tool !== 'supabase') {
    throw new UserError('USAGE', '--map is only for --from supabase.', {
      hint: `${tool}'s ledger names its files the way the folder does: read the folder in its layout (\`migrations: { dir, layout: ${tool} }\`).`,
    });
  }
  const mapping: Record<string, string> = {};
  for (const pair of opts.map ?? []) {
    const match = /^(\d+)=(\S+\.sql)$/.exec(pair);
    if (!match) {
      throw new UserError('USAGE', `--map ${pair} is not <version>=<file>.`, {
        hint: 'e.g. `--map 20240215093000=0002_pin_notes.sql`: the Supabase version, then the Airlock migration file it ran as.',
      });
    }
    mapping[match[1] as string] = match[2] as string;
  }
  return { tool: tool as ToolLayout, mapping };
}

/**
 * Cloudflare's D1: wrangler's ledger and the schema through the D1 HTTP API; Airlock's ledger
 * written through the same driver, under its lock row.
 * @throws UserError `MIGRATION_ADOPT_SOURCE_NOT_FOUND` when wrangler's table has no rows.
 */
async function remoteD1Adoption(
  databases: Databases,
  database: ResolvedDatabase,
  environment: string,
): Promise<Adoption> {
  const { d1Target } = await import('../../providers/cloudflare/d1.ts');
  const { openRemoteD1Driver } = await import('../../providers/cloudflare/d1-http-driver.ts');
  const d1 = d1Target(database);
  const driver = await openRemoteD1Driver(database, d1);
  const table = d1.migrationsTable ?? 'd1_migrations';
  const rows = await driver.readWranglerLedger(table);
  if (rows.length === 0) {
    await driver.close();
    throw new UserError(
      'MIGRATION_ADOPT_SOURCE_NOT_FOUND',
      `${database.display} has no rows in ${table}: wrangler has not migrated it, so there is nothing to adopt.`,
      {
        hint: `Run \`airlock migrate apply ${environment}\` to apply every file (a database wrangler migrated under another table: set migrations_table in its [[d1_databases]] entry).`,
      },
    );
  }
  return {
    source: { tool: 'wrangler', rows, schema: await databases.location(database) },
    from: `${table} in ${database.display}`,
    target: {
      readLedger: () => driver.readLedger(),
      async writeLedger(entries) {
        const release = await driver.lock();
        try {
          await driver.recordEntries(entries);
        } finally {
          await release();
        }
      },
    },
    close: () => driver.close(),
  };
}
