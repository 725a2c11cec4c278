/**
 * The decision: does release R go into environment E now, and what runs? Every entry point
 * (the CLI's deploy, promote and rollback, `airlock demo`, automatic promotion, `airlock plan`)
 * asks here, so the rules live in one place:
 *
 * 1. `chooseRelease` turns what was asked (an `Intent`) into a `Choice`: the environment, the
 *    action (deploying into the first environment, promoting into a later one, rolling back)
 *    and the release (named, built from a commit, the candidate serving on the previous
 *    environment, or the rollback target). Building happens here, outside any lock.
 * 2. `decide` gathers the facts (`facts.ts`, reads only), evaluates the gates and builds the
 *    plan (`plan.ts`, pure): the outcome is `proceed`, `blocked` or `unchanged`.
 *
 * `execute.ts` calls `decide` again once it holds the environment lock, so what runs follows
 * the facts as they are under the lock, not as they were before a wait in the queue (Kamal does
 * all of a deploy's work inside its lock).
 */
import { environmentNamed } from '../config/environments.ts';
import type { ResolvedEnvironment } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import { checkAppliedOnPrevious, planMigrations } from '../migrations/migrator.ts';
import type { Provider } from '../providers/provider.ts';
import {
  type BuildProgress,
  type BuildResult,
  buildRelease,
  notStoredHere,
} from '../releases/build.ts';
import { resolveCommit, uncommittedChanges } from '../releases/git.ts';
import { audit } from '../state/audit.ts';
import type { DeploymentKind, Release, ServingRecord } from '../state/state-store.ts';
import { type AirlockContext, databaseOf, serviceTarget } from './context.ts';
import { contractsNotCarried, type UncarriedContract } from './contract.ts';
import { type GatherOptions, gatherFacts, notReachableHere } from './facts.ts';
import { buildPlan, currentRelease, type Plan, type PlanFacts } from './plan.ts';
import { releaseMigrations } from './release-migration-files.ts';

/** What a person or a process asked for. */
export type Intent =
  | {
      /**
       * `deploy` puts a release into any environment (building one for the first environment
       * when none is named); `promote` is the same for a later environment and refuses the first.
       */
      verb: 'deploy' | 'promote';
      environment: string;
      /** `r3`, a digest prefix or a commit prefix. */
      release?: string;
      /** Build (or reuse) the release of this commit (first environment only). */
      commit?: string;
      /** `--override-window "reason"`: outside the deploy window or during a freeze (audited). */
      windowOverride?: string;
      /** `--fixes <incident>` (see `GateInputs.fixes`). */
      fixes?: number;
      /** `--fix-forward "reason"` (see `GateInputs.fixForward`). */
      fixForward?: string;
      /** `--changed`: skip the services whose artifact equals what serves them here (see `unchangedServices`). */
      changed?: boolean;
      /**
       * When the environment already serves the chosen release: `skip` ends the decision
       * `unchanged` (promotion is idempotent) once the environment has also run all of the
       * release's migrations — one held back there (a contract migration, while an older
       * release served) makes it deploy the release again, which applies it; `redeploy` deploys
       * it again. Default `redeploy`.
       */
      ifServing?: 'skip' | 'redeploy';
    }
  | {
      verb: 'rollback';
      environment: string;
      /** The release to return to; default the one that served before the current one. */
      to?: string;
      /** Roll back past a contract migration the target does not carry (audited). */
      force?: boolean;
    };

/** An intent resolved to one environment, one action and one release. */
export interface Choice {
  intent: Intent;
  action: DeploymentKind;
  env: ResolvedEnvironment;
  release: Release;
  /** The build made for this choice (deploying a commit into the first environment), if any. */
  build: BuildResult | null;
}

export type Decision =
  | {
      outcome: 'proceed' | 'blocked';
      choice: Choice;
      facts: PlanFacts;
      plan: Plan;
      /** Writes the audit of a forced rollback (`rollback.forced`); called once the run starts. */
      recordForce: (() => Promise<void>) | null;
    }
  | {
      /**
       * The environment already serves the release and has run its migrations, and the intent
       * said `ifServing: skip`.
       */
      outcome: 'unchanged';
      choice: Choice;
      reason: string;
      /** What to run when something is left to do there (see `alreadyServing`). */
      hint?: string;
    };

export interface ChooseOptions {
  /** Build the release of the commit when none exists (deploying into the first environment). */
  build: boolean;
  signal?: AbortSignal;
  onBuild?: (progress: BuildProgress) => void;
}

/** A release by reference. @throws UserError `RELEASE_NOT_FOUND`. */
export async function releaseNamed(ctx: AirlockContext, ref: string): Promise<Release> {
  const release = await ctx.store.findRelease(ref);
  if (!release) {
    throw new UserError('RELEASE_NOT_FOUND', `no release matches "${ref}".`, {
      hint: 'Run `airlock status` or `airlock history` to see releases; a reference is r<N>, a digest prefix or a commit prefix.',
    });
  }
  return release;
}

/** The error for promoting into the first environment of the pipeline. */
function firstEnvironmentError(env: ResolvedEnvironment): UserError {
  return new UserError(
    'NOTHING_TO_PROMOTE',
    `${env.name} is the first environment of the pipeline; releases are deployed into it, not promoted.`,
    { hint: `Run \`airlock deploy ${env.name}\`.` },
  );
}

/**
 * The release a promotion into `env` would take: the one serving on the previous environment.
 * @throws UserError `NOTHING_TO_PROMOTE` (first environment, nothing serving, or mixed releases).
 */
export async function promotionCandidate(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
): Promise<Release> {
  if (!env.previous) throw firstEnvironmentError(env);
  const current = currentRelease(await ctx.store.getServing(env.previous));
  if (!current) {
    throw new UserError(
      'NOTHING_TO_PROMOTE',
      `nothing is deployed on ${env.previous}, so there is nothing to promote to ${env.name}.`,
      { hint: `Run \`airlock deploy ${env.previous}\` first.` },
    );
  }
  if (current === 'mixed') {
    throw new UserError(
      'NOTHING_TO_PROMOTE',
      `${env.previous} serves different releases on different services.`,
      {
        hint: `Deploy one release to every service of ${env.previous} (\`airlock deploy ${env.previous} --release <R>\`), or promote one with --release.`,
      },
    );
  }
  return releaseNamed(ctx, current);
}

/** `airlock build` with the context's store, artifacts and identity (see `buildRelease`). */
export function buildForContext(
  ctx: AirlockContext,
  options: {
    commit?: string;
    rebuild?: boolean;
    signal?: AbortSignal;
    onProgress?: (p: BuildProgress) => void;
  },
): Promise<BuildResult> {
  // Each platform the pipeline uses packages the release once (e.g. Fly pushes one image),
  // with the settings of the first environment that uses it.
  const packagers = new Map<string, { env: ResolvedEnvironment; provider: Provider }>();
  for (const name of ctx.config.pipeline) {
    const env = environmentNamed(ctx.config, name);
    const provider = ctx.providerFor(env);
    if (provider.packageRelease && !packagers.has(provider.name))
      packagers.set(provider.name, { env, provider });
  }
  return buildRelease({
    config: ctx.config,
    store: ctx.store,
    artifacts: ctx.artifacts,
    home: ctx.home,
    actor: ctx.actor,
    now: ctx.now,
    ...(packagers.size > 0
      ? {
          packageRelease: async (service, outputDir, release, onLine) => {
            for (const { env, provider } of packagers.values()) {
              await provider.packageRelease?.(
                serviceTarget(ctx.config, env, service),
                outputDir,
                release,
                { onProgress: onLine, ...(options.signal ? { signal: options.signal } : {}) },
              );
            }
          },
        }
      : {}),
    ...options,
  });
}

/**
 * The choice of promoting a known release into `env` (a later environment): for automatic
 * promotion, which follows a release down the pipeline, and for showing a release's gate.
 */
export function promotionChoice(
  env: ResolvedEnvironment,
  release: Release,
  options: { ifServing: 'skip' | 'redeploy'; windowOverride?: string; changed?: boolean },
): Choice {
  return {
    intent: { verb: 'promote', environment: env.name, release: release.id, ...options },
    action: 'promote',
    env,
    release,
    build: null,
  };
}

/** The release a rollback returns to: `to`, or the one that served before the current one. */
async function rollbackTarget(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  to?: string,
): Promise<Release> {
  if (to) return releaseNamed(ctx, to);
  const current = currentRelease(await ctx.store.getServing(env.name));
  const history = await ctx.store.listDeployments({ environment: env.name, limit: 200 });
  const earlier = history.find(
    (d) => d.switchedAt !== null && d.releaseId !== current && d.status !== 'failed',
  );
  if (!earlier) {
    throw new UserError(
      'NOTHING_TO_ROLL_BACK',
      `${env.name} has no earlier release to roll back to.`,
      {
        hint: `Run \`airlock history ${env.name}\` to see what ran there, or pass --to <release>.`,
      },
    );
  }
  return releaseNamed(ctx, earlier.releaseId);
}

/** What `airlock deploy <first environment>` starts from (see `releaseToDeploy`). */
export interface DeploySource {
  /** The commit (full sha): HEAD, or the one asked for. */
  commit: string;
  /** Uncommitted changes (HEAD only): the working tree is built instead of the commit. */
  dirtyFiles: string[];
  /** The release it would deploy without building, or null when it would build one. */
  release: Release | null;
  /** A clean release of the commit whose files are stored on another machine only. */
  elsewhere: string | null;
}

/**
 * What `airlock deploy <first environment>` would deploy, found as `buildRelease` finds it but
 * without building: the newest clean release of `commit` (default HEAD) whose files can be had
 * here. With uncommitted changes (HEAD only) it builds the working tree instead, so no existing
 * release is it; nor is a release whose files are stored on another machine only (it builds the
 * commit again here).
 * @throws UserError `RELEASE_NOT_FOUND` (not a commit), `NOT_A_GIT_REPO`.
 */
export async function releaseToDeploy(ctx: AirlockContext, commit?: string): Promise<DeploySource> {
  const sha = await resolveCommit(ctx.config.dir, commit ?? 'HEAD').catch((error) => {
    if (commit) throw error;
    throw new UserError('NOT_A_GIT_REPO', 'the repository has no commits yet.', {
      hint: 'Commit your project first: a release is a build of one commit.',
    });
  });
  const dirtyFiles = commit ? [] : await uncommittedChanges(ctx.config.dir);
  if (dirtyFiles.length > 0) return { commit: sha, dirtyFiles, release: null, elsewhere: null };
  const release = (await ctx.store.findCleanRelease(sha)) ?? null;
  const storedHere = release !== null && notStoredHere(release, ctx.artifacts).length === 0;
  return {
    commit: sha,
    dirtyFiles,
    release: storedHere ? release : null,
    elsewhere: release && !storedHere ? release.id : null,
  };
}

/**
 * Resolves an intent to an environment, an action and a release. Builds only with
 * `options.build` (deploying into the first environment without --release).
 * @throws UserError `UNKNOWN_ENVIRONMENT`, `USAGE` (--release with --commit),
 *   `NOTHING_TO_PROMOTE`, `RELEASE_NOT_FOUND`, `NOTHING_TO_ROLL_BACK`; build errors.
 */
export async function chooseRelease(
  ctx: AirlockContext,
  intent: Intent,
  options: ChooseOptions,
): Promise<Choice> {
  const env = environmentNamed(ctx.config, intent.environment);
  if (intent.verb === 'rollback') {
    const release = await rollbackTarget(ctx, env, intent.to);
    return { intent, action: 'rollback', env, release, build: null };
  }
  if (intent.verb === 'promote' && !env.previous) throw firstEnvironmentError(env);
  const action: DeploymentKind = env.previous ? 'promote' : 'deploy';
  if (intent.release && intent.commit) {
    throw new UserError('USAGE', 'pass either --release or --commit, not both.');
  }
  if (intent.release) {
    return { intent, action, env, release: await releaseNamed(ctx, intent.release), build: null };
  }
  if (env.previous && !intent.commit) {
    return { intent, action, env, release: await promotionCandidate(ctx, env), build: null };
  }
  if (!options.build) {
    const source = await releaseToDeploy(ctx, intent.commit);
    if (source.release) return { intent, action, env, release: source.release, build: null };
    const short = source.commit.slice(0, 7);
    throw new UserError(
      'RELEASE_NOT_FOUND',
      source.dirtyFiles.length > 0
        ? `the working tree has uncommitted changes, so \`airlock deploy ${env.name}\` would build it into a new release; none is built yet.`
        : `no release of ${short} is built${source.elsewhere ? ` on this machine (${source.elsewhere} was built from it on another one)` : ''} yet.`,
      {
        hint:
          source.dirtyFiles.length > 0
            ? `Commit the changes to plan a release of a commit, or run \`airlock build\` and then pass the release it prints with --release.`
            : `Run \`airlock build${intent.commit ? ` --commit ${intent.commit}` : ''}\` (or \`airlock deploy ${env.name}\`, which builds).`,
        details: {
          commit: source.commit,
          dirtyFiles: source.dirtyFiles,
          ...(source.elsewhere ? { elsewhere: source.elsewhere } : {}),
        },
      },
    );
  }
  const build = await buildForContext(ctx, {
    ...(intent.commit ? { commit: intent.commit } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onBuild ? { onProgress: options.onBuild } : {}),
  });
  return { intent, action, env, release: build.release, build };
}

/**
 * The rollback guard: refuses to go back to a release that does not carry a contract migration
 * the environment has applied, since its code would meet a schema it does not know (Heroku's
 * and Kamal's rollbacks do exactly that). With `force` it returns the audit of the override
 * (`rollback.forced`), written once the rollback starts.
 * @throws UserError `ROLLBACK_UNSAFE` (audited `rollback.refused`).
 */
async function guardRollback(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  force: boolean,
): Promise<(() => Promise<void>) | null> {
  const candidates = await ctx.store.listReleases(200);
  const unsafe: UncarriedContract[] = [];
  for (const name of ctx.config.services) {
    const database = env.services[name]?.database;
    if (!database) continue;
    unsafe.push(
      ...(await contractsNotCarried(
        ctx,
        name,
        await ctx.databases.readLedger(database),
        release,
        candidates,
      )),
    );
  }
  if (unsafe.length === 0) return null;
  const files = unsafe.map((u) => `${u.service}/${u.filename}`);
  const fields = { environment: env.name, releaseId: release.id, detail: { contracts: unsafe } };
  if (force) {
    return async () => {
      await audit(ctx, 'rollback.forced', fields);
    };
  }
  await audit(ctx, 'rollback.refused', { ...fields, result: 'refused' });
  throw new UserError(
    'ROLLBACK_UNSAFE',
    `rolling ${env.name} back to ${release.id} would start its code against a schema it does not know: ${files.join(', ')} ${unsafe.length === 1 ? 'is a contract migration' : 'are contract migrations'} applied on ${env.name} that ${release.id} does not carry.`,
    {
      hint: `Fix forward instead: commit the fix, \`airlock deploy ${ctx.config.pipeline[0]}\` and promote it. If ${release.id} truly runs without what ${unsafe.length === 1 ? 'it' : 'they'} removed, pass --force (audited).`,
      details: { contracts: unsafe },
    },
  );
}

/**
 * Why a promotion of the release already serving ends `unchanged` while some of its migrations
 * have not run there: they cannot be read here (`unread`), or must succeed on the previous
 * environment first (`notOnPrevious`, `service/filename`).
 */
type NotDoneHere = { unread: string } | { notOnPrevious: string[]; previous: string };

function unchangedDecision(choice: Choice, why?: NotDoneHere): Decision {
  const { env, release } = choice;
  if (why && 'notOnPrevious' in why) {
    const files = why.notOnPrevious;
    return {
      outcome: 'unchanged',
      choice,
      reason: `${env.name} already serves ${release.id} but has not run ${files.join(', ')}, which must succeed on ${why.previous} first`,
      hint: `Run \`airlock deploy ${why.previous} --release ${release.id}\` to apply ${files.length === 1 ? 'it' : 'them'} there, then \`airlock promote ${env.name}\` again.`,
    };
  }
  return {
    outcome: 'unchanged',
    choice,
    reason: `${env.name} already serves ${release.id}${why ? ` (whether it has run all of ${release.id}'s migrations cannot be read here: ${why.unread})` : ''}`,
  };
}

/**
 * The migrations of `release` that `env`, which serves it, has not run yet (`service/filename`):
 * contract migrations held back when the release was deployed there while an older release
 * served (see contract.ts), and the files after them. The release serving carries them, so
 * nothing holds them back any more: deploying the release there again applies them, once they
 * have succeeded on the previous environment (`notOnPrevious`: those that have not). `unread`
 * when this machine cannot read a database or the release's files (see `notReachableHere`).
 */
async function migrationsLeft(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Promise<{ files: string[]; notOnPrevious: string[] } | { unread: string }> {
  const files: string[] = [];
  const notOnPrevious: string[] = [];
  try {
    for (const name of ctx.config.services) {
      const database = env.services[name]?.database;
      if (!database || !release.services[name]) continue;
      const { pending } = planMigrations(
        await releaseMigrations(ctx, release, name),
        await ctx.databases.readLedger(database),
      );
      files.push(...pending.map((f) => `${name}/${f.filename}`));
      if (env.previous && pending.length > 0) {
        const previousLedger = await ctx.databases.readLedger(
          databaseOf(ctx.config, env.previous, name),
        );
        notOnPrevious.push(
          ...checkAppliedOnPrevious(pending, previousLedger).map(
            (n) => `${name}/${n.file.filename}`,
          ),
        );
      }
    }
  } catch (error) {
    if (!notReachableHere(error)) throw error;
    return { unread: error instanceof Error ? error.message : String(error) };
  }
  return { files, notOnPrevious };
}

/**
 * The `unchanged` decision when the intent says `ifServing: skip` and the environment already
 * serves the chosen release; null otherwise, and also when the environment has not run some of
 * the release's migrations yet (a contract migration held back while an older release served):
 * the promotion is not done, so it runs again and applies them. Unless they have not succeeded
 * on the previous environment yet: then it waits for that (`unchanged`, and the hint says
 * what to run), as an automatic promotion waits, rather than refusing on the migrations gate.
 * A loop that waits (automatic promotion) asks it before gathering anything.
 */
export async function alreadyServing(
  ctx: AirlockContext,
  choice: Choice,
): Promise<Decision | null> {
  if (choice.intent.verb === 'rollback' || choice.intent.ifServing !== 'skip') return null;
  const current = currentRelease(await ctx.store.getServing(choice.env.name));
  if (current !== choice.release.id) return null;
  const left = await migrationsLeft(ctx, choice.env, choice.release);
  if ('unread' in left) return unchangedDecision(choice, left);
  if (left.files.length === 0) return unchangedDecision(choice);
  const previous = choice.env.previous;
  if (previous && left.notOnPrevious.length > 0)
    return unchangedDecision(choice, { notOnPrevious: left.notOnPrevious, previous });
  return null;
}

/**
 * Decides a choice: gathers the facts, evaluates the gates, builds the plan. Reads only, but
 * for the audit event of a refused rollback.
 * @throws UserError `NOTHING_TO_ROLL_BACK` (the environment already serves the rollback target),
 *   `ROLLBACK_UNSAFE`; ConfigError when an environment's database cannot be reached here.
 */
export async function decide(
  ctx: AirlockContext,
  choice: Choice,
  options: GatherOptions = {},
): Promise<Decision> {
  const { intent, env, release, action } = choice;
  const current = currentRelease(await ctx.store.getServing(env.name));
  let recordForce: (() => Promise<void>) | null = null;
  if (intent.verb === 'rollback') {
    if (current === release.id) {
      throw new UserError('NOTHING_TO_ROLL_BACK', `${env.name} already serves ${release.id}.`, {
        hint: `Pass --to <release> to choose another one (see \`airlock history ${env.name}\`).`,
      });
    }
    recordForce = await guardRollback(ctx, env, release, intent.force ?? false);
  } else if (intent.ifServing === 'skip' && current === release.id) {
    const done = await alreadyServing(ctx, choice);
    if (done) return done;
  }
  const windowOverride = intent.verb === 'rollback' ? undefined : intent.windowOverride;
  const fixes = intent.verb === 'rollback' ? undefined : intent.fixes;
  const fixForward = intent.verb === 'rollback' ? undefined : intent.fixForward;
  const facts = await gatherFacts(ctx, action, env, release, {
    ...options,
    ...(windowOverride ? { windowOverride } : {}),
    ...(fixes !== undefined ? { fixes } : {}),
    ...(fixForward ? { fixForward } : {}),
  });
  if (intent.verb !== 'rollback' && intent.changed) {
    facts.unchanged = await unchangedServices(ctx, release, facts.serving);
  }
  const plan = buildPlan(facts);
  return { outcome: plan.blocked ? 'blocked' : 'proceed', choice, facts, plan, recordForce };
}

/**
 * The services (service → serving release id) whose release serving them in the environment
 * carries the same artifact digest and migrations digest as `release`: deploying them again
 * would put the same bytes and schema in place (`--changed` skips them).
 */
export async function unchangedServices(
  ctx: AirlockContext,
  release: Release,
  serving: ServingRecord[],
): Promise<Record<string, string>> {
  const unchanged: Record<string, string> = {};
  for (const record of serving) {
    const ours = release.services[record.service];
    if (!ours || record.releaseId === release.id) continue;
    const theirs = (await ctx.store.findRelease(record.releaseId))?.services[record.service];
    if (
      theirs &&
      theirs.digest === ours.digest &&
      theirs.migrationsDigest === ours.migrationsDigest
    )
      unchanged[record.service] = record.releaseId;
  }
  return unchanged;
}

/**
 * The plan of promoting `release` into `env` (a later environment) as it would be decided now:
 * e.g. to show where an approval leaves the gate. Changes nothing.
 * @throws as `decide`.
 */
export async function promotionPlan(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  options: GatherOptions = {},
): Promise<Plan> {
  const decision = await decide(
    ctx,
    promotionChoice(env, release, { ifServing: 'redeploy' }),
    options,
  );
  if (decision.outcome === 'unchanged') throw new Error('a redeploy is never unchanged');
  return decision.plan;
}
