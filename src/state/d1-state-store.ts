/**
 * The state store on Cloudflare D1 (`state: d1://<account-id>/<database-id>`), for teams whose
 * whole stack is on Cloudflare: the same Kysely queries as the SQLite store (D1 is SQLite),
 * sent through D1's HTTP API (`POST …/accounts/{account}/d1/database/{database}/query`) by the
 * client passed in (`providers/cloudflare/d1-http-driver.ts`, with a token that has D1: Edit).
 *
 * D1 has neither interactive transactions nor locks. A statement outside a transaction is one
 * request. A transaction is a `D1Transaction` (`d1-transaction.ts`): its plain inserts and
 * audit appends are sent together as one batch (one D1 transaction) at its end, behind guards
 * — conditional writes — that fail the batch when the environment lock is no longer this
 * view's or the audit chain moved since it was read; a refused batch is followed by a read of the lock (`LOCK_LOST`, naming the new holder),
 * and a transaction that lost a race on the audit chain and wrote nothing yet runs again. Environment locks
 * are leases written by one conditional statement (`lock-queries.ts`), so they need nothing
 * more. The store's schema migrations run under the lease of `the client's `lock()``.
 */
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { ProviderError, UserError } from '../errors.ts';
import { SQLITE_CLAIM_TABLE } from '../migrations/database-claim.ts';
import { audit } from './audit.ts';
import { SQLITE_AUDIT_GUARDS } from './audit-guards.ts';
import {
  bindD1Transaction,
  D1GuardFailed,
  type D1StateClient,
  D1Transaction,
  d1Statement,
  guardStatement,
  toQueryResult,
} from './d1-transaction.ts';
import { KyselyStateStore, migrateStateSchema, type StoreDialect } from './kysely-state-store.ts';
import { STATE_MIGRATION_TABLE, STATE_SCHEMA_VERSION, type StateDatabase } from './schema.ts';

export interface D1StateStoreOptions {
  /**
   * D1's HTTP API for the state database (the Cloudflare provider's `openD1StateClient`; the
   * token it holds is never logged or put in an error).
   */
  client: D1StateClient;
  accountId: string;
  databaseId: string;
}

/** How often a transaction that lost a race to another writer is run again. */
const ATTEMPTS = 10;

/** A random pause (ms) before attempt `n` + 1, growing with `n`, so racing writers spread out. */
const backoff = (n: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * Math.min(n, 5)));

/** One connection: each query is one request, or a statement of the open `D1Transaction`. */
class D1Connection implements DatabaseConnection {
  readonly #client: D1StateClient;
  readonly #tx: D1Transaction | null;

  constructor(client: D1StateClient, tx: D1Transaction | null) {
    this.#client = client;
    this.#tx = tx;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#tx) return this.#tx.execute<R>(query);
    const [result] = await this.#client.query([d1Statement(query)]);
    return toQueryResult<R>(result);
  }

  // biome-ignore lint/correctness/useYield: D1 cannot stream rows.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the D1 state store does not stream query results');
  }
}

class D1Driver implements Driver {
  readonly #connection: D1Connection;

  constructor(client: D1StateClient, tx: D1Transaction | null) {
    this.#connection = new D1Connection(client, tx);
  }

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }
  async beginTransaction(): Promise<void> {
    throw new Error('D1 has no interactive transactions: use the store dialect (D1Transaction)');
  }
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/** Kysely over D1's HTTP API: SQLite's SQL, one request per query (or the transaction's batch). */
function d1Dialect(client: D1StateClient, tx: D1Transaction | null): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new D1Driver(client, tx),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  };
}

/** The store dialect: a transaction is a `D1Transaction`, run again when it lost a race. */
function d1StoreDialect(client: D1StateClient): StoreDialect {
  return {
    name: 'sqlite',
    forShare: false,
    guardsFence: true,
    async atomically(db, fn, fence, checkFence) {
      for (let attempt = 1; ; attempt++) {
        const tx = new D1Transaction(
          (batch) => client.query(batch),
          fence
            ? [
                guardStatement(
                  'EXISTS (SELECT 1 FROM "locks" WHERE "environment" = ? AND "token" = ?)',
                  [fence.environment, fence.token],
                ),
              ]
            : [],
        );
        const trx = new Kysely<StateDatabase>({ dialect: d1Dialect(client, tx) });
        bindD1Transaction(trx, tx);
        try {
          const result = await fn(trx);
          await tx.commit();
          return result;
        } catch (error) {
          if (!(error instanceof D1GuardFailed)) throw error;
          // The fence (LOCK_LOST, naming who holds the lock now), or the audit chain moved.
          await checkFence(db);
          if (tx.wrote || attempt >= ATTEMPTS) {
            throw new ProviderError(
              'PROVIDER_UNAVAILABLE',
              `another Airlock process kept writing the D1 state database at the same moment (${attempt} attempts); ${tx.wrote ? 'part of this change was written' : 'nothing of this change was written'}.`,
              { hint: 'Run the command again; `airlock status` shows what was recorded.' },
            );
          }
          await backoff(attempt);
        }
      }
    },
  };
}

/**
 * The state store never lives in an environment's application database (as on Postgres): one
 * that carries an environment's claim (`migrations/database-claim.ts`) is refused.
 * @throws UserError `STATE_IN_APPLICATION_DATABASE` naming the environment.
 */
async function refuseApplicationDatabase(client: D1StateClient): Promise<void> {
  const [claim] = await client.query([
    { sql: `SELECT project, environment FROM ${SQLITE_CLAIM_TABLE} WHERE id = 1` },
  ]);
  const owner = claim?.results?.[0] as { project: string; environment: string } | undefined;
  if (!owner) return;
  throw new UserError(
    'STATE_IN_APPLICATION_DATABASE',
    `The D1 state database is the application database of environment ${owner.environment} (project ${owner.project}): Airlock's history, locks and audit log must not live in data a migration or a release can change.`,
    {
      hint: 'Create a D1 database for Airlock alone (`npx wrangler d1 create airlock-state`) and point state (or AIRLOCK_STATE_URL) at it: d1://<account-id>/<its database id>.',
      details: { environment: owner.environment, project: owner.project },
    },
  );
}

export class D1StateStore extends KyselyStateStore {
  readonly accountId: string;
  readonly databaseId: string;

  readonly #client: D1StateClient;

  private constructor(db: Kysely<StateDatabase>, dialect: StoreDialect, o: D1StateStoreOptions) {
    super(db, dialect);
    this.accountId = o.accountId;
    this.databaseId = o.databaseId;
    this.#client = o.client;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.#client.close();
  }

  /**
   * Connects and brings the schema up to date (one request when it already is; concurrent
   * openers of an older schema serialise on the D1 migration lease), then checks the audit
   * log's guard triggers and recreates any that is missing.
   * @throws ProviderError `PROVIDER_AUTH` (token refused), `PROVIDER_UNAVAILABLE` (no answer;
   *   the token is never in the message); UserError `STATE_SCHEMA_TOO_NEW`.
   */
  static async open(options: D1StateStoreOptions): Promise<D1StateStore> {
    const { client } = options;
    const db = new Kysely<StateDatabase>({ dialect: d1Dialect(client, null) });
    const store = new D1StateStore(db, d1StoreDialect(client), options);
    const names = Object.keys(SQLITE_AUDIT_GUARDS);
    const look = [STATE_MIGRATION_TABLE, SQLITE_CLAIM_TABLE, ...names];
    const objects = async () => {
      const [found] = await client.query([
        {
          sql: `SELECT name FROM sqlite_master WHERE name IN (${look.map(() => '?').join(', ')})`,
          params: look,
        },
      ]);
      return new Set((found?.results ?? []).map((r) => String(r.name)));
    };
    let present = await objects();
    if (present.has(SQLITE_CLAIM_TABLE)) await refuseApplicationDatabase(client);
    let applied = 0;
    if (present.has(STATE_MIGRATION_TABLE)) {
      const [count] = await client.query([
        { sql: `SELECT count(*) AS n FROM "${STATE_MIGRATION_TABLE}"` },
      ]);
      applied = Number(count?.results?.[0]?.n ?? 0);
    }
    if (applied !== STATE_SCHEMA_VERSION) {
      const release = await client.lock();
      try {
        await migrateStateSchema(db, 'sqlite');
      } finally {
        await release();
      }
      present = await objects();
    }
    await store.#restoreGuards(
      client,
      names.filter((n) => !present.has(n)),
    );
    return store;
  }

  /** Recreates the audit guards someone dropped; `audit.guard-restored` says which. */
  async #restoreGuards(client: D1StateClient, missing: string[]): Promise<void> {
    if (missing.length === 0) return;
    await client.query(missing.map((name) => ({ sql: SQLITE_AUDIT_GUARDS[name] as string })));
    await audit({ store: this, actor: 'airlock', now: () => new Date() }, 'audit.guard-restored', {
      environment: null,
      detail: {
        triggers: missing,
        note: 'a guard of the audit log was missing (dropped outside Airlock) and was created again',
      },
    });
  }
}
