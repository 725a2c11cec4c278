/**
 * `airlock ci init github`: the GitHub Actions workflows of one of the seed flows, generated
 * from the resolved configuration. Pure apart from finding the repository root.
 *
 * - manual (seeds 000, 002): pull requests verify; a push to main verifies, builds the release
 *   once, uploads it and deploys it to the first environment; the last environment is promoted
 *   by workflow_dispatch or a version tag, behind a GitHub environment (its reviewers apply on
 *   top of Airlock's approvals), from the same artifact.
 * - automatic (seed 001): the same push continues into the last environment with
 *   `airlock promote <env> --auto` when its gate holds; no human step.
 * - staging-branch (seed 003): a push to the branch named after the first environment builds
 *   and deploys it; a push to main promotes the release built from that commit.
 *
 * Every flow builds in exactly one job and promotes by digest; each environment has its own
 * concurrency group; permissions are minimal per job; secrets are read from the GitHub
 * environment of the job that needs them and given only to the steps that run Airlock.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Document, isMap, isPair, isScalar, visit } from 'yaml';
import type { ResolvedConfig } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import { envSuffix } from '../providers/platform-cli.ts';
import { PINNED_ACTIONS, pinnedVersion, usesOf } from './pinned-actions.ts';
import {
  autoPromoteScript,
  buildReleaseScript,
  FIND_ARTIFACT_SCRIPT,
  PACK_RELEASE_SCRIPT,
  RELEASE_DIR,
  requireTeamStateScript,
  resolveBranchReleaseScript,
  resolveManualReleaseScript,
  UNPACK_RELEASE_SCRIPT,
} from './release-scripts.ts';

export type CiFlow = 'manual' | 'automatic' | 'staging-branch';

export const CI_FLOWS: readonly CiFlow[] = ['manual', 'automatic', 'staging-branch'];

export interface GenerateWorkflowsOptions {
  flow: CiFlow;
  /** Node.js version for setup-node. Default `24`. */
  nodeVersion?: string;
  /** Installs dependencies, Airlock among them (a devDependency). Default `npm ci`. */
  install?: string;
  /** The pull-request checks, run before the build. Default: lint and test when present. */
  verify?: string[];
}

export interface GeneratedWorkflow {
  /** Relative to the repository root, e.g. `.github/workflows/airlock-staging.yml`. */
  path: string;
  content: string;
  /** One paragraph: what triggers the workflow and what it does. */
  description: string;
}

export const DEFAULT_NODE_VERSION = '24';
export const DEFAULT_INSTALL = 'npm ci';
export const DEFAULT_VERIFY: readonly string[] = [
  'npm run lint --if-present',
  'npm test --if-present',
];
/** A version tag promotes its commit's release (manual flow). */
export const VERSION_TAGS = 'v*';
/** The branch merges land on. */
export const MAIN_BRANCH = 'main';

type Permission = 'read' | 'write';

interface WorkflowStep {
  name: string;
  id?: string;
  if?: string;
  uses?: string;
  with?: Record<string, string | number | boolean>;
  run?: string;
  'working-directory'?: string;
  env?: Record<string, string>;
}

interface WorkflowJob {
  name: string;
  needs?: string;
  if?: string;
  'runs-on': string;
  environment?: string;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  permissions: Record<string, Permission>;
  'timeout-minutes': number;
  outputs?: Record<string, string>;
  defaults?: { run: { 'working-directory': string } };
  env?: Record<string, string>;
  steps: WorkflowStep[];
}

interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, Permission>;
  defaults: { run: { shell: string } };
  jobs: Record<string, WorkflowJob>;
}

/** What every job generator needs. */
interface Context {
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

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** The repository holding `dir`: the nearest folder with a `.git` entry (else `dir` itself). */
function repositoryRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, '.git'))) return d;
    if (path.dirname(d) === d) return dir;
  }
}

/** The platform credentials each provider reads (docs/providers/*.md); none for local, command. */
const PLATFORM_CREDENTIALS: Record<string, readonly string[]> = {
  cloudflare: ['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID'],
  fly: ['FLY_API_TOKEN'],
  railway: ['RAILWAY_TOKEN'],
};

/**
 * The platform credentials a job for `own` needs: its own environment's under their plain names
 * (GitHub gives each job its environment's secrets), every other environment it reads (the
 * previous one, for the gate) as `<NAME>_<ENV>`, which Airlock prefers for that environment.
 * Cloudflare in `mode: local` needs none.
 */
function platformCredentialNames(
  config: ResolvedConfig,
  environments: string[],
  own: string | undefined,
): string[] {
  const names: string[] = [];
  for (const name of environments) {
    const env = config.environments[name];
    for (const settings of Object.values(env?.services ?? {})) {
      const p = settings.provider;
      if (p.provider === 'cloudflare' && p.mode === 'local') continue;
      const suffix = name === own ? '' : `_${envSuffix(name)}`;
      for (const credential of PLATFORM_CREDENTIALS[p.provider] ?? [])
        names.push(`${credential}${suffix}`);
    }
  }
  return names;
}

/**
 * The environment variables Airlock reads when it serves `environments` (the last one is the
 * job's own): those of `${NAME}` references in `state` and in these environments'
 * `databaseUrl`s, every value that is a whole `${NAME}` outside other environments (webhook
 * URLs and the like), and the platforms' credentials (`platformCredentialNames`). GitHub
 * reserves the GITHUB_ prefix; GITHUB_TOKEN is given separately.
 */
export function secretNames(config: ResolvedConfig, environments: string[]): string[] {
  const names = new Set<string>(['AIRLOCK_STATE_URL']);
  const raw = config.raw;
  for (const m of (raw.state ?? '').matchAll(ENV_REFERENCE)) names.add(m[1] as string);
  const walk = (value: unknown, at: string[]): void => {
    if (typeof value === 'string') {
      const whole = WHOLE_REFERENCE.exec(value);
      if (whole) names.add(whole[1] as string);
      if (at.at(-1) === 'databaseUrl')
        for (const m of value.matchAll(ENV_REFERENCE)) names.add(m[1] as string);
    } else if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...at, String(i)]);
    } else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (at.length === 1 && at[0] === 'environments' && !environments.includes(key)) continue;
        walk(v, [...at, key]);
      }
    }
  };
  walk(raw, []);
  for (const name of platformCredentialNames(config, environments, environments.at(-1)))
    names.add(name);
  return [...names].filter((n) => !n.startsWith('GITHUB_'));
}

/** Does Airlock talk to GitHub in this job: the Deployments API, or the `ci` gate into `target`? */
function githubAccess(
  config: ResolvedConfig,
  target: string | null,
): { deployments: boolean; ciGate: boolean } {
  const deployments = Boolean(config.raw.github && config.raw.github.deployments !== false);
  const promotion = target ? config.raw.environments[target]?.promotion : undefined;
  const ciGate = Boolean(
    config.raw.ci && 'github' in config.raw.ci && typeof promotion === 'object' && promotion.ci,
  );
  return { deployments, ciGate };
}

/** The env of a step that runs Airlock for `environments`: secrets and, if needed, the token. */
function airlockEnv(
  config: ResolvedConfig,
  environments: string[],
  github: { deployments: boolean; ciGate: boolean },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of secretNames(config, environments)) env[name] = `\${{ secrets.${name} }}`;
  if (github.deployments || github.ciGate) env.GITHUB_TOKEN = '${{ github.token }}';
  return env;
}

/** Deploy jobs: read the code, find artifacts of other runs, and what Airlock does on GitHub. */
function permissionsFor(github: {
  deployments: boolean;
  ciGate: boolean;
}): Record<string, Permission> {
  return {
    contents: 'read',
    actions: 'read',
    ...(github.deployments ? { deployments: 'write' as const } : {}),
    ...(github.ciGate ? { checks: 'read' as const, statuses: 'read' as const } : {}),
  };
}

function concurrencyOf(ctx: Context, environment: string): WorkflowJob['concurrency'] {
  return { group: `airlock-${ctx.config.project}-${environment}`, 'cancel-in-progress': false };
}

function setupSteps(ctx: Context, fullHistory: boolean): WorkflowStep[] {
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
    { name: 'Install dependencies (Airlock is a devDependency)', run: ctx.install },
  ];
}

function workingDirectory(ctx: Context): Pick<WorkflowJob, 'defaults'> {
  return ctx.projectDir ? { defaults: { run: { 'working-directory': ctx.projectDir } } } : {};
}

/** Download a release uploaded by any run (this one included) and unpack it into `.airlock/`. */
function fetchReleaseSteps(
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

function verifyJob(ctx: Context): WorkflowJob {
  const builds: WorkflowStep[] = ctx.config.services.map((name) => {
    const service = ctx.config.environments[ctx.first]?.services[name];
    if (!service) throw new Error(`service ${name} missing from ${ctx.first}`);
    const dir = path.posix.join(ctx.projectDir || '.', service.root);
    return {
      name: `Build ${name} (as every release is built)`,
      run: service.build.command,
      ...(dir !== '.' ? { 'working-directory': dir } : {}),
      ...(Object.keys(service.build.env).length > 0 ? { env: { ...service.build.env } } : {}),
    };
  });
  return {
    name: 'Verify',
    'runs-on': 'ubuntu-latest',
    permissions: { contents: 'read' },
    'timeout-minutes': 30,
    ...workingDirectory(ctx),
    steps: [
      ...setupSteps(ctx, false),
      ...ctx.verify.map((command) => ({ name: command, run: command })),
      ...builds,
    ],
  };
}

/** Builds the release once, uploads it, deploys it to the first environment. */
function deployFirstJob(ctx: Context): WorkflowJob {
  const env = ctx.first;
  const github = githubAccess(ctx.config, null);
  const secrets = airlockEnv(ctx.config, [env], github);
  const local = "steps.build.outputs.local == 'true'";
  return {
    name: `Build once, deploy to ${env}`,
    needs: 'verify',
    if: "github.event_name == 'push'",
    'runs-on': 'ubuntu-latest',
    environment: env,
    concurrency: concurrencyOf(ctx, env),
    permissions: permissionsFor(github),
    'timeout-minutes': 30,
    outputs: {
      release: '${{ steps.build.outputs.release }}',
      digest: '${{ steps.build.outputs.digest }}',
      artifact: '${{ steps.build.outputs.artifact }}',
    },
    ...workingDirectory(ctx),
    env: { AIRLOCK_ACTOR: '${{ github.actor }}' },
    steps: [
      ...setupSteps(ctx, false),
      {
        name: 'Require shared Airlock state',
        run: requireTeamStateScript(env),
        env: secrets,
      },
      ...(ctx.config.raw.ci && 'command' in ctx.config.raw.ci
        ? [
            {
              name: 'Record CI at this commit (ci.command)',
              run: 'npx airlock ci run',
              env: secrets,
            },
          ]
        : []),
      {
        name: 'Build the release once',
        id: 'build',
        run: buildReleaseScript(ctx.config.project),
        env: secrets,
      },
      {
        name: 'Pack the release',
        if: local,
        run: PACK_RELEASE_SCRIPT,
        env: { ARTIFACT_PATHS: '${{ steps.build.outputs.paths }}' },
      },
      {
        name: 'Upload the release artifact',
        if: local,
        uses: usesOf(PINNED_ACTIONS.uploadArtifact),
        with: {
          name: '${{ steps.build.outputs.artifact }}',
          path: `\${{ runner.temp }}/${RELEASE_DIR}`,
          'if-no-files-found': 'error',
        },
      },
      // A re-run finds the release already built: fetch the artifact an earlier attempt uploaded.
      ...fetchReleaseSteps(
        {
          artifact: '${{ steps.build.outputs.artifact }}',
          digest: '${{ steps.build.outputs.digest }}',
        },
        "steps.build.outputs.local != 'true'",
      ),
      {
        name: `Deploy to ${env} (migrate, switch, check)`,
        // --no-follow: the next environment is promoted by its own job, with its own secrets.
        run: `npx airlock deploy ${env} --release "$RELEASE_DIGEST" --no-follow --yes`,
        env: { ...secrets, RELEASE_DIGEST: '${{ steps.build.outputs.digest }}' },
      },
    ],
  };
}

/** Promotes a release, by digest, into the last environment. */
function promoteLastJob(ctx: Context): WorkflowJob {
  const env = ctx.last;
  const github = githubAccess(ctx.config, env);
  // The gate reads the previous environment's migration ledger too.
  const secrets = airlockEnv(ctx.config, [ctx.first, env], github);
  let resolve: WorkflowStep[] = [];
  let ids: { artifact: string; digest: string };
  let promote = `npx airlock promote ${env} --release "$RELEASE_DIGEST" --yes`;
  let head: Partial<WorkflowJob> = {};
  if (ctx.flow === 'automatic') {
    ids = {
      artifact: `\${{ needs.deploy-${ctx.first}.outputs.artifact }}`,
      digest: `\${{ needs.deploy-${ctx.first}.outputs.digest }}`,
    };
    head = { needs: `deploy-${ctx.first}` };
    promote = autoPromoteScript(ctx.first, env);
  } else {
    ids = {
      artifact: '${{ steps.release.outputs.artifact }}',
      digest: '${{ steps.release.outputs.digest }}',
    };
    resolve = [
      {
        name: `Which release goes to ${env}`,
        id: 'release',
        run:
          ctx.flow === 'manual'
            ? resolveManualReleaseScript(ctx.config.project, env)
            : resolveBranchReleaseScript(ctx.config.project, ctx.first, env),
        env: {
          ...secrets,
          ...(ctx.flow === 'manual' ? { RELEASE_INPUT: '${{ inputs.release }}' } : {}),
        },
      },
    ];
  }
  return {
    name: `Promote to ${env}`,
    ...head,
    'runs-on': 'ubuntu-latest',
    environment: env,
    concurrency: concurrencyOf(ctx, env),
    permissions: permissionsFor(github),
    // `promote --auto` waits up to 30 minutes for a pending gate (CI still running, soak).
    'timeout-minutes': ctx.flow === 'automatic' ? 45 : 30,
    ...workingDirectory(ctx),
    env: { AIRLOCK_ACTOR: '${{ github.actor }}' },
    steps: [
      ...setupSteps(ctx, true),
      { name: 'Require shared Airlock state', run: requireTeamStateScript(env), env: secrets },
      ...resolve,
      ...fetchReleaseSteps(ids),
      {
        name:
          ctx.flow === 'automatic'
            ? `Promote to ${env} when its gate holds`
            : `Promote to ${env} (the gate, then migrate, switch, check)`,
        run: promote,
        env: { ...secrets, RELEASE_DIGEST: ids.digest },
      },
    ],
  };
}

function workflowOf(
  name: string,
  on: Record<string, unknown>,
  jobs: Record<string, WorkflowJob>,
): Workflow {
  return { name, on, permissions: {}, defaults: { run: { shell: 'bash' } }, jobs };
}

/** Splits a line into lines of at most `width` characters, at spaces. */
function wrap(line: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  return [...lines, current];
}

/** Renders a workflow: a header comment, blank lines between sections, version comments on pins. */
function renderWorkflow(header: string[], workflow: Workflow): string {
  // No YAML anchors: each step spells out its own env.
  const doc = new Document(workflow, { aliasDuplicateObjects: false });
  doc.commentBefore = header
    .flatMap((line) => wrap(line, 98))
    .map((line) => (line ? ` ${line}` : ''))
    .join('\n');
  const root = doc.contents;
  if (isMap(root)) {
    root.items.forEach((pair, i) => {
      if (i > 0 && isScalar(pair.key)) pair.key.spaceBefore = true;
      if (isScalar(pair.key) && pair.key.value === 'jobs' && isMap(pair.value)) {
        pair.value.items.forEach((job, j) => {
          if (j > 0 && isScalar(job.key)) job.key.spaceBefore = true;
        });
      }
    });
  }
  visit(doc, {
    Pair(_, pair) {
      if (isPair(pair) && isScalar(pair.key) && pair.key.value === 'uses' && isScalar(pair.value)) {
        const version = pinnedVersion(String(pair.value.value));
        if (version) pair.value.comment = ` ${version}`;
      }
    },
  });
  return doc.toString({ lineWidth: 0, blockQuote: 'literal', nullStr: '' });
}

function headerOf(ctx: Context, summary: string, secrets: string): string[] {
  return [
    `Generated by \`airlock ci init github --flow ${ctx.flow}\` for project ${ctx.config.project}. Do not edit:`,
    `regenerate after changing airlock.yaml with \`npx airlock ci init github --flow ${ctx.flow}\`.`,
    '',
    summary,
    '',
    secrets,
    'Actions are pinned to full commit SHAs (version in the comment). See docs/github-actions.md.',
  ];
}

function secretsLine(ctx: Context, environments: string[]): string {
  const parts = environments.map(
    (env) =>
      `${env}: ${secretNames(ctx.config, env === ctx.first ? [env] : [ctx.first, env]).join(', ')}`,
  );
  return `Secrets, from each job's GitHub environment — ${parts.join('; ')}.`;
}

function contextOf(config: ResolvedConfig, options: GenerateWorkflowsOptions): Context {
  if (!CI_FLOWS.includes(options.flow)) {
    throw new UserError('USAGE', `unknown flow "${String(options.flow)}".`, {
      hint: `Use --flow ${CI_FLOWS.join(', --flow ')}.`,
    });
  }
  if (config.pipeline.length !== 2) {
    throw new UserError(
      'USAGE',
      `the GitHub workflows are generated for a pipeline of two environments; ${config.displayFile} has ${config.pipeline.length} (${config.pipeline.join(' → ')}).`,
      {
        hint: 'Use a pipeline such as [staging, production], or write the workflows for the other environments by hand from the generated ones.',
      },
    );
  }
  const nodeVersion = options.nodeVersion ?? DEFAULT_NODE_VERSION;
  if (!/^[0-9][0-9A-Za-z.x*-]*$/.test(nodeVersion) && !/^lts\/[a-z*-]+$/.test(nodeVersion)) {
    throw new UserError('USAGE', `"${nodeVersion}" is not a Node.js version setup-node accepts.`, {
      hint: 'Give a version such as 24, 24.11 or lts/*.',
    });
  }
  const root = repositoryRoot(config.dir);
  return {
    config,
    flow: options.flow,
    nodeVersion,
    install: options.install ?? DEFAULT_INSTALL,
    verify: options.verify ?? DEFAULT_VERIFY,
    projectDir: path.relative(root, config.dir).split(path.sep).join('/'),
    first: config.pipeline[0] as string,
    last: config.pipeline[1] as string,
  };
}

/**
 * The workflows of a flow, to write under the repository root.
 * @throws UserError `USAGE` for an unknown flow, a pipeline that is not two environments, or a
 *   Node.js version setup-node cannot take.
 */
export function generateWorkflows(
  config: ResolvedConfig,
  options: GenerateWorkflowsOptions,
): GeneratedWorkflow[] {
  const ctx = contextOf(config, options);
  const { first, last, flow } = ctx;
  const deploy = `deploy-${first}`;
  const promote = `promote-${last}`;
  const verifyText = `verify (${[...ctx.verify, 'build'].join(', ')})`;
  const file = (name: string) => `.github/workflows/${name}.yml`;

  if (flow === 'automatic') {
    const summary = `Pull requests: ${verifyText}. Push to ${MAIN_BRANCH}: verify, build the release once, deploy it to ${first} with checks, then promote the same artifact to ${last} as soon as its gate holds (airlock promote ${last} --auto); no human step.`;
    return [
      {
        path: file('airlock-deploy'),
        description: summary,
        content: renderWorkflow(
          headerOf(ctx, summary, secretsLine(ctx, [first, last])),
          workflowOf(
            `Airlock: verify, ${first}, ${last}`,
            { pull_request: null, push: { branches: [MAIN_BRANCH] } },
            {
              verify: verifyJob(ctx),
              [deploy]: deployFirstJob(ctx),
              [promote]: promoteLastJob(ctx),
            },
          ),
        ),
      },
    ];
  }

  const branch = flow === 'manual' ? MAIN_BRANCH : first;
  const firstSummary = `Pull requests: ${verifyText}. Push to ${branch}: verify, build the release once, upload it, deploy it to ${first} with checks.`;
  const lastSummary =
    flow === 'manual'
      ? `Run by hand (Actions → Run workflow; input: the release, default what ${first} serves) or by pushing a ${VERSION_TAGS} tag (its commit's release): promote that release's artifact, never rebuilt, to ${last}. The job runs in the GitHub environment ${last}, so its required reviewers approve it on top of Airlock's approval gate.`
      : `Push to ${MAIN_BRANCH} (merging ${first}): promote the release ${first} serves, built from that commit, to ${last}, from the same artifact, never rebuilt.`;
  const lastOn =
    flow === 'manual'
      ? {
          workflow_dispatch: {
            inputs: {
              release: {
                description: `Release to promote: r3, a digest or a commit prefix (empty: the one ${first} serves)`,
                type: 'string',
                required: false,
                default: '',
              },
            },
          },
          push: { tags: [VERSION_TAGS] },
        }
      : { push: { branches: [MAIN_BRANCH] } };
  return [
    {
      path: file(`airlock-${first}`),
      description: firstSummary,
      content: renderWorkflow(
        headerOf(ctx, firstSummary, secretsLine(ctx, [first])),
        workflowOf(
          `Airlock: verify, deploy to ${first}`,
          { pull_request: null, push: { branches: [branch] } },
          { verify: verifyJob(ctx), [deploy]: deployFirstJob(ctx) },
        ),
      ),
    },
    {
      path: file(`airlock-${last}`),
      description: lastSummary,
      content: renderWorkflow(
        headerOf(ctx, lastSummary, secretsLine(ctx, [last])),
        workflowOf(`Airlock: promote to ${last}`, lastOn, { [promote]: promoteLastJob(ctx) }),
      ),
    },
  ];
}
