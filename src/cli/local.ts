import path from 'node:path';
import { LocalRuntimeClient } from '../providers/local/runtime-client.ts';
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

/** `airlock local start`. */
export async function localStartCommand(io: CommandIO): Promise<number> {
  const runtime = await client(io);
  await runtime.ensureStarted();
  const status = await runtime.status();
  io.reporter.success(
    `Local runtime running (pid ${status.pid}); ${status.services.length} service(s) restored.`,
  );
  io.reporter.result({ running: true, ...status });
  return 0;
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
