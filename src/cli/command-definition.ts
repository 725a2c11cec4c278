/**
 * A command declared as data: its name, description, positional arguments, options and handler,
 * which `main.ts` registers with commander (wrangler's `createCommand`, changesets' command
 * table). A definition module stays light: it holds metadata, and its handler imports the
 * module that does the work when the command runs, so `airlock status` never loads what
 * `airlock deploy` needs.
 */
import type { CommandIO } from './command-io.ts';

/** One option, in commander's syntax. */
export interface OptionDefinition {
  /** `-n, --limit <n>`, `--dry-run`, `--no-follow` (defaults to true), `--map <version=file>`. */
  flags: string;
  description: string;
  /** Shown in `--help` as `(default: "30m")` and passed when the flag is absent. */
  default?: string;
  /** Fails the command (exit 2) when absent. */
  required?: boolean;
  /** Turns each occurrence into the value, given the previous one (e.g. collect a repeatable flag). */
  parse?: (value: string, previous: never) => unknown;
}

/**
 * A command that runs. Commander calls `handler(io, ...arguments, options)`: one string (or
 * `undefined` for an absent `[optional]` argument) per entry of `arguments`, then the options
 * object (camelCase of each long flag). The handler returns the exit code (undefined is 0) or
 * throws an Airlock error, which `run-command.ts` renders.
 */
export interface CommandDefinition<Args extends unknown[] = never[]> {
  /** The word after its group: `deploy`, or `apply` under `migrate`. */
  name: string;
  /** One line, lower case, shown by `airlock --help` and `airlock <command> --help`. */
  description: string;
  /** Positional arguments in commander's syntax: `<environment>` (required), `[environment]`. */
  arguments?: readonly string[];
  options?: readonly OptionDefinition[];
  /** Imports the module that does the work (dynamically, so registering stays cheap) and runs it. */
  handler: (io: CommandIO, ...args: Args) => Promise<number | undefined>;
  /**
   * What the first Ctrl-C does, for a command that is not a deployment (a server, a monitor):
   * the words after "Interrupting (Ctrl-C): ". Default: the current step stops, as if it failed.
   */
  onInterrupt?: string;
}

/** A noun with subcommands: `airlock migrate status|apply|…`. */
export interface CommandGroupDefinition {
  name: string;
  description: string;
  commands: readonly CommandDefinition[];
}

/** Declares a command; only checks its shape (the handler's parameter types are the options'). */
export function defineCommand<Args extends unknown[]>(
  definition: CommandDefinition<Args>,
): CommandDefinition<Args> {
  return definition;
}

/** Declares a group of subcommands. */
export function defineGroup(definition: CommandGroupDefinition): CommandGroupDefinition {
  return definition;
}
