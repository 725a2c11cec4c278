/**
 * Plan, then apply (changesets: assemble vs apply; Kamal: command builders are data). The plan
 * is a pure function of the facts (`facts.ts` reads them): the steps a deploy, promotion or
 * rollback would run, and every gate with its reason. Printing it changes nothing.
 */
import type { ResolvedConfig, ResolvedEnvironment } from '../config/resolve.ts';
import { checksStale } from '../gates/checks-gate.ts';
import { evaluateGates, gatesHold } from '../gates/evaluate.ts';
import type { GateInputs, GateResult, MigrationGateFacts } from '../gates/gate.ts';
import type { DeploymentKind, Release, ServingRecord } from '../state/state-store.ts';
import { describeHold } from './contract.ts';

export interface PlanStep {
  name: string;
  title: string;
  kind:
    | 'verify'
    | 'recheck'
    | 'lint'
    | 'migrate'
    | 'deploy'
    | 'unchanged'
    | 'check'
    | 'rehearse'
    | 'rollback';
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
  action: DeploymentKind;
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
  /**
   * `--changed`: services not deployed because the release serving them here has the same
   * artifact and migrations digests (service → that release's id). Absent without `--changed`.
   */
  unchanged?: Record<string, string>;
}

/** Everything `buildPlan` needs; gathered by `gatherFacts`. */
export interface PlanFacts {
  action: DeploymentKind;
  environment: ResolvedEnvironment;
  config: ResolvedConfig;
  release: Release;
  serving: ServingRecord[];
  migrations: MigrationGateFacts[];
  gates: GateInputs | null;
  /** The release this deployment replaces, when it was waiting for approval into the next environment. */
  awaitingApproval: AwaitingApproval | null;
  /**
   * `--changed`: the services whose serving release here carries the same artifact and
   * migrations digests as `release` (service → that release's id); they are not redeployed.
   */
  unchanged?: Record<string, string>;
}

/**
 * A release that serves here and waits for approval into the next environment. Deploying
 * another release here strands it (a release must serve on the previous environment to be
 * promoted), so the plan says so and the run audits `approval.superseded`: the queue rule
 * never cancels a promotion that waits for an approval silently (GitHub Actions'
 * concurrency groups do cancel pending approvals without a word).
 */
export interface AwaitingApproval {
  release: string;
  environment: string;
  approvals: string[];
  required: number;
  /**
   * The release served in `environment` before and was rolled back from there: only the
   * approvals given since count (the approval gate voids the older ones).
   */
  rolledBack?: { at: string; to: string };
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
      title: `Preflight and verify ${release.id} artifacts (sha256)`,
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
    const same = facts.unchanged?.[name];
    if (same && action !== 'rollback') {
      // Same bytes and migrations as what serves: recorded as serving this release, not redeployed.
      migrations[name] = [];
      steps.push({
        name: `unchanged:${name}`,
        title: `Skip ${name}: unchanged since ${same} (same artifact and migrations)`,
        kind: 'unchanged',
        service: name,
        when: 'on-success',
      });
      continue;
    }
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
    // Before migrations first reach the pipeline, they are linted (Atlas `migrate lint`, squawk).
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
    const next = env.next ? config.environments[env.next] : undefined;
    if (action !== 'rollback' && migrate && next?.promotion.rollbackRehearsal === 'required') {
      steps.push({
        name: `rehearse:${name}`,
        title: `Rehearse ${name}'s rollback for ${next.name} (the release ${next.name} would roll back to, on ${env.name}'s new schema; then ${release.id} again)`,
        kind: 'rehearse',
        service: name,
        when: 'on-success',
      });
    }
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
      if (m?.held) notes.push(describeHold(m.held, env, name, release.id));
    }
  }
  // The release serves here but some of its migrations have not run (held back while an older
  // release served): deploying it again applies them, and a promotion of it does not stop at
  // "nothing to promote" until they have.
  const left = Object.entries(migrations).flatMap(([s, files]) => files.map((f) => `${s}/${f}`));
  if (action !== 'rollback' && current === release.id && left.length > 0) {
    notes.unshift(
      `${env.name} already serves ${release.id} but has not run ${left.length === 1 ? 'one of its migrations' : `${left.length} of its migrations`} yet (${left.join(', ')}): this ${action === 'promote' ? 'promotion' : 'deployment'} applies ${left.length === 1 ? 'it' : 'them'}, deploys ${release.id} again and checks it.`,
    );
  }
  if (action !== 'rollback' && env.onCheckFailure === 'rollback') {
    for (const name of config.services) {
      const before = facts.serving.find((s) => s.service === name)?.releaseId;
      if (before && before !== release.id && !facts.unchanged?.[name]) {
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
    const again = waiting.rolledBack
      ? `was rolled back from ${waiting.environment} (to ${waiting.rolledBack.to}) and `
      : '';
    const state =
      given >= waiting.required
        ? `${again}is approved for ${waiting.environment}${again ? ' again' : ''} (${waiting.approvals.join(', ')}) but not promoted yet`
        : `${again}is waiting for approval into ${waiting.environment}${again ? ' again' : ''} (${given} of ${waiting.required}${given ? `: ${waiting.approvals.join(', ')}` : ''})`;
    warnings.push(
      `${waiting.release} ${state}. Once ${release.id} replaces it on ${env.name}, ${waiting.release} can no longer be promoted, and its approvals do not carry over to ${release.id}.`,
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
    ...(facts.unchanged ? { unchanged: facts.unchanged } : {}),
  };
}
