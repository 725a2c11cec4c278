/**
 * What the generated jobs share: the {@link JobContext} they are built from, the steps that set
 * a job up (check out, Node.js, install), fetching a release artifact uploaded by any run, and
 * one concurrency group per environment.
 */
import path from 'node:path';
import type { ResolvedConfig } from '../config/resolve.ts';
import type { CiFlow } from './github-workflows.ts';
import { PINNED_ACTIONS, usesOf } from './pinned-actions.ts';
import { FIND_ARTIFACT_SCRIPT, RELEASE_DIR, UNPACK_RELEASE_SCRIPT } from './release-scripts.ts';
import type { WorkflowJob, WorkflowStep } from './workflow-yaml.ts';

/** What every job generator needs. */
export interface JobContext {
  config: ResolvedConfig;
  flow: CiFlow;
  nodeVersion: string;
  install: string;
  verify: readonly string[];
  /** The project folder relative to the repository root ('' when it is the root). */
  projectDir: string;
  first: string;
  last: string;
}

/** One group per environment: deploys to it queue, never cancel each other. */
export function concurrencyOf(ctx: JobContext, environment: string): WorkflowJob['concurrency'] {
  return { group: `airlock-${ctx.config.project}-${environment}`, 'cancel-in-progress': false };
}

/** Check out (the full history when `fullHistory`), set up Node.js, install dependencies. */
export function setupSteps(ctx: JobContext, fullHistory: boolean): WorkflowStep[] {
  const lockfile = path.posix.join(ctx.projectDir || '.', 'package-lock.json');
  const npm = /^npm\s+(ci|install|i)\b/.test(ctx.install);
  return [
    {
      name: 'Check out',
      uses: usesOf(PINNED_ACTIONS.checkout),
      with: {
        'persist-credentials': false,
        // Command checks run from the release's own commit, which may be older than this one.
        ...(fullHistory ? { 'fetch-depth': 0 } : {}),
      },
    },
    {
      name: `Set up Node.js ${ctx.nodeVersion}`,
      uses: usesOf(PINNED_ACTIONS.setupNode),
      with: {
        'node-version': ctx.nodeVersion,
        ...(npm ? { cache: 'npm', 'cache-dependency-path': lockfile } : {}),
      },
    },
    { name: 'Install dependencies (airlock-deploy is a devDependency)', run: ctx.install },
  ];
}

/** Runs every step in the project folder when it is not the repository root. */
export function workingDirectory(ctx: JobContext): Pick<WorkflowJob, 'defaults'> {
  return ctx.projectDir ? { defaults: { run: { 'working-directory': ctx.projectDir } } } : {};
}

/** Download a release uploaded by any run (this one included) and unpack it into the project's Airlock home. */
export function fetchReleaseSteps(
  ids: { artifact: string; digest: string },
  condition?: string,
): WorkflowStep[] {
  const when = condition ? { if: condition } : {};
  return [
    {
      name: 'Find the run that uploaded the release',
      id: 'artifact',
      ...when,
      run: FIND_ARTIFACT_SCRIPT,
      env: { GH_TOKEN: '${{ github.token }}', ARTIFACT: ids.artifact },
    },
    {
      name: 'Download the release artifact',
      ...when,
      uses: usesOf(PINNED_ACTIONS.downloadArtifact),
      with: {
        name: ids.artifact,
        path: `\${{ runner.temp }}/${RELEASE_DIR}`,
        'run-id': '${{ steps.artifact.outputs.run-id }}',
        'github-token': '${{ github.token }}',
      },
    },
    {
      name: 'Unpack the release (same bytes, same digest)',
      ...when,
      run: UNPACK_RELEASE_SCRIPT,
      env: { RELEASE_DIGEST: ids.digest },
    },
  ];
}
