/**
 * The team-mode state store: Postgres (a Supabase connection string works), shared by every
 * Airlock process on every machine. Tables live in the `airlock` schema of the database given;
 * the same Kysely queries as the SQLite store run against it. Writes made under an environment
 * lock are fenced: the lock row is read FOR SHARE in the same transaction as the write.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { AirlockError, ProviderError, UserError } from '../errors.ts';
import { redactUrl } from '../secrets/redact.ts';
import { audit } from './audit.ts';
import { POSTGRES_AUDIT_GUARDS, postgresGuardStatements } from './audit-guards.ts';
import { KyselyStateStore, migrateStateSchema, type StoreDialect } from './kysely-state-store.ts';
import { CHANGES_CHANNEL, type ChangeNotice, STATE_SCHEMA, type StateDatabase } from './schema.ts';
import type { ChangeEvent } from './state-store.ts';

/** How long a lost listening connection waits before it is opened again (ms). */
const RELISTEN_MS = 1000;

export interface PostgresStateStoreOptions {
  /** `postgres://user:password@host:5432/database`. Never logged. */
  url: string;
  /** Schema holding the tables. Default `airlock`. */
  schema?: string;
  /** Connections kept open. Default 4. */
  poolSize?: number;
}

export const postgresStoreDialect: StoreDialect = {
  name: 'postgres',
  forShare: true,
  atomically: (db, fn) => db.transaction().execute(fn),
};

/** A connection error without the URL (it may hold a password). */
function unreachable(error: unknown, display: string): ProviderError {
  const e = error as { code?: string; message?: string };
  return new ProviderError(
    'PROVIDER_UNAVAILABLE',
    `cannot reach the Postgres state store at ${display}: ${e.code ?? ''} ${e.message ?? String(error)}`
      .replace(/\s+/g, ' ')
      .trim(),
    {
      hint: 'Check that the server answers and that AIRLOCK_STATE_URL (or state: in airlock.yaml) is right.',
    },
  );
}

/**
 * The state store never lives in an environment's application database: one that carries an
 * environment's claim (`migrations/database-claim.ts`) is refused, so the audit log and locks
 * are not in the data a migration or a bad release can touch.
 * @throws UserError `STATE_IN_APPLICATION_DATABASE` naming the environment.
 */
async function refuseApplicationDatabase(db: Kysely<StateDatabase>, schema: string): Promise<void> {
  const { rows } = await sql<{
    claim: string | null;
  }>`SELECT to_regclass(${`${schema}.claim`})::text AS claim`.execute(db);
  if (!rows[0]?.claim) return;
  const claim = await sql<{
    project: string;
    environment: string;
  }>`SELECT project, environment FROM ${sql.id(schema, 'claim')} WHERE id = 1`.execute(db);
  const owner = claim.rows[0];
  if (!owner) return;
  throw new UserError(
    'STATE_IN_APPLICATION_DATABASE',
    `The state database is the application database of environment ${owner.environment} (project ${owner.project}): Airlock's history, locks and audit log must not live in data a migration or a release can change.`,
    {
      hint: 'Point state (or AIRLOCK_STATE_URL) at a database of its own, e.g. postgres://…/airlock on the same server.',
      details: { environment: owner.environment, project: owner.project },
    },
  );
}

export class PostgresStateStore extends KyselyStateStore {
  readonly schema: string;
  readonly #url: string;
  /** Open `watchChanges` subscriptions: `close()` ends them with the pool. */
  readonly #watchers = new Set<{ close(): Promise<void> }>();

  private constructor(db: Kysely<StateDatabase>, schema: string, url: string) {
    super(db, postgresStoreDialect, { pgSchema: schema });
    this.schema = schema;
    this.#url = url;
  }

  /**
   * See `StateStore.watchChanges`: one client of its own LISTENs on the channel the state's
   * triggers notify (schema migration 0009); notices of another schema on the same database are
   * ignored. A lost connection is reported and opened again every second until it answers.
   */
  async watchChanges(listener: (event: ChangeEvent) => void): Promise<{ close(): Promise<void> }> {
    let closed = false;
    let current: pg.Client | null = null;
    let timer: NodeJS.Timeout | null = null;
    const lost = (client: pg.Client) => {
      if (closed || current !== client) return;
      current = null;
      client.end().catch(() => {});
      listener({ kind: 'lost' });
      retry();
    };
    const listen = async () => {
      const client = new pg.Client({ connectionString: this.#url });
      client.on('error', () => lost(client));
      client.on('end', () => lost(client));
      client.on('notification', (message) => {
        if (message.channel !== CHANGES_CHANNEL || !message.payload) return;
        let notice: ChangeNotice;
        try {
          notice = JSON.parse(message.payload) as ChangeNotice;
        } catch {
          return;
        }
        if (notice.schema !== this.schema) return;
        listener({
          kind: 'change',
          change: {
            table: notice.table,
            run: notice.run === null ? null : Number(notice.run),
            environment: notice.environment,
          },
        });
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      } catch (error) {
        client.end().catch(() => {});
        throw error;
      }
      if (closed) {
        await client.end().catch(() => {});
        return;
      }
      current = client;
      listener({ kind: 'listening' });
    };
    const retry = () => {
      if (closed) return;
      timer = setTimeout(() => {
        timer = null;
        listen().catch(retry);
      }, RELISTEN_MS);
      timer.unref();
    };
    try {
      await listen();
    } catch {
      listener({ kind: 'lost' });
      retry();
    }
    const subscription = {
      close: async () => {
        closed = true;
        this.#watchers.delete(subscription);
        if (timer) clearTimeout(timer);
        const client = current;
        current = null;
        await client?.end().catch(() => {});
      },
    };
    this.#watchers.add(subscription);
    return subscription;
  }

  override async close(): Promise<void> {
    await Promise.all([...this.#watchers].map((w) => w.close()));
    await super.close();
  }

  /** The audit guards missing, or no longer enabled ALWAYS (one catalog query). */
  override async missingAuditGuards(db: Kysely<StateDatabase> = this.db): Promise<string[]> {
    const { rows } = await sql<{ tgname: string }>`
      SELECT t.tgname FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${this.schema} AND c.relname IN ('audit_events', 'audit_head')
        AND NOT t.tgisinternal AND t.tgenabled = 'A'`.execute(db);
    const present = new Set(rows.map((r) => r.tgname));
    return Object.keys(POSTGRES_AUDIT_GUARDS).filter((name) => !present.has(name));
  }

  /**
   * Checks the audit log's guards on every open; any missing (dropped, or disabled / set back to
   * fire only outside replica mode) is recreated and `audit.guard-restored` says which. Needs the
   * tables' owner: a least-privilege role cannot, and leaves it to `airlock audit verify`, which
   * names them.
   */
  async #restoreGuards(): Promise<void> {
    if ((await this.missingAuditGuards()).length === 0) return;
    let missing: string[] = [];
    try {
      await this.db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtext('airlock audit guards'))`.execute(trx);
        missing = await this.missingAuditGuards(trx); // another opener may have restored them
        for (const name of missing)
          for (const statement of postgresGuardStatements(this.schema, name))
            await sql.raw(statement).execute(trx);
      });
    } catch {
      return; // not the owner: `airlock audit verify` reports the missing guards
    }
    if (missing.length === 0) return;
    await audit({ store: this, actor: 'airlock', now: () => new Date() }, 'audit.guard-restored', {
      environment: null,
      detail: {
        triggers: missing,
        note: 'a guard of the audit log was missing or disabled (outside Airlock) and was created again',
      },
    });
  }

  /**
   * Connects, creates the schema if needed and brings the tables up to date (concurrent
   * openers serialise on Kysely's migration lock).
   * @throws ProviderError `PROVIDER_UNAVAILABLE` (no URL in the message); UserError `STATE_SCHEMA_TOO_NEW`.
   */
  static async open(options: PostgresStateStoreOptions): Promise<PostgresStateStore> {
    const schema = options.schema ?? STATE_SCHEMA;
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4 });
    pool.on('error', () => {}); // an idle client dropped by the server; the next query reconnects
    const base = new Kysely<StateDatabase>({ dialect: new PostgresDialect({ pool }) });
    try {
      await refuseApplicationDatabase(base, schema);
      await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`
        .execute(base)
        .catch((error: { code?: string }) => {
          // Two processes creating it at once: the loser sees a duplicate; the schema exists.
          // A least-privilege role (`airlock state grant`) may not create schemas: the owner made it.
          if (error.code !== '23505' && error.code !== '42P06' && error.code !== '42501')
            throw error;
        });
      const db = base.withSchema(schema);
      await migrateStateSchema(db, 'postgres', schema);
      const store = new PostgresStateStore(db, schema, options.url);
      await store.#restoreGuards();
      return store;
    } catch (error) {
      await base.destroy().catch(() => {});
      if (error instanceof AirlockError) throw error;
      throw unreachable(error, redactUrl(options.url));
    }
  }
}
