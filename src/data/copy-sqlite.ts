/**
 * Copies tables from one SQLite file into another (a local environment's database, or a local
 * D1 database's file), row by row through the transformers with prepared statements, in one
 * transaction on the target: a failure or a killed process leaves the target as it was (SQLite's
 * journal rolls back an unfinished transaction when the file is next opened). Rows are read with
 * an iterator, so memory stays flat whatever the table's size.
 */
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { CopyCounts, CopyProgress } from './copy-postgres.ts';
import type { CellValue, TablePlan } from './scrub.ts';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Copies `plans` (referenced tables first) from `source` into `target` and empties `excluded`.
 * @throws what SQLite throws (the target's transaction is rolled back first).
 */
export function copySqlite(
  source: DatabaseSync,
  target: DatabaseSync,
  plans: TablePlan[],
  excluded: string[],
  options: { onProgress?: CopyProgress } = {},
): CopyCounts[] {
  const counts: CopyCounts[] = [];
  target.exec('PRAGMA foreign_keys = ON');
  target.exec('BEGIN IMMEDIATE');
  try {
    // Children before parents, so emptying never trips a foreign key.
    for (const table of [...excluded, ...[...plans].reverse().map((p) => p.table)])
      target.exec(`DELETE FROM ${quote(table)}`);
    for (const plan of plans) {
      const started = Date.now();
      const columns = plan.columns.map(quote).join(', ');
      const read = source.prepare(`SELECT ${columns} FROM ${quote(plan.table)}`);
      read.setReturnArrays(true);
      const insert = target.prepare(
        `INSERT INTO ${quote(plan.table)} (${columns}) VALUES (${plan.columns.map(() => '?').join(', ')})`,
      );
      const transforms = plan.columns.map((c) => plan.transform.get(c));
      let rows = 0;
      for (const row of read.iterate() as Iterable<CellValue[]>) {
        const values = transforms.length
          ? row.map((v, i) => (transforms[i] ? transforms[i](v) : v))
          : row;
        insert.run(...(values as SQLInputValue[]));
        rows++;
        if (rows % 10_000 === 0) options.onProgress?.(plan.table, rows);
      }
      options.onProgress?.(plan.table, rows);
      counts.push({ table: plan.table, rows, ms: Date.now() - started });
    }
    // AUTOINCREMENT counters as the source has them.
    const hasSequence = (db: DatabaseSync) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined;
    if (hasSequence(source) && hasSequence(target)) {
      const copied = new Set(plans.map((p) => p.table));
      for (const row of source.prepare('SELECT name, seq FROM sqlite_sequence').all() as Array<{
        name: string;
        seq: number;
      }>) {
        if (!copied.has(row.name)) continue;
        target.prepare('DELETE FROM sqlite_sequence WHERE name = ?').run(row.name);
        target
          .prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)')
          .run(row.name, row.seq);
      }
    }
    target.exec('COMMIT');
  } catch (error) {
    target.exec('ROLLBACK');
    throw error;
  }
  return counts;
}
