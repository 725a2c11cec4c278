import { environmentNamed } from '../config/environments.ts';
import {
  acquireManualLock,
  describeLock,
  lockIsStale,
  releaseLockByCommand,
} from '../pipeline/lock.ts';
import type { CommandIO } from './command-io.ts';
import { formatAge } from './reporter.ts';
import { withSession } from './session.ts';

/** `airlock lock acquire <env> -m why`. */
export async function lockAcquireCommand(
  io: CommandIO,
  environment: string,
  opts: { message: string },
): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      environmentNamed(ctx.config, environment);
      const lock = await acquireManualLock(ctx, environment, opts.message);
      io.reporter.success(
        `${environment} is locked by ${lock.holder}: "${lock.message}". Release it with \`airlock lock release ${environment}\`.`,
      );
      io.reporter.result({ lock: { ...lock, token: undefined } });
      return 0;
    },
    { environments: [environment] },
  );
}

/** `airlock lock release <env> [--force]`. */
export async function lockReleaseCommand(
  io: CommandIO,
  environment: string,
  opts: { force?: boolean },
): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      environmentNamed(ctx.config, environment);
      const released = await releaseLockByCommand(ctx, environment, Boolean(opts.force));
      if (released)
        io.reporter.success(
          `Released the ${environment} lock held by ${released.holder} since ${released.acquiredAt} ("${released.message}").`,
        );
      else io.reporter.info(`${environment} is not locked.`);
      io.reporter.result({ released: released ? { ...released, token: undefined } : null });
      return 0;
    },
    { environments: [environment] },
  );
}

/** `airlock lock status [env]`: holders, and who waits in each queue. */
export async function lockStatusCommand(
  io: CommandIO,
  environment: string | undefined,
): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      const names = environment
        ? [environmentNamed(ctx.config, environment).name]
        : ctx.config.pipeline;
      const now = ctx.now();
      const rows = [];
      for (const name of names) {
        const lock = await ctx.store.getLock(name);
        const held =
          lock && (lock.kind === 'manual' || lock.expiresAt > now.toISOString()) ? lock : null;
        const waiting = await ctx.store.listQueue(name, 'waiting');
        rows.push({
          environment: name,
          lock: held ? { ...held, token: undefined, stale: lockIsStale(held, ctx) } : null,
          waiting,
        });
        io.reporter.info(
          held
            ? `🔒 ${describeLock(held)} (${formatAge(held.acquiredAt, now)}${held.kind === 'run' ? `, lease until ${held.expiresAt}` : ''})${lockIsStale(held, ctx) ? ' — its holder is gone; the next command takes it over' : ''}`
            : `🔓 ${name} is free`,
        );
        for (const w of waiting)
          io.reporter.info(
            `   waiting: ${w.releaseId} (${w.kind}) by ${w.actor}, since ${formatAge(w.createdAt, now)}`,
          );
      }
      io.reporter.result({ environments: rows });
      return 0;
    },
    { environments: [environment] },
  );
}
