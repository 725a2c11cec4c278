/** `airlock migrate create <name>`: the next numbered file, recorded in `airlock.sum`. */
import { createMigration } from '../../migrations/create-migration.ts';
import type { CommandIO } from '../command-io.ts';
import { withSession } from '../session.ts';
import { oneServiceWithDatabase, shown } from './migration-sources.ts';

export async function migrateCreateCommand(
  io: CommandIO,
  name: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const service = oneServiceWithDatabase(session.ctx.config, opts.service);
      const { file, sum } = await createMigration(
        service.database!.migrationsDir,
        name,
        service.database!.layout,
      );
      io.reporter.success(`Created ${shown(file)}`);
      io.reporter.info(
        `  ${shown(sum)} updated for the empty file: once you have written the migration, run \`airlock migrate hash\` again, then commit both.`,
      );
      io.reporter.result({ file, sum });
      return 0;
    },
    { recover: false },
  );
}
