/**
 * `airlock`: the command-line entry. It registers the command definitions below with
 * commander, nothing more: top-level verbs for the main flow and noun-verb groups for resources
 * (Kamal, wrangler). Running a command (reporter, Ctrl-C, error rendering, exit codes) is
 * `run-command.ts`.
 *
 * To add a command:
 * 1. Write its handler, `fooCommand(io: CommandIO, …arguments, options)`, in `src/cli/foo.ts`
 *    (or `src/cli/<group>/foo.ts` for a subcommand): it parses nothing, calls `src/pipeline` or
 *    `src/migrations`, renders the result through `io.reporter` and returns the exit code.
 * 2. Declare it in `src/cli/commands/foo.ts` with `defineCommand` (a subcommand goes in its
 *    group's file, e.g. `commands/migrate.ts`): name, description, arguments, options with
 *    their defaults, and a handler that imports `../foo.ts` dynamically. A definition module
 *    statically imports only `command-definition.ts` and `commands/common-options.ts`, so
 *    starting `airlock status` never loads what `airlock deploy` needs
 *    (test/cli/command-definitions.test.ts checks this).
 * 3. Add the definition to `COMMANDS` below, in the order `airlock --help` lists it.
 */
import { Command, CommanderError } from 'commander';
import { PACKAGE_VERSION } from '../package-paths.ts';
import type { CommandDefinition, CommandGroupDefinition } from './command-definition.ts';
import type { CommandIO } from './command-io.ts';
import { approveDefinition } from './commands/approve.ts';
import { auditDefinition } from './commands/audit.ts';
import { buildDefinition } from './commands/build.ts';
import { checkDefinition } from './commands/check.ts';
import { ciDefinition } from './commands/ci.ts';
import { configDefinition } from './commands/config.ts';
import { dataDefinition } from './commands/data.ts';
import { demoDefinition } from './commands/demo.ts';
import { deployDefinition } from './commands/deploy.ts';
import { diffDefinition } from './commands/diff.ts';
import { doctorDefinition } from './commands/doctor.ts';
import { gcDefinition } from './commands/gc.ts';
import { historyDefinition } from './commands/history.ts';
import { homeDefinition } from './commands/home.ts';
import { initDefinition } from './commands/init.ts';
import { localDefinition } from './commands/local.ts';
import { lockDefinition } from './commands/lock.ts';
import { migrateDefinition } from './commands/migrate.ts';
import { incidentsDefinition, monitorDefinition } from './commands/monitor.ts';
import { planDefinition } from './commands/plan.ts';
import { promoteDefinition } from './commands/promote.ts';
import { releasesDefinition } from './commands/releases.ts';
import { resumeDefinition } from './commands/resume.ts';
import { rollbackDefinition } from './commands/rollback.ts';
import { secretDefinition } from './commands/secret.ts';
import { serveDefinition } from './commands/serve.ts';
import { stateDefinition } from './commands/state.ts';
import { statusDefinition } from './commands/status.ts';
import { tokenDefinition } from './commands/token.ts';
import { exit, runCommand } from './run-command.ts';

/** Every command and group, in the order `airlock --help` lists them. */
export const COMMANDS: ReadonlyArray<CommandDefinition | CommandGroupDefinition> = [
  initDefinition,
  demoDefinition,
  buildDefinition,
  deployDefinition,
  promoteDefinition,
  approveDefinition,
  planDefinition,
  checkDefinition,
  diffDefinition,
  rollbackDefinition,
  resumeDefinition,
  lockDefinition,
  statusDefinition,
  monitorDefinition,
  incidentsDefinition,
  historyDefinition,
  serveDefinition,
  tokenDefinition,
  auditDefinition,
  releasesDefinition,
  gcDefinition,
  dataDefinition,
  migrateDefinition,
  ciDefinition,
  secretDefinition,
  doctorDefinition,
  stateDefinition,
  configDefinition,
  localDefinition,
  homeDefinition,
];

function isGroup(
  definition: CommandDefinition | CommandGroupDefinition,
): definition is CommandGroupDefinition {
  return 'commands' in definition;
}

/** Adds `definition` to `parent` as commander's `.command().argument().option().action()`. */
function register(parent: Command, definition: CommandDefinition): void {
  const command = parent.command(definition.name).description(definition.description);
  for (const argument of definition.arguments ?? []) command.argument(argument);
  for (const spec of definition.options ?? []) {
    const option = command.createOption(spec.flags, spec.description);
    option.makeOptionMandatory(Boolean(spec.required));
    if (spec.default !== undefined) option.default(spec.default);
    if (spec.parse) option.argParser(spec.parse as (value: string, previous: unknown) => unknown);
    command.addOption(option);
  }
  const handler = definition.handler as (
    io: CommandIO,
    ...args: unknown[]
  ) => Promise<number | undefined>;
  // Commander calls the action with the arguments, the options object, then the command.
  command.action((...args: unknown[]) =>
    runCommand(
      args.at(-1) as Command,
      (io) => handler(io, ...args.slice(0, -1)),
      definition.onInterrupt,
    ),
  );
}

/** The whole command tree (global flags, every definition), ready to parse. */
export function buildProgram(): Command {
  const program = new Command('airlock')
    .description(
      'A staging gate in front of production: build once, deploy to staging, migrate, check, promote the same release, roll back in seconds.',
    )
    .version(PACKAGE_VERSION, '--version')
    .option(
      '-c, --config <file>',
      'path of airlock.yaml (default: found in this folder or a parent)',
    )
    .option('--json', 'print one machine-readable JSON object on stdout (errors too)')
    .option('-v, --verbose', 'more detail: progress lines, error stacks')
    .option('-y, --yes', 'confirm changes to protected environments without asking')
    .option('--as <actor>', 'act as this person (default: $AIRLOCK_ACTOR, then git user.email)')
    .option(
      '--verify <mode>',
      'full: re-hash every file of a release before using it, ignoring the verified cache (default: cached)',
    )
    .showSuggestionAfterError(true)
    .exitOverride();
  for (const definition of COMMANDS) {
    if (!isGroup(definition)) {
      register(program, definition);
      continue;
    }
    const group = program.command(definition.name).description(definition.description);
    for (const command of definition.commands) register(group, command);
  }
  reportUsageErrors(program);
  return program;
}

/** `airlock migrate apply`: the names from the program down to `command`. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Usage errors in Airlock's own shape: what is wrong (commander's text, whose "error: " prefix
 * is replaced by the mark every other refusal uses), then the fix: the help of the command that
 * was run (`airlock migrate apply --help`; a group's or the program's for an unknown command).
 * Commander reports an error through the output configuration of the command that parsed it,
 * so each command gets its own.
 */
function reportUsageErrors(command: Command): void {
  command.configureOutput({
    outputError: (text, write) =>
      write(
        `✖ ${text.replace(/^error: /, '').trimEnd()}\n  → See the command's usage with \`${commandPath(command)} --help\`.\n`,
      ),
  });
  for (const sub of command.commands) reportUsageErrors(sub);
}

/** Runs the CLI on `argv` (process.argv shape). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      await exit(error.exitCode === 0 ? 0 : 2);
    }
    throw error;
  }
}
