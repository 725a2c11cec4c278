import { UserError } from '../errors.ts';
import { STATE_SCHEMA } from '../state/schema.ts';
import type { CommandIO } from './command-io.ts';
import { loadProjectConfig, withSession } from './session.ts';

/**
 * `airlock state grant [--role airlock_ci] [--apply]`: the least-privilege role for the Postgres
 * state store, printed as SQL (or run, as the tables' owner).
 */
export async function stateGrantCommand(
  io: CommandIO,
  opts: { role: string; apply?: boolean },
): Promise<number> {
  const { ROLE_NAME, applyStateGrants, stateGrantStatements } = await import('../state/grants.ts');
  if (!ROLE_NAME.test(opts.role))
    throw new UserError('USAGE', `--role ${opts.role}: not a plain role name.`, {
      hint: 'Use lowercase letters, digits and _ (e.g. airlock_ci).',
    });
  const config = await loadProjectConfig(io.globals);
  if (config.state.kind !== 'postgres')
    throw new UserError(
      'USAGE',
      `airlock state grant is for the Postgres state store; this project keeps its state ${config.state.kind === 'd1' ? 'on Cloudflare D1 (give its token D1: Edit on that account alone)' : 'in a SQLite file'}.`,
      {
        hint: 'Set state: (or AIRLOCK_STATE_URL) to a Postgres URL for team mode; a SQLite file is protected by its file permissions.',
      },
    );
  const statements = stateGrantStatements(STATE_SCHEMA, opts.role);
  io.reporter.result({ role: opts.role, statements, applied: Boolean(opts.apply) });
  if (!opts.apply) {
    io.reporter.document(
      [
        `-- Least privilege for Airlock's state (schema ${STATE_SCHEMA}). Run as the owner of its tables.`,
        ...statements.map((s) => `${s};`),
        `-- Then give CI a login in that role, e.g.: CREATE ROLE ci_deployer LOGIN PASSWORD '…' IN ROLE ${opts.role};`,
        '-- Upgrades that change the state schema must first run once as the owner.',
        '',
      ].join('\n'),
    );
    return 0;
  }
  return withSession(
    io,
    async ({ ctx }) => {
      await applyStateGrants(ctx.store, statements);
      io.reporter.success(
        `Granted ${opts.role}: read and write Airlock's tables, but only INSERT and SELECT on audit events. Give CI a login in it: CREATE ROLE ci_deployer LOGIN PASSWORD '…' IN ROLE ${opts.role};`,
      );
      return 0;
    },
    { recover: false },
  );
}
