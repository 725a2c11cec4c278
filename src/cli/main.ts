/**
 * `airlock`: the command-line entry. Top-level verbs for the main flow and noun-verb groups for
 * resources (Kamal, wrangler). Command modules load lazily so `airlock status` starts fast.
 * Exit codes: 0 success; 1 a failed deployment, a refused promotion or any other failure;
 * 2 a usage or configuration error; 130 interrupted twice with Ctrl-C.
 */
import { Command, CommanderError } from 'commander';
import { type AirlockError, toAirlockError } from '../errors.ts';
import type { CommandIO } from './command-io.ts';
import { Reporter } from './reporter.ts';
import type { GlobalOptions } from './session.ts';

/** `airlock promote` options (commander's camelCase of the flags). */
export interface PromoteOptions {
  release?: string;
  follow: boolean;
  wait?: string;
  auto?: boolean;
  watch?: boolean;
  timeout: string;
  interval: string;
  overrideWindow?: string;
}

type Handler = (io: CommandIO) => Promise<number | undefined>;

/** `--wait`: shared by every command that takes an environment's lock. */
const WAIT_OPTION = [
  '--wait <duration>',
  'when the environment is locked, wait in its queue this long (e.g. 10m)',
] as const;

export function exitCodeFor(error: AirlockError): number {
  return error.kind === 'config' || error.code === 'USAGE' || error.code === 'CONFIRMATION_REQUIRED'
    ? 2
    : 1;
}

async function exit(code: number): Promise<never> {
  // Let piped output drain before exiting (keep-alive sockets would otherwise hold the process).
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

async function runCommand(command: Command, handler: Handler): Promise<void> {
  const globals = command.optsWithGlobals() as GlobalOptions;
  const reporter = new Reporter({ json: Boolean(globals.json), verbose: Boolean(globals.verbose) });
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    reporter.warn(
      'Interrupting: the current step stops and the previous release keeps serving. Ctrl-C again quits at once.',
    );
    controller.abort(new Error('interrupted by Ctrl-C'));
  };
  process.on('SIGINT', onSigint);
  let code = 0;
  try {
    await reporter.ready();
    code = (await handler({ globals, reporter, signal: controller.signal })) ?? 0;
  } catch (error) {
    const e = toAirlockError(error);
    reporter.error(e);
    code = exitCodeFor(e);
  } finally {
    process.off('SIGINT', onSigint);
  }
  reporter.flush(code === 0);
  await exit(code);
}

/** Wires a command to a lazily imported handler. */
function act<A extends unknown[]>(
  load: (io: CommandIO, ...args: A) => Promise<number | undefined>,
): (...args: [...A, Command]) => Promise<void> {
  return (...args) => {
    const command = args[args.length - 1] as Command;
    const rest = args.slice(0, -1) as unknown as A;
    return runCommand(command, (io) => load(io, ...rest));
  };
}

export function buildProgram(): Command {
  const program = new Command('airlock')
    .description(
      'A staging gate in front of production: build once, deploy to staging, migrate, check, promote the same release, roll back in seconds.',
    )
    .version('0.1.0', '--version')
    .option(
      '-c, --config <file>',
      'path of airlock.yaml (default: found in this folder or a parent)',
    )
    .option('--json', 'print one machine-readable JSON object on stdout (errors too)')
    .option('-v, --verbose', 'more detail: progress lines, error stacks')
    .option('-y, --yes', 'confirm changes to protected environments without asking')
    .option('--as <actor>', 'act as this person (default: $AIRLOCK_ACTOR, then git user.email)')
    .showSuggestionAfterError(true)
    .exitOverride();

  program
    .command('init')
    .description(
      'write a starting airlock.yaml from the files this folder has (wrangler.toml, fly.toml, railway.json, package.json, migrations)',
    )
    .option('--force', 'replace an existing airlock.yaml')
    .option('--print', 'print the file instead of writing it')
    .action(
      act(async (io, opts: { force?: boolean; print?: boolean }) =>
        (await import('./init.ts')).initCommand(io, opts),
      ),
    );

  program
    .command('demo')
    .description(
      'run the whole flow on a copy of the example app: build → staging → promote → rollback',
    )
    .option('--keep', 'leave both environments running afterwards')
    .option('--dir <dir>', 'create the demo project here instead of a temporary folder')
    .option(
      '--postgres <url>',
      "run on Postgres (team mode): Airlock's state and each environment's database in new databases on this server",
    )
    .action(
      act(async (io, opts: { keep?: boolean; dir?: string; postgres?: string }) =>
        (await import('./demo.ts')).demoCommand(io, opts),
      ),
    );

  program
    .command('build')
    .description('build a release of a commit once, in a clean checkout, and store its artifacts')
    .option(
      '--commit <sha>',
      'commit to build (default: HEAD, or the working tree when it has changes)',
    )
    .option('--rebuild', 'build even if a release of this commit exists')
    .action(
      act(async (io, opts: { commit?: string; rebuild?: boolean }) =>
        (await import('./build.ts')).buildCommand(io, opts),
      ),
    );

  program
    .command('deploy <environment>')
    .description('deploy a release: build if needed → lock → migrate → deploy → check → record')
    .option('--release <release>', 'release to deploy (r3, digest or commit prefix)')
    .option('--commit <sha>', 'deploy the release of this commit (built if needed)')
    .option('--no-follow', 'do not run automatic promotions afterwards')
    .option(...WAIT_OPTION)
    .action(
      act(
        async (
          io,
          environment: string,
          opts: { release?: string; commit?: string; follow: boolean; wait?: string },
        ) => (await import('./deploy.ts')).deployCommand(io, environment, opts, 'deploy'),
      ),
    );

  program
    .command('promote <environment>')
    .description('promote the release serving on the previous environment, when the gate holds')
    .option(
      '--release <release>',
      'release to promote (default: the one serving on the previous environment)',
    )
    .option('--no-follow', 'do not run automatic promotions afterwards')
    .option(...WAIT_OPTION)
    .option(
      '--auto',
      'automatic policy (seed 001): promote as soon as every gate holds, waiting while one is pending',
    )
    .option('--watch', 'with --auto: keep running and promote each new release whose gate holds')
    .option(
      '--timeout <duration>',
      'with --auto: stop waiting for pending gates after this long',
      '30m',
    )
    .option('--interval <duration>', 'with --auto: time between gate evaluations', '15s')
    .option(
      '--override-window <reason>',
      'promote outside the deploy window or during a freeze; the reason is audited',
    )
    .action(
      act(async (io, environment: string, opts: PromoteOptions) =>
        opts.auto || opts.watch
          ? (await import('./auto-promote.ts')).autoPromoteCommand(io, environment, opts)
          : (await import('./deploy.ts')).deployCommand(io, environment, opts, 'promote'),
      ),
    );

  program
    .command('approve <environment>')
    .description("approve (or reject) a release's promotion into an environment")
    .option('--release <release>', 'release (default: the one a promotion would take)')
    .option('-m, --message <comment>', 'a comment, recorded with the approval')
    .option('--reject', 'record a rejection instead; it blocks the promotion')
    .action(
      act(
        async (
          io,
          environment: string,
          opts: { release?: string; message?: string; reject?: boolean },
        ) => (await import('./approve.ts')).approveCommand(io, environment, opts),
      ),
    );

  program
    .command('plan <environment>')
    .description(
      'show what deploy or promote would do, and each gate with its reason; changes nothing',
    )
    .option('--release <release>', 'release to plan for')
    .option('--commit <sha>', 'plan for the release of this commit')
    .option('--override-window <reason>', 'plan as if the deploy window were overridden')
    .action(
      act(
        async (
          io,
          environment: string,
          opts: { release?: string; commit?: string; overrideWindow?: string },
        ) => (await import('./plan.ts')).planCommand(io, environment, opts),
      ),
    );

  program
    .command('diff <environment> <other>')
    .description(
      "compare two environments' configuration side by side (Airlock settings, platform resources, bindings, var and secret names): drift outside parity.allow exits 1",
    )
    .option('--service <service>', 'only this service (default: every service)')
    .action(
      act(async (io, environment: string, other: string, opts: { service?: string }) =>
        (await import('./diff.ts')).diffCommand(io, environment, other, opts),
      ),
    );

  program
    .command('rollback <environment>')
    .description('serve an earlier release again (instant when it is still warm)')
    .option('--to <release>', 'release to return to (default: the one before the current)')
    .option(...WAIT_OPTION)
    .option(
      '--force',
      'roll back even to a release older than a contract migration applied there (audited)',
    )
    .action(
      act(async (io, environment: string, opts: { to?: string; wait?: string; force?: boolean }) =>
        (await import('./rollback.ts')).rollbackCommand(io, environment, opts),
      ),
    );

  program
    .command('resume [environment]')
    .description('finish (or roll back) deployments a dead process left interrupted')
    .action(
      act(async (io, environment: string | undefined) =>
        (await import('./resume.ts')).resumeCommand(io, environment),
      ),
    );

  const lock = program
    .command('lock')
    .description('environment locks: one deployment per environment at a time');
  lock
    .command('acquire <environment>')
    .description('hold an environment (no deployment can start) until released')
    .requiredOption('-m, --message <why>', 'why, shown to everyone the lock stops')
    .action(
      act(async (io, environment: string, opts: { message: string }) =>
        (await import('./lock.ts')).lockAcquireCommand(io, environment, opts),
      ),
    );
  lock
    .command('release <environment>')
    .description("release a manual lock (or, with --force, a running command's lock)")
    .option('--force', 'also release a lock a live command holds (its writes are then refused)')
    .action(
      act(async (io, environment: string, opts: { force?: boolean }) =>
        (await import('./lock.ts')).lockReleaseCommand(io, environment, opts),
      ),
    );
  lock
    .command('status [environment]')
    .description('who holds each environment, since when and why; who waits')
    .action(
      act(async (io, environment: string | undefined) =>
        (await import('./lock.ts')).lockStatusCommand(io, environment),
      ),
    );

  program
    .command('status')
    .description('what serves in each environment: release, commit, since when, health')
    .action(act(async (io) => (await import('./status.ts')).statusCommand(io)));

  program
    .command('history [environment]')
    .description('the audit log: who did what, when, with which result')
    .option('-n, --limit <n>', 'number of events', '30')
    .action(
      act(async (io, environment: string | undefined, opts: { limit: string }) =>
        (await import('./history.ts')).historyCommand(io, environment, opts),
      ),
    );

  program
    .command('releases')
    .description('list built releases')
    .option('-n, --limit <n>', 'number of releases', '20')
    .action(
      act(async (io, opts: { limit: string }) =>
        (await import('./history.ts')).releasesCommand(io, opts),
      ),
    );

  const migrate = program
    .command('migrate')
    .description('database migrations: numbered, append-only, checksummed');
  migrate
    .command('status <environment>')
    .description("compare an environment's ledger with the migration files")
    .option('--release <release>', "use the release's migrations instead of the working tree's")
    .action(
      act(async (io, environment: string, opts: { release?: string }) =>
        (await import('./migrate.ts')).migrateStatusCommand(io, environment, opts),
      ),
    );
  migrate
    .command('apply <environment>')
    .description('apply pending migrations to an environment (each file in its own transaction)')
    .option('--release <release>', "apply the release's migrations instead of the working tree's")
    .option(
      '--dry-run',
      'run the pending migrations on a throwaway copy of the database and report; changes nothing',
    )
    .action(
      act(async (io, environment: string, opts: { release?: string; dryRun?: boolean }) =>
        (await import('./migrate.ts')).migrateApplyCommand(io, environment, opts),
      ),
    );
  migrate
    .command('create <name>')
    .description('create the next numbered migration file and record it in airlock.sum')
    .option(
      '--service <service>',
      'service whose migrations folder to use (default: the only one with a database)',
    )
    .action(
      act(async (io, name: string, opts: { service?: string }) =>
        (await import('./migrate.ts')).migrateCreateCommand(io, name, opts),
      ),
    );
  migrate
    .command('hash')
    .description(
      'write migrations/airlock.sum (the checksum of every migration file) and show what changed',
    )
    .option('--service <service>', 'only this service (default: every service with a database)')
    .action(
      act(async (io, opts: { service?: string }) =>
        (await import('./migrate.ts')).migrateHashCommand(io, opts),
      ),
    );
  migrate
    .command('lint')
    .description(
      'find migrations that are unsafe to promote or roll back past (default: those the first environment has not run)',
    )
    .option('--service <service>', 'only this service (default: every service with a database)')
    .option('--all', 'lint every migration, also those already applied')
    .action(
      act(async (io, opts: { service?: string; all?: boolean }) =>
        (await import('./migrate.ts')).migrateLintCommand(io, opts),
      ),
    );
  migrate
    .command('drift <environment> <other>')
    .description(
      "compare two environments' live schemas: changes made outside migrations (drift, exit 1) apart from pending migrations",
    )
    .option('--service <service>', 'only this service (default: every service with a database)')
    .action(
      act(async (io, environment: string, other: string, opts: { service?: string }) =>
        (await import('./migrate.ts')).migrateDriftCommand(io, environment, other, opts),
      ),
    );
  migrate
    .command('adopt <environment>')
    .description(
      "take over a database wrangler (D1) or the Supabase CLI has been migrating: import its ledger as Airlock's, running nothing",
    )
    .option('--from <tool>', 'the tool whose ledger to import: wrangler or supabase')
    .option(
      '--d1-database <path>',
      "wrangler: the local D1 database (a .sqlite file, or the binding's database id; default: the environment's database when it has d1_migrations, else the one wrangler made in .wrangler/)",
    )
    .option(
      '--map <version=file>',
      'supabase: the Airlock file a Supabase version ran as, when their names differ (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--dry-run', 'show what would be adopted; write nothing')
    .option(
      '--service <service>',
      'service whose database to adopt (default: the only one with a database)',
    )
    .action(
      act(
        async (
          io,
          environment: string,
          opts: {
            from?: string;
            d1Database?: string;
            map?: string[];
            dryRun?: boolean;
            service?: string;
          },
        ) => (await import('./migrate.ts')).migrateAdoptCommand(io, environment, opts),
      ),
    );

  const ci = program.command('ci').description('CI green at the exact commit, and CI workflows');
  ci.command('run')
    .description(
      "run the project's checks (ci.command) in a clean checkout of a commit and record the result",
    )
    .option('--commit <sha>', 'commit to check (default: HEAD)')
    .action(
      act(async (io, opts: { commit?: string }) =>
        (await import('./ci.ts')).ciRunCommand(io, opts),
      ),
    );
  ci.command('init <provider>')
    .description(
      'write the GitHub Actions workflows of a seed flow: manual (000/002), automatic (001), staging-branch (003)',
    )
    .option(
      '--flow <flow>',
      'manual | automatic | staging-branch (default: automatic when the last environment promotes automatically, else manual)',
    )
    .option('--force', 'replace workflow files that differ')
    .option('--print', 'print the workflows instead of writing them')
    .option('--node <version>', 'Node.js version for setup-node (default 24)')
    .option('--install <command>', 'how the jobs install dependencies (default npm ci)')
    .action(
      act(
        async (
          io,
          provider: string,
          opts: {
            flow?: string;
            force?: boolean;
            print?: boolean;
            node?: string;
            install?: string;
          },
        ) => (await import('./ci.ts')).ciInitCommand(io, provider, opts),
      ),
    );

  const secret = program
    .command('secret')
    .description(
      "an environment's secrets, through its provider (values from stdin, names only shown)",
    );
  secret
    .command('set <environment> <name>')
    .description(
      'set a secret from standard input (never an argument); takes effect at the next deployment',
    )
    .option('--service <service>', 'service (default: the only one)')
    .action(
      act(async (io, environment: string, name: string, opts: { service?: string }) =>
        (await import('./secrets.ts')).secretSetCommand(io, environment, name, opts),
      ),
    );
  secret
    .command('list <environment>')
    .description("names of an environment's secrets")
    .option('--service <service>', 'service (default: the only one)')
    .action(
      act(async (io, environment: string, opts: { service?: string }) =>
        (await import('./secrets.ts')).secretListCommand(io, environment, opts),
      ),
    );

  const config = program
    .command('config')
    .description('airlock.yaml: validate it, show it resolved, print its JSON Schema');
  config
    .command('validate')
    .description('check airlock.yaml; every problem with file:line:col and a fix')
    .action(act(async (io) => (await import('./config.ts')).configValidateCommand(io)));
  config
    .command('show')
    .description('print the configuration as resolved for each environment (inheritance applied)')
    .option('--env <environment>', 'only this environment')
    .action(
      act(async (io, opts: { env?: string }) =>
        (await import('./config.ts')).configShowCommand(io, opts),
      ),
    );
  config
    .command('schema')
    .description('print the JSON Schema of airlock.yaml')
    .action(act(async (io) => (await import('./config.ts')).configSchemaCommand(io)));

  const local = program
    .command('local')
    .description('the local runtime: the supervisor that runs local environments');
  local
    .command('status')
    .description('is the runtime up, and what runs under it')
    .action(act(async (io) => (await import('./local.ts')).localStatusCommand(io)));
  local
    .command('start')
    .description('start the runtime (it restores what was serving)')
    .action(act(async (io) => (await import('./local.ts')).localStartCommand(io)));
  local
    .command('stop')
    .description('stop every local environment and the runtime')
    .action(act(async (io) => (await import('./local.ts')).localStopCommand(io)));

  return program;
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
