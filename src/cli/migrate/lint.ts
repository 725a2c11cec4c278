/**
 * `airlock migrate lint`: checks the working tree's files against `airlock.sum`, then lints
 * them with the engine of the first environment's database. By default it reports on the files
 * that environment has not run yet (earlier files give the schema they build); `--all` reports
 * on every file. Exit 1 when a finding is an error.
 *
 * `--format`: `text` (default), `json` (the object `--json` prints), `sarif` (a SARIF 2.1.0 log
 * for GitHub code scanning) or `github` (workflow annotations on the pull request's diff). With
 * a format other than text, stdout carries only the document; the summary goes to stderr.
 */
import { UserError } from '../../errors.ts';
import { formatFinding } from '../../migrations/lint/lint-migrations.ts';
import { lintGithubAnnotations, lintSarif } from '../../migrations/lint/lint-output.ts';
import type { LintFinding, LintReport } from '../../migrations/lint/types.ts';
import { lintPendingMigrations } from '../../migrations/lint-pending.ts';
import { verifiedMigrationFiles } from '../../migrations/verified-migration-files.ts';
import { databaseOf } from '../../pipeline/context.ts';
import type { CommandIO } from '../command-io.ts';
import { withSession } from '../session.ts';
import { environmentDatabase, servicesWithDatabase, shown } from './migration-sources.ts';

/** The output formats of `airlock migrate lint --format`. */
export const LINT_FORMATS = ['text', 'json', 'sarif', 'github'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];

/** The version the SARIF log names (the CLI's). */
const AIRLOCK_VERSION = '0.1.0';

export async function migrateLintCommand(
  io: CommandIO,
  opts: { service?: string; all?: boolean; format?: string },
): Promise<number> {
  const format = lintFormat(opts.format, io.reporter.json);
  // With --json the reporter prints the result object; `--format json` prints the same object
  // as a document, so stdout carries nothing else.
  const document = format !== 'text' && !io.reporter.json;
  const say = (text: string) => (document ? io.reporter.aside(text) : io.reporter.info(text));
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const first = config.pipeline[0] as string;
      const reports = [];
      for (const service of servicesWithDatabase(config, opts.service)) {
        const database = databaseOf(config, first, service.name);
        const files = await verifiedMigrationFiles(database.migrationsDir, database.layout);
        const { only, report } = await lintPendingMigrations(
          files,
          database.engine,
          opts.all ? null : environmentDatabase(session.ctx, first, service.name),
        );
        if (!report) {
          say(
            `${service.name}: nothing to lint: ${first} has run every migration in ${shown(database.migrationsDir)} (\`airlock migrate lint --all\` lints them all).`,
          );
          reports.push({ service: service.name, environment: first, report: null });
          continue;
        }
        const plural = (count: number) => (count === 1 ? '' : 's');
        const scope = only
          ? `${only.length} migration${plural(only.length)} not yet applied on ${first}`
          : `all ${files.length} migration${plural(files.length)}`;
        const earlier = files.length - (only?.length ?? files.length);
        say(
          `${service.name}: linting ${scope} (${database.engine}${earlier > 0 ? `; ${earlier} earlier file${earlier === 1 ? ' gives' : 's give'} the schema` : ''}):`,
        );
        if (!document) {
          for (const finding of report.findings) {
            const line = `${finding.severity === 'error' ? '✖' : '⚠'} ${formatFinding({ ...finding, file: shown(finding.path) })}`;
            io.reporter.info(line);
          }
          for (const finding of report.suppressed) {
            io.reporter.note(
              `  suppressed: ${shown(finding.path)}:${finding.line}:${finding.col}: ${finding.rule}, because: ${finding.suppressedBecause}`,
            );
          }
        }
        const n = (count: number, what: string) => `${count} ${what}${plural(count)}`;
        const summary = `${service.name}: ${n(report.errors, 'error')}, ${n(report.warnings, 'warning')}, ${report.suppressed.length} suppressed in ${n(report.files, 'file')} (${Math.round(report.durationMs)} ms).`;
        if (document) say(`${report.errors > 0 ? '✖' : '✔'} ${summary}`);
        else if (report.errors > 0) io.reporter.info(`✖ ${summary}`);
        else io.reporter.success(summary);
        reports.push({ service: service.name, environment: first, report });
      }
      const errors = reports.reduce((sum, r) => sum + (r.report?.errors ?? 0), 0);
      const result = {
        errors,
        warnings: reports.reduce((sum, r) => sum + (r.report?.warnings ?? 0), 0),
        services: reports,
      };
      io.reporter.result(result);
      if (document) {
        const linted = reports.flatMap((r) => (r.report ? [r.report] : []));
        io.reporter.document(
          format === 'json'
            ? JSON.stringify({ ok: errors === 0, ...result }, null, 2)
            : renderDocument(format as 'sarif' | 'github', linted),
        );
      }
      if (errors > 0) {
        say(
          `Fix the error${errors === 1 ? '' : 's'} above (each says how and links its rule in docs/lint-rules.md), mark a deliberate drop or rename as the contract step of an expand/contract change (\`-- airlock:contract\`), or accept a finding on its statement with \`-- airlock:lint-ignore <rule> <reason>\`. See docs/migrations.md.`,
        );
        return 1;
      }
      return 0;
    },
    { recover: false },
  );
}

/**
 * The format asked for, checked.
 * @throws UserError `USAGE` for an unknown format, or `sarif`/`github` with `--json`.
 */
function lintFormat(format: string | undefined, json: boolean): LintFormat {
  const chosen = (format ?? (json ? 'json' : 'text')) as LintFormat;
  if (!LINT_FORMATS.includes(chosen)) {
    throw new UserError('USAGE', `Unknown lint output format "${format}".`, {
      hint: `The formats are ${LINT_FORMATS.join(', ')} (e.g. \`airlock migrate lint --format sarif > lint.sarif\`).`,
    });
  }
  if (json && (chosen === 'sarif' || chosen === 'github')) {
    throw new UserError('USAGE', `\`--json\` and \`--format ${chosen}\` both claim stdout.`, {
      hint: `Use one: \`airlock migrate lint --format ${chosen}\`, or \`airlock migrate lint --json\`.`,
    });
  }
  return chosen;
}

/** The SARIF log or the annotations of every service's report. */
function renderDocument(format: 'sarif' | 'github', reports: LintReport[]): string {
  const findings: LintFinding[] = reports.flatMap((r) => r.findings);
  const root = process.cwd();
  if (format === 'github') return lintGithubAnnotations(findings, { root }).join('\n');
  const suppressed = reports.flatMap((r) => r.suppressed);
  return JSON.stringify(
    lintSarif(findings, suppressed, { root, version: AIRLOCK_VERSION }),
    null,
    2,
  );
}
