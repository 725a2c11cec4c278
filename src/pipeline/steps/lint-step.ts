import { STYLE_RULES } from '../../migrations/lint/rules.ts';
import type { LintFinding } from '../../migrations/lint/types.ts';
import { planMigrations } from '../../migrations/migrator.ts';
import { audit } from '../../state/audit.ts';
import type { Step } from '../engine.ts';
import { releaseMigrationFiles } from '../release-migration-files.ts';
import type { DeploymentRun } from './deployment-run.ts';

/** Findings shown in the step's message; `airlock migrate lint` lists them all. */
const SHOWN = 3;
const SHOWN_WARNINGS = 5;

/**
 * Lints the migrations a release would bring into the first environment, before any of them
 * runs there ("`airlock migrate lint` runs by itself before a migration reaches
 * staging"). An error-level finding fails the step, so nothing is migrated or switched; every
 * suppressed finding is audited with its `-- airlock:lint-ignore` reason.
 */
export function lintStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `lint:${service}`,
    title,
    when: 'on-success',
    async run(ctx) {
      const database = d.env.services[service]?.database;
      const artifact = d.release.services[service];
      if (!database || !artifact?.migrationsDigest)
        return { status: 'succeeded', message: 'no migrations' };
      const files = await releaseMigrationFiles(d.ctx, service, artifact.migrationsDigest);
      const pending = planMigrations(files, await d.ctx.databases.readLedger(database)).pending;
      if (pending.length === 0) return { status: 'succeeded', message: 'nothing pending' };
      ctx.progress(`linting ${pending.length} file${pending.length === 1 ? '' : 's'}`);
      // Loaded on demand: the SQL parser is large, and most deployments have nothing to lint.
      const { lintMigrations } = await import('../../migrations/lint/lint-migrations.ts');
      const report = await lintMigrations(files, {
        engine: database.engine,
        only: pending.map((f) => f.version),
      });
      if (report.suppressed.length > 0) {
        await audit(d.ctx, 'migrations.lint_suppressed', {
          environment: d.env.name,
          releaseId: d.release.id,
          runId: d.runId,
          detail: {
            service,
            suppressed: report.suppressed.map((f) => ({
              rule: f.rule,
              file: f.file,
              line: f.line,
              reason: f.suppressedBecause,
            })),
          },
        });
      }
      const output = {
        errors: report.errors,
        warnings: report.warnings,
        findings: report.findings.map(({ rule, severity, file, line, col, message, fix }) => ({
          rule,
          severity,
          file,
          line,
          col,
          message,
          fix,
        })),
        suppressed: report.suppressed.map((f) => ({
          rule: f.rule,
          file: f.file,
          reason: f.suppressedBecause,
        })),
      };
      const summary = `${report.files} file${report.files === 1 ? '' : 's'}: ${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}${report.suppressed.length ? `, ${report.suppressed.length} suppressed` : ''}`;
      const where = (f: LintFinding) => `${f.path}:${f.line}: ${f.rule}: ${f.message}`;
      const warningLines = warningSummary(
        report.findings.filter((f) => f.severity === 'warning'),
        where,
      );
      if (report.errors > 0) {
        const errors = report.findings.filter((f) => f.severity === 'error');
        const shown = errors.slice(0, SHOWN).map(where).join('; ');
        return {
          status: 'failed',
          message: `${summary} — ${sentence(`${shown}${errors.length > SHOWN ? `; and ${errors.length - SHOWN} more` : ''}`)} See every finding and its fix with \`airlock migrate lint\`.${warningLines}`,
          output,
        };
      }
      return { status: 'succeeded', message: `${summary}${warningLines}`, output };
    },
  };
}

/** `text` ending as a sentence: a finding's own message may already end with a period. */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/**
 * The warnings under a lint step's summary: each hazard on a line of its own (a warning may
 * predict a failure further down the pipeline), at most `SHOWN_WARNINGS`, then the type and
 * style advice ({@link STYLE_RULES}) counted on one line with its rules.
 */
export function warningSummary(
  warnings: readonly LintFinding[],
  where: (f: LintFinding) => string,
): string {
  const hazards = warnings.filter((f) => !STYLE_RULES.has(f.rule));
  const style = warnings.filter((f) => STYLE_RULES.has(f.rule));
  const more = hazards.length - SHOWN_WARNINGS;
  return [
    ...hazards.slice(0, SHOWN_WARNINGS).map((f) => `\n    warning: ${where(f)}`),
    ...(more > 0
      ? [
          `\n    and ${more} more warning${more === 1 ? '' : 's'} (\`airlock migrate lint\` lists them all)`,
        ]
      : []),
    ...(style.length > 0
      ? [
          `\n    ${hazards.length > 0 ? 'and ' : ''}${style.length} type or style suggestion${style.length === 1 ? '' : 's'} (${[...new Set(style.map((f) => f.rule))].join(', ')}; \`airlock migrate lint\` lists them)`,
        ]
      : []),
  ].join('');
}
