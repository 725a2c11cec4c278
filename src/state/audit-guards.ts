/**
 * The audit log's guards, kept apart from the state schema's migrations that first create them
 * because the store checks them again every time it opens (and recreates a missing one): the
 * SQLite triggers, the Postgres triggers (always enabled, so they fire under
 * `session_replication_role = replica` too), and the hash of "no previous event".
 */

/** The hash of "no previous event": the `prev_hash` of a chain's first event. */
export const AUDIT_GENESIS = '0'.repeat(64);

/**
 * The guards of the audit log on SQLite, by name: no UPDATE, no DELETE, no INSERT over an
 * existing id (`INSERT OR REPLACE` otherwise deletes the old row without the delete trigger
 * when `recursive_triggers` is off, as it is in any other connection), and the head row
 * cannot be deleted. Checked, and recreated when missing, every time the store opens.
 */
export const SQLITE_AUDIT_GUARDS: Record<string, string> = {
  audit_events_no_update: `CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
  audit_events_no_delete: `CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
  audit_events_no_replace: `CREATE TRIGGER IF NOT EXISTS audit_events_no_replace BEFORE INSERT ON audit_events
    WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
  audit_head_no_delete: `CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END`,
};

/**
 * The guards of the audit log on Postgres, by name: the table each is on and its definition
 * (after `CREATE TRIGGER <name>`). Every one is `ENABLE ALWAYS`: it fires under
 * `session_replication_role = replica` too. Checked every time the store opens, and recreated
 * (when the connected role owns the tables) if one is missing or no longer always enabled.
 */
export const POSTGRES_AUDIT_GUARDS: Record<string, { table: string; definition: string }> = {
  audit_events_append_only: {
    table: 'audit_events',
    definition: 'BEFORE UPDATE OR DELETE ON {events} FOR EACH ROW EXECUTE FUNCTION {append_only}()',
  },
  audit_events_no_truncate: {
    table: 'audit_events',
    definition: 'BEFORE TRUNCATE ON {events} FOR EACH STATEMENT EXECUTE FUNCTION {refuse}()',
  },
  audit_head_no_wipe: {
    table: 'audit_head',
    definition:
      'BEFORE DELETE OR TRUNCATE ON {head} FOR EACH STATEMENT EXECUTE FUNCTION {refuse}()',
  },
};

/** The statements that (re)create guard `name` in `schema`, always enabled. */
export function postgresGuardStatements(schema: string, name: string): string[] {
  const guard = POSTGRES_AUDIT_GUARDS[name];
  if (!guard) throw new Error(`unknown audit guard ${name}`);
  const q = (id: string) => `"${schema.replaceAll('"', '""')}"."${id}"`;
  const definition = guard.definition
    .replace('{events}', q('audit_events'))
    .replace('{head}', q('audit_head'))
    .replace('{append_only}', q('audit_append_only'))
    .replace('{refuse}', q('audit_refuse_wipe'));
  return [
    `DROP TRIGGER IF EXISTS "${name}" ON ${q(guard.table)}`,
    `CREATE TRIGGER "${name}" ${definition}`,
    `ALTER TABLE ${q(guard.table)} ENABLE ALWAYS TRIGGER "${name}"`,
  ];
}
