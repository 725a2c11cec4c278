/**
 * What the generated jobs share: the {@link JobContext} they are built from, the steps that set
 * a job up (check out, Node.js, install), fetching a release artifact uploaded by any run, and
 * one concurrency group per environment.
 */
import type { ResolvedConfig } from '../config/resolve.ts';
import type { PackageManager } from './ci-preconditions.ts';
import type { CiFlow } from './github-workflows.ts';
import { PINNED_ACTIONS, RAILWAY_CLI, usesOf } from './pinned-actions.ts';
import { FIND_ARTIFACT_SCRIPT, RELEASE_DIR, UNPACK_RELEASE_SCRIPT } from './release-scripts.ts';
import type { WorkflowJob, WorkflowStep } from './workflow-yaml.ts';

/** What every job generator needs. */
export interface JobContext {
  config: ResolvedConfig;
  flow: CiFlow;
  nodeVersion: string;
  /** The install command (the lockfile's package manager, frozen; or `--install`). */
  install: string;
  packageManager: PackageManager;
  /** The lockfile relative to the repository root (setup-node's npm cache key). */
  lockfile: string;
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

/**
 * Check out (the full history when `fullHistory`), set up Node.js (with npm's cache, keyed by the
 * lockfile), enable pnpm or Yarn through corepack, install the project's dependencies frozen to
 * its lockfile (Airlock among them: `npx airlock` then runs the project's own copy), and put
 * `node_modules/.bin` on PATH for the steps that call the project's tools by name (a build
 * command `wrangler …`).
 */
export function setupSteps(ctx: JobContext, fullHistory: boolean): WorkflowStep[] {
  const npm = ctx.packageManager === 'npm';
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
        // setup-node caches pnpm's and Yarn's stores only when they are installed before it runs.
        ...(npm ? { cache: 'npm', 'cache-dependency-path': ctx.lockfile } : {}),
      },
    },
    ...(npm ? [] : [{ name: `Enable ${ctx.packageManager} (corepack)`, run: 'corepack enable' }]),
    { name: 'Install dependencies (airlock-deploy is a devDependency)', run: ctx.install },
    {
      name: "Put the project's tools on PATH (node_modules/.bin)",
      run: 'echo "$PWD/node_modules/.bin" >> "$GITHUB_PATH"',
    },
  ];
}

/**
 * The platform CLIs Airlock runs for the environments a job deploys or reads: flyctl from Fly's
 * setup action (pinned), the Railway CLI from its npm package at a pinned version. Wrangler is
 * the project's own devDependency (installed above); local and command providers need none.
 */
export function platformCliSteps(ctx: JobContext, environments: string[]): WorkflowStep[] {
  const providers = new Set(
    environments.flatMap((name) =>
      Object.values(ctx.config.environments[name]?.services ?? {}).map((s) => s.provider.provider),
    ),
  );
  const steps: WorkflowStep[] = [];
  if (providers.has('fly'))
    steps.push({ name: 'Set up flyctl', uses: usesOf(PINNED_ACTIONS.setupFlyctl) });
  if (providers.has('railway'))
    steps.push({
      name: `Install the Railway CLI ${RAILWAY_CLI.version}`,
      run: `npm install --global --no-audit --no-fund ${RAILWAY_CLI.package}@${RAILWAY_CLI.version}`,
    });
  return steps;
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
