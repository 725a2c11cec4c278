/**
 * The generated workflows' steps, run for real (test/ci/workflow-runner.ts): the notes example in
 * a fresh git repository, Airlock's state in a real Postgres database (team mode: the only
 * thing, with the local environments, that outlives a job), this repository's CLI, and the
 * release travelling between jobs and workflow runs only as the uploaded artifact.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { type CiFlow, generateWorkflows } from '../../src/ci/github-workflows.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { BIN, exampleProject, liveVersion, type TestProject } from '../helpers/project.ts';
import { type WorkflowEvent, type WorkflowRun, WorkflowRunner } from './workflow-runner.ts';

/** GitHub logins: the one who merges and dispatches, and a second person who reviews. */
const DEV = 'octo-dev';
const REVIEWER = 'octo-reviewer';
const STAGING = '.github/workflows/airlock-staging.yml';
const PRODUCTION = '.github/workflows/airlock-production.yml';
const DEPLOY = '.github/workflows/airlock-deploy.yml';

/** Whether the CLI has `promote --auto` yet (the automatic flow's production step needs it). */
const HAS_AUTO = execFileSync(process.execPath, [BIN, 'promote', '--help'], {
  encoding: 'utf8',
}).includes('--auto');

interface Setup {
  project: TestProject;
  runner: WorkflowRunner;
  db: TestDatabase;
}
const setups: Setup[] = [];

afterEach(async () => {
  for (const { project, runner, db } of setups.splice(0)) {
    await project.cleanup();
    runner.cleanup();
    await db.drop();
  }
});

function git(project: TestProject, ...args: string[]): string {
  return execFileSync('git', args, { cwd: project.dir, encoding: 'utf8' }).trim();
}

/** The notes example with the flow's workflows committed, on Postgres state. */
async function setup(
  flow: CiFlow,
  edit?: Parameters<TestProject['editConfig']>[0],
): Promise<Setup> {
  const db = await createTestDatabase('airlock_ci');
  const project = await exampleProject({ env: { AIRLOCK_STATE_URL: db.url } });
  const runner = new WorkflowRunner(project.dir, db.url);
  setups.push({ project, runner, db });
  if (edit) project.editConfig(edit);
  const config = loadConfig({
    cwd: project.dir,
    env: { ...process.env, AIRLOCK_STATE_URL: db.url },
  });
  const files = generateWorkflows(config, { flow });
  project.commitFiles(
    Object.fromEntries(files.map((f) => [f.path, f.content])),
    `Add the Airlock workflows (${flow})`,
  );
  return { project, runner, db };
}

function push(project: TestProject, branch: string): WorkflowEvent {
  return {
    name: 'push',
    sha: git(project, 'rev-parse', branch),
    ref: `refs/heads/${branch}`,
    actor: DEV,
  };
}

/** Asserts each job's status, showing the jobs' logs when one differs. */
function expectJobs(run: WorkflowRun, expected: Record<string, string>): void {
  const actual = Object.fromEntries(Object.entries(run.jobs).map(([id, job]) => [id, job.status]));
  const logs = Object.entries(run.jobs)
    .map(([id, job]) => `== ${id}: ${job.status}\n${job.log}`)
    .join('\n');
  expect(actual, logs).toEqual(expected);
}

async function approve(project: TestProject, release: string, as: string) {
  const result = await project.cli([
    'approve',
    'production',
    '--release',
    release,
    '--as',
    as,
    '--json',
  ]);
  return JSON.parse(result.stdout) as { ok: boolean; error?: { code: string } };
}

async function releases(project: TestProject): Promise<Array<{ id: string; commit: string }>> {
  const result = await project.cli(['releases', '--json']);
  return (JSON.parse(result.stdout) as { releases: Array<{ id: string; commit: string }> })
    .releases;
}

async function serving(project: TestProject, environment: 'staging' | 'production') {
  return liveVersion(project.url(environment)).catch(() => null);
}

describeIfPostgres('generated workflows, run for real against the local target', () => {
  it('manual: a PR verifies; a merge builds once and deploys staging; approved, dispatch and a tag promote the same bytes', {
    timeout: 240_000,
  }, async () => {
    const { project, runner } = await setup('manual');

    // A pull request runs the checks and the build, and deploys nothing.
    let run = await runner.run(STAGING, {
      name: 'pull_request',
      sha: git(project, 'rev-parse', 'main'),
      ref: 'refs/pull/1/merge',
      actor: DEV,
    });
    expectJobs(run, { verify: 'success', 'deploy-staging': 'skipped' });
    expect(await releases(project)).toEqual([]);

    // The merge: verify, build r1 once, upload it, deploy it to staging with checks.
    run = await runner.run(STAGING, push(project, 'main'));
    expectJobs(run, { verify: 'success', 'deploy-staging': 'success' });
    const r1 = run.jobs['deploy-staging']?.outputs ?? {};
    expect(r1.release).toBe('r1');
    expect(r1.artifact).toBe(`airlock-notes-${r1.digest}`);
    expect(runner.artifacts()).toEqual({ [r1.artifact as string]: run.runId });
    expect((await serving(project, 'staging'))?.release).toBe('r1');

    // Dispatched before anyone approved: the gate refuses, naming the approval; nothing changes.
    run = await runner.run(PRODUCTION, {
      name: 'workflow_dispatch',
      sha: git(project, 'rev-parse', 'main'),
      ref: 'refs/heads/main',
      actor: DEV,
      inputs: { release: '' },
    });
    expectJobs(run, { 'promote-production': 'failure' });
    expect(run.jobs['promote-production']?.log).toMatch(/approval/);
    expect(await serving(project, 'production')).toBeNull();

    // The merger cannot approve their own release (GitHub login as the identity); a reviewer can.
    expect((await approve(project, 'r1', DEV)).error?.code).toBe('SELF_APPROVAL');
    expect((await approve(project, 'r1', REVIEWER)).ok).toBe(true);

    // Dispatched again (input empty: what staging serves): the same artifact goes to production.
    run = await runner.run(PRODUCTION, {
      name: 'workflow_dispatch',
      sha: git(project, 'rev-parse', 'main'),
      ref: 'refs/heads/main',
      actor: DEV,
      inputs: { release: '' },
    });
    expectJobs(run, { 'promote-production': 'success' });
    expect(run.jobs['promote-production']?.log).toContain(`downloaded ${r1.artifact} from run 2`);
    const [staging1, production1] = [
      await serving(project, 'staging'),
      await serving(project, 'production'),
    ];
    expect(production1?.release).toBe('r1');
    expect(production1?.digest).toBe(staging1?.digest);

    // Commit 2 is merged (r2 on staging), approved, and a v2 tag on it promotes r2.
    git(project, 'checkout', '-q', 'main');
    project.commit('2-pinned-notes');
    run = await runner.run(STAGING, push(project, 'main'));
    expectJobs(run, { verify: 'success', 'deploy-staging': 'success' });
    expect(run.jobs['deploy-staging']?.outputs.release).toBe('r2');
    expect((await approve(project, 'r2', REVIEWER)).ok).toBe(true);
    git(project, 'tag', 'v2', 'main');
    run = await runner.run(PRODUCTION, {
      name: 'push',
      sha: git(project, 'rev-parse', 'v2^{commit}'),
      ref: 'refs/tags/v2',
      actor: DEV,
    });
    expectJobs(run, { 'promote-production': 'success' });
    const [staging2, production2] = [
      await serving(project, 'staging'),
      await serving(project, 'production'),
    ];
    expect(production2?.release).toBe('r2');
    expect(production2?.digest).toBe(staging2?.digest);

    // Built once per commit, never again for production.
    expect((await releases(project)).map((r) => r.id).sort()).toEqual(['r1', 'r2']);
  });

  it('staging-branch: a push to staging deploys it; a push to main promotes that commit’s release, never rebuilt', {
    timeout: 240_000,
  }, async () => {
    const { project, runner } = await setup('staging-branch');
    git(project, 'branch', 'staging', 'main');

    let run = await runner.run(STAGING, push(project, 'staging'));
    expectJobs(run, { verify: 'success', 'deploy-staging': 'success' });
    expect((await serving(project, 'staging'))?.release).toBe('r1');
    expect((await approve(project, 'r1', REVIEWER)).ok).toBe(true);

    // main = staging (fast-forward): the release built from this very commit.
    run = await runner.run(PRODUCTION, push(project, 'main'));
    expectJobs(run, { 'promote-production': 'success' });
    expect((await serving(project, 'production'))?.release).toBe('r1');

    // Commit 2 on staging.
    git(project, 'checkout', '-q', 'staging');
    project.commit('2-pinned-notes');
    const first = await runner.run(STAGING, push(project, 'staging'));
    expectJobs(first, { verify: 'success', 'deploy-staging': 'success' });
    const r2 = first.jobs['deploy-staging']?.outputs ?? {};
    expect(r2.release).toBe('r2');

    // A re-run finds r2 built already: it fetches the uploaded artifact instead of rebuilding.
    run = await runner.run(STAGING, push(project, 'staging'));
    expectJobs(run, { verify: 'success', 'deploy-staging': 'success' });
    expect(run.jobs['deploy-staging']?.log).toContain(
      `downloaded ${r2.artifact} from run ${first.runId}`,
    );
    expect(runner.artifacts()[r2.artifact as string]).toBe(first.runId);
    expect((await approve(project, 'r2', REVIEWER)).ok).toBe(true);

    // A merge commit on main with exactly staging's files promotes what staging serves.
    git(project, 'checkout', '-q', 'main');
    git(project, 'merge', '-q', '--no-ff', '-m', 'Merge staging', 'staging');
    run = await runner.run(PRODUCTION, push(project, 'main'));
    expectJobs(run, { 'promote-production': 'success' });
    expect(run.jobs['promote-production']?.log).toContain('No release was built from');
    const [staging2, production2] = [
      await serving(project, 'staging'),
      await serving(project, 'production'),
    ];
    expect(production2?.release).toBe('r2');
    expect(production2?.digest).toBe(staging2?.digest);

    // A commit on main that staging never saw is refused, and production keeps r2.
    git(project, 'checkout', '-q', 'main');
    project.commitFiles({ 'NOTES.md': 'hotfix straight on main\n' }, 'Hotfix on main');
    run = await runner.run(PRODUCTION, push(project, 'main'));
    expectJobs(run, { 'promote-production': 'failure' });
    expect(run.jobs['promote-production']?.log).toMatch(/is not the commit staging serves/);
    expect((await serving(project, 'production'))?.release).toBe('r2');
    expect((await releases(project)).map((r) => r.id).sort()).toEqual(['r1', 'r2']);
  });

  it(`automatic: a merge deploys staging, then production follows in the same run${HAS_AUTO ? '' : ' (production step skipped: the CLI has no promote --auto yet)'}`, {
    timeout: 240_000,
  }, async () => {
    const { project, runner } = await setup('automatic', (doc) => {
      doc.setIn(['environments', 'production', 'promotion'], 'automatic');
    });
    let run = await runner.run(DEPLOY, push(project, 'main'));
    const staging = await serving(project, 'staging');
    expect(staging?.release).toBe('r1');
    if (!HAS_AUTO) {
      // The staging job never follows into production (--no-follow, even with an automatic
      // policy): production is the next job's, with production's secrets.
      expectJobs(run, {
        verify: 'success',
        'deploy-staging': 'success',
        'promote-production': 'failure',
      });
      expect(run.jobs['promote-production']?.log).toMatch(/unknown option '--auto'/);
      expect(await serving(project, 'production')).toBeNull();
      return;
    }
    expectJobs(run, {
      verify: 'success',
      'deploy-staging': 'success',
      'promote-production': 'success',
    });
    const production = await serving(project, 'production');
    expect(production?.release).toBe('r1');
    expect(production?.digest).toBe(staging?.digest);

    // Two merges close together: run A deploys r2 to staging, run B deploys r3 and promotes it
    // before A's production job starts. A's job then leaves production to B (the bytes it
    // downloaded are r2's) instead of failing or promoting r2 over r3.
    git(project, 'checkout', '-q', 'main');
    project.commit('2-pinned-notes');
    const a = await runner.run(DEPLOY, push(project, 'main'), {
      only: ['verify', 'deploy-staging'],
    });
    expect(a.jobs['deploy-staging']?.outputs.release).toBe('r2');
    git(project, 'checkout', '-q', 'main');
    // (A file in src/: the artifact changes. Same bytes would make the same digest, which A
    // could promote just as well.)
    project.commitFiles({ 'src/NOTICE.txt': 'notes r3\n' }, 'Ship a notice with the app');
    run = await runner.run(DEPLOY, push(project, 'main'));
    expectJobs(run, {
      verify: 'success',
      'deploy-staging': 'success',
      'promote-production': 'success',
    });
    expect((await serving(project, 'production'))?.release).toBe('r3');
    run = await runner.run(DEPLOY, push(project, 'main'), { of: a, only: ['promote-production'] });
    expectJobs(run, {
      verify: 'success',
      'deploy-staging': 'success',
      'promote-production': 'success',
    });
    expect(run.runId).toBe(a.runId);
    expect(run.jobs['promote-production']?.log).toContain(
      '::notice title=Superseded::staging now serves another release',
    );
    expect((await serving(project, 'production'))?.release).toBe('r3');
    expect((await releases(project)).map((r) => r.id).sort()).toEqual(['r1', 'r2', 'r3']);
  });
});
