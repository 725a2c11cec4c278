import { recheckEnvironment } from '../pipeline/recheck.ts';
import type { CommandIO } from './command-io.ts';
import { checkJson, reportFailedCheckOutput } from './deploy.ts';
import { withSession } from './session.ts';

/**
 * `airlock check <env>`: re-runs the environment's checks against what serves (see
 * pipeline/recheck.ts). Exit 0 when every check passed, 1 when one failed.
 */
export async function checkCommand(io: CommandIO, environment: string): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      const { reporter } = io;
      reporter.info(`Checking what serves on ${environment}…`);
      const result = await recheckEnvironment(ctx, environment, {
        signal: io.signal,
        onProgress: (line) => reporter.info(`  ${line}`),
      });
      const serving = Object.entries(result.serving)
        .map(([service, release]) => `${service} ${release}`)
        .join(', ');
      reportFailedCheckOutput(reporter, result.checks);
      const failed = result.checks.filter((c) => c.status === 'failed').length;
      const total = result.checks.length;
      if (total === 0)
        reporter.info(`${result.environment} (${serving}) has no checks configured.`);
      else if (failed === 0)
        reporter.success(
          `${total} check${total === 1 ? '' : 's'} passed on ${result.environment} (${serving}); recorded for the gate.`,
        );
      else
        reporter.info(
          `✖ ${failed} of ${total} checks failed on ${result.environment} (${serving}); recorded: the gate into the next environment stays closed until they pass.`,
        );
      reporter.result({
        environment: result.environment,
        serving: result.serving,
        passed: result.passed,
        checks: result.checks.map(checkJson),
      });
      return result.passed ? 0 : 1;
    },
    { environments: [environment] },
  );
}
