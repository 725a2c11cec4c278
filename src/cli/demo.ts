/**
 * `airlock demo`: the whole story on this machine, with no account anywhere. Copies the notes
 * example into a fresh git repository and drives the real pipeline: build → staging (migrate,
 * check) → the production gate (self-approval refused, a reviewer approves) → promote the same
 * artifact → a commit with a new migration goes through → a broken commit is stopped at the
 * gate → production rolls back to r1 → status and history. Cleans up unless `--keep`.
 */
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { loadConfig } from '../config/load.ts';
import { type AirlockError, hasCode, InternalError, UserError } from '../errors.ts';
import { packagePath } from '../package-paths.ts';
import { recordApproval } from '../pipeline/approve.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import type { ExecuteResult } from '../pipeline/execute.ts';
import { deploy, planDeploy, rollback } from '../pipeline/operations.ts';
import { environmentStatuses } from '../pipeline/status.ts';
import { runToolSync } from '../process/run-tool.ts';
import { findFreePort } from '../providers/local/app-process.ts';
import { LocalRuntimeClient } from '../providers/local/runtime-client.ts';
import { artifactDigestLabel } from '../releases/digest-label.ts';
import { redactUrl } from '../secrets/redact.ts';
import { buildProgressPrinter } from './build.ts';
import type { CommandIO } from './command-io.ts';
import { reportOutcome } from './deploy.ts';
import { renderHistory } from './history.ts';
import { formatDuration } from './reporter.ts';
import { openSession } from './session.ts';
import { renderStatus } from './status.ts';

const EXAMPLES = packagePath('examples');
const DEVELOPER = 'dev@airlock.demo';
const REVIEWER = 'reviewer@airlock.demo';

/** Runs git in the demo's repository as the demo's developer. @throws Error with git's stderr. */
function gitIn(dir: string, args: string[]): string {
  const result = runToolSync({
    command: 'git',
    args,
    cwd: dir,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Demo Developer',
      GIT_AUTHOR_EMAIL: DEVELOPER,
      GIT_COMMITTER_NAME: 'Demo Developer',
      GIT_COMMITTER_EMAIL: DEVELOPER,
    },
  });
  if (result.spawnError || result.exitCode !== 0) {
    const why =
      result.spawnError?.message ?? (result.stderr.trim() || `exit code ${result.exitCode}`);
    throw new Error(`Command failed: git ${args.join(' ')}: ${why}`);
  }
  return result.stdout.trim();
}

/**
 * Makes one of the demo's later commits: applies `examples/demo-steps/<step>.patch` (a
 * `git format-patch` file, message included) with `git am`. Exported for tests.
 */
export function commitStep(dir: string, step: string): string {
  gitIn(dir, ['am', '--quiet', path.join(EXAMPLES, 'demo-steps', `${step}.patch`)]);
  return gitIn(dir, ['log', '-1', '--format=%h %s']);
}

/** A Postgres server for `airlock demo --postgres`: three fresh databases on it. */
export interface DemoPostgres {
  /** Environment the demo runs with: the state store and each environment's database. */
  env: Record<string, string>;
  /** The databases created (names only). */
  databases: string[];
  drop(): Promise<void>;
}

/** A connection URL with another database name. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Creates the demo's databases on the server `adminUrl` points at (its user must be allowed to
 * CREATE DATABASE): one for Airlock's state, one per environment.
 * @throws UserError `USAGE` when the server cannot be reached (the URL's password is not shown).
 */
export async function createDemoDatabases(adminUrl: string): Promise<DemoPostgres> {
  const { default: pg } = await import('pg');
  const suffix = randomBytes(4).toString('hex');
  const names = {
    DEMO_STATE_URL: `airlock_demo_state_${suffix}`,
    DEMO_STAGING_DATABASE_URL: `notes_staging_${suffix}`,
    DEMO_PRODUCTION_DATABASE_URL: `notes_production_${suffix}`,
  };
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    for (const name of Object.values(names)) await admin.query(`CREATE DATABASE "${name}"`);
  } catch (error) {
    throw new UserError(
      'USAGE',
      `cannot create the demo's databases on ${redactUrl(adminUrl)}: ${(error as Error).message}`,
      {
        hint: 'Pass --postgres with a URL whose user may CREATE DATABASE, e.g. postgres://postgres@127.0.0.1:5432/postgres.',
      },
    );
  } finally {
    await admin.end().catch(() => {});
  }
  const env = Object.fromEntries(
    Object.entries(names).map(([key, name]) => [key, withDatabase(adminUrl, name)]),
  );
  return {
    env,
    databases: Object.values(names),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        for (const name of Object.values(names))
          await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Creates the demo project in `dir`: the notes example on two free ports, in a new git
 * repository with one commit. Exported for tests.
 */
export async function createExampleProject(
  dir: string,
  options: { postgres?: boolean } = {},
): Promise<{ staging: number; production: number }> {
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(EXAMPLES, 'notes'), dir, {
    recursive: true,
    filter: (src) =>
      !/(^|\/)(dist|node_modules|\.airlock)(\/|$)|\.db$/.test(
        path.relative(path.join(EXAMPLES, 'notes'), src),
      ),
  });
  // Two asks of the OS for a free port may return the same one (the first was closed again).
  const staging = await findFreePort();
  let production = await findFreePort();
  while (production === staging) production = await findFreePort();
  const ports = { staging, production };
  const file = path.join(dir, 'airlock.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['environments', 'staging', 'services', 'notes', 'port'], ports.staging);
  doc.setIn(['environments', 'production', 'services', 'notes', 'port'], ports.production);
  if (options.postgres) {
    // Team mode: state and each environment's database on Postgres (URLs from the environment).
    doc.set('state', '${DEMO_STATE_URL}');
    doc.setIn(
      ['services', 'notes', 'build', 'command'],
      'npm ci --omit=dev --no-audit --no-fund --prefer-offline && node scripts/build.mjs',
    );
    doc.setIn(['services', 'notes', 'database'], {
      engine: 'postgres',
      migrations: 'migrations-postgres',
    });
    doc.setIn(
      ['environments', 'staging', 'services', 'notes', 'databaseUrl'],
      '${DEMO_STAGING_DATABASE_URL}',
    );
    doc.setIn(
      ['environments', 'production', 'services', 'notes', 'databaseUrl'],
      '${DEMO_PRODUCTION_DATABASE_URL}',
    );
  }
  writeFileSync(file, doc.toString());
  gitIn(dir, ['init', '-q', '-b', 'main']);
  gitIn(dir, ['config', 'user.email', DEVELOPER]);
  gitIn(dir, ['config', 'user.name', 'Demo Developer']);
  gitIn(dir, ['add', '-A']);
  gitIn(dir, ['commit', '-q', '-m', 'Notes service v1']);
  return ports;
}

async function version(url: string): Promise<{ release: string; digest: string }> {
  const response = await fetch(`${url}/version`, { signal: AbortSignal.timeout(5000) });
  return (await response.json()) as { release: string; digest: string };
}

/** Fails the demo when something that must happen did not. */
function expect(condition: boolean, what: string): void {
  if (!condition) {
    throw new InternalError('INTERNAL', `the demo expected ${what}, and it did not happen.`, {
      hint: 'Re-run with --verbose --keep and inspect the demo folder; please report this.',
    });
  }
}

export async function demoCommand(
  io: CommandIO,
  opts: { keep?: boolean; dir?: string; postgres?: string },
): Promise<number> {
  const started = performance.now();
  const r = io.reporter;
  const dir = opts.dir
    ? path.resolve(opts.dir)
    : mkdtempSync(path.join(os.tmpdir(), 'airlock-demo-'));
  if (opts.dir && existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UserError('USAGE', `${dir} is not empty; the demo needs an empty folder.`, {
      hint: 'Pass --dir with a new folder, or leave it out to use a temporary one.',
    });
  }
  r.heading(`Airlock demo — the notes example in ${dir}`);
  const postgres = opts.postgres ? await createDemoDatabases(opts.postgres) : null;
  const ports = await createExampleProject(dir, { postgres: Boolean(postgres) });
  r.note(
    `  A fresh git repository with one commit. staging → http://127.0.0.1:${ports.staging}, production → http://127.0.0.1:${ports.production} (local processes behind a local proxy, ${postgres ? `each with its own Postgres database (${postgres.databases.slice(1).join(', ')}); Airlock's state in ${postgres.databases[0]}` : 'one SQLite database each'}).`,
  );

  const config = loadConfig({ cwd: dir, env: { ...process.env, ...postgres?.env } });
  const session = await openSession(
    { ...io.globals, as: DEVELOPER, config: path.join(dir, 'airlock.yaml') },
    r,
    { config },
  );
  const dev: AirlockContext = session.ctx;
  const reviewer: AirlockContext = { ...dev, actor: REVIEWER };
  const hooks = { signal: io.signal, onBuild: buildProgressPrinter(r) };
  const results: ExecuteResult[] = [];
  const run = async (p: Promise<ExecuteResult>) => {
    const result = await p;
    reportOutcome(r, result);
    results.push(result);
    return result;
  };
  let ok = false;
  try {
    // 1. Build once, deploy to staging.
    r.heading(
      '1. Build release r1 from commit 1 and deploy it to staging (migrate, then check the live URL)',
    );
    const first = await run(deploy(dev, 'staging', {}, hooks));
    expect(first.status === 'succeeded', 'r1 to pass staging');

    // 2. The gate into production.
    r.heading('2. The gate into production');
    const plan = await planDeploy(dev, 'production', {});
    r.plan(plan);
    expect(
      plan.blocked && plan.gates.some((g) => g.gate === 'approval' && g.status === 'pending'),
      'the approval gate to be pending',
    );
    r.info(
      `\n$ airlock approve production   ${r.json ? '' : '# as the developer who deployed r1'}`,
    );
    try {
      await recordApproval(dev, { environment: 'production', decision: 'approved' });
      expect(false, 'self-approval to be refused');
    } catch (error) {
      if (!hasCode(error, 'SELF_APPROVAL')) throw error;
      r.info(`✖ ${(error as AirlockError).message}`);
    }
    r.info(`$ airlock approve production --as ${REVIEWER}`);
    const approval = await recordApproval(reviewer, {
      environment: 'production',
      decision: 'approved',
      comment: 'looks good on staging',
    });
    r.success(`${REVIEWER} approved ${approval.release.id} for production.`);
    r.info('$ airlock promote production');
    const promoted = await run(deploy(dev, 'production', {}, hooks));
    expect(promoted.status === 'succeeded', 'r1 to be promoted');

    const [s, p] = await Promise.all([
      version(`http://127.0.0.1:${ports.staging}`),
      version(`http://127.0.0.1:${ports.production}`),
    ]);
    expect(
      s.digest === p.digest && s.release === p.release,
      'both environments to serve the same artifact',
    );
    r.success(
      `Same bytes: staging and production both report ${p.release} with ${artifactDigestLabel(p.digest, 16)}… (built once, promoted, verified at deploy).`,
    );

    // 3. A commit with a new migration.
    r.heading('3. Commit 2 adds a migration: staging runs it first, then production');
    r.note(`  $ git commit  → ${commitStep(dir, '2-pinned-notes')}`);
    const second = await run(deploy(dev, 'staging', {}, hooks));
    expect(second.status === 'succeeded', 'r2 to pass staging');
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    r.success(`${REVIEWER} approved r2 for production.`);
    const secondProd = await run(deploy(dev, 'production', {}, hooks));
    expect(secondProd.status === 'succeeded', 'r2 to be promoted');

    // 4. A broken commit.
    r.heading('4. Commit 3 is broken: its staging checks fail, and the gate refuses to promote it');
    r.note(`  $ git commit  → ${commitStep(dir, '3-broken-create')}`);
    const third = await run(deploy(dev, 'staging', {}, hooks));
    expect(third.status === 'failed', 'r3 to fail its staging checks');
    r.info('$ airlock promote production');
    try {
      await deploy(dev, 'production', {}, hooks);
      expect(false, 'the promotion of r3 to be refused');
    } catch (error) {
      if (!hasCode(error, 'GATE_BLOCKED')) throw error;
      r.info(`✖ ${(error as AirlockError).message}`);
      r.gates((error as AirlockError).details.gates as never);
    }
    const prodNow = await version(`http://127.0.0.1:${ports.production}`);
    expect(prodNow.release === 'r2', 'production to keep serving r2');
    r.success(`Production still serves ${prodNow.release}: the broken release never reached it.`);

    // 5. Rollback.
    r.heading('5. Roll production back to r1 (still warm: the switch is instant)');
    const back = await run(
      rollback(dev, 'production', 'r1', {
        signal: io.signal,
        beforeApply: async (pl) => {
          for (const w of pl.warnings) r.warn(w);
        },
      }),
    );
    expect(back.status === 'succeeded', 'the rollback to succeed');
    const rolled = await version(`http://127.0.0.1:${ports.production}`);
    expect(rolled.release === 'r1', 'production to serve r1 after the rollback');

    // 6. Where things stand.
    r.heading('6. Status');
    const statuses = await environmentStatuses(dev);
    renderStatus(r, statuses, dev.now());
    r.heading('History (the audit log, newest first)');
    renderHistory(r, await dev.store.listAudit({ limit: 40, steps: false }));
    r.heading(`Done in ${formatDuration(performance.now() - started)}.`);
    r.info(
      `  staging:    http://127.0.0.1:${ports.staging}   (serves r3, whose checks failed: kept for inspection)`,
    );
    r.info(`  production: http://127.0.0.1:${ports.production}   (serves r1 after the rollback)`);
    r.result({
      dir,
      urls: {
        staging: `http://127.0.0.1:${ports.staging}`,
        production: `http://127.0.0.1:${ports.production}`,
      },
      runs: results.map((x) => ({
        action: x.plan.action,
        environment: x.plan.environment,
        release: x.plan.release.id,
        status: x.status,
        durationMs: x.durationMs,
      })),
      environments: statuses,
      kept: Boolean(opts.keep),
      ...(postgres ? { postgres: { databases: postgres.databases } } : {}),
    });
    ok = true;
    return 0;
  } finally {
    await session.close();
    const runtime = new LocalRuntimeClient({ home: dev.home });
    if (opts.keep && ok) {
      const bin = packagePath('bin', 'airlock.js');
      const exports = postgres
        ? Object.entries(postgres.env)
            .map(([k, v]) => `  export ${k}=${v}\n`)
            .join('')
        : '';
      r.info(
        `\nBoth environments keep running. Try:\n${exports}  cd ${dir}\n  node ${bin} status\n  node ${bin} history\n  node ${bin} local stop     # when you are done`,
      );
    } else {
      await runtime.shutdown().catch(() => {});
      await postgres?.drop().catch(() => {});
      if (!opts.dir) {
        // The temporary project goes, and with it its Airlock home (state, releases, logs).
        rmSync(dir, { recursive: true, force: true });
        rmSync(dev.home, { recursive: true, force: true });
      }
      if (!ok)
        r.warn(
          `The demo stopped early; ${opts.dir ? `its project stays in ${dir}` : 'its temporary project was removed'}.`,
        );
      else
        r.note(
          'Stopped both environments and removed the demo project (pass --keep to leave them running).',
        );
    }
  }
}
