/**
 * `airlock data seed <env>`: representative data for an environment from seed files or a command.
 *
 * Seed files are `.sql` files (one file, or a folder run in name order), each run in one
 * transaction and recorded with its sha256 in the database's seed ledger (`airlock_seeds` on
 * SQLite, `airlock.seeds` on Postgres), so running the seeds again runs only new or changed
 * files: seeding is idempotent by construction, and a changed file runs again (write it with
 * `INSERT … ON CONFLICT DO NOTHING` so it can). A command seeds as it likes (it gets
 * DATABASE_URL and AIRLOCK_ENV, not the CLI's environment). Refused on the last environment of
 * the pipeline unless `data.seedLast` allows it; every run is audited.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { UserError } from '../errors.ts';
import { POSTGRES_LEDGER_SCHEMA, SQLITE_SEED_TABLE } from '../migrations/ledger.ts';
import { withClient } from '../migrations/postgres-client.ts';
import { sqlitePathFromUrl } from '../migrations/sqlite-migration-driver.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import { childEnvironment } from '../process/child-env.ts';
import { runShell } from '../process/shell.ts';
import { audit } from '../state/audit.ts';
import { dataSettings } from './refresh.ts';

export interface SeedResult {
  service: string;
  /** Seed files run now (new or changed). */
  ran: string[];
  /** Seed files already run with the same content. */
  skipped: string[];
  /** The seed command, when the service seeds with one. */
  command: string | null;
}

interface SeedFile {
  name: string;
  sql: string;
  sha256: string;
}

function seedFiles(dir: string, seed: string, file: string): SeedFile[] {
  const at = path.resolve(dir, seed);
  if (!existsSync(at))
    throw new UserError(
      'DATA_SEED_MISSING',
      `${file}: data.seed names ${seed}, which does not exist.`,
      {
        hint: 'Point it at a .sql file or a folder of them, relative to the service folder.',
      },
    );
  const files = statSync(at).isDirectory()
    ? readdirSync(at)
        .filter((f) => f.endsWith('.sql'))
        .sort()
        .map((f) => path.join(at, f))
    : [at];
  return files.map((f) => {
    const sql = readFileSync(f, 'utf8');
    return {
      name: path.relative(dir, f),
      sql,
      sha256: createHash('sha256').update(sql).digest('hex'),
    };
  });
}

/**
 * Seeds every service of `environment` that has `data.seed` (or only `service`).
 * @throws UserError `DATA_SEED_REFUSED` (last environment), `DATA_SEED_MISSING`,
 *   `DATA_SEED_FAILED` naming the file or command; `DATABASE_CLAIMED`.
 */
export async function seedData(
  ctx: AirlockContext,
  environment: string,
  options: { service?: string } = {},
): Promise<SeedResult[]> {
  const env = ctx.config.environments[environment];
  if (!env)
    throw new UserError('DATA_SEED_REFUSED', `there is no environment ${environment}.`, {
      hint: `Environments: ${ctx.config.pipeline.join(', ')}.`,
    });
  const last = ctx.config.pipeline[ctx.config.pipeline.length - 1] === environment;
  const results: SeedResult[] = [];
  for (const [service, settings] of Object.entries(env.services)) {
    if (options.service && service !== options.service) continue;
    const data = dataSettings(ctx, service);
    if (!data.seed) continue;
    const where = `${ctx.config.displayFile}: services.${service}.data`;
    if (last && !data.seedLast) {
      const error = new UserError(
        'DATA_SEED_REFUSED',
        `${environment} is the last environment of the pipeline: seeds never run there unless ${where}.seedLast is true.`,
        { hint: `Seed an earlier environment: airlock data seed ${ctx.config.pipeline[0]}.` },
      );
      await audit(ctx, 'data.refused', {
        environment,
        result: 'refused',
        detail: { service, code: error.code, reason: error.message },
      });
      throw error;
    }
    const database = settings.database;
    if (!database)
      throw new UserError(
        'DATA_SEED_MISSING',
        `${where}.seed: ${service} has no database in ${environment}.`,
      );
    // Opening claims the database for this environment (or refuses another's).
    const driver = await ctx.databases.open(database);
    await driver.close();
    const location = await ctx.databases.location(database);
    const serviceDir = path.resolve(ctx.config.dir, settings.root);
    const result: SeedResult = { service, ran: [], skipped: [], command: null };
    if (typeof data.seed === 'object') {
      result.command = data.seed.command;
      const run = await runShell(data.seed.command, {
        cwd: serviceDir,
        env: childEnvironment(process.env, {
          DATABASE_URL: location.url,
          AIRLOCK_ENV: environment,
          AIRLOCK_SERVICE: service,
        }),
        scrub: [location.url],
        timeoutMs: 30 * 60_000,
      });
      if (run.exitCode !== 0) {
        await audit(ctx, 'data.seeded', {
          environment,
          result: 'failed',
          detail: { service, command: data.seed.command, exitCode: run.exitCode },
        });
        throw new UserError(
          'DATA_SEED_FAILED',
          `${service}: the seed command \`${data.seed.command}\` exited ${run.exitCode ?? run.signal}.\n${run.tail.join('\n')}`,
          { hint: 'Fix the command and run `airlock data seed` again (it must be idempotent).' },
        );
      }
    } else {
      const files = seedFiles(serviceDir, data.seed, `${where}.seed`);
      const runOne =
        location.engine === 'postgres' ? postgresSeeder(location.url) : sqliteSeeder(location.url);
      try {
        await runOne(files, result);
      } catch (error) {
        await audit(ctx, 'data.seeded', {
          environment,
          result: 'failed',
          detail: { service, ran: result.ran, reason: (error as Error).message },
        });
        throw new UserError(
          'DATA_SEED_FAILED',
          `${service}: ${(error as { seedFile?: string }).seedFile ?? 'a seed file'} failed: ${(error as Error).message}. Nothing of that file was kept.`,
          {
            hint: 'Fix the file and run `airlock data seed` again: files that ran are not run twice.',
          },
        );
      }
    }
    await audit(ctx, 'data.seeded', {
      environment,
      detail: { service, ran: result.ran, skipped: result.skipped, command: result.command },
    });
    results.push(result);
  }
  return results;
}

type Seeder = (files: SeedFile[], result: SeedResult) => Promise<void>;

const SQLITE_SEEDS = SQLITE_SEED_TABLE;
const POSTGRES_SEEDS = `${POSTGRES_LEDGER_SCHEMA}.seeds`;

function sqliteSeeder(url: string): Seeder {
  return async (files, result) => {
    const db = new DatabaseSync(sqlitePathFromUrl(url));
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${SQLITE_SEEDS} (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, ran_at TEXT NOT NULL)`,
      );
      for (const f of files) {
        const row = db.prepare(`SELECT sha256 FROM ${SQLITE_SEEDS} WHERE name = ?`).get(f.name) as
          | { sha256: string }
          | undefined;
        if (row?.sha256 === f.sha256) {
          result.skipped.push(f.name);
          continue;
        }
        db.exec('BEGIN IMMEDIATE');
        try {
          db.exec(f.sql);
          db.prepare(
            `INSERT INTO ${SQLITE_SEEDS} (name, sha256, ran_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256, ran_at = excluded.ran_at`,
          ).run(f.name, f.sha256, new Date().toISOString());
          db.exec('COMMIT');
        } catch (error) {
          db.exec('ROLLBACK');
          throw Object.assign(error as Error, { seedFile: f.name });
        }
        result.ran.push(f.name);
      }
    } finally {
      db.close();
    }
  };
}

function postgresSeeder(url: string): Seeder {
  return (files, result) =>
    withClient(url, async (client) => {
      await client.query(
        `CREATE SCHEMA IF NOT EXISTS ${POSTGRES_LEDGER_SCHEMA}; CREATE TABLE IF NOT EXISTS ${POSTGRES_SEEDS} (name text PRIMARY KEY, sha256 text NOT NULL, ran_at timestamptz NOT NULL DEFAULT now())`,
      );
      for (const f of files) {
        const { rows } = await client.query<{ sha256: string }>(
          `SELECT sha256 FROM ${POSTGRES_SEEDS} WHERE name = $1`,
          [f.name],
        );
        if (rows[0]?.sha256 === f.sha256) {
          result.skipped.push(f.name);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(f.sql);
          await client.query(
            `INSERT INTO ${POSTGRES_SEEDS} (name, sha256) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, ran_at = now()`,
            [f.name, f.sha256],
          );
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw Object.assign(error as Error, { seedFile: f.name });
        }
        result.ran.push(f.name);
      }
    });
}
