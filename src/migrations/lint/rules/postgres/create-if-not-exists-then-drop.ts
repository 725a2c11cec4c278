/**
 * `create-if-not-exists-then-drop` on Postgres (the SQLite module of the same name holds the
 * catalogue entry): `CREATE TABLE|INDEX|SEQUENCE|SCHEMA|MATERIALIZED VIEW|EXTENSION IF NOT
 * EXISTS x`, then `DROP … x` in the same file. Where x already exists, Postgres skips the
 * CREATE with a notice ("relation … already exists, skipping",
 * https://www.postgresql.org/docs/current/sql-createtable.html) and the DROP removes the live x.
 */

import { createIfNotExistsThenDropEntry } from '../sqlite/create-if-not-exists-then-drop.ts';
import type { PostgresLintRule } from './postgres-lint-rule.ts';

export const createIfNotExistsThenDropPostgresRule: PostgresLintRule = {
  ...createIfNotExistsThenDropEntry,
  check({ read }) {
    return read.flatMap((statement, index) => {
      if (statement.kind !== 'drop') return [];
      return statement.names.flatMap((name) => {
        const created = read
          .slice(0, index)
          .find(
            (s) =>
              s.kind === 'create' &&
              s.ifNotExists &&
              s.object === statement.object &&
              s.names.some((n) => n.name === name.name),
          );
        if (!created) return [];
        const what = statement.object;
        const rows =
          what === 'table'
            ? ' with all its rows'
            : what === 'schema'
              ? statement.cascade
                ? ' with everything in it'
                : ''
              : '';
        return [
          {
            offset: statement.start,
            message: `${what[0]!.toUpperCase()}${what.slice(1)} ${name.name} is created with IF NOT EXISTS, then dropped in the same file: where ${name.name} already exists (made outside migrations, or by an earlier partial run), Postgres skips \`CREATE ${what.toUpperCase()} IF NOT EXISTS ${name.name}\` with a notice, and this DROP removes the live ${what}${rows}. Lint cannot tell from the file which case an environment is in.`,
            fix: `Remove IF NOT EXISTS, so the CREATE fails loudly where ${name.name} already exists; or, if the file means to replace a live ${what}, drop it first (\`DROP ${what.toUpperCase()} IF EXISTS ${name.name}\`), in a contract migration when live code uses it.`,
          },
        ];
      });
    });
  },
};
