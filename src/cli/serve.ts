import { UserError } from '../errors.ts';
import { startServer } from '../server/serve.ts';
import type { CommandIO } from './command-io.ts';
import { withSession } from './session.ts';

/**
 * `airlock serve [--port 4300] [--host 127.0.0.1]`: the dashboard and API until Ctrl-C or
 * SIGTERM (then it drains and exits 0). Request logs go to stderr, one JSON object a line.
 */
export async function serveCommand(
  io: CommandIO,
  opts: { port: string; host: string; secureCookies?: boolean },
): Promise<number> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UserError('USAGE', `--port must be a port number (0–65535), got "${opts.port}".`);
  return withSession(io, async ({ ctx }) => {
    const server = await startServer({
      ctx,
      port,
      host: opts.host,
      ...(opts.secureCookies ? { secureCookies: true } : {}),
      log: (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`),
    });
    io.reporter.success(`Airlock serves ${ctx.config.project} at ${server.url}`);
    io.reporter.note(
      'Sign in with a personal token (`airlock token create --principal <name> --role viewer`). Ctrl-C stops.',
    );
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await server.close();
    io.reporter.result({ url: server.url, stopped: true });
    return 0;
  });
}
