/**
 * `airlock migrate …`: the ledger of each environment, the working tree's migration files and
 * their integrity file (`airlock.sum`), lint, dry runs, drift and adoption of another tool's
 * ledger. See docs/migrations.md.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { environmentNamed } from '../config/environments.ts';
import type { ResolvedConfig, ResolvedDatabase, ResolvedService } from '../config/resolve.ts';
import { hasCode, UserError } from '../errors.ts';
import type { AdoptSource, LedgerTarget } from '../migrations/adopt.ts';
import {
  checkIntegrity,
  readSumFile,
  SUM_FILENAME,
  type SumFile,
  verifyIntegrity,
  writeSumFile,
} from '../migrations/integrity.ts';
import type { DatabaseLocation } from '../migrations/migration-driver.ts';
import {
  createMigrationFile,
  type MigrationFile,
  readMigrationDir,
} from '../migrations/migration-files.ts';
import {
  checkAppliedOnPrevious,
  notOnPreviousError,
  planMigrations,
} from '../migrations/migrator.ts';
import type { DriftResult } from '../migrations/schema-drift.ts';
import { sqlitePathFromUrl } from '../migrations/sqlite-migration-driver.ts';
import {
  type AirlockContext,
  databaseLocation,
  databaseOf,
  readLedger,
} from '../pipeline/context.ts';
import { describeHold } from '../pipeline/contract.ts';
import { releaseNamed } from '../pipeline/decide.ts';
import { acquireEnvironmentLock } from '../pipeline/lock.ts';
import { migrateService } from '../pipeline/migrate.ts';
import type { D1HttpMigrationDriver } from '../providers/cloudflare/d1-http-driver.ts';
import type { CommandIO } from './command-io.ts';
import { confirmChange } from './confirm.ts';
import { withSession } from './session.ts';

/** `p` relative to the working directory, for messages. */
function shown(p: string): string {
  return path.relative(process.cwd(), p) || '.';
}

/**
 * The working tree's migration files of `dir`, checked against its `airlock.sum`: an edit, an
 * added or a removed file without `airlock migrate hash`, or a conflicted merge of the sum
 * file, is refused naming the file (UserError `MIGRATION_INTEGRITY`).
 */
export async function verifiedMigrationFiles(dir: string): Promise<MigrationFile[]> {
  // The sum file first: after a conflicted merge the folder may hold two 0007_… files, and the
  // conflict explains that better than the duplicate number does.
  await readSumFile(dir);
  const files = await readMigrationDir(dir);
  await verifyIntegrity(dir, files);
  return files;
}

/** The services with a database (as the first environment has them), or the one `--service` names. */
function servicesWithDatabase(config: ResolvedConfig, only: string | undefined): ResolvedService[] {
  const first = config.environments[config.pipeline[0] as string];
  const all = Object.values(first?.services ?? {}).filter((s) => s.database);
  if (only) {
    const service = all.find((s) => s.name === only);
    if (!service) {
      throw new UserError(
        'UNKNOWN_SERVICE',
        config.services.includes(only)
          ? `service "${only}" has no database in ${config.displayFile}.`
          : `there is no service "${only}" in ${config.displayFile}.`,
        { hint: `Services with a database: ${all.map((s) => s.name).join(', ') || 'none'}.` },
      );
    }
    return [service];
  }
  if (all.length === 0) {
    throw new UserError('UNKNOWN_SERVICE', 'no service in airlock.yaml has a database.', {
      hint: 'Add `database: { engine: sqlite }` to a service.',
    });
  }
  return all;
}

/** The one service a command acts on: `--service`, or the only one with a database. */
function oneServiceWithDatabase(config: ResolvedConfig, only: string | undefined): ResolvedService {
  const services = servicesWithDatabase(config, only);
  if (services.length !== 1) {
    throw new UserError('UNKNOWN_SERVICE', 'several services have a database.', {
      hint: `Pass --service <name> (services with a database: ${services.map((s) => s.name).join(', ')}).`,
    });
  }
  return services[0] as ResolvedService;
}

/** Services with a database, with the migration files to use: a release's snapshot or the working tree. */
async function migrationSources(
  ctx: AirlockContext,
  environment: string,
  releaseRef: string | undefined,
): Promise<Array<{ service: ResolvedService; files: MigrationFile[]; source: string }>> {
  const env = environmentNamed(ctx.config, environment);
  const release = releaseRef ? await releaseNamed(ctx, releaseRef) : undefined;
  const out = [];
  for (const name of ctx.config.services) {
    const service = env.services[name];
    if (!service?.database) continue;
    if (release) {
      const digest = release.services[name]?.migrationsDigest;
      if (digest) await ctx.artifacts.verify(digest);
      const files = digest ? await readMigrationDir(ctx.artifacts.pathOf(digest)) : [];
      out.push({ service, files, source: `release ${release.id}` });
    } else {
      // A release's files were checked against airlock.sum when it was built.
      out.push({
        service,
        files: await verifiedMigrationFiles(service.database.migrationsDir),
        source: shown(service.database.migrationsDir),
      });
    }
  }
  if (out.length === 0) {
    throw new UserError('UNKNOWN_SERVICE', 'no service in airlock.yaml has a database.', {
      hint: 'Add `database: { engine: sqlite }` to a service.',
    });
  }
  return out;
}

/** `airlock migrate status <env>`. */
export async function migrateStatusCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string },
): Promise<number> {
  return withSession(io, async (session) => {
    const { ctx } = session;
    const env = environmentNamed(ctx.config, environment);
    const report = [];
    for (const { service, files, source } of await migrationSources(
      ctx,
      environment,
      opts.release,
    )) {
      const plan = planMigrations(
        files,
        await readLedger(databaseOf(ctx.config, env.name, service.name)),
      );
      const previous = env.previous
        ? await readLedger(databaseOf(ctx.config, env.previous, service.name))
        : null;
      const notOnPrevious = previous ? checkAppliedOnPrevious(plan.pending, previous) : [];
      io.reporter.info(`${service.name} on ${env.name} (files from ${source}):`);
      const rows: Array<Array<string | number | null>> = [];
      for (const entry of plan.applied) {
        const problem = plan.problems.find((p) => p.version === entry.version);
        rows.push([
          String(entry.version).padStart(4, '0'),
          entry.name,
          problem
            ? problem.code === 'MIGRATION_CHECKSUM_MISMATCH'
              ? 'EDITED after apply'
              : 'FILE MISSING'
            : 'applied',
          entry.appliedAt.replace('T', ' ').slice(0, 19),
          entry.release,
          entry.sha256.slice(0, 12),
        ]);
      }
      for (const file of plan.pending) {
        const blocked = notOnPrevious.find((n) => n.file.version === file.version);
        rows.push([
          String(file.version).padStart(4, '0'),
          file.name,
          blocked
            ? `pending (${blocked.reason === 'not-applied' ? `not yet on ${env.previous}` : `differs on ${env.previous}`})`
            : 'pending',
          null,
          null,
          file.sha256.slice(0, 12),
        ]);
      }
      io.reporter.table(['VERSION', 'NAME', 'STATUS', 'APPLIED', 'RELEASE', 'SHA256'], rows);
      for (const p of plan.problems) io.reporter.warn(`${p.message} ${p.hint}`);
      report.push({
        service: service.name,
        applied: plan.applied,
        pending: plan.pending.map((f) => f.filename),
        problems: plan.problems,
        notOnPrevious: notOnPrevious.map((n) => ({ file: n.file.filename, reason: n.reason })),
      });
    }
    io.reporter.result({ environment, services: report });
    return report.some((r) => r.problems.length > 0) ? 1 : 0;
  });
}

/**
 * `airlock migrate apply <env>`: under the environment lock; staging-first rule enforced.
 * With `--dry-run`, replays the pending files on a throwaway copy instead (see
 * `migrateDryRunCommand`).
 */
export async function migrateApplyCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string; dryRun?: boolean },
): Promise<number> {
  if (opts.dryRun) return migrateDryRunCommand(io, environment, opts);
  return withSession(io, async (session) => {
    const { ctx } = session;
    const env = environmentNamed(ctx.config, environment);
    const sources = await migrationSources(ctx, environment, opts.release);
    if (env.protected)
      await confirmChange(io, `Apply pending migrations to ${env.name} (protected)?`, env.name);
    const lock = await acquireEnvironmentLock(
      ctx,
      env.name,
      `migrate apply${opts.release ? ` ${opts.release}` : ''}`,
    );
    const results = [];
    try {
      for (const { service, files } of sources) {
        const result = await migrateService(ctx, env, service.name, files, {
          release: opts.release ?? null,
          runId: null,
          onFile: (file, phase, entry) => {
            if (phase === 'done' && entry) {
              io.reporter.success(`${service.name}: ${file.filename} [${entry.durationMs} ms]`);
            }
          },
        });
        if (result.hold) io.reporter.info(`ℹ ${describeHold(result.hold, env.name, service.name)}`);
        else if (result.applied.length === 0) {
          io.reporter.info(`${service.name}: nothing pending on ${env.name}.`);
        }
        results.push({ service: service.name, applied: result.applied, held: result.hold });
      }
    } finally {
      await lock.release();
    }
    io.reporter.result({ environment, services: results });
    return 0;
  });
}

/**
 * `airlock migrate apply <env> --dry-run`: replays the pending files (working tree, checked
 * against airlock.sum, or `--release`) on a throwaway copy of each database and reports what
 * would apply and the first failure. The environment is not touched, so no lock is taken and
 * no confirmation asked. Exit 1 when a file would fail, or when apply would refuse files that
 * have not run on the previous environment first.
 */
export async function migrateDryRunCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string },
): Promise<number> {
  return withSession(io, async (session) => {
    const { ctx } = session;
    const env = environmentNamed(ctx.config, environment);
    const sources = await migrationSources(ctx, environment, opts.release);
    const { dryRunMigrations } = await import('../migrations/dry-run.ts');
    io.reporter.info(
      `Dry run on ${env.name}: each pending migration runs on a throwaway copy of its database; ${env.name} itself is not touched (no lock taken).`,
    );
    const results = [];
    let failed = false;
    for (const { service, files, source } of sources) {
      const database = databaseOf(ctx.config, env.name, service.name);
      const ledger = await readLedger(database);
      const pending = planMigrations(files, ledger).pending;
      const notOnPrevious =
        env.previous && pending.length > 0
          ? checkAppliedOnPrevious(
              pending,
              await readLedger(databaseOf(ctx.config, env.previous, service.name)),
            )
          : [];
      const result = await dryRunMigrations(await databaseLocation(database), files, {
        appliedBy: ctx.actor,
        release: opts.release ?? null,
      });
      io.reporter.info(
        `${service.name} (files from ${source}; ${database.engine} copy, ${result.durationMs} ms):`,
      );
      for (const entry of result.applied) {
        const filename = `${String(entry.version).padStart(4, '0')}_${entry.name}.sql`;
        io.reporter.success(`${filename} would apply [${entry.durationMs} ms]`);
      }
      if (result.failed) {
        failed = true;
        const at = path.isAbsolute(result.failed.file)
          ? shown(result.failed.file)
          : result.failed.file;
        io.reporter.info(`✖ ${at} would fail: ${result.failed.message}`);
        if (result.failed.hint) io.reporter.info(`  → ${result.failed.hint}`);
        const skipped = result.pending.slice(result.applied.length + 1);
        if (skipped.length > 0) {
          io.reporter.info(`  not reached: ${skipped.join(', ')}`);
        }
      } else if (result.pending.length === 0) {
        io.reporter.info(`  nothing pending on ${env.name}.`);
      }
      let refusal: UserError | null = null;
      if (notOnPrevious.length > 0 && env.previous) {
        failed = true;
        refusal = notOnPreviousError(notOnPrevious, {
          environment: env.name,
          previous: env.previous,
        });
        io.reporter.info(`✖ apply would refuse: ${refusal.message}`);
        if (refusal.hint) io.reporter.info(`  → ${refusal.hint}`);
      }
      results.push({
        service: service.name,
        source,
        pending: result.pending,
        applied: result.applied,
        failed: result.failed,
        notOnPrevious: notOnPrevious.map((n) => ({ file: n.file.filename, reason: n.reason })),
        durationMs: result.durationMs,
      });
    }
    io.reporter.result({ environment: env.name, dryRun: true, services: results });
    if (failed) {
      io.reporter.info(`✖ apply would fail on ${env.name} (see above); nothing changed there.`);
      return 1;
    }
    io.reporter.success(
      `Every pending migration applies on a copy of ${env.name}; nothing changed there. Run \`airlock migrate apply ${env.name}${opts.release ? ` --release ${opts.release}` : ''}\` to apply them.`,
    );
    return 0;
  });
}

/**
 * `airlock migrate create <name>`: the next numbered file, recorded in `airlock.sum`. The folder
 * must match its sum first, so creating a file never records someone's unhashed edit.
 */
export async function migrateCreateCommand(
  io: CommandIO,
  name: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const service = oneServiceWithDatabase(session.ctx.config, opts.service);
      const dir = service.database!.migrationsDir;
      await readSumFile(dir);
      await verifyIntegrity(dir, await readMigrationDir(dir), { allowMissing: true });
      const file = await createMigrationFile(dir, name);
      const { path: sumPath } = await writeSumFile(dir);
      io.reporter.success(`Created ${shown(file)}`);
      io.reporter.info(`  ${shown(sumPath)} updated: commit it with the migration.`);
      io.reporter.result({ file, sum: sumPath });
      return 0;
    },
    { recover: false },
  );
}

/** What changed in one folder's `airlock.sum`. */
interface HashReport {
  service: string;
  dir: string;
  file: string;
  files: number;
  added: string[];
  changed: string[];
  removed: string[];
  /** The old sum file could not be read: merge conflict markers, or malformed. */
  replaced: 'merge-conflict' | 'malformed' | null;
  /** Changed files already applied somewhere (with the old checksum). */
  appliedElsewhere: Array<{ file: string; environment: string }>;
}

/**
 * `airlock migrate hash`: writes `airlock.sum` for each service's migrations folder (the
 * working tree) and says what changed since the old one.
 */
export async function migrateHashCommand(
  io: CommandIO,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const reports: HashReport[] = [];
      const seen = new Set<string>();
      for (const service of servicesWithDatabase(config, opts.service)) {
        const dir = service.database!.migrationsDir;
        if (seen.has(dir)) continue;
        seen.add(dir);
        let old: SumFile | null = null;
        let replaced: HashReport['replaced'] = null;
        try {
          old = await readSumFile(dir);
        } catch (error) {
          // A conflicted or hand-edited sum is what `hash` repairs, once the files are right.
          if (!hasCode(error, 'MIGRATION_INTEGRITY')) throw error;
          const reason = (error as UserError).details.reason;
          replaced = reason === 'merge-conflict' ? 'merge-conflict' : 'malformed';
        }
        const files = await readMigrationDir(dir);
        const { path: file } = await writeSumFile(dir, files);
        const problems = checkIntegrity(old ?? { version: 1, directory: '', files: [] }, files);
        const of = (kind: string) => problems.filter((p) => p.kind === kind).map((p) => p.filename);
        const changed = of('changed');
        const appliedElsewhere = await appliedWithOtherChecksum(
          config,
          service.name,
          files,
          changed,
        );
        reports.push({
          service: service.name,
          dir,
          file,
          files: files.length,
          added: of('added'),
          changed,
          removed: of('removed'),
          replaced,
          appliedElsewhere,
        });
      }
      for (const r of reports) {
        const what = `${shown(r.file)} (${r.files} file${r.files === 1 ? '' : 's'})`;
        if (r.replaced) {
          io.reporter.warn(
            `${r.service}: the old ${SUM_FILENAME} had ${r.replaced === 'merge-conflict' ? 'merge conflict markers' : 'been edited by hand'}; it is rewritten from the files now in ${shown(r.dir)}.`,
          );
        }
        const changes = r.added.length + r.changed.length + r.removed.length;
        if (changes === 0 && !r.replaced) {
          io.reporter.success(`${r.service}: ${what} is up to date.`);
          continue;
        }
        io.reporter.success(`${r.service}: wrote ${what}.`);
        // Without a readable old sum, every file is listed, not "added".
        for (const f of r.added) io.reporter.info(r.replaced ? `    ${f}` : `  + ${f} (added)`);
        for (const f of r.changed) io.reporter.info(`  ~ ${f} (changed)`);
        for (const f of r.removed) io.reporter.info(`  - ${f} (removed)`);
        for (const a of r.appliedElsewhere) {
          io.reporter.warn(
            `${a.file} already ran on ${a.environment} with its old content: re-hashing does not make the edit safe, and \`airlock migrate apply ${a.environment}\` will refuse it. Revert it (\`git checkout -- ${shown(path.join(r.dir, a.file))}\`) and put the change in a new migration (\`airlock migrate create <name>\`).`,
          );
        }
      }
      io.reporter.result({ services: reports });
      return 0;
    },
    { recover: false },
  );
}

/**
 * The `changed` files some environment's ledger has with another checksum. Best effort: a
 * database that cannot be read (Postgres down) is skipped, since hashing needs no database.
 */
async function appliedWithOtherChecksum(
  config: ResolvedConfig,
  service: string,
  files: MigrationFile[],
  changed: string[],
): Promise<Array<{ file: string; environment: string }>> {
  if (changed.length === 0) return [];
  const out = [];
  for (const environment of config.pipeline) {
    const database = config.environments[environment]?.services[service]?.database;
    if (!database) continue;
    let ledger: Awaited<ReturnType<typeof readLedger>>;
    try {
      ledger = await readLedger(database);
    } catch {
      continue;
    }
    for (const file of files) {
      if (!changed.includes(file.filename)) continue;
      const entry = ledger.find((e) => e.version === file.version);
      if (entry && entry.sha256 !== file.sha256) out.push({ file: file.filename, environment });
    }
  }
  return out;
}

/**
 * `airlock migrate lint`: checks the working tree's files against `airlock.sum`, then lints
 * them with the engine of the first environment's database. By default it reports on the files
 * that environment has not run yet (earlier files give the schema they build); `--all` reports
 * on every file. Exit 1 when a finding is an error.
 */
export async function migrateLintCommand(
  io: CommandIO,
  opts: { service?: string; all?: boolean },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const { formatFinding, lintMigrations } = await import(
        '../migrations/lint/lint-migrations.ts'
      );
      const first = config.pipeline[0] as string;
      const reports = [];
      for (const service of servicesWithDatabase(config, opts.service)) {
        const database = databaseOf(config, first, service.name);
        const files = await verifiedMigrationFiles(database.migrationsDir);
        let only: number[] | undefined;
        if (!opts.all) {
          const ledger = await readLedger(database).catch((error: unknown) => {
            if (!hasCode(error, 'MIGRATION_DATABASE_UNREACHABLE')) throw error;
            const e = error as UserError;
            throw new UserError(e.code, e.message, {
              hint: `Lint reports on the migrations ${first} has not run, so it reads ${first}'s ledger. ${e.hint ?? ''} Or lint every file without reading it: \`airlock migrate lint --all\`.`,
              details: e.details,
              cause: e,
            });
          });
          const applied = new Set(ledger.map((e) => e.version));
          only = files.filter((f) => !applied.has(f.version)).map((f) => f.version);
        }
        const scope = opts.all
          ? `all ${files.length} migration${files.length === 1 ? '' : 's'}`
          : `${only!.length} migration${only!.length === 1 ? '' : 's'} not yet applied on ${first}`;
        if (only && only.length === 0) {
          io.reporter.info(
            `${service.name}: nothing to lint: ${first} has run every migration in ${shown(database.migrationsDir)} (\`airlock migrate lint --all\` lints them all).`,
          );
          reports.push({ service: service.name, environment: first, report: null });
          continue;
        }
        const report = await lintMigrations(files, {
          engine: database.engine,
          ...(only ? { only } : {}),
        });
        io.reporter.info(
          `${service.name}: linting ${scope} (${database.engine}${only && files.length > only.length ? `; ${files.length - only.length} earlier file${files.length - only.length === 1 ? ' gives' : 's give'} the schema` : ''}):`,
        );
        for (const finding of report.findings) {
          const line = `${finding.severity === 'error' ? '✖' : '⚠'} ${formatFinding({ ...finding, file: shown(finding.path) })}`;
          io.reporter.info(line);
        }
        for (const finding of report.suppressed) {
          io.reporter.note(
            `  suppressed: ${shown(finding.path)}:${finding.line}:${finding.col}: ${finding.rule}, because: ${finding.suppressedBecause}`,
          );
        }
        const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
        const summary = `${service.name}: ${n(report.errors, 'error')}, ${n(report.warnings, 'warning')}, ${report.suppressed.length} suppressed in ${n(report.files, 'file')} (${Math.round(report.durationMs)} ms).`;
        if (report.errors > 0) io.reporter.info(`✖ ${summary}`);
        else io.reporter.success(summary);
        reports.push({ service: service.name, environment: first, report });
      }
      const errors = reports.reduce((sum, r) => sum + (r.report?.errors ?? 0), 0);
      io.reporter.result({
        errors,
        warnings: reports.reduce((sum, r) => sum + (r.report?.warnings ?? 0), 0),
        services: reports,
      });
      if (errors > 0) {
        io.reporter.info(
          `Fix the error${errors === 1 ? '' : 's'} above (each says how), mark a deliberate drop or rename as the contract step of an expand/contract change (\`-- airlock:contract\`), or accept a finding with \`-- airlock:lint-ignore <rule> <reason>\`. See docs/migrations.md.`,
        );
        return 1;
      }
      return 0;
    },
    { recover: false },
  );
}

/**
 * `airlock migrate drift <a> <b>`: compares the live schemas of two environments' databases,
 * telling changes made outside migrations (drift: a live schema that differs from what its own
 * ledger's files produce) from differences the pending migrations explain. Exit 1 on drift.
 */
export async function migrateDriftCommand(
  io: CommandIO,
  a: string,
  b: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const envA = environmentNamed(config, a);
      const envB = environmentNamed(config, b);
      if (envA.name === envB.name) {
        throw new UserError('USAGE', `compare two different environments, not ${a} with itself.`, {
          hint: `e.g. \`airlock migrate drift ${config.pipeline[0]} ${config.pipeline[1] ?? '<environment>'}\`.`,
        });
      }
      const { describeSchema } = await import('../migrations/introspect.ts');
      const { detectDrift, driftError } = await import('../migrations/schema-drift.ts');
      const services = servicesWithDatabase(config, opts.service).filter(
        (s) => envA.services[s.name]?.database && envB.services[s.name]?.database,
      );
      const all: DriftResult = {
        drifted: false,
        findings: [],
        explainedByPending: [],
        problems: [],
      };
      const reports = [];
      for (const service of services) {
        const dbA = databaseOf(config, envA.name, service.name);
        const dbB = databaseOf(config, envB.name, service.name);
        const files = await verifiedMigrationFiles(dbA.migrationsDir);
        const side = async (name: string, database: ResolvedDatabase) => ({
          name,
          schema: await describeSchema(await databaseLocation(database)),
          ledger: await readLedger(database),
        });
        const result = await detectDrift(
          { a: await side(envA.name, dbA), b: await side(envB.name, dbB), files },
          dbA.engine === 'postgres' ? { postgresUrl: dbA.url } : {},
        );
        io.reporter.info(`${service.name}: ${envA.name} ↔ ${envB.name} (${dbA.engine}):`);
        for (const f of result.findings) io.reporter.info(`  ✖ drift: ${f.difference.message}`);
        for (const p of result.explainedByPending) {
          io.reporter.info(`  ℹ ${p.difference.message}`);
        }
        for (const p of result.problems) io.reporter.warn(`${p.environment}: ${p.message}`);
        if (!result.drifted) {
          io.reporter.success(
            result.explainedByPending.length === 0
              ? `${service.name}: no drift; ${envA.name} and ${envB.name} have the same schema.`
              : `${service.name}: no drift; the differences above are migrations one environment has not applied yet.`,
          );
        }
        all.drifted ||= result.drifted;
        all.findings.push(...result.findings);
        all.explainedByPending.push(...result.explainedByPending);
        all.problems.push(...result.problems);
        reports.push({ service: service.name, ...result });
      }
      io.reporter.result({ environments: [envA.name, envB.name], services: reports });
      if (all.drifted) {
        const error = driftError(all);
        const n = all.findings.length;
        // The findings are listed above; in --json they are in the error itself.
        throw io.reporter.json
          ? error
          : new UserError(
              error.code,
              `${n} schema difference${n === 1 ? '' : 's'} not explained by migrations (listed above).`,
              { hint: error.hint, details: error.details },
            );
      }
      return 0;
    },
    { recover: false },
  );
}

/** True when the SQLite file at `file` exists and has the table `table`. */
async function sqliteHasTable(file: string, table: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Boolean(
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table),
    );
  } finally {
    db.close();
  }
}

/**
 * The local D1 database to adopt: `--d1-database` (a path, or a binding's database id), else
 * the environment's own SQLite file when it holds `d1_migrations`, else the only local D1
 * database wrangler made in the service's folder.
 */
async function localD1Source(
  config: ResolvedConfig,
  service: ResolvedService,
  own: string,
  given: string | undefined,
): Promise<string> {
  const { findLocalD1Database } = await import('../migrations/local-d1-database.ts');
  const projectDir = path.resolve(config.dir, service.root);
  if (given) {
    const file = path.resolve(given);
    // Not a file and not path-like: the binding's preview_database_id or database_id.
    if (!existsSync(file) && !/[\\/]|\.(sqlite3?|db)$/.test(given)) {
      return findLocalD1Database({ projectDir, databaseId: given });
    }
    return file;
  }
  if (await sqliteHasTable(own, 'd1_migrations')) return own;
  return findLocalD1Database({ projectDir });
}

/**
 * `airlock migrate adopt <env> --from wrangler|supabase`: takes over a database another tool
 * has been migrating, by importing its ledger as Airlock's (no SQL runs). Refuses, writing
 * nothing, when the ledger and the files disagree. Under the environment's lock; audited.
 */
export async function migrateAdoptCommand(
  io: CommandIO,
  environment: string,
  opts: {
    from?: string;
    d1Database?: string;
    dryRun?: boolean;
    service?: string;
    map?: string[];
  },
): Promise<number> {
  const tool = opts.from;
  if (tool !== 'wrangler' && tool !== 'supabase') {
    throw new UserError(
      'USAGE',
      tool
        ? `cannot adopt migrations from "${tool}".`
        : 'say which tool has been running the migrations: --from wrangler or --from supabase.',
      {
        hint: "`--from wrangler` reads the d1_migrations table of a (local) D1 database; `--from supabase` reads supabase_migrations.schema_migrations of the environment's Postgres database.",
      },
    );
  }
  if (opts.d1Database && tool !== 'wrangler') {
    throw new UserError('USAGE', '--d1-database is only for --from wrangler.', {
      hint: "`--from supabase` reads the ledger from the environment's own database.",
    });
  }
  if (opts.map && tool !== 'supabase') {
    throw new UserError('USAGE', '--map is only for --from supabase.', {
      hint: 'wrangler records file names, which must be the Airlock file names exactly.',
    });
  }
  const mapping: Record<string, string> = {};
  for (const pair of opts.map ?? []) {
    const match = /^(\d+)=(\S+\.sql)$/.exec(pair);
    if (!match) {
      throw new UserError('USAGE', `--map ${pair} is not <version>=<file>.`, {
        hint: 'e.g. `--map 20240215093000=0002_pin_notes.sql`: the Supabase version, then the Airlock migration file it ran as.',
      });
    }
    mapping[match[1] as string] = match[2] as string;
  }
  return withSession(io, async (session) => {
    const { ctx } = session;
    const env = environmentNamed(ctx.config, environment);
    const service = oneServiceWithDatabase(ctx.config, opts.service);
    const database = databaseOf(ctx.config, env.name, service.name);
    const files = await verifiedMigrationFiles(database.migrationsDir);
    const { adoptError, adoptLedger } = await import('../migrations/adopt.ts');

    let source: AdoptSource;
    let from: string;
    let target: DatabaseLocation | LedgerTarget | null = null;
    let remote: D1HttpMigrationDriver | null = null;
    if (tool === 'wrangler') {
      if (database.engine === 'postgres') {
        throw new UserError(
          'USAGE',
          `${service.name}'s database on ${env.name} is Postgres, and wrangler's ledger belongs to a D1 (SQLite) database.`,
          { hint: 'Use `--from supabase` for a database the Supabase CLI migrated.' },
        );
      }
      if (database.engine === 'd1' && database.d1?.mode !== 'local') {
        // Cloudflare's D1 (seed 000): wrangler's ledger and the schema through the D1 HTTP API.
        if (opts.d1Database) {
          throw new UserError(
            'USAGE',
            `--d1-database names a local D1 file, but ${service.name}'s database on ${env.name} is Cloudflare's (cloudflare.mode: remote).`,
            { hint: `Run \`airlock migrate adopt ${env.name} --from wrangler\` without it.` },
          );
        }
        const { d1Target } = await import('../providers/cloudflare/d1.ts');
        const { openRemoteD1Driver } = await import('../providers/cloudflare/d1-http-driver.ts');
        const d1 = d1Target(database);
        const driver = await openRemoteD1Driver(database, d1);
        remote = driver;
        const table = d1.migrationsTable ?? 'd1_migrations';
        const rows = await driver.readWranglerLedger(table);
        if (rows.length === 0) {
          await driver.close();
          throw new UserError(
            'MIGRATION_ADOPT_SOURCE_NOT_FOUND',
            `${database.display} has no rows in ${table}: wrangler has not migrated it, so there is nothing to adopt.`,
            {
              hint: `Run \`airlock migrate apply ${env.name}\` to apply every file (a database wrangler migrated under another table: set migrations_table in its [[d1_databases]] entry).`,
            },
          );
        }
        source = { tool: 'wrangler', rows, schema: await databaseLocation(database) };
        from = `${table} in ${database.display}`;
        target = {
          readLedger: () => driver.readLedger(),
          async writeLedger(entries) {
            const release = await driver.lock();
            try {
              await driver.recordEntries(entries);
            } finally {
              await release();
            }
          },
        };
      } else {
        const location = await databaseLocation(database);
        const own = sqlitePathFromUrl(location.url);
        const file = await localD1Source(ctx.config, service, own, opts.d1Database);
        source = { tool: 'wrangler', sqlitePath: file };
        from = `d1_migrations in ${shown(file)}`;
        target = location;
        if (path.resolve(file) !== path.resolve(own)) {
          await sameSchemaOrRefuse(file, own, env.name);
        }
      }
    } else {
      if (database.engine !== 'postgres') {
        throw new UserError(
          'USAGE',
          `${service.name}'s database on ${env.name} is SQLite; Supabase's ledger lives in a Postgres database.`,
          {
            hint: 'Point the environment at the Supabase database (`database: { engine: postgres }` and its `databaseUrl`), or use `--from wrangler` for a D1 database.',
          },
        );
      }
      source = { tool: 'supabase', url: database.url, mapping };
      from = `supabase_migrations.schema_migrations in ${database.display}`;
    }

    if (!opts.dryRun && env.protected) {
      await confirmChange(
        io,
        `Adopt ${tool}'s migration ledger into ${env.name}'s (protected)?`,
        env.name,
      );
    }
    const lock = opts.dryRun
      ? null
      : await acquireEnvironmentLock(ctx, env.name, `migrate adopt --from ${tool}`);
    let result: Awaited<ReturnType<typeof adoptLedger>>;
    try {
      result = await adoptLedger(source, target ?? (await databaseLocation(database)), files, {
        dryRun: Boolean(opts.dryRun),
      });
      if (result.written) {
        await ctx.store.appendAudit({
          at: ctx.now().toISOString(),
          actor: ctx.actor,
          action: 'migrations.adopted',
          environment: env.name,
          releaseId: null,
          runId: null,
          result: 'ok',
          detail: {
            service: service.name,
            tool,
            source: from,
            files: result.adopted.map((e) => fileNameOf(e)),
            skipped: result.skipped.map((s) => s.file),
          },
        });
      }
    } finally {
      await remote?.close();
      await lock?.release();
    }

    io.reporter.info(
      `${service.name} on ${env.name}: ${tool}'s ledger (${from})${opts.dryRun ? ' (dry run: nothing is written)' : ''}:`,
    );
    if (result.adopted.length > 0) {
      io.reporter.table(
        ['VERSION', 'FILE', 'APPLIED', 'BY'],
        result.adopted.map((e) => [
          String(e.version).padStart(4, '0'),
          fileNameOf(e),
          e.appliedAt.replace('T', ' ').slice(0, 19),
          e.appliedBy,
        ]),
      );
    }
    for (const s of result.skipped) io.reporter.info(`  = ${s.file}: skipped (${s.reason})`);
    for (const p of result.problems) io.reporter.info(`  ✖ ${p.message}`);
    io.reporter.result({
      environment: env.name,
      service: service.name,
      tool,
      source: from,
      dryRun: Boolean(opts.dryRun),
      ...result,
    });
    if (result.problems.length > 0) {
      const error = adoptError(result);
      const n = result.problems.length;
      throw io.reporter.json
        ? error
        : new UserError(
            error.code,
            `Refusing to adopt ${tool}'s ledger (${n} problem${n === 1 ? '' : 's'}, listed above); nothing was written.`,
            { hint: error.hint, details: error.details },
          );
    }
    const n = result.adopted.length;
    const migrations = `${n} migration${n === 1 ? '' : 's'}`;
    if (opts.dryRun) {
      io.reporter.success(
        n === 0
          ? `Nothing to adopt: ${env.name}'s ledger already has every migration ${tool} ran.`
          : `Would adopt ${migrations} into ${env.name}'s ledger. Run the command again without --dry-run to write ${n === 1 ? 'it' : 'them'}.`,
      );
    } else if (n === 0) {
      io.reporter.success(
        `Nothing to adopt: ${env.name}'s ledger already has every migration ${tool} ran.`,
      );
    } else {
      io.reporter.success(
        `Adopted ${migrations} into ${env.name}'s ledger without running them; \`airlock migrate apply ${env.name}\` runs only newer files from now on.`,
      );
    }
    return 0;
  });
}

/** `0001_create_notes.sql` for a ledger row. */
function fileNameOf(entry: { version: number; name: string }): string {
  return `${String(entry.version).padStart(4, '0')}_${entry.name}.sql`;
}

/**
 * Adopting a D1 file's ledger into another file (the environment's) is only right when that
 * file holds the same schema: otherwise its ledger would claim migrations it never ran.
 */
async function sameSchemaOrRefuse(source: string, target: string, environment: string) {
  const { describeSchema } = await import('../migrations/introspect.ts');
  const { compareSchemas } = await import('../migrations/schema-compare.ts');
  if (!existsSync(source)) return; // adoptLedger reports the missing source
  const differences = compareSchemas(
    await describeSchema({ engine: 'sqlite', url: source }),
    await describeSchema({ engine: 'sqlite', url: target }),
    { a: `the D1 database`, b: `${environment}'s database` },
  );
  if (differences.length === 0) return;
  throw new UserError(
    'MIGRATION_ADOPT_MISMATCH',
    `${environment}'s database (${shown(target)}) is not the D1 database wrangler migrated (${shown(source)}): ${differences
      .slice(0, 5)
      .map((d) => d.message)
      .join(
        '; ',
      )}${differences.length > 5 ? `; and ${differences.length - 5} more` : ''}. Nothing was written.`,
    {
      hint: `Adopt the database ${environment} really uses: with wrangler stopped, copy the D1 file (and its -wal file, if any) to ${shown(target)}, then run the command again.`,
      details: { source, target, differences },
    },
  );
}
