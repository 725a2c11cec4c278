// The notes service: a small JSON API over node:http and node:sqlite, with no dependencies.
//
// Environment:
//   PORT              port to listen on (default 3000; 0 picks a free one, printed at start)
//   HOST              address to bind (default 127.0.0.1; use 0.0.0.0 on Fly/Railway)
//   DATABASE_URL      SQLite database as a file: URL, e.g. file:///srv/notes/notes.db (required)
//   AIRLOCK_RELEASE   release id reported by GET /version (set by Airlock)
//   AIRLOCK_COMMIT    git commit reported by GET /version
//   AIRLOCK_ENV       environment name reported by GET /version
//   AIRLOCK_DIGEST    sha256 of the build output this process runs, reported by GET /version
//
// The schema is created by Airlock's migrations (migrations/*.sql), never by the app:
// /health answers 503 until the database has the columns this code needs.

import { createServer } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';

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

function databasePath(url) {
  if (!url) {
    console.error(
      'notes: DATABASE_URL is not set (expected a file: URL, e.g. file:///tmp/notes.db)',
    );
    process.exit(1);
  }
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

const db = new DatabaseSync(databasePath(process.env.DATABASE_URL));
db.exec('PRAGMA busy_timeout = 5000');

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function toNote(row) {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const COLUMNS = 'id, title, body, created_at, updated_at';

function readNote(id) {
  const row = db.prepare(`SELECT ${COLUMNS} FROM notes WHERE id = ?`).get(id);
  if (!row) throw new HttpError(404, `note ${id} not found`);
  return toNote(row);
}

function validTitle(value) {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 200) {
    throw new HttpError(400, 'title must be a non-empty string of at most 200 characters');
  }
  return value;
}

function validBody(value) {
  if (typeof value !== 'string' || value.length > 10_000) {
    throw new HttpError(400, 'body must be a string of at most 10000 characters');
  }
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

function health() {
  try {
    // Every column this code reads: a missing migration shows up here, not in a user's request.
    db.prepare(`SELECT ${COLUMNS} FROM notes LIMIT 0`).all();
    return [200, { status: 'ok' }];
  } catch (error) {
    return [503, { status: 'unavailable', reason: error.message }];
  }
}

const routes = {
  '/health': { GET: () => health() },
  '/version': { GET: () => [200, version] },
  '/notes': {
    GET: () => [200, db.prepare(`SELECT ${COLUMNS} FROM notes ORDER BY id`).all().map(toNote)],
    POST: async (req) => {
      const input = await readJson(req);
      const title = validTitle(input.title);
      const body = input.body === undefined ? '' : validBody(input.body);
      const now = new Date().toISOString();
      const { lastInsertRowid } = db
        .prepare('INSERT INTO notes (title, body, created_at, updated_at) VALUES (?, ?, ?, ?)')
        .run(title, body, now, now);
      return [201, readNote(Number(lastInsertRowid))];
    },
  },
  '/notes/:id': {
    GET: (_req, id) => [200, readNote(id)],
    PUT: async (req, id) => {
      const input = await readJson(req);
      const current = readNote(id);
      if (input.title === undefined && input.body === undefined) {
        throw new HttpError(400, 'send at least one of title, body');
      }
      const title = input.title === undefined ? current.title : validTitle(input.title);
      const body = input.body === undefined ? current.body : validBody(input.body);
      db.prepare('UPDATE notes SET title = ?, body = ?, updated_at = ? WHERE id = ?').run(
        title,
        body,
        new Date().toISOString(),
        id,
      );
      return [200, readNote(id)];
    },
    DELETE: (_req, id) => {
      const { changes } = db.prepare('DELETE FROM notes WHERE id = ?').run(id);
      if (changes === 0) throw new HttpError(404, `note ${id} not found`);
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

// Graceful stop: refuse new connections, let in-flight requests finish, close the database.
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`notes: ${signal}, draining`);
  server.close(() => {
    db.close();
    console.log('notes: stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    console.error(`notes: requests still running after ${DRAIN_TIMEOUT_MS} ms, closing them`);
    server.closeAllConnections();
  }, DRAIN_TIMEOUT_MS).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
