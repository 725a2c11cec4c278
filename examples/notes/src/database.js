// The data layer: the same note queries on two engines, picked by DATABASE_URL.
//
//   file:///srv/notes/notes.db, or a path  → SQLite through node:sqlite (built in, no dependencies)
//   postgres://… or postgresql://…          → Postgres through pg, imported only in that case
//                                             (a build gets it with `npm ci --omit=dev`)
//
// `openDatabase(url)` resolves to a NotesDatabase; every method is async on both engines:
//   list()              every note, oldest first
//   get(id)             one note, or null
//   create(fields)      inserts a note (created and updated at `fields.now`), returns it
//   update(id, fields)  changes a note (updated at `fields.now`), returns it; null when none
//   remove(id)          true when a note was deleted, false when there was none
//   missingColumns()    the columns this code reads that the database lacks ([] when healthy);
//                       throws when the database does not answer
//   close()             closes the file or ends the connection pool
// fields: { title, body, now } (`now` an ISO-8601 time).
// A note: { id, title, body, createdAt, updatedAt }, with a number id and ISO-8601 times.

import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';

/** Every column of `notes` the code reads: /health needs all of them. */
const COLUMNS = ['id', 'title', 'body', 'created_at', 'updated_at'];
const SELECT = COLUMNS.join(', ');

/** True for a Postgres connection string (`postgres://` or `postgresql://`). */
export function isPostgresUrl(url) {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Opens the database `url` points at. Never creates the schema: that is the migrations' job.
 * @throws Error with a message saying what to do when `pg` is needed but not installed.
 */
export async function openDatabase(url) {
  return isPostgresUrl(url) ? openPostgres(url) : openSqlite(url);
}

function missing(present) {
  const have = new Set(present);
  return COLUMNS.filter((column) => !have.has(column));
}

// SQLite: `?` placeholders; node:sqlite is synchronous, so each method resolves at once.

function openSqlite(location) {
  const db = new DatabaseSync(location.startsWith('file:') ? fileURLToPath(location) : location);
  db.exec('PRAGMA busy_timeout = 5000');
  const toNote = (row) =>
    row === undefined
      ? null
      : {
          id: row.id,
          title: row.title,
          body: row.body,
          createdAt: row.created_at,
          updatedAt: row.updated_at,
        };
  return {
    engine: 'sqlite',
    async list() {
      return db.prepare(`SELECT ${SELECT} FROM notes ORDER BY id`).all().map(toNote);
    },
    async get(id) {
      return toNote(db.prepare(`SELECT ${SELECT} FROM notes WHERE id = ?`).get(id));
    },
    async create({ title, body, now }) {
      return toNote(
        db
          .prepare(
            `INSERT INTO notes (title, body, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING ${SELECT}`,
          )
          .get(title, body, now, now),
      );
    },
    async update(id, { title, body, now }) {
      return toNote(
        db
          .prepare(
            `UPDATE notes SET title = ?, body = ?, updated_at = ? WHERE id = ? RETURNING ${SELECT}`,
          )
          .get(title, body, now, id),
      );
    },
    async remove(id) {
      return db.prepare('DELETE FROM notes WHERE id = ?').run(id).changes > 0;
    },
    async missingColumns() {
      const rows = db.prepare("SELECT name FROM pragma_table_info('notes')").all();
      return missing(rows.map((row) => row.name));
    },
    async close() {
      db.close();
    },
  };
}

// Postgres: `$n` placeholders; ids are bigint (pg gives strings) and times timestamptz (Dates).

async function openPostgres(url) {
  let pg;
  try {
    ({ default: pg } = await import('pg'));
  } catch (error) {
    throw new Error(
      `DATABASE_URL is a Postgres URL but the pg package could not be loaded (${error.message}). ` +
        'Build with `npm ci --omit=dev && node scripts/build.mjs` so the build output has node_modules/pg.',
    );
  }
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  // A connection dropped while idle (database restart, failover): log it, the pool reconnects.
  pool.on('error', (error) =>
    console.error(`notes: idle Postgres connection lost: ${error.message}`),
  );
  const rows = async (sql, params) => (await pool.query(sql, params)).rows;
  const toNote = (row) =>
    row === undefined
      ? null
      : {
          id: Number(row.id),
          title: row.title,
          body: row.body,
          createdAt: row.created_at.toISOString(),
          updatedAt: row.updated_at?.toISOString() ?? null,
        };
  return {
    engine: 'postgres',
    async list() {
      return (await rows(`SELECT ${SELECT} FROM notes ORDER BY id`)).map(toNote);
    },
    async get(id) {
      return toNote((await rows(`SELECT ${SELECT} FROM notes WHERE id = $1`, [id]))[0]);
    },
    async create({ title, body, now }) {
      const sql = `INSERT INTO notes (title, body, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING ${SELECT}`;
      return toNote((await rows(sql, [title, body, now]))[0]);
    },
    async update(id, { title, body, now }) {
      const sql = `UPDATE notes SET title = $1, body = $2, updated_at = $3 WHERE id = $4 RETURNING ${SELECT}`;
      return toNote((await rows(sql, [title, body, now, id]))[0]);
    },
    async remove(id) {
      return (await pool.query('DELETE FROM notes WHERE id = $1', [id])).rowCount > 0;
    },
    async missingColumns() {
      const present = await rows(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'notes'",
      );
      return missing(present.map((row) => row.column_name));
    },
    async close() {
      await pool.end();
    },
  };
}
