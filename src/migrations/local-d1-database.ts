/**
 * Where wrangler keeps a local D1 database: the SQLite file
 * `.wrangler/state/v3/d1/miniflare-D1DatabaseObject/<id>.sqlite`, where `<id>` is derived from
 * the binding's `preview_database_id` (else `database_id`) as miniflare names a Durable Object
 * (https://github.com/cloudflare/workers-sdk/tree/main/packages/miniflare, `DurableObjectId`).
 */

import { createHash, createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { UserError } from '../errors.ts';

/** Where miniflare keeps local D1 databases, under wrangler's persistence folder. */
const D1_OBJECT_DIR = join('v3', 'd1', 'miniflare-D1DatabaseObject');

/**
 * miniflare's Durable Object id for `name` in the namespace `uniqueKey` (what names the local
 * D1 file): HMAC-SHA256 keyed with sha256(uniqueKey), 16 bytes of the name's MAC then 16 bytes
 * of the MAC of those.
 */
function durableObjectIdFromName(uniqueKey: string, name: string): string {
  const key = createHash('sha256').update(uniqueKey).digest();
  const nameMac = createHmac('sha256', key).update(name).digest().subarray(0, 16);
  const check = createHmac('sha256', key).update(nameMac).digest().subarray(0, 16);
  return Buffer.concat([nameMac, check]).toString('hex');
}

/**
 * The path of the local D1 database `wrangler … --local` uses for a binding:
 * `<persistTo>/v3/d1/miniflare-D1DatabaseObject/<id>.sqlite`, with `persistTo` default
 * `<projectDir>/.wrangler/state` (wrangler's `--persist-to`). `databaseId` is the binding's
 * `preview_database_id`, else its `database_id` (else its binding name), as wrangler uses it.
 */
export function localD1DatabasePath(options: {
  projectDir: string;
  databaseId: string;
  persistTo?: string;
}): string {
  const persistTo = resolve(options.projectDir, options.persistTo ?? join('.wrangler', 'state'));
  return join(
    persistTo,
    D1_OBJECT_DIR,
    `${durableObjectIdFromName('miniflare-D1DatabaseObject', options.databaseId)}.sqlite`,
  );
}

/**
 * Finds the local D1 database of a wrangler project: the one for `databaseId` (see
 * `localD1DatabasePath`), or without it the only local D1 database that has a `d1_migrations`
 * table.
 *
 * @throws UserError `MIGRATION_ADOPT_SOURCE_NOT_FOUND` when there is none (or, without
 *   `databaseId`, several), naming what was looked for.
 */
export async function findLocalD1Database(options: {
  projectDir: string;
  databaseId?: string;
  persistTo?: string;
  table?: string;
}): Promise<string> {
  const dir = join(
    resolve(options.projectDir, options.persistTo ?? join('.wrangler', 'state')),
    D1_OBJECT_DIR,
  );
  if (options.databaseId) {
    const path = localD1DatabasePath({ ...options, databaseId: options.databaseId });
    if (existsSync(path)) return path;
    throw new UserError(
      'MIGRATION_ADOPT_SOURCE_NOT_FOUND',
      `wrangler has no local D1 database for ${options.databaseId}: ${path} does not exist.`,
      {
        hint: "Run `wrangler d1 migrations apply <database> --local` in the project first (with the same --persist-to, if any), and pass the binding's preview_database_id if it has one.",
        details: { path },
      },
    );
  }
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.sqlite') && n !== 'metadata.sqlite');
  } catch {
    // no folder: no database
  }
  const table = options.table ?? 'd1_migrations';
  const withLedger: string[] = [];
  for (const name of names.sort()) {
    const db = new DatabaseSync(join(dir, name), { readOnly: true });
    try {
      const present = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
        .get(table);
      if (present) withLedger.push(join(dir, name));
    } finally {
      db.close();
    }
  }
  if (withLedger.length === 1) return withLedger[0]!;
  throw new UserError(
    'MIGRATION_ADOPT_SOURCE_NOT_FOUND',
    withLedger.length === 0
      ? `No local D1 database with a ${table} table under ${dir}.`
      : `Several local D1 databases have a ${table} table under ${dir}: ${withLedger.join(', ')}.`,
    {
      hint:
        withLedger.length === 0
          ? 'Run `wrangler d1 migrations apply <database> --local` in the project first.'
          : "Pass the binding's database id (its preview_database_id, else database_id) to pick one.",
      details: { dir, candidates: withLedger },
    },
  );
}
