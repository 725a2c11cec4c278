import { runCi } from '../pipeline/ci-run.ts';
import type { CommandIO } from './main.ts';
import { withSession } from './session.ts';

/** `airlock ci run [--commit SHA]`. */
export async function ciRunCommand(io: CommandIO, opts: { commit?: string }): Promise<number> {
  return withSession(io, async ({ ctx }) => {
    const result = await runCi(ctx, {
      signal: io.signal,
      ...(opts.commit ? { commit: opts.commit } : {}),
      onLine: (line) => {
        if (io.reporter.verbose) io.reporter.note(`    ${line}`);
      },
    });
    if (result.status === 'passed')
      io.reporter.success(
        `CI ${result.summary} at ${result.commit.slice(0, 7)} (recorded: the ci gate sees it).`,
      );
    else {
      io.reporter.info(`✖ CI ${result.summary} at ${result.commit.slice(0, 7)}:`);
      io.reporter.note(
        result.output
          .split('\n')
          .slice(-10)
          .map((l) => `    ${l}`)
          .join('\n'),
      );
    }
    io.reporter.result({ ci: result });
    return result.status === 'passed' ? 0 : 1;
  });
}
