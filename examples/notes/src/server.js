// The notes service: a small JSON API over node:http, on SQLite (node:sqlite, no dependencies)
// or Postgres (pg), whichever DATABASE_URL names; the queries live in database.js.
//
// Environment:
//   PORT              port to listen on (default 3000; 0 picks a free one, printed at start)
//   HOST              address to bind (default 127.0.0.1; use 0.0.0.0 on Fly/Railway)
//   DATABASE_URL      required: a SQLite file (file:///srv/notes/notes.db, or a path) or a
//                     Postgres URL (postgres://user:password@host:5432/notes)
//   AIRLOCK_RELEASE   release id reported by GET /version (set by Airlock)
//   AIRLOCK_COMMIT    git commit reported by GET /version
//   AIRLOCK_ENV       environment name reported by GET /version
//   AIRLOCK_DIGEST    sha256 of the build output this process runs, reported by GET /version
//
// The schema is created by Airlock's migrations (migrations/*.sql for SQLite,
// migrations-postgres/*.sql for Postgres), never by the app: /health answers 503 until the
// database has the columns this code needs.

import { createServer } from 'node:http';
import { openDatabase } from './database.js';

const MAX_BODY_BYTES = 64 * 1024;
const DRAIN_TIMEOUT_MS = 10_000;

let shuttingDown = false;

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const version = {
  release: process.env.AIRLOCK_RELEASE ?? null,
  commit: process.env.AIRLOCK_COMMIT ?? null,
  environment: process.env.AIRLOCK_ENV ?? null,
  digest: process.env.AIRLOCK_DIGEST ?? null,
};

if (!process.env.DATABASE_URL) {
  console.error(
    'notes: DATABASE_URL is not set (expected file:///tmp/notes.db or postgres://host/notes)',
  );
  process.exit(1);
}

let db;
try {
  db = await openDatabase(process.env.DATABASE_URL);
} catch (error) {
  console.error(`notes: ${error.message}`);
  process.exit(1);
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function readNote(id) {
  const note = await db.get(id);
  if (!note) throw new HttpError(404, `note ${id} not found`);
  return note;
}

function validTitle(value) {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 200) {
    throw new HttpError(400, 'title must be a non-empty string of at most 200 characters');
  }
  return withoutNul(value, 'title');
}

function validBody(value) {
  if (typeof value !== 'string' || value.length > 10_000) {
    throw new HttpError(400, 'body must be a string of at most 10000 characters');
  }
  return withoutNul(value, 'body');
}

/** Postgres text cannot hold U+0000: refuse it on every engine rather than answer 500. */
function withoutNul(value, field) {
  if (value.includes('\u0000'))
    throw new HttpError(400, `${field} must not contain NUL characters`);
  return value;
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let value;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body must be JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  return value;
}

async function health() {
  try {
    // Every column this code reads: a missing migration shows up here, not in a user's request.
    const missing = await db.missingColumns();
    if (missing.length === 0) return [200, { status: 'ok' }];
    const columns = missing.map((column) => `notes.${column}`).join(', ');
    return [503, { status: 'unavailable', reason: `missing ${columns}: apply the migrations` }];
  } catch (error) {
    return [503, { status: 'unavailable', reason: error.message }];
  }
}

const routes = {
  '/health': { GET: () => health() },
  '/version': { GET: () => [200, version] },
  '/notes': {
    GET: async () => [200, await db.list()],
    POST: async (req) => {
      const input = await readJson(req);
      const title = validTitle(input.title);
      const body = input.body === undefined ? '' : validBody(input.body);
      const now = new Date().toISOString();
      return [201, await db.create({ title, body, now })];
    },
  },
  '/notes/:id': {
    GET: async (_req, id) => [200, await readNote(id)],
    PUT: async (req, id) => {
      const input = await readJson(req);
      const current = await readNote(id);
      if (input.title === undefined && input.body === undefined) {
        throw new HttpError(400, 'send at least one of title, body');
      }
      const title = input.title === undefined ? current.title : validTitle(input.title);
      const body = input.body === undefined ? current.body : validBody(input.body);
      const note = await db.update(id, { title, body, now: new Date().toISOString() });
      if (!note) throw new HttpError(404, `note ${id} not found`);
      return [200, note];
    },
    DELETE: async (_req, id) => {
      if (!(await db.remove(id))) throw new HttpError(404, `note ${id} not found`);
      return [204, null];
    },
  },
};

function route(pathname) {
  if (routes[pathname]) return { handlers: routes[pathname], id: null };
  const match = /^\/notes\/([^/]+)$/.exec(pathname);
  if (!match) return null;
  const id = /^[1-9]\d{0,15}$/.test(match[1]) ? Number(match[1]) : null;
  if (id === null) throw new HttpError(404, `note ${match[1]} not found`);
  return { handlers: routes['/notes/:id'], id };
}

function send(res, status, payload) {
  // While draining, tell keep-alive clients to reconnect (to the new release) after this answer.
  if (shuttingDown) res.setHeader('connection', 'close');
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const server = createServer(async (req, res) => {
  res.on('finish', () => {
    if (shuttingDown) setImmediate(() => server.closeIdleConnections());
  });
  try {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const found = route(pathname);
    if (!found) throw new HttpError(404, `no route for ${pathname}`);
    const handler = found.handlers[req.method ?? 'GET'];
    if (!handler) {
      res.setHeader('allow', Object.keys(found.handlers).join(', '));
      throw new HttpError(405, `${req.method} is not allowed on ${pathname}`);
    }
    const [status, payload] = await handler(req, found.id);
    send(res, status, payload);
  } catch (error) {
    if (error instanceof HttpError) {
      send(res, error.status, { error: error.message });
    } else {
      console.error(`notes: ${req.method} ${req.url} failed:`, error);
      send(res, 500, { error: 'internal error' });
    }
  }
});

server.listen(port, host, () => {
  const { port: actual } = server.address();
  console.log(
    `notes: listening on http://${host}:${actual} (release ${version.release ?? '-'}, environment ${version.environment ?? '-'})`,
  );
});

// Graceful stop: refuse new connections, let in-flight requests finish, then close the
// database (the SQLite file, or every connection of the Postgres pool).
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`notes: ${signal}, draining`);
  server.close(async () => {
    try {
      await db.close();
    } catch (error) {
      console.error(`notes: closing the database failed: ${error.message}`);
      process.exit(1);
    }
    console.log('notes: stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    console.error(`notes: requests still running after ${DRAIN_TIMEOUT_MS} ms, closing them`);
    server.closeAllConnections();
  }, DRAIN_TIMEOUT_MS).unref();
  // A query stuck on an unresponsive database would hold the pool open forever.
  setTimeout(() => {
    console.error('notes: the database did not close in time, exiting anyway');
    process.exit(1);
  }, DRAIN_TIMEOUT_MS + 5000).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
