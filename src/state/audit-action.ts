/**
 * The closed list of audit actions Airlock writes, grouped by what they are about. An action is
 * `<group>.<what>` (`promotion.refused`, `step.failed`); every event goes through `audit()`
 * (`src/state/audit.ts`), which accepts only these. `docs/audit.md` describes each group's
 * `result` and `detail`, and a test keeps that page and this list equal.
 *
 * The stored column stays a plain string: rows written by an older Airlock may hold an action
 * that is no longer listed here, so readers keep a default branch.
 */

/**
 * The actions of each group. Every action starts with its group's name and a dot.
 */
export const AUDIT_ACTION_GROUPS = {
  /**
   * A run putting a release into the first environment (`airlock deploy <first>`): `started`
   * once the lock is held and the run recorded, `succeeded` / `failed` when it ends, `refused`
   * (no run) when a gate does not hold.
   */
  deployment: [
    'deployment.started',
    'deployment.succeeded',
    'deployment.failed',
    'deployment.refused',
  ],
  /**
   * A run promoting a release into a later environment (`airlock promote`, `airlock deploy
   * <later>`, automatic promotions), as for `deployment`; `superseded` when an automatic
   * promotion waiting for its gate (`airlock promote --auto`) gives way to a newer release.
   */
  promotion: [
    'promotion.started',
    'promotion.succeeded',
    'promotion.failed',
    'promotion.refused',
    'promotion.superseded',
  ],
  /**
   * A run serving an earlier release again (`airlock rollback`), as for `deployment`; `refused`
   * also when the target release does not carry a contract migration applied on the
   * environment, and `forced` when `--force` passes that guard (written before the run starts).
   */
  rollback: [
    'rollback.started',
    'rollback.succeeded',
    'rollback.failed',
    'rollback.refused',
    'rollback.forced',
  ],
  /**
   * One finished step of a deployment, promotion or rollback run, written in the same
   * transaction as the step's record. Skipped steps are not written.
   */
  step: ['step.succeeded', 'step.failed', 'step.errored'],
  /**
   * Runs whose process died: `interrupted` when the next command finds one, `resumed` /
   * `replaced` when `airlock resume` or a newer run of that environment resolves it.
   */
  run: ['run.interrupted', 'run.resumed', 'run.replaced'],
  /**
   * A run started although the deploy window or a freeze said no, because `--override-window
   * <reason>` overrode it; or although the `rehearsal` gate said the release brings a contract
   * migration, because `--fix-forward <reason>` acknowledged it.
   */
  gate: ['gate.overridden'],
  /**
   * `airlock approve`: `recorded` (approved) or `rejected`; `refused` when the approval does not
   * count (not an approver, self-approval, no proven identity, a signature or token that does
   * not verify); `superseded` when a newer release's run replaced a
   * release that was still waiting for approval on the next environment.
   */
  approval: ['approval.recorded', 'approval.rejected', 'approval.refused', 'approval.superseded'],
  /**
   * Environment locks: `acquired` / `released` by `airlock lock acquire|release`, `taken-over`
   * when a command takes a lock whose holder died or whose lease ran out, `refused` when a
   * command could not have the lock (held by another, or a live run's lock not released).
   */
  lock: ['lock.acquired', 'lock.released', 'lock.taken-over', 'lock.refused'],
  /** A command waiting in an environment's queue gave way to a newer release (automatic policy). */
  queue: ['queue.superseded'],
  /**
   * Database migrations: `applied` (files ran), `held_back` (a contract migration waits for the
   * release that no longer needs what it removes), `lint_suppressed` (lint findings silenced by
   * a directive, during a run), `adopted` (`airlock migrate adopt` wrote the ledger from another
   * tool's history), `resolved` (`airlock migrate resolve` recorded a file as applied without
   * running it).
   */
  migrations: [
    'migrations.applied',
    'migrations.held_back',
    'migrations.lint_suppressed',
    'migrations.adopted',
    'migrations.resolved',
  ],
  /**
   * `airlock check <env>` ran an environment's checks again against what serves: `passed` or
   * `failed` (detail: each check's name, service, status and message).
   */
  check: ['check.passed', 'check.failed'],
  /**
   * `airlock monitor` saw an environment red: `opened` after consecutive failing passes,
   * `changed` when the failing checks change, `resolved` after consecutive passing passes.
   */
  incident: ['incident.opened', 'incident.changed', 'incident.resolved'],
  /**
   * `airlock build` (or a deploy that builds first) created a new release; `airlock gc --remote`
   * removed artifacts of releases nothing keeps from the shared artifact store (`collected`;
   * detail: the store, the digests removed, blobs and bytes where the store says).
   */
  release: ['release.built', 'release.collected'],
  /** `airlock ci run` recorded the result of the CI command at a commit. */
  ci: ['ci.passed', 'ci.failed'],
  /** `airlock secret set` set a secret on an environment's service. */
  secret: ['secret.set'],
  /** A notification sink was told about a deployment (delivered, or failed after its retries). */
  notification: ['notification.delivered', 'notification.failed'],
  /** Reporting a run to GitHub Deployments failed (the run itself is not affected). */
  github: ['github.report_failed'],
  /**
   * The audit log itself: `altered` when `airlock audit verify` finds the hash chain broken
   * (detail: the first bad event and why); `accepted` when `airlock audit accept --reason`
   * starts a new segment after it (gates hold again); `guard-restored` when a guard trigger of
   * the log was found dropped (SQLite) and created again.
   */
  audit: ['audit.altered', 'audit.accepted', 'audit.guard-restored'],
  /**
   * The local runtime saw an app process of a local environment crash, and restarted it; or
   * refused to restart it because its copy no longer verifies (`restart-refused`).
   */
  app: ['app.crashed', 'app.restarted', 'app.restart-refused'],
  /**
   * The local runtime acting by itself: `reverted` when a switch's checks lease expired before
   * the pipeline confirmed its checks, and it switched back to the release that served before;
   * `recovered` when it came back after its daemon died (the outage).
   */
  runtime: ['runtime.reverted', 'runtime.recovered'],
  /**
   * Staging data: `seeded` when `airlock data seed` ran seed files or a command (detail: which);
   * `refreshed` / `refresh-failed` / `refused` for `airlock data refresh` (detail: the source,
   * rows per table, duration; or why it was refused or failed).
   */
  data: ['data.seeded', 'data.refreshed', 'data.refresh-failed', 'data.refused'],
  /**
   * `airlock serve` and its personal tokens: `token-created` / `token-revoked` (`airlock token`),
   * `signed-in` / `signed-out` / `sign-in-refused` (the dashboard; detail: the principal, the
   * token's id and the request's address), `action-refused` (a role that may not act, a missing
   * or wrong CSRF token), `promote-requested` / `rollback-requested` (a deployer asked; the
   * operation's own events follow).
   */
  dashboard: [
    'dashboard.token-created',
    'dashboard.token-revoked',
    'dashboard.signed-in',
    'dashboard.signed-out',
    'dashboard.sign-in-refused',
    'dashboard.action-refused',
    'dashboard.promote-requested',
    'dashboard.rollback-requested',
  ],
} as const satisfies Record<string, readonly `${string}.${string}`[]>;

/** The name of a group of actions: what the events are about (`promotion`, `lock`, …). */
export type AuditActionGroup = keyof typeof AUDIT_ACTION_GROUPS;

/** One action Airlock writes to the audit log, e.g. `promotion.refused`. */
export type AuditAction = (typeof AUDIT_ACTION_GROUPS)[AuditActionGroup][number];

/** Every action, group by group, in the order above. */
export const AUDIT_ACTIONS: readonly AuditAction[] = Object.values(AUDIT_ACTION_GROUPS).flat();

/**
 * The outcome of an audited event: `ok`; `failed` (a business outcome) or `errored` (a
 * technical fault); `refused` (a gate or a rule said no: nothing ran); `interrupted` (its
 * process died); `superseded` (a newer release took its place).
 */
export type AuditResult = 'ok' | 'failed' | 'errored' | 'refused' | 'interrupted' | 'superseded';
