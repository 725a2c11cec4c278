/**
 * Plan, then apply (DESIGN.md principle 1; changesets' assemble vs apply). `gatherFacts` reads
 * state (store, ledgers) without changing anything; `buildPlan` is pure and yields a printable
 * plan: the steps a deploy, promotion or rollback would run and every gate with its reason.
 */
import path from 'node:path';
import type { ResolvedConfig, ResolvedDatabase, ResolvedEnvironment } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import { checksStale } from '../gates/checks-gate.ts';
import { evaluateGates, gatesHold } from '../gates/evaluate.ts';
import type {
  CiFact,
  DriftFact,
  GateInputs,
  GateResult,
  MigrationGateFacts,
  ParityFact,
} from '../gates/gate.ts';
import { readMigrationDir } from '../migrations/migration-files.ts';
import { checkAppliedOnPrevious, planMigrations } from '../migrations/migrator.ts';
import { allowList, compareProfiles, readProfile } from '../parity/compare.ts';
import type { Approval, Release, ServingRecord, StoredCheckResult } from '../state/state-store.ts';
import {
  type AirlockContext,
  databaseLocation,
  databaseOf,
  readLedger,
  serviceTarget,
} from './context.ts';
import { describeHold, holdBackContracts } from './contract.ts';

export type PlanAction = 'deploy' | 'promote' | 'rollback';

export interface PlanStep {
  name: string;
  title: string;
  kind: 'verify' | 'recheck' | 'lint' | 'migrate' | 'deploy' | 'check' | 'rollback';
  service: string | null;
  when: 'on-success' | 'on-failure';
}

export interface ReleaseSummary {
  id: string;
  digest: string;
  commit: string;
  dirty: boolean;
  subject: string;
}

export interface Plan {
  action: PlanAction;
  environment: string;
  /** Where a promotion comes from. */
  previous: string | null;
  release: ReleaseSummary;
  /** Release serving now: an id, `mixed` when services differ, or null when nothing serves. */
  current: string | null;
  /** Promotion gates (empty for a deploy into the first environment and for rollbacks). */
  gates: GateResult[];
  /** True when a gate does not hold: applying the plan would be refused. */
  blocked: boolean;
  steps: PlanStep[];
  /** Pending migrations per service, by filename. */
  migrations: Record<string, string[]>;
  warnings: string[];
  /** Explanations that are not problems (e.g. a contract migration held back). */
  notes: string[];
}

/** Everything `buildPlan` needs; gathered by `gatherFacts`. */
export interface PlanFacts {
  action: PlanAction;
  environment: ResolvedEnvironment;
  config: ResolvedConfig;
  release: Release;
  serving: ServingRecord[];
  migrations: MigrationGateFacts[];
  gates: GateInputs | null;
  /** The release this deployment replaces, when it was waiting for approval into the next environment. */
  awaitingApproval: AwaitingApproval | null;
}

/**
 * A release that serves here and waits for approval into the next environment. Deploying
 * another release here strands it (a release must serve on the previous environment to be
 * promoted), so the plan says so and the run audits `approval.superseded`: the queue rule
 * never cancels a promotion that waits for an approval silently (issue 5; GitHub Actions'
 * concurrency groups do cancel pending approvals without a word).
 */
export interface AwaitingApproval {
  release: string;
  environment: string;
  approvals: string[];
  required: number;
}

export function summarize(release: Release): ReleaseSummary {
  const { id, digest, commit, dirty, subject } = release;
  return { id, digest, commit, dirty, subject };
}

/** `r1`, `mixed` or null. */
export function currentRelease(serving: ServingRecord[]): string | null {
  const ids = [...new Set(serving.map((s) => s.releaseId))];
  if (ids.length === 0) return null;
  return ids.length === 1 ? (ids[0] as string) : 'mixed';
}

/** Builds the plan. Pure. */
export function buildPlan(facts: PlanFacts): Plan {
  const { action, environment: env, release, config } = facts;
  const current = currentRelease(facts.serving);
  const gates = facts.gates ? evaluateGates(facts.gates) : [];
  const steps: PlanStep[] = [
    {
      name: 'verify',
      title: `Verify ${release.id} artifacts (sha256)`,
      kind: 'verify',
      service: null,
      when: 'on-success',
    },
  ];
  if (facts.gates && checksStale(facts.gates)) {
    for (const name of config.services) {
      const checks = facts.gates.previousChecks.filter((c) => c.service === name);
      if (checks.length === 0) continue;
      steps.push({
        name: `recheck:${name}`,
        title: `Re-run ${name}'s checks on ${facts.gates.previous} (older than checksMaxAge)`,
        kind: 'recheck',
        service: name,
        when: 'on-success',
      });
    }
  }
  const migrations: Record<string, string[]> = {};
  const warnings: string[] = [];
  const notes: string[] = [];
  for (const name of config.services) {
    const service = env.services[name];
    if (!service) continue;
    const m = facts.migrations.find((x) => x.service === name);
    const pending = m?.pending.map((p) => p.filename) ?? [];
    migrations[name] = pending;
    const held = m?.held?.heldBack.length ?? 0;
    const migrate: PlanStep | null =
      service.database && action !== 'rollback'
        ? {
            name: `migrate:${name}`,
            title: `Migrate ${name} (${pending.length ? `${pending.length} pending` : 'up to date'}${held ? `, ${held} held back` : ''})`,
            kind: 'migrate',
            service: name,
            when: 'on-success',
          }
        : null;
    // Before migrations first reach the pipeline, they are linted (issue 4).
    if (migrate && !env.previous && pending.length + held > 0) {
      steps.push({
        name: `lint:${name}`,
        title: `Lint ${name}'s pending migrations`,
        kind: 'lint',
        service: name,
        when: 'on-success',
      });
    }
    if (migrate && service.database?.migrate === 'before-switch') steps.push(migrate);
    const servingNow = facts.serving.find((s) => s.service === name)?.releaseId;
    steps.push({
      name: `deploy:${name}`,
      title: `Deploy ${name} ${servingNow ? `${servingNow} → ${release.id}` : release.id}`,
      kind: 'deploy',
      service: name,
      when: 'on-success',
    });
    if (migrate && service.database?.migrate === 'after-switch') steps.push(migrate);
    const checkNames = service.checks.map((c) => c.name);
    steps.push({
      name: `check:${name}`,
      title: `Check ${name}${checkNames.length ? ` (${checkNames.join(', ')})` : ' (no checks configured)'}`,
      kind: 'check',
      service: name,
      when: 'on-success',
    });
    if (action === 'rollback') {
      // Going back to an older release: a ledger ahead of its files is expected, not an error.
      const ahead =
        m?.problems.filter((p) => p.code === 'MIGRATION_MISSING_FILE').map((p) => p.file) ?? [];
      if (ahead.length > 0) {
        warnings.push(
          `${name}: ${env.name}'s schema is ahead of ${release.id} (it has ${ahead.join(', ')}, which ${release.id} does not carry). Migrations are forward-only, so ${release.id} runs against the newer schema.`,
        );
      }
      if (pending.length > 0) {
        warnings.push(
          `${name}: ${release.id} carries migrations ${env.name} never ran (${pending.join(', ')}); a rollback does not run migrations.`,
        );
      }
      for (const p of m?.problems ?? [])
        if (p.code !== 'MIGRATION_MISSING_FILE') warnings.push(p.message);
    } else {
      if (m?.problems.length) warnings.push(...m.problems.map((p) => p.message));
      if (m?.held) notes.push(describeHold(m.held, env.name, name));
    }
  }
  if (action !== 'rollback' && env.onCheckFailure === 'rollback') {
    for (const name of config.services) {
      const before = facts.serving.find((s) => s.service === name)?.releaseId;
      if (before && before !== release.id) {
        steps.push({
          name: `rollback:${name}`,
          title: `Roll ${name} back to ${before}`,
          kind: 'rollback',
          service: name,
          when: 'on-failure',
        });
      }
    }
  }
  const waiting = facts.awaitingApproval;
  if (waiting) {
    const given = waiting.approvals.length;
    const state =
      given >= waiting.required
        ? `is approved for ${waiting.environment} (${waiting.approvals.join(', ')}) but not promoted yet`
        : `is waiting for approval into ${waiting.environment} (${given} of ${waiting.required}${given ? `: ${waiting.approvals.join(', ')}` : ''})`;
    warnings.push(
      `${waiting.release} ${state}. ${release.id} replaces it on ${env.name}, so ${waiting.release} can no longer be promoted and its approvals do not carry over to ${release.id}.`,
    );
  }
  if (release.dirty) {
    warnings.push(
      `${release.id} was built from uncommitted changes; it cannot be rebuilt from git.`,
    );
  }
  return {
    action,
    environment: env.name,
    previous: action === 'promote' ? env.previous : null,
    release: summarize(release),
    current,
    gates,
    blocked: gates.length > 0 && !gatesHold(gates),
    steps,
    migrations,
    warnings,
    notes,
  };
}

/** Reads a release's migrations (from its stored snapshot) and compares them with ledgers. */
async function migrationFacts(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  previous: string | null,
  serving: ServingRecord[],
): Promise<MigrationGateFacts[]> {
  const out: MigrationGateFacts[] = [];
  for (const name of ctx.config.services) {
    const service = env.services[name];
    const artifact = release.services[name];
    if (!service?.database || !artifact) continue;
    const files = artifact.migrationsDigest
      ? await readMigrationDir(ctx.artifacts.pathOf(artifact.migrationsDigest))
      : [];
    const plan = planMigrations(files, await readLedger(service.database));
    const servingId = serving.find((s) => s.service === name)?.releaseId;
    const { run, hold } = holdBackContracts(
      plan.pending,
      name,
      servingId ? ((await ctx.store.findRelease(servingId)) ?? null) : null,
    );
    const notOnPrevious = previous
      ? checkAppliedOnPrevious(run, await readLedger(databaseOf(ctx.config, previous, name)))
      : [];
    out.push({
      service: name,
      pending: run.map((f) => ({ version: f.version, filename: f.filename })),
      held: hold,
      notOnPrevious,
      problems: plan.problems,
    });
  }
  return out;
}

/**
 * Drift of each service's databases in `previous` and `env` (issue 4): each live schema against
 * what its ledger implies, replayed on a scratch database from the release's files.
 */
async function driftFacts(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  previous: string,
  release: Release,
): Promise<DriftFact[]> {
  const out: DriftFact[] = [];
  for (const name of ctx.config.services) {
    const target = env.services[name]?.database;
    const artifact = release.services[name];
    if (!target || !artifact) continue;
    const source = databaseOf(ctx.config, previous, name);
    const fact: DriftFact = { service: name, mode: target.drift, findings: [] };
    try {
      const { describeSchema } = await import('../migrations/introspect.ts');
      const { detectDrift } = await import('../migrations/schema-drift.ts');
      const files = artifact.migrationsDigest
        ? await readMigrationDir(ctx.artifacts.pathOf(artifact.migrationsDigest))
        : [];
      const side = async (environment: string, database: ResolvedDatabase) => ({
        name: environment,
        schema: await describeSchema(await databaseLocation(database)),
        ledger: await readLedger(database),
      });
      const result = await detectDrift(
        { a: await side(previous, source), b: await side(env.name, target), files },
        target.engine === 'postgres' ? { postgresUrl: target.url } : {},
      );
      fact.findings = result.findings.map((f) => f.difference.message);
    } catch (error) {
      fact.error = error instanceof Error ? error.message : String(error);
    }
    out.push(fact);
  }
  return out;
}

/**
 * Parity of each service between `previous` and `env` (issue 6): both profiles read through
 * each environment's own provider, compared under the allow list. Empty when parity.gate is off.
 */
async function parityFacts(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  previous: string,
): Promise<ParityFact[]> {
  const { gate } = ctx.config.parity;
  const source = ctx.config.environments[previous];
  if (gate === 'off' || !source) return [];
  const allow = allowList(ctx.config);
  const out: ParityFact[] = [];
  for (const name of ctx.config.services) {
    const fact: ParityFact = { service: name, mode: gate, drift: [], allowed: 0 };
    try {
      const side = (e: ResolvedEnvironment) =>
        readProfile(e, name, ctx.providerFor(e), serviceTarget(ctx.config, e, name));
      const comparison = compareProfiles(await side(source), await side(env), allow);
      fact.drift = comparison.drift.map((r) => ({ key: r.key, previous: r.a, target: r.b }));
      fact.allowed = comparison.allowed.length;
      // A part neither side could read is not a mirror the gate can vouch for.
      if (comparison.unread.length > 0) fact.error = comparison.unread.join('; ');
    } catch (error) {
      fact.error = error instanceof Error ? error.message : String(error);
    }
    out.push(fact);
  }
  return out;
}

/** CI at the release's commit, when the environment requires it (GitHub or `airlock ci run`). */
async function ciFact(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Promise<CiFact | null> {
  const ci = ctx.config.ci;
  if (!env.promotion.ci || !ci) return null;
  if (ci.kind === 'github') {
    if (!ctx.githubCi) {
      return {
        state: 'none',
        source: 'github',
        summary: 'GITHUB_TOKEN is not set, so GitHub cannot be asked',
        failing: [],
      };
    }
    return ctx.githubCi(release.commit, ci.required);
  }
  const result = await ctx.store.latestCiResult(release.commit);
  if (!result) return { state: 'none', source: 'command', summary: 'not run', failing: [] };
  return {
    state: result.status === 'passed' ? 'success' : 'failure',
    source: 'command',
    summary: `\`${ci.command}\` ${result.summary} (${result.at})`,
    failing: result.status === 'passed' ? [] : [ci.command],
  };
}

/** People who deployed `release` into the environments before `environment`. */
export async function deployersOf(
  ctx: AirlockContext,
  environment: string,
  release: string,
): Promise<string[]> {
  const env = environmentNamed(ctx.config, environment);
  const out = new Set<string>();
  for (const name of ctx.config.pipeline.slice(0, env.index)) {
    for (const d of await ctx.store.listDeployments({
      environment: name,
      releaseId: release,
      limit: 50,
    }))
      out.add(d.actor);
  }
  return [...out];
}

/** The latest result of each (service, check): a re-verification replaces the earlier run. */
function latestPerCheck(results: StoredCheckResult[]): StoredCheckResult[] {
  const latest = new Map<string, StoredCheckResult>();
  for (const r of results) latest.set(`${r.service}\0${r.name}`, r);
  return [...latest.values()];
}

export interface GatherOptions {
  /** `--override-window "reason"`. */
  windowOverride?: string;
  /**
   * Leave the databases and platforms alone (no migration, drift or parity facts): for
   * telling people what a release waits for where the next environment's database or platform
   * cannot be reached (its secret is not here).
   */
  skipMigrations?: boolean;
}

/** Gathers the facts for a plan. Reads only. */
export async function gatherFacts(
  ctx: AirlockContext,
  action: PlanAction,
  env: ResolvedEnvironment,
  release: Release,
  options: GatherOptions = {},
): Promise<PlanFacts> {
  const serving = await ctx.store.getServing(env.name);
  const previous = action === 'promote' ? env.previous : null;
  const migrations = options.skipMigrations
    ? []
    : await migrationFacts(ctx, env, release, previous, serving);
  let gates: GateInputs | null = null;
  if (action === 'promote' && previous) {
    const previousServing = await ctx.store.getServing(previous);
    const history = await ctx.store.listDeployments({
      environment: previous,
      releaseId: release.id,
      limit: 20,
    });
    const previousDeployment = history.find((d) => d.switchedAt !== null) ?? null;
    gates = {
      environment: env,
      previous,
      release,
      previousServing,
      services: ctx.config.services,
      previousDeployment,
      previousChecks: previousDeployment
        ? latestPerCheck(await ctx.store.listCheckResults(previousDeployment.id))
        : [],
      migrations,
      approvals: await ctx.store.listApprovals(env.name, release.id),
      deployers: await deployersOf(ctx, env.name, release.id),
      now: ctx.now().toISOString(),
      drift: options.skipMigrations ? [] : await driftFacts(ctx, env, previous, release),
      parity: options.skipMigrations ? [] : await parityFacts(ctx, env, previous),
      ci: await ciFact(ctx, env, release),
      windowOverride: options.windowOverride ?? null,
    };
  }
  return {
    action,
    environment: env,
    config: ctx.config,
    release,
    serving,
    migrations,
    gates,
    awaitingApproval:
      action === 'rollback' ? null : await awaitingApproval(ctx, env, release, serving),
  };
}

/** See `AwaitingApproval`: what `release` would strand by replacing what serves on `env`. */
async function awaitingApproval(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  serving: ServingRecord[],
): Promise<AwaitingApproval | null> {
  const next = env.next ? ctx.config.environments[env.next] : undefined;
  const required = next?.promotion.approval.required ?? 0;
  if (next?.promotion.policy !== 'manual' || required === 0) return null;
  const currentId = currentRelease(serving);
  if (!currentId || currentId === 'mixed' || currentId === release.id) return null;
  const current = await ctx.store.findRelease(currentId);
  const onNext = currentRelease(await ctx.store.getServing(next.name));
  const nextRelease = onNext && onNext !== 'mixed' ? await ctx.store.findRelease(onNext) : null;
  if (!current || (nextRelease && nextRelease.seq >= current.seq)) return null;
  const decisions = new Map<string, Approval['decision']>();
  for (const a of await ctx.store.listApprovals(next.name, current.id))
    decisions.set(a.actor, a.decision);
  if ([...decisions.values()].includes('rejected')) return null;
  return {
    release: current.id,
    environment: next.name,
    approvals: [...decisions.keys()],
    required,
  };
}

/** The environment named `name`. @throws UserError `UNKNOWN_ENVIRONMENT`. */
export function environmentNamed(config: ResolvedConfig, name: string): ResolvedEnvironment {
  const env = config.environments[name];
  if (!env) {
    throw new UserError(
      'UNKNOWN_ENVIRONMENT',
      `there is no environment "${name}" in ${config.displayFile}.`,
      {
        hint: `Environments are: ${config.pipeline.join(', ')}.`,
      },
    );
  }
  return env;
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

/**
 * The release a promotion into `env` would take: the one serving on the previous environment.
 * @throws UserError `NOTHING_TO_PROMOTE`.
 */
export async function promotionCandidate(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
): Promise<Release> {
  if (!env.previous) {
    throw new UserError(
      'NOTHING_TO_PROMOTE',
      `${env.name} is the first environment of the pipeline; releases are deployed into it, not promoted.`,
      {
        hint: `Run \`airlock deploy ${env.name}\`.`,
      },
    );
  }
  const current = currentRelease(await ctx.store.getServing(env.previous));
  if (!current) {
    throw new UserError(
      'NOTHING_TO_PROMOTE',
      `nothing is deployed on ${env.previous}, so there is nothing to promote to ${env.name}.`,
      {
        hint: `Run \`airlock deploy ${env.previous}\` first.`,
      },
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

/** Where a release's service artifact is materialized to run in an environment. */
export function releaseDir(
  home: string,
  environment: string,
  releaseId: string,
  service: string,
): string {
  return path.join(home, 'envs', environment, 'releases', releaseId, service);
}
