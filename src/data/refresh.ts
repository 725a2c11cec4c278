/**
 * `airlock data refresh <target> --from <source>`: a scrubbed copy of one environment's database
 * into another's, as Replibyte, Snaplet and Neon's anonymized branches make one. What it holds to:
 *
 * - **never into production, never into the source:** the target may not be the last environment
 *   of the pipeline, nor the source, nor the same database under another name, nor a database
 *   whose claim says it belongs to another environment — refused by code, whatever the config;
 * - **schemas match first:** both ledgers hold the same migrations with the same checksums, and
 *   both live schemas are the same (no drift on either side);
 * - **fail closed:** every column of every copied table needs a scrub rule or an explicit keep
 *   (`scrub.ts`), so a column a new migration adds is never copied unseen;
 * - **all or nothing:** the target's environment lock is held, and the copy is one transaction
 *   on the target (`copy-postgres.ts`, `copy-sqlite.ts`): killed midway, the target is as before;
 * - **on the record:** an audit event with rows per table and the duration, or why it failed.
 */
import { DatabaseSync } from 'node:sqlite';
import { expandEnv } from '../config/references.ts';
import type { ResolvedDatabase } from '../config/resolve.ts';
import { databaseIdentity } from '../config/resolve-databases.ts';
import type { DataConfig } from '../config/service-schema.ts';
import { UserError } from '../errors.ts';
import { describeSchema } from '../migrations/introspect.ts';
import type { LedgerEntry } from '../migrations/ledger.ts';
import { withClient } from '../migrations/postgres-client.ts';
import { compareSchemas } from '../migrations/schema-compare.ts';
import type { TableSnapshot } from '../migrations/schema-snapshot.ts';
import { sqlitePathFromUrl } from '../migrations/sqlite-migration-driver.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import { acquireEnvironmentLock, keepAlive } from '../pipeline/lock.ts';
import { audit } from '../state/audit.ts';
import { type CopyCounts, type CopyProgress, copyPostgres } from './copy-postgres.ts';
import { copySqlite } from './copy-sqlite.ts';
import { planTables } from './scrub.ts';

export interface RefreshOptions {
  target: string;
  source: string;
  /** Only this service (default: every service with a database in both environments). */
  service?: string;
  onProgress?: (service: string, table: string, rows: number) => void;
  signal?: AbortSignal;
}

export interface ServiceRefresh {
  service: string;
  tables: CopyCounts[];
  excluded: string[];
  /** Columns copied as they are because strict was off and no rule covered them. */
  uncovered: string[];
  durationMs: number;
}

const DEFAULT_DATA: DataConfig = {
  seedLast: false,
  scrub: {},
  keep: [],
  exclude: [],
  strict: true,
  salt: '${AIRLOCK_DATA_SALT}',
};

/** The `data:` settings of a service (fail-closed defaults when it has none). */
export function dataSettings(ctx: AirlockContext, service: string): DataConfig {
  return ctx.config.raw.services[service]?.data ?? DEFAULT_DATA;
}

function refused(ctx: AirlockContext, options: RefreshOptions, error: UserError): Promise<never> {
  return audit(ctx, 'data.refused', {
    environment: options.target,
    result: 'refused',
    detail: { source: options.source, code: error.code, reason: error.message },
  }).then(() => {
    throw error;
  });
}

/**
 * The rules refusing a target by code: the last environment, the source itself, one database
 * under two names.
 * @throws UserError `DATA_TARGET_REFUSED`.
 */
function checkTarget(ctx: AirlockContext, options: RefreshOptions): void {
  const { pipeline, environments } = ctx.config;
  for (const name of [options.target, options.source]) {
    if (!environments[name])
      throw new UserError('DATA_TARGET_REFUSED', `there is no environment ${name}.`, {
        hint: `Environments: ${pipeline.join(', ')}.`,
      });
  }
  if (options.target === options.source)
    throw new UserError(
      'DATA_TARGET_REFUSED',
      `${options.target} cannot be refreshed from itself.`,
      { hint: `Name another environment: airlock data refresh ${options.target} --from <env>.` },
    );
  if (options.target === pipeline[pipeline.length - 1])
    throw new UserError(
      'DATA_TARGET_REFUSED',
      `${options.target} is the last environment of the pipeline: a refresh never writes into it, whatever the configuration says.`,
      {
        hint: `Refresh an earlier environment from it: airlock data refresh ${pipeline[0]} --from ${options.target}.`,
      },
    );
}

function ledgerKey(entries: LedgerEntry[]): string[] {
  return entries.map((e) => `${e.version}:${e.sha256}`);
}

/**
 * Copies each service's data from the source environment into the target, scrubbed.
 * @throws UserError `DATA_TARGET_REFUSED`, `DATA_SCHEMA_MISMATCH`, `DATA_COLUMN_UNCOVERED`,
 *   `DATA_SALT_UNSET`, `DATABASE_CLAIMED`, `LOCK_HELD`; what the databases throw.
 */
export async function refreshData(
  ctx: AirlockContext,
  options: RefreshOptions,
): Promise<ServiceRefresh[]> {
  try {
    checkTarget(ctx, options);
  } catch (error) {
    if (error instanceof UserError) return refused(ctx, options, error);
    throw error;
  }
  const target = ctx.config.environments[options.target]!;
  const source = ctx.config.environments[options.source]!;
  const services = Object.keys(target.services).filter(
    (s) =>
      (!options.service || s === options.service) &&
      target.services[s]?.database &&
      source.services[s]?.database,
  );
  if (services.length === 0)
    throw new UserError(
      'DATA_TARGET_REFUSED',
      `no service${options.service ? ` named ${options.service}` : ''} has a database in both ${options.source} and ${options.target}.`,
      { hint: 'Give the service a database in both environments (services.<name>.database).' },
    );

  // Everything that can refuse runs before the lock and before any write.
  const prepared = [];
  for (const service of services) {
    const from = source.services[service]!.database!;
    const into = target.services[service]!.database!;
    try {
      prepared.push(await prepare(ctx, service, from, into, options));
    } catch (error) {
      if (error instanceof UserError) return refused(ctx, options, error);
      throw error;
    }
  }

  const lock = await acquireEnvironmentLock(
    ctx,
    options.target,
    `data refresh from ${options.source}`,
  );
  const lease = keepAlive(ctx, lock);
  const results: ServiceRefresh[] = [];
  try {
    for (const p of prepared) {
      const started = Date.now();
      const progress: CopyProgress = (table, rows) => options.onProgress?.(p.service, table, rows);
      const signal = options.signal
        ? AbortSignal.any([options.signal, lease.signal])
        : lease.signal;
      let tables: CopyCounts[];
      try {
        tables =
          p.engine === 'postgres'
            ? await withClient(p.fromUrl, (src) =>
                withClient(p.intoUrl, (dst) =>
                  copyPostgres(src, dst, p.plans, p.excluded, {
                    schema: 'public',
                    onProgress: progress,
                    signal,
                  }),
                ),
              )
            : copySqliteFiles(p.fromUrl, p.intoUrl, p.plans, p.excluded, progress);
      } catch (error) {
        await audit(ctx, 'data.refresh-failed', {
          environment: options.target,
          result: 'errored',
          detail: {
            source: options.source,
            service: p.service,
            reason: (error as Error).message,
            durationMs: Date.now() - started,
            done: results.map((r) => r.service),
          },
        });
        throw error;
      }
      const result: ServiceRefresh = {
        service: p.service,
        tables,
        excluded: p.excluded,
        uncovered: p.plans.flatMap((plan) => plan.uncovered.map((c) => `${plan.table}.${c}`)),
        durationMs: Date.now() - started,
      };
      results.push(result);
      await audit(ctx, 'data.refreshed', {
        environment: options.target,
        detail: {
          source: options.source,
          service: p.service,
          rows: Object.fromEntries(tables.map((t) => [t.table, t.rows])),
          excluded: p.excluded,
          uncovered: result.uncovered,
          durationMs: result.durationMs,
        },
      });
    }
  } finally {
    await lease.end();
  }
  return results;
}

function copySqliteFiles(
  fromUrl: string,
  intoUrl: string,
  plans: Parameters<typeof copySqlite>[2],
  excluded: string[],
  onProgress: CopyProgress,
): CopyCounts[] {
  const src = new DatabaseSync(sqlitePathFromUrl(fromUrl), { readOnly: true });
  const dst = new DatabaseSync(sqlitePathFromUrl(intoUrl));
  try {
    dst.exec('PRAGMA busy_timeout = 5000');
    return copySqlite(src, dst, plans, excluded, { onProgress });
  } finally {
    src.close();
    dst.close();
  }
}

/** Foreign-key order: referenced tables first (a table referencing itself is fine). */
function inDependencyOrder(tables: TableSnapshot[]): TableSnapshot[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: TableSnapshot[] = [];
  const visit = (t: TableSnapshot) => {
    if (done.has(t.name) || visiting.has(t.name)) return;
    visiting.add(t.name);
    for (const fk of t.foreignKeys) {
      const parent = byName.get(fk.references);
      if (parent && parent.name !== t.name) visit(parent);
    }
    visiting.delete(t.name);
    done.add(t.name);
    out.push(t);
  };
  for (const t of tables) visit(t);
  return out;
}

async function prepare(
  ctx: AirlockContext,
  service: string,
  from: ResolvedDatabase,
  into: ResolvedDatabase,
  options: RefreshOptions,
) {
  const settings = dataSettings(ctx, service);
  if (from.engine !== into.engine)
    throw new UserError(
      'DATA_SCHEMA_MISMATCH',
      `${service}: ${options.source} is ${from.engine} but ${options.target} is ${into.engine}.`,
      { hint: 'Both environments need the same database engine.' },
    );
  const salt = expandEnv(settings.salt, process.env);
  if (salt.missing.length > 0 || salt.value.length < 16)
    throw new UserError(
      'DATA_SALT_UNSET',
      `${ctx.config.displayFile}: services.${service}.data.salt reads ${salt.missing.length ? salt.missing.map((m) => `$${m}`).join(', ') : 'a value shorter than 16 characters'}: pseudonyms need a secret salt of at least 16 characters.`,
      {
        hint: `export ${salt.missing[0] ?? 'AIRLOCK_DATA_SALT'}=$(openssl rand -hex 32), kept with your other secrets: the same salt gives the same pseudonyms on every machine.`,
      },
    );
  // Claims: the target must be the target environment's database, the source the source's.
  const intoDriver = await ctx.databases.open(into);
  let intoLedger: LedgerEntry[];
  try {
    intoLedger = await intoDriver.readLedger();
  } finally {
    await intoDriver.close();
  }
  const fromLedger = await ctx.databases.readLedger(from);
  const fromLocation = await ctx.databases.location(from);
  const intoLocation = await ctx.databases.location(into);
  if (fromLocation.engine !== 'postgres' && fromLocation.engine !== 'sqlite')
    throw new UserError('DATA_TARGET_REFUSED', `${service}: ${from.engine} cannot be copied.`);
  const sameDatabase =
    fromLocation.engine === 'postgres'
      ? databaseIdentity(fromLocation.url) === databaseIdentity(intoLocation.url)
      : sqlitePathFromUrl(fromLocation.url) === sqlitePathFromUrl(intoLocation.url);
  if (sameDatabase)
    throw new UserError(
      'DATA_TARGET_REFUSED',
      `${service}: ${options.target} and ${options.source} are the same database (${into.display}).`,
      { hint: 'Give each environment its own database.' },
    );
  if (from.engine === 'd1' && from.d1?.mode !== 'local')
    throw new UserError(
      'DATA_TARGET_REFUSED',
      `${service}: a refresh reads a remote D1 database's rows, which this version does not do yet (local mode only).`,
      { hint: 'Run the refresh against local D1 files, or export with `wrangler d1 export`.' },
    );
  const a = ledgerKey(fromLedger);
  const b = ledgerKey(intoLedger);
  if (a.join() !== b.join()) {
    const onlyFrom = fromLedger.filter((e) => !b.includes(`${e.version}:${e.sha256}`));
    const onlyInto = intoLedger.filter((e) => !a.includes(`${e.version}:${e.sha256}`));
    const names = (list: LedgerEntry[]) => list.map((e) => e.name ?? String(e.version)).join(', ');
    throw new UserError(
      'DATA_SCHEMA_MISMATCH',
      `${service}: the ledgers of ${options.source} and ${options.target} differ${onlyFrom.length ? `; only ${options.source} ran ${names(onlyFrom)}` : ''}${onlyInto.length ? `; only ${options.target} ran ${names(onlyInto)}` : ''}: a copy between different schemas is refused.`,
      {
        hint: `Bring both to the same release first (airlock deploy ${options.target}, or promote), then refresh.`,
      },
    );
  }
  const [fromSchema, intoSchema] = await Promise.all([
    describeSchema(fromLocation),
    describeSchema(intoLocation),
  ]);
  const differences = compareSchemas(fromSchema, intoSchema, {
    a: options.source,
    b: options.target,
  });
  if (differences.length > 0)
    throw new UserError(
      'DATA_SCHEMA_MISMATCH',
      `${service}: the live schemas differ though the ledgers match (drift): ${differences
        .slice(0, 3)
        .map((d) => d.message)
        .join('; ')}.`,
      { hint: 'Fix the drift (airlock plan shows it), then refresh.' },
    );
  const excluded = settings.exclude.filter((t) => fromSchema.tables.some((s) => s.name === t));
  const unknown = settings.exclude.filter((t) => !excluded.includes(t));
  if (unknown.length > 0)
    throw new UserError(
      'DATA_RULE_UNKNOWN_COLUMN',
      `${ctx.config.displayFile}: services.${service}.data.exclude names ${unknown.join(', ')}, which ${options.source} does not have.`,
      { hint: 'Remove or rename it.' },
    );
  const copied = inDependencyOrder(fromSchema.tables.filter((t) => !excluded.includes(t.name)));
  const plans = planTables(
    copied.map((t) => ({
      table: t.name,
      // A generated column is computed by the target itself: never written.
      columns: t.columns
        .filter((c) => !c.default?.startsWith('generated always as ('))
        .map((c) => c.name),
    })),
    settings,
    salt.value,
    `${ctx.config.displayFile}: services.${service}.data`,
  );
  return {
    service,
    engine: fromLocation.engine,
    fromUrl: fromLocation.url,
    intoUrl: intoLocation.url,
    plans,
    excluded,
  };
}
