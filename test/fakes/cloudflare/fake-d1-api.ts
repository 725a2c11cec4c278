/**
 * FAKE — NOT CLOUDFLARE. `startFakeD1Api` serves the one D1 HTTP API endpoint Airlock calls,
 * over real HTTP on 127.0.0.1, each database a real SQLite file (node:sqlite), for tests
 * (DESIGN.md principle 6: fakes only for SaaS we cannot reach, passing the same contract suite).
 *
 *   POST /client/v4/accounts/{account_id}/d1/database/{database_id}/query
 *
 * Shapes as Cloudflare documents them (API reference "Query D1 Database"): the body is
 * `{ sql, params? }` or `{ batch: [{ sql, params? }] }`; the answer is Cloudflare's v4
 * envelope `{ result: [{ results, success, meta }], success, errors, messages }`, one result per
 * statement. Behaviour copied from D1: a batch is one transaction (a failing statement rolls it
 * all back), a `sql` string may hold several statements (split by SQLite itself), an invalid
 * statement answers HTTP 400 with error 7500 and SQLite's message (`…: SQLITE_ERROR`), explicit
 * transactions (`BEGIN`, `SAVEPOINT`, `COMMIT`) are refused, and a missing or wrong
 * `Authorization: Bearer` token answers 403 with error 10000 "Authentication error".
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';

export interface FakeD1Request {
  path: string;
  /** `valid`, `invalid` or `missing` (the token itself is never recorded). */
  auth: 'valid' | 'invalid' | 'missing';
  body: unknown;
  status: number;
}

export interface FakeD1Api {
  /** `http://127.0.0.1:<port>/client/v4` (what CLOUDFLARE_API_BASE_URL would be). */
  baseUrl: string;
  accountId: string;
  token: string;
  /** A new empty database; returns its id. */
  createDatabase(id?: string): string;
  /** The SQLite file behind a database (read it directly, never through the API). */
  file(databaseId: string): string;
  requests: FakeD1Request[];
  /** The next request answers this instead (e.g. a 500), once. */
  failNext(status: number, body: unknown): void;
  close(): Promise<void>;
}

const TRANSACTION = /^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;

function envelope(result: unknown, errors: { code: number; message: string }[] = []) {
  return { result, success: errors.length === 0, errors, messages: [] };
}

/** Splits `sql` into statements with SQLite's own parser and runs each. */
function runSql(db: DatabaseSync, sql: string, params: SQLInputValue[]) {
  const results = [];
  let rest = sql;
  for (;;) {
    let statement: ReturnType<DatabaseSync['prepare']>;
    try {
      statement = db.prepare(rest);
    } catch (error) {
      if (/contains no statements/.test((error as Error).message)) break;
      throw error;
    }
    const text = statement.sourceSQL;
    if (TRANSACTION.test(text.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*/, ''))) {
      throw new Error(
        'To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements',
      );
    }
    const started = performance.now();
    const rows = statement.all(...params);
    const changes = Number(
      (db.prepare('SELECT changes() AS c').get() as { c: number } | undefined)?.c ?? 0,
    );
    results.push({
      results: rows.map((row) => ({ ...row })),
      success: true,
      meta: {
        served_by: 'v3-fake',
        served_by_region: 'LOCAL',
        served_by_primary: true,
        duration: performance.now() - started,
        changes,
        last_row_id: 0,
        changed_db: changes > 0,
        size_after: 0,
        rows_read: rows.length,
        rows_written: changes,
      },
    });
    rest = rest.slice(text.length);
  }
  return results;
}

export async function startFakeD1Api(dir: string): Promise<FakeD1Api> {
  const accountId = randomUUID().replaceAll('-', '');
  const token = `fake-d1-token-${randomUUID()}`;
  const databases = new Map<string, string>();
  const requests: FakeD1Request[] = [];
  let injected: { status: number; body: unknown } | null = null;

  const send = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: unknown = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = null;
    }
    const header = request.headers.authorization;
    const auth = !header ? 'missing' : header === `Bearer ${token}` ? 'valid' : 'invalid';
    const record: FakeD1Request = { path: request.url ?? '', auth, body, status: 0 };
    requests.push(record);
    const reply = (status: number, payload: unknown) => {
      record.status = status;
      send(response, status, payload);
    };
    if (injected) {
      const { status, body: payload } = injected;
      injected = null;
      return reply(status, payload);
    }
    const match = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/query$/.exec(
      request.url ?? '',
    );
    if (request.method !== 'POST' || !match)
      return reply(404, envelope(null, [{ code: 7003, message: 'No route for that URI' }]));
    if (auth !== 'valid' || match[1] !== accountId)
      return reply(403, envelope(null, [{ code: 10000, message: 'Authentication error' }]));
    const file = databases.get(decodeURIComponent(match[2] as string));
    if (!file)
      return reply(
        404,
        envelope(null, [{ code: 7404, message: `The database ${match[2]} could not be found` }]),
      );
    const input = body as { sql?: string; params?: SQLInputValue[]; batch?: unknown } | null;
    const batch = (
      Array.isArray(input?.batch) ? input.batch : input?.sql !== undefined ? [input] : null
    ) as { sql?: unknown; params?: SQLInputValue[] }[] | null;
    if (!batch || batch.some((s) => typeof s?.sql !== 'string'))
      return reply(400, envelope(null, [{ code: 7400, message: 'Invalid request body' }]));
    const db = new DatabaseSync(file);
    try {
      db.exec('BEGIN IMMEDIATE');
      const results = [];
      try {
        for (const s of batch) results.push(...runSql(db, s.sql as string, s.params ?? []));
        db.exec('COMMIT');
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        return reply(
          400,
          envelope(null, [{ code: 7500, message: `${(error as Error).message}: SQLITE_ERROR` }]),
        );
      }
      return reply(200, envelope(results));
    } finally {
      db.close();
    }
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) =>
      send(response, 500, envelope(null, [{ code: 7500, message: String(error) }])),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/client/v4`,
    accountId,
    token,
    createDatabase(id = randomUUID()) {
      const file = path.join(dir, `${id}.sqlite`);
      const db = new DatabaseSync(file);
      db.exec('PRAGMA journal_mode = WAL');
      db.close();
      databases.set(id, file);
      return id;
    },
    file(databaseId) {
      const file = databases.get(databaseId);
      if (!file) throw new Error(`fake D1: no database ${databaseId}`);
      return file;
    },
    requests,
    failNext(status, body) {
      injected = { status, body };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
