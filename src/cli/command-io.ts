/**
 * What every command handler receives from the CLI entry (`run-command.ts`): the global flags,
 * the reporter (the only writer to the terminal) and the signal Ctrl-C aborts.
 */
import type { Reporter } from './reporter.ts';
import type { GlobalOptions } from './session.ts';

export interface CommandIO {
  /** `-c/--config`, `--json`, `-v/--verbose`, `-y/--yes`, `--as`. */
  globals: GlobalOptions;
  reporter: Reporter;
  /** Aborted on the first Ctrl-C. */
  signal: AbortSignal;
}
