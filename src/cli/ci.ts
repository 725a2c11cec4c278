import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CI_FLOWS,
  type CiFlow,
  generateWorkflows,
  secretsByEnvironment,
} from '../ci/github-workflows.ts';
import { monitorSecretNames } from '../ci/workflow-secrets.ts';
import { UserError } from '../errors.ts';
import { runCi } from '../pipeline/ci-run.ts';
import { repoRoot } from '../releases/git.ts';
import type { CommandIO } from './command-io.ts';
import { loadProjectConfig, withSession } from './session.ts';

/** `airlock ci run [--commit SHA]`. */
export async function ciRunCommand(io: CommandIO, opts: { commit?: string }): Promise<number> {
  return withSession(io, async ({ ctx }) => {
    const result = await runCi(ctx, {
      signal: io.signal,
      ...(opts.commit ? { commit: opts.commit } : {}),
      onLine: (line) => {
        if (io.reporter.verbose) io.reporter.note(`    ${line}`);
      },
    });
    if (result.status === 'passed')
      io.reporter.success(
        `CI ${result.summary} at ${result.commit.slice(0, 7)} (recorded: the ci gate sees it).`,
      );
    else {
      io.reporter.info(`✖ CI ${result.summary} at ${result.commit.slice(0, 7)}:`);
      io.reporter.note(
        result.output
          .split('\n')
          .slice(-10)
          .map((l) => `    ${l}`)
          .join('\n'),
      );
    }
    io.reporter.result({ ci: result });
    return result.status === 'passed' ? 0 : 1;
  });
}

/**
 * `airlock ci init github [--flow manual|automatic|staging-branch] [--force] [--print]`:
 * writes a promotion flow's workflows under the repository's `.github/workflows/` (manual,
 * automatic or staging-branch; see docs/github-actions.md). The default flow
 * follows the last environment's promotion policy. An existing file that differs is kept unless `--force`.
 */
export async function ciInitCommand(
  io: CommandIO,
  provider: string,
  opts: { flow?: string; force?: boolean; print?: boolean; node?: string; install?: string },
): Promise<number> {
  if (provider !== 'github') {
    throw new UserError('USAGE', `there is no CI provider "${provider}".`, {
      hint: 'Run `airlock ci init github`; GitHub Actions is the only provider for now.',
    });
  }
  const config = await loadProjectConfig(io.globals);
  const last = config.environments[config.pipeline[config.pipeline.length - 1] as string];
  const flow = (opts.flow ??
    (last?.promotion.policy === 'automatic' ? 'automatic' : 'manual')) as CiFlow;
  if (!CI_FLOWS.includes(flow)) {
    throw new UserError(
      'USAGE',
      `--flow must be one of ${CI_FLOWS.join(', ')}, got "${opts.flow}".`,
      {
        hint: 'manual: production is promoted on a workflow dispatch or a v* tag; automatic: as soon as every gate holds; staging-branch: staging deploys from the staging branch, production from main (see docs/github-actions.md).',
      },
    );
  }
  const workflows = generateWorkflows(config, {
    flow,
    ...(opts.node ? { nodeVersion: opts.node } : {}),
    ...(opts.install ? { install: opts.install } : {}),
  });
  const secrets = secretsByEnvironment(config);
  if (opts.print) {
    for (const w of workflows) process.stdout.write(`# ---- ${w.path}\n${w.content}`);
    io.reporter.result({ flow, workflows, secrets });
    return 0;
  }
  const root = await repoRoot(config.dir);
  const written: string[] = [];
  const kept: string[] = [];
  for (const w of workflows) {
    const file = path.join(root, w.path);
    const existing = existsSync(file) ? readFileSync(file, 'utf8') : null;
    if (existing === w.content) continue;
    if (existing !== null && !opts.force) {
      kept.push(w.path);
      continue;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, w.content);
    written.push(w.path);
  }
  // Another flow's workflows (switching flows) would still run on their triggers: a file that
  // `ci init` generated and this flow does not is removed with --force, reported otherwise.
  const removed: string[] = [];
  const others: string[] = [];
  for (const stale of staleWorkflows(root, workflows)) {
    if (opts.force) {
      rmSync(path.join(root, stale));
      removed.push(stale);
    } else others.push(stale);
  }
  for (const stale of removed) io.reporter.info(`✖ removed ${stale}: not part of the ${flow} flow`);
  for (const w of workflows) {
    const mark = written.includes(w.path)
      ? '✔ wrote'
      : kept.includes(w.path)
        ? '! kept '
        : '= same ';
    io.reporter.info(`${mark} ${w.path}: ${w.description}`);
  }
  for (const [env, names] of Object.entries(secrets))
    io.reporter.info(`  secrets of the GitHub environment ${env}: ${names.join(', ')}`);
  const monitor = monitorSecretNames(config);
  io.reporter.info(
    `  repository secrets of the monitor (read-only platform tokens): ${monitor.join(', ')}`,
  );
  io.reporter.result({
    flow,
    written,
    kept: [...kept, ...others],
    removed,
    workflows: workflows.map((w) => w.path),
    secrets,
    monitorSecrets: monitor,
  });
  if (kept.length > 0 || others.length > 0) {
    const differ = kept.length
      ? `${kept.join(', ')} already exist${kept.length === 1 ? 's' : ''} and differ${kept.length === 1 ? 's' : ''} from what ${flow} generates; left unchanged.`
      : '';
    const stale = others.length
      ? `${others.join(', ')} ${others.length === 1 ? 'belongs' : 'belong'} to another flow and would still run; left in place.`
      : '';
    throw new UserError('USAGE', [differ, stale].filter(Boolean).join(' '), {
      hint: "Compare with `airlock ci init github --print`, then re-run with --force to replace them (and remove the other flow's files).",
    });
  }
  io.reporter.success(
    `${flow} flow: ${written.length ? `wrote ${written.length} workflow file${written.length === 1 ? '' : 's'}` : 'workflows already up to date'}${removed.length ? `, removed ${removed.length} of another flow` : ''}. Commit .github/workflows/; see docs/github-actions.md for the secrets and environments to create.`,
  );
  return 0;
}

/**
 * The workflow files under `<root>/.github/workflows/` that `ci init` generated (their header
 * says so) and `workflows` no longer includes: another flow's, after switching flows.
 * Paths are relative to `root`.
 */
function staleWorkflows(root: string, workflows: readonly { path: string }[]): string[] {
  const dir = path.join(root, '.github', 'workflows');
  if (!existsSync(dir)) return [];
  const current = new Set(workflows.map((w) => w.path));
  return readdirSync(dir)
    .filter((name) => /^airlock-[\w-]+\.ya?ml$/.test(name))
    .map((name) => `.github/workflows/${name}`)
    .filter(
      (file) =>
        !current.has(file) &&
        readFileSync(path.join(root, file), 'utf8')
          .slice(0, 400)
          .includes('Generated by `airlock ci init github'),
    )
    .sort();
}
