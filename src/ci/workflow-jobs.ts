/**
 * The jobs of the generated workflows: verify (the pull-request checks and every service's
 * build), build the release once and deploy it to the first environment, and promote a release
 * by digest into the last environment; approve a release for the last environment from GitHub.
 */
import path from 'node:path';
import { PINNED_ACTIONS, usesOf } from './pinned-actions.ts';
import {
  approveScript,
  autoPromoteScript,
  buildReleaseScript,
  PACK_RELEASE_SCRIPT,
  RELEASE_DIR,
  requireTeamStateScript,
  resolveBranchReleaseScript,
  resolveManualReleaseScript,
  resolveRollbackReleaseScript,
} from './release-scripts.ts';
import { sharedStore, sharedStoreEnv, sharedStorePermissions } from './shared-store.ts';
import {
  airlockEnv,
  githubAccess,
  monitorSecretNames,
  permissionsFor,
} from './workflow-secrets.ts';
import {
  concurrencyOf,
  fetchReleaseSteps,
  type JobContext,
  platformCliSteps,
  setupSteps,
  workingDirectory,
} from './workflow-steps.ts';
import type { Permission, WorkflowJob, WorkflowStep } from './workflow-yaml.ts';

/**
 * ` --changed` for a project of several services (only those whose artifact differs from what
 * serves them are deployed), else nothing.
 */
function changedFlag(ctx: JobContext): string {
  return ctx.config.services.length > 1 ? ' --changed' : '';
}

/**
 * Runs `airlock doctor` (no committed secrets) and the pull-request checks, then builds every
 * service as a release would be built.
 */
export function verifyJob(ctx: JobContext): WorkflowJob {
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
      // A committed plaintext .env or a secret-looking string in a tracked file fails here.
      { name: 'airlock doctor', run: 'npx airlock doctor' },
      ...ctx.verify.map((command) => ({ name: command, run: command })),
      ...builds,
    ],
  };
}

/**
 * Builds the release once, uploads it (to the shared artifact store, which `airlock build`
 * pushes to, or as a workflow artifact), deploys it to the first environment.
 */
export function deployFirstJob(ctx: JobContext): WorkflowJob {
  const env = ctx.first;
  const github = githubAccess(ctx.config, null);
  const store = sharedStore(ctx.config);
  const secrets = airlockEnv(ctx.config, [env], github);
  // The store's credentials only where Airlock moves the release's bytes.
  const withStore = { ...secrets, ...sharedStoreEnv(ctx.config) };
  const local = "steps.build.outputs.local == 'true'";
  // Without a shared store: pack and upload what was built, or (a re-run) fetch what an
  // earlier attempt uploaded. With one, the build pushed it and a re-run's deploy pulls it.
  const transfer: WorkflowStep[] = store
    ? []
    : [
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
        ...fetchReleaseSteps(
          {
            artifact: '${{ steps.build.outputs.artifact }}',
            digest: '${{ steps.build.outputs.digest }}',
          },
          "steps.build.outputs.local != 'true'",
        ),
      ];
  return {
    name: `Build once, deploy to ${env}`,
    needs: 'verify',
    if: "github.event_name == 'push'",
    'runs-on': 'ubuntu-latest',
    environment: env,
    concurrency: concurrencyOf(ctx, env),
    permissions: { ...permissionsFor(github), ...sharedStorePermissions(ctx.config, 'push') },
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
      ...platformCliSteps(ctx, [env]),
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
        env: withStore,
      },
      ...transfer,
      {
        name: `Deploy to ${env} (migrate, switch, check)`,
        // --no-follow: the next environment is promoted by its own job, with its own secrets.
        run: `npx airlock deploy ${env} --release "$RELEASE_DIGEST" --no-follow${changedFlag(ctx)} --yes`,
        env: { ...withStore, RELEASE_DIGEST: '${{ steps.build.outputs.digest }}' },
      },
    ],
  };
}

/** Promotes a release, by digest, into the last environment. */
export function promoteLastJob(ctx: JobContext): WorkflowJob {
  const env = ctx.last;
  const github = githubAccess(ctx.config, env);
  // The gate reads the previous environment's migration ledger too.
  const secrets = airlockEnv(ctx.config, [ctx.first, env], github);
  let resolve: WorkflowStep[] = [];
  let ids: { artifact: string; digest: string };
  let promote = `npx airlock promote ${env} --release "$RELEASE_DIGEST"${changedFlag(ctx)} --yes`;
  let head: Partial<WorkflowJob> = {};
  if (ctx.flow === 'automatic') {
    ids = {
      artifact: `\${{ needs.deploy-${ctx.first}.outputs.artifact }}`,
      digest: `\${{ needs.deploy-${ctx.first}.outputs.digest }}`,
    };
    head = { needs: `deploy-${ctx.first}` };
    promote = autoPromoteScript(ctx.first, env, changedFlag(ctx));
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
    permissions: { ...permissionsFor(github), ...sharedStorePermissions(ctx.config, 'pull') },
    // `promote --auto` waits up to 30 minutes for a pending gate (CI still running, soak).
    'timeout-minutes': ctx.flow === 'automatic' ? 45 : 30,
    ...workingDirectory(ctx),
    env: { AIRLOCK_ACTOR: '${{ github.actor }}' },
    steps: [
      ...setupSteps(ctx, true),
      // The gate asks the previous environment's platform what it serves.
      ...platformCliSteps(ctx, [ctx.first, env]),
      { name: 'Require shared Airlock state', run: requireTeamStateScript(env), env: secrets },
      ...resolve,
      // With a shared store, `airlock promote` pulls the release by digest itself.
      ...(sharedStore(ctx.config) ? [] : fetchReleaseSteps(ids)),
      {
        name:
          ctx.flow === 'automatic'
            ? `Promote to ${env} when its gate holds`
            : `Promote to ${env} (the gate, then migrate, switch, check)`,
        run: promote,
        env: { ...secrets, ...sharedStoreEnv(ctx.config), RELEASE_DIGEST: ids.digest },
      },
    ],
  };
}

/**
 * Approves (or rejects) a release's promotion into the last environment from GitHub: a reviewer
 * runs the workflow by hand (inputs: release, decision, reason), and the approval is proven by
 * this run's OIDC token (`id-token: write`), whose `actor` is the reviewer. The job needs only
 * the shared state, never the environment's deploy credentials, and no GitHub environment.
 */
export function approveLastJob(ctx: JobContext): WorkflowJob {
  const env = ctx.last;
  const state = { AIRLOCK_STATE_URL: '${{ secrets.AIRLOCK_STATE_URL }}' };
  return {
    name: `Approve for ${env}`,
    'runs-on': 'ubuntu-latest',
    permissions: { contents: 'read', 'id-token': 'write' },
    'timeout-minutes': 10,
    ...workingDirectory(ctx),
    steps: [
      ...setupSteps(ctx, false),
      { name: 'Require shared Airlock state', run: requireTeamStateScript(env), env: state },
      {
        name: `Record the decision for ${env} (identity: this run's GitHub OIDC token)`,
        run: approveScript(env),
        env: {
          ...state,
          RELEASE: '${{ inputs.release }}',
          DECISION: '${{ inputs.decision }}',
          REASON: '${{ inputs.reason }}',
        },
      },
    ],
  };
}

/**
 * Rolls one environment back to an earlier release (`airlock rollback <env> --to <release>`), run
 * by hand with the environment and the release as inputs. The job runs in that GitHub
 * environment, so its protection rules (required reviewers, branches) apply and it reads only
 * that environment's secrets; it queues behind the environment's deployments. The release's
 * artifact is downloaded first (or, with a shared store, pulled by `airlock rollback`): a
 * platform that needs the bytes again (the command provider redeploys them) gets exactly the
 * release's.
 */
export function rollbackJob(ctx: JobContext): WorkflowJob {
  const github = githubAccess(ctx.config, null);
  // Each environment's job reads its own secrets under their plain names.
  const secrets: Record<string, string> = {};
  for (const env of ctx.config.pipeline)
    Object.assign(secrets, airlockEnv(ctx.config, [env], github));
  const ids = {
    artifact: '${{ steps.release.outputs.artifact }}',
    digest: '${{ steps.release.outputs.digest }}',
  };
  return {
    name: 'Roll back ${{ inputs.environment }}',
    'runs-on': 'ubuntu-latest',
    environment: '${{ inputs.environment }}',
    concurrency: {
      group: `airlock-${ctx.config.project}-\${{ inputs.environment }}`,
      'cancel-in-progress': false,
    },
    permissions: { ...permissionsFor(github), ...sharedStorePermissions(ctx.config, 'pull') },
    'timeout-minutes': 30,
    ...workingDirectory(ctx),
    env: { AIRLOCK_ACTOR: '${{ github.actor }}' },
    steps: [
      ...setupSteps(ctx, true),
      ...platformCliSteps(ctx, [...ctx.config.pipeline]),
      {
        name: 'Require shared Airlock state',
        run: requireTeamStateScript('$ENVIRONMENT'),
        env: { ...secrets, ENVIRONMENT: '${{ inputs.environment }}' },
      },
      {
        name: 'Which release to return to',
        id: 'release',
        run: resolveRollbackReleaseScript(ctx.config.project),
        env: { ...secrets, RELEASE: '${{ inputs.release }}' },
      },
      ...(sharedStore(ctx.config) ? [] : fetchReleaseSteps(ids)),
      {
        name: 'Roll back (serve the earlier release again, then check it)',
        run: 'npx airlock rollback "$ENVIRONMENT" --to "$RELEASE_ID" --yes',
        env: {
          ...secrets,
          ...sharedStoreEnv(ctx.config),
          ENVIRONMENT: '${{ inputs.environment }}',
          RELEASE_ID: '${{ steps.release.outputs.release }}',
        },
      },
    ],
  };
}

/**
 * One monitor pass (`airlock monitor --once`) from a scheduled run: probes every environment's
 * serving release, opens, comments on and resolves incidents and their GitHub issues. It runs
 * in no GitHub environment (reviewers must not hold a scheduled run), reads repository secrets
 * only ({@link monitorSecretNames}), and may write issues and nothing else on GitHub (it reads CI
 * statuses when `monitor.ci` is set). Exit 1 while an incident is open marks the run red.
 */
export function monitorJob(ctx: JobContext): WorkflowJob {
  const monitor = ctx.config.raw.monitor;
  const issues = Boolean(ctx.config.raw.github) && monitor?.issues !== false;
  const ci = Boolean(ctx.config.raw.github && monitor?.ci);
  const permissions: Record<string, Permission> = {
    contents: 'read',
    ...(issues ? { issues: 'write' as const } : {}),
    ...(ci ? { checks: 'read' as const, statuses: 'read' as const } : {}),
  };
  const env: Record<string, string> = {};
  for (const name of monitorSecretNames(ctx.config)) env[name] = `\${{ secrets.${name} }}`;
  if (issues || ci) env.GITHUB_TOKEN = '${{ github.token }}';
  const state = { AIRLOCK_STATE_URL: '${{ secrets.AIRLOCK_STATE_URL }}' };
  return {
    name: 'Monitor every environment',
    'runs-on': 'ubuntu-latest',
    concurrency: { group: `airlock-${ctx.config.project}-monitor`, 'cancel-in-progress': false },
    permissions,
    'timeout-minutes': 10,
    ...workingDirectory(ctx),
    steps: [
      ...setupSteps(ctx, false),
      ...platformCliSteps(ctx, [...ctx.config.pipeline]),
      { name: 'Require shared Airlock state', run: requireTeamStateScript(null), env: state },
      { name: 'One monitor pass', run: 'npx airlock monitor --once', env },
    ],
  };
}
