import path from 'node:path';
import { LocalRuntimeClient, type RuntimeStatus } from '../providers/local/runtime-client.ts';
import type { CommandIO } from './command-io.ts';
import { formatAge } from './reporter.ts';
import { airlockHome, loadProjectConfig, localRuntimeOptions } from './session.ts';

async function client(io: CommandIO): Promise<LocalRuntimeClient> {
  const config = await loadProjectConfig(io.globals);
  return new LocalRuntimeClient(localRuntimeOptions(config, airlockHome(config)));
}

/** `airlock local status`. */
export async function localStatusCommand(io: CommandIO): Promise<number> {
  const runtime = await client(io);
  if (!(await runtime.isRunning())) {
    io.reporter.info(
      'The local runtime is not running. `airlock deploy <env>` or `airlock local start` starts it.',
    );
    io.reporter.result({ running: false });
    return 0;
  }
  const status = await runtime.status();
  io.reporter.info(
    `Local runtime: pid ${status.pid}, up since ${status.startedAt} (${formatAge(status.startedAt, new Date())}); logs in ${path.join(runtime.home, 'envs')}`,
  );
  io.reporter.table(
    ['ENVIRONMENT', 'SERVICE', 'RELEASE', 'PID', 'URL', 'HEALTH', 'RESTARTS', 'WARM'],
    status.services.map((s) => [
      s.environment,
      s.service,
      s.release,
      s.pid,
      s.url,
      s.release ? (s.healthy ? 'healthy' : 'DOWN') : null,
      s.restarts,
      s.warm.join(', ') || null,
    ]),
  );
  io.reporter.result({ running: true, ...status });
  return 0;
}

/** `airlock local start`: starts the runtime and returns once what served serves again. */
export async function localStartCommand(io: CommandIO): Promise<number> {
  const runtime = await client(io);
  await runtime.ensureStarted();
  const status = await restoredStatus(runtime);
  reportRestored(io, status, 'Local runtime running');
  io.reporter.result({ running: true, ...status });
  return 0;
}

/** How long `local start` waits for the runtime's restore (ms): a few boots of slow apps. */
export const RESTORE_WAIT_MS = 60_000;

/**
 * The runtime's status once its restore at start finished (what served when it stopped is
 * serving again, or failed to boot), polled every 100 ms for at most `waitMs`: without it, the
 * command said "restored" while the proxies still answered 502.
 */
export async function restoredStatus(
  runtime: LocalRuntimeClient,
  waitMs = RESTORE_WAIT_MS,
): Promise<RuntimeStatus> {
  const deadline = Date.now() + waitMs;
  let status = await runtime.status();
  while (status.restoring && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = await runtime.status();
  }
  return status;
}

/** `<what> (pid N); K service(s) serving again`, and a warning naming any that do not (yet). */
export function reportRestored(io: CommandIO, status: RuntimeStatus, what: string): void {
  const serving = status.services.filter((s) => s.release !== null && s.healthy);
  const notServing = status.services.filter((s) => s.release === null || !s.healthy);
  io.reporter.success(
    `${what} (pid ${status.pid}); ${serving.length} service(s) serving again${serving.length ? `: ${serving.map((s) => `${s.environment}/${s.service} ${s.release}`).join(', ')}` : ''}.`,
  );
  if (notServing.length > 0)
    io.reporter.warn(
      `${status.restoring ? 'Still starting' : 'Not serving'}: ${notServing.map((s) => `${s.environment}/${s.service}${s.release ? ` ${s.release}` : ''}`).join(', ')}. \`airlock local status\` shows each one's log; \`airlock status\` what should serve.`,
    );
}

/** `airlock local stop`: stops every environment's processes and the runtime. */
export async function localStopCommand(io: CommandIO): Promise<number> {
  const runtime = await client(io);
  if (!(await runtime.isRunning())) {
    io.reporter.info('The local runtime is not running.');
    io.reporter.result({ stopped: false });
    return 0;
  }
  await runtime.shutdown();
  io.reporter.success(
    'Stopped the local runtime and every local environment. `airlock local start` brings them back.',
  );
  io.reporter.result({ stopped: true });
  return 0;
}
