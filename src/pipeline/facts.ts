/**
 * The facts a plan is built from, read from the state store, the environments' databases
 * (ledgers, live schemas), the platforms (parity) and CI. Reads only: nothing here changes
 * anything. `plan.ts` turns the facts into a plan, purely; `decide.ts` gathers them before and
 * again under the environment lock.
 */

import { environmentNamed } from '../config/environments.ts';
import type { ResolvedDatabase, ResolvedEnvironment } from '../config/resolve.ts';
import { ConfigError, hasCode, type UserError } from '../errors.ts';
import type {
  AuditFact,
  CiFact,
  DriftFact,
  GateInputs,
  LiveServiceFact,
  MigrationGateFacts,
  ParityFact,
  RehearsalFact,
  SecretsFact,
} from '../gates/gate.ts';
import { directivesOf } from '../migrations/directives.ts';
import type { MigrationFile } from '../migrations/migration-files.ts';
import { checkAppliedOnPrevious, planMigrations } from '../migrations/migrator.ts';
import { allowList, compareForGate, readProfile } from '../parity/compare.ts';
import { sharedValues } from '../secrets/fingerprint.ts';
import { AUDIT_TAIL, describeAlteration, formatAuditHead } from '../state/audit-chain.ts';
import type {
  Approval,
  Deployment,
  DeploymentKind,
  Release,
  ServingRecord,
  StoredCheckResult,
} from '../state/state-store.ts';
import { countableApprovals } from './approval-identity.ts';
import { gatePolicy } from './committed-policy.ts';
import { type AirlockContext, databaseOf, serviceTarget } from './context.ts';
import { carries, holdBackContracts } from './contract.ts';
import { ledgerFilesFromReleases } from './ledger-files.ts';
import { liveServices } from './live-previous.ts';
import { type AwaitingApproval, currentRelease, type PlanFacts } from './plan.ts';
import { releaseMigrations } from './release-migration-files.ts';
import type { RehearsalOutput } from './steps/rehearse-step.ts';

/**
 * Whether `error` means this machine cannot reach what the full facts need: a database whose
 * secret is not set here (`ConfigError`), or a release whose files are stored elsewhere
 * (`RELEASE_NOT_STORED`). Callers that only tell people what a release waits for then gather
 * with `skipMigrations`.
 */
export function notReachableHere(error: unknown): boolean {
  return error instanceof ConfigError || hasCode(error, 'RELEASE_NOT_STORED');
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
    let files: MigrationFile[];
    try {
      files = await releaseMigrations(ctx, release, name);
    } catch (error) {
      // A promotion's plan is also how a CI job learns which release to fetch before it has
      // the files: the gate waits for them instead of the plan failing.
      if (!previous || !hasCode(error, 'RELEASE_NOT_STORED')) throw error;
      out.push({
        service: name,
        pending: [],
        held: null,
        notOnPrevious: [],
        problems: [],
        notStored: (error as UserError).message,
      });
      continue;
    }
    const plan = planMigrations(files, await ctx.databases.readLedger(service.database));
    const servingId = serving.find((s) => s.service === name)?.releaseId;
    const servingRelease = servingId ? ((await ctx.store.findRelease(servingId)) ?? null) : null;
    const { run, hold } = holdBackContracts(plan.pending, name, servingRelease);
    const notOnPrevious = previous
      ? checkAppliedOnPrevious(
          run,
          await ctx.databases.readLedger(databaseOf(ctx.config, previous, name)),
        )
      : [];
    out.push({
      service: name,
      pending: run.map((f) => ({ version: f.version, filename: f.filename })),
      held: hold,
      notOnPrevious,
      problems: plan.problems,
      // Contracts this release brings that what serves here does not carry: once they run,
      // rolling back to it is refused (nothing serving yet: nothing to roll back to).
      contracts: servingRelease
        ? plan.pending
            .filter((f) => directivesOf(f).contract && !carries(servingRelease.services[name], f))
            .map((f) => f.filename)
        : [],
    });
  }
  return out;
}

/**
 * Drift of each service's databases in `previous` and `env`: each live schema against
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
    const fact: DriftFact = {
      service: name,
      mode: target.drift,
      layout: target.layout.layout,
      findings: [],
    };
    try {
      const { describeSchema } = await import('../migrations/introspect.ts');
      const { detectDrift } = await import('../migrations/schema-drift.ts');
      const files = await releaseMigrations(ctx, release, name);
      const side = async (environment: string, database: ResolvedDatabase) => ({
        name: environment,
        schema: await describeSchema(await ctx.databases.location(database)),
        ledger: await ctx.databases.readLedger(database),
      });
      const a = await side(previous, source);
      const b = await side(env.name, target);
      // Rows applied by a release this one does not carry (after a rollback) are explained by
      // their files in that release.
      const ledgerFiles = await ledgerFilesFromReleases(ctx, name, files, [a.ledger, b.ledger]);
      const result = await detectDrift(
        { a, b, files, ledgerFiles },
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
 * Parity of each service between `previous` and `env`: both profiles read through
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
      const comparison = compareForGate(await side(source), await side(env), allow);
      fact.drift = comparison.drift.map((r) => ({ key: r.key, previous: r.a, target: r.b }));
      fact.allowed = comparison.allowed;
      // A part neither side could read is not a mirror the gate can vouch for.
      if (comparison.unread.length > 0) fact.error = comparison.unread.join('; ');
    } catch (error) {
      fact.error = error instanceof Error ? error.message : String(error);
    }
    out.push(fact);
  }
  return out;
}

/**
 * The secrets policy of `env` (`secrets:`): the required names it lacks (from the secret store,
 * or each service's platform secret names) and the values it shares with another environment
 * (keyed fingerprints recorded by `airlock secret set`). Null when there is no policy and no
 * value is shared.
 */
async function secretsFact(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
): Promise<SecretsFact | null> {
  const policy = ctx.config.secrets;
  const shared = sharedValues(await ctx.store.listSecretFingerprints(), env.name, policy.shared);
  if (!policy.configured && shared.length === 0) return null;
  const required = policy.required[env.name] ?? [];
  const fact: SecretsFact = { missing: [], requiredCount: required.length, shared };
  if (required.length === 0) return fact;
  try {
    const store =
      ctx.config.secrets.store === 'platform'
        ? null
        : (await import('../secrets/stores/open-secret-store.ts')).openSecretStore(
            ctx.config,
            process.env,
            ctx.home,
          );
    const storeNames = store ? new Set(await store.names(env.name)) : null;
    for (const service of ctx.config.services) {
      const names =
        storeNames ??
        new Set(await ctx.providerFor(env).secretNames(serviceTarget(ctx.config, env, service)));
      const missing = required.filter((n) => !names.has(n));
      if (missing.length > 0) fact.missing.push({ service, names: missing });
    }
  } catch (error) {
    fact.error = error instanceof Error ? error.message : String(error);
  }
  return fact;
}

/** CI at the release's commit, when the environment requires it (GitHub or `airlock ci run`). */
/** The audit chain's newest events and head, for the `audit` gate. */
async function auditFact(ctx: AirlockContext): Promise<AuditFact> {
  const v = await ctx.store.verifyAudit({ tail: AUDIT_TAIL });
  return {
    ok: v.ok,
    head: v.head ? formatAuditHead(v.head) : null,
    alteration: describeAlteration(v),
  };
}

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

/** The approvals the gate may count (verified under the identity policy), and those it may not. */
async function approvalFacts(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Promise<Pick<GateInputs, 'approvals' | 'approvalsNotCounted'>> {
  const { approvals, notCounted } = await countableApprovals(ctx, env, release);
  return { approvals, approvalsNotCounted: notCounted };
}

/** The latest result of each (service, check): a re-verification replaces the earlier run. */
function latestPerCheck(results: StoredCheckResult[]): StoredCheckResult[] {
  const latest = new Map<string, StoredCheckResult>();
  for (const r of results) latest.set(`${r.service}\0${r.name}`, r);
  return [...latest.values()];
}

/**
 * The latest time `releaseId` was taken out of service in `environment`, or null: by
 * `airlock rollback` (a rollback deployment away from it), or by Airlock itself (a deployment of
 * it that switched traffic, then failed and was rolled back: status `rolled_back`). Approvals
 * given before either no longer count (see the approval gate): a release that failed in an
 * environment must not go back into it on the approvals that let it fail.
 */
export async function rolledBackFrom(
  ctx: AirlockContext,
  environment: string,
  releaseId: string,
): Promise<GateInputs['rolledBack']> {
  // Newest first.
  for (const d of await ctx.store.listDeployments({ environment, limit: 100 })) {
    if (d.kind === 'rollback' && d.previousReleaseId === releaseId && d.switchedAt !== null)
      return { at: d.switchedAt, actor: d.actor, to: d.releaseId };
    if (d.kind !== 'rollback' && d.releaseId === releaseId && d.status === 'rolled_back')
      return {
        at: d.finishedAt ?? d.switchedAt ?? d.startedAt,
        actor: d.actor,
        to: d.previousReleaseId ?? 'the release before',
        automatic: true,
      };
  }
  return null;
}

export interface GatherOptions {
  /** `--override-window "reason"`. */
  windowOverride?: string;
  /** `--fixes <incident>`. */
  fixes?: number;
  /** `--fix-forward "reason"`: acknowledges a contract release cannot be rolled back. */
  fixForward?: string;
  /**
   * Leave the databases and platforms alone (no migration, drift or parity facts): for
   * telling people what a release waits for where the next environment's database or platform
   * cannot be reached (its secret is not here).
   */
  skipMigrations?: boolean;
}

/**
 * The rollback rehearsal of each service with a database, from the newest deployment of the
 * release into the previous environment (in `history`, newest first) whose run rehearsed it.
 */
async function rehearsalFacts(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  history: Deployment[],
): Promise<RehearsalFact[]> {
  const services = ctx.config.services.filter((s) => env.services[s]?.database);
  const found = new Map<string, RehearsalFact>();
  for (const deployment of history) {
    if (found.size === services.length) break;
    if (deployment.runId === null) continue;
    const steps = await ctx.store.listSteps(deployment.runId);
    for (const service of services) {
      if (found.has(service)) continue;
      const step = steps.find((s) => s.name === `rehearse:${service}`);
      const output = step?.output as Partial<RehearsalOutput> | null | undefined;
      if (!step || !output?.result) continue;
      found.set(service, {
        service,
        result: output.result,
        message: step.message,
        previous: output.previous ?? null,
        contracts: output.contracts ?? [],
      });
    }
  }
  return services.map(
    (service) =>
      found.get(service) ?? {
        service,
        result: 'missing',
        message: null,
        previous: null,
        contracts: [],
      },
  );
}

/** Gathers the facts for a plan. Reads only. */
export async function gatherFacts(
  ctx: AirlockContext,
  action: DeploymentKind,
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
    // The gates hold the release to the stricter of this airlock.yaml's policy and its commit's.
    const { environment: gateEnv, tightened, problem } = await gatePolicy(ctx, env, release);
    gates = {
      environment: gateEnv,
      ...(tightened || problem ? { policy: { tightened, problem } } : {}),
      previous,
      release,
      previousServing,
      services: ctx.config.services,
      previousDeployment,
      previousChecks: previousDeployment
        ? latestPerCheck(await ctx.store.listCheckResults(previousDeployment.id))
        : [],
      migrations,
      ...(await approvalFacts(ctx, gateEnv, release)),
      rolledBack: await rolledBackFrom(ctx, env.name, release.id),
      deployers: await deployersOf(ctx, env.name, release.id),
      now: ctx.now().toISOString(),
      drift: options.skipMigrations ? [] : await driftFacts(ctx, env, previous, release),
      parity: options.skipMigrations ? [] : await parityFacts(ctx, env, previous),
      ci: await ciFact(ctx, gateEnv, release),
      secrets: options.skipMigrations ? null : await secretsFact(ctx, env),
      windowOverride: options.windowOverride ?? null,
      fixForward: options.fixForward ?? null,
      ...(gateEnv.promotion.rollbackRehearsal === 'required'
        ? { rehearsal: await rehearsalFacts(ctx, gateEnv, history), targetServing: serving }
        : {}),
      incidents: await ctx.store.listIncidents({
        environment: previous,
        status: 'open',
        limit: 20,
      }),
      fixes: options.fixes ?? null,
      audit: await auditFact(ctx),
      ...(gateEnv.promotion.livePrevious
        ? {
            previousLive: await sameArtifacts(
              ctx,
              release,
              await liveServices(ctx, environmentNamed(ctx.config, previous)),
            ),
          }
        : {}),
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
  // A release whose checks failed here waits for its checks, not for approval: the checks gate
  // holds it back whatever the approvals say, so replacing it strands nothing.
  const [here] = (
    await ctx.store.listDeployments({ environment: env.name, releaseId: current.id, limit: 20 })
  ).filter((d) => d.switchedAt !== null);
  if (
    here &&
    latestPerCheck(await ctx.store.listCheckResults(here.id)).some((c) => c.status === 'failed')
  )
    return null;
  // A release that served there and was rolled back from it: the approvals given before the
  // rollback no longer count (see the approval gate), so they strand nothing.
  const rolledBack = await rolledBackFrom(ctx, next.name, current.id);
  const since = rolledBack ? Date.parse(rolledBack.at) : null;
  const decisions = new Map<string, Approval['decision']>();
  for (const a of await ctx.store.listApprovals(next.name, current.id))
    if (since === null || Date.parse(a.at) > since) decisions.set(a.actor, a.decision);
  if ([...decisions.values()].includes('rejected')) return null;
  if (rolledBack && decisions.size === 0) return null;
  return {
    release: current.id,
    environment: next.name,
    approvals: [...decisions.keys()],
    required,
    ...(rolledBack ? { rolledBack: { at: rolledBack.at, to: rolledBack.to } } : {}),
  };
}

/**
 * Marks the live services that serve another release with this release's very artifact (and
 * migrations): a `--changed` deployment left them serving, unchanged.
 */
async function sameArtifacts(
  ctx: AirlockContext,
  release: Release,
  live: LiveServiceFact[],
): Promise<LiveServiceFact[]> {
  return Promise.all(
    live.map(async (fact) => {
      if (!fact.release || fact.release === release.id) return fact;
      const ours = release.services[fact.service];
      const theirs = (await ctx.store.findRelease(fact.release).catch(() => null))?.services[
        fact.service
      ];
      const same =
        ours !== undefined &&
        theirs !== undefined &&
        ours.digest === theirs.digest &&
        ours.migrationsDigest === theirs.migrationsDigest;
      return same ? { ...fact, sameArtifact: true } : fact;
    }),
  );
}

/**
 * `gatherFacts`, without the migration, drift and parity facts when this machine cannot reach
 * them (see `notReachableHere`): for callers that only tell people what a release waits for or
 * warns about.
 */
export function gatherReachableFacts(
  ctx: AirlockContext,
  action: DeploymentKind,
  env: ResolvedEnvironment,
  release: Release,
): Promise<PlanFacts> {
  return gatherFacts(ctx, action, env, release).catch((error: unknown) => {
    if (!notReachableHere(error)) throw error;
    return gatherFacts(ctx, action, env, release, { skipMigrations: true });
  });
}
