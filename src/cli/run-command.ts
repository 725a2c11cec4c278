/**
 * Runs one command's handler the way every command runs: a reporter for the global flags,
 * Ctrl-C handling, errors rendered in one place, and the exit code.
 * Exit codes: 0 success; 1 a failed deployment, a refused promotion or any other failure;
 * 2 a usage or configuration error; 130 interrupted twice with Ctrl-C (143 SIGTERM, 129 SIGHUP;
 * a repeat within `REPEATED_SIGNAL_WINDOW_MS` is the same press) (a handler may return
 * another, e.g. `promote --auto` exits 3 while a gate is still pending, `plan` 4 when a gate
 * blocks).
 */
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { type AirlockError, toAirlockError } from '../errors.ts';
import type { CommandIO } from './command-io.ts';
import { Reporter } from './reporter.ts';
import type { GlobalOptions } from './session.ts';

const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGTERM: 15,
};

/**
 * A repeat of the signal that started the interruption, arriving within this many milliseconds
 * of it, is the same press, not a second one. Under `pnpm exec`, `npm run` or `yarn` a terminal's
 * Ctrl-C reaches Airlock twice: once from the terminal (it signals the whole foreground process
 * group) and once forwarded by the package manager, a few milliseconds later (more on a busy
 * machine). A person pressing Ctrl-C again does so after seeing the "Interrupting" line, which
 * takes well over a quarter of a second; 250 ms keeps a wide margin over the forwarded copy and
 * still lets a real second press quit at once. Measured from the first signal (not the last
 * repeat), so a stream of repeats cannot hold off quitting forever.
 */
export const REPEATED_SIGNAL_WINDOW_MS = 250;

/** 2 for a configuration or usage error (including a missing `--yes`), else 1. */
export function exitCodeFor(error: AirlockError): number {
  return error.kind === 'config' || error.code === 'USAGE' || error.code === 'CONFIRMATION_REQUIRED'
    ? 2
    : 1;
}

/** Exits with `code` once stdout and stderr have drained. */
export async function exit(code: number): Promise<never> {
  // Let piped output drain before exiting (keep-alive sockets would otherwise hold the process).
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

/**
 * Runs `handler` for the parsed `command` and exits the process with its code. The first
 * Ctrl-C, SIGTERM or SIGHUP aborts `io.signal` (the current step stops, as if it failed: a
 * release not yet switched to never serves); the second exits at once (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
 * A repeat of the first signal within `REPEATED_SIGNAL_WINDOW_MS` of it (the copy a package
 * manager forwards) is ignored: it is the same press.
 */
export async function runCommand(
  command: Command,
  handler: (io: CommandIO) => Promise<number | undefined>,
  onInterrupt = 'the current step stops, as if it failed (a release not yet switched to never serves; the summary says what serves).',
): Promise<void> {
  const globals = command.optsWithGlobals() as GlobalOptions;
  const reporter = new Reporter({ json: Boolean(globals.json), verbose: Boolean(globals.verbose) });
  const controller = new AbortController();
  // SIGTERM (CI cancellation, `timeout`, a container stop) and SIGHUP (a closed terminal) stop the
  // command as Ctrl-C does: the current step stops, as if it failed.
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    const at = performance.now();
    if (first) {
      if (signal === first.signal && at - first.at < REPEATED_SIGNAL_WINDOW_MS) return; // the same press
      process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 2));
    }
    first = { signal, at };
    const by = signal === 'SIGINT' ? 'Ctrl-C' : signal;
    reporter.warn(
      `Interrupting (${by}): ${onInterrupt} ${signal === 'SIGINT' ? 'Ctrl-C' : `${signal} or Ctrl-C`} again quits at once.`,
    );
    controller.abort(new Error(`interrupted by ${by}`));
  };
  for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
  let code = 0;
  try {
    await reporter.ready();
    code = (await handler({ globals, reporter, signal: controller.signal })) ?? 0;
  } catch (error) {
    const e = toAirlockError(error);
    reporter.error(e);
    code = exitCodeFor(e);
  } finally {
    for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
  }
  reporter.flush(code === 0);
  await exit(code);
}
