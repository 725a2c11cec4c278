/**
 * Gates: the conditions a promotion must meet. Each gate kind is a small pure module,
 * `evaluate(inputs) -> GateResult`; `airlock plan` prints every result with its reason.
 * (plan, then apply; Kargo verification, GitHub Environments protection rules.)
 */
import type { ResolvedEnvironment } from '../config/resolve.ts';
import type { MigrationLayout } from '../migrations/migration-name.ts';
import type { MigrationProblem, NotOnPrevious } from '../migrations/migrator.ts';
import type { ContractHold } from '../pipeline/contract.ts';
import type { SharedValue } from '../secrets/fingerprint.ts';
import type {
  Approval,
  Deployment,
  Incident,
  Release,
  ServingRecord,
  StoredCheckResult,
} from '../state/state-store.ts';

export type GateKind =
  | 'deployed'
  | 'checks'
  | 'migrations'
  | 'drift'
  | 'parity'
  | 'secrets'
  | 'ci'
  | 'soak'
  | 'window'
  | 'approval'
  | 'audit'
  | 'health'
  | 'rehearsal'
  | 'policy';

/** `holds`: satisfied. `fails`: blocks until something changes. `pending`: waiting (e.g. for an approval). */
export type GateStatus = 'holds' | 'fails' | 'pending';

export interface GateResult {
  gate: GateKind;
  status: GateStatus;
  /** One sentence a person can act on. */
  reason: string;
  /** The command that would move this gate forward, when there is one. */
  next?: string;
  /** Set when the gate holds only because of an override: its reason (audited as `gate.overridden`). */
  overridden?: string;
}

/** Per service: the migrations the target would run, and how they compare with the previous environment. */
export interface MigrationGateFacts {
  service: string;
  /** What would run now (contract migrations held back are not here). */
  pending: Array<{ version: number; filename: string }>;
  /** Contract migrations (and those after them) held back, with why (expand/contract). */
  held: ContractHold | null;
  notOnPrevious: NotOnPrevious[];
  problems: MigrationProblem[];
  /**
   * Contract migrations the release carries that the target has not applied (pending or held
   * back) and the release serving the target does not carry: once they run, rolling back to it
   * is refused, so the release is fix-forward only.
   */
  contracts?: string[];
  /**
   * Why the release's migrations could not be read here: it was built on another machine and
   * its files are not stored on this one (nor in a shared store). The gate waits for them.
   */
  notStored?: string;
}

/**
 * The rollback rehearsal of one service on the previous environment, as recorded by the newest
 * deployment of the release there that rehearsed (`rehearse:<service>` step). `missing`: none did.
 */
export interface RehearsalFact {
  service: string;
  result: 'passed' | 'failed' | 'not-needed' | 'contract' | 'missing';
  /** The step's message (why), or null. */
  message: string | null;
  /** The release rehearsed as the rollback target. */
  previous: string | null;
  contracts: string[];
}

/** Schema drift of one service's databases in the previous and the target environment. */
export interface DriftFact {
  service: string;
  mode: 'block' | 'warn';
  /** The layout of the service's migrations folder (which tool creates a new migration). */
  layout?: MigrationLayout;
  /** One sentence per difference not explained by migrations. */
  findings: string[];
  /** Set when drift could not be checked (e.g. a scratch database could not be made). */
  error?: string;
}

/**
 * Parity of one service between the previous environment and the target: the
 * differences of their profiles that the allow list does not allow. Names and kinds only —
 * never a secret's or a var's value.
 */
export interface ParityFact {
  service: string;
  /** `parity.gate`: fail the promotion on drift, or only say so. */
  mode: 'block' | 'warn';
  /** Keys whose values differ outside the allow list; null: the environment lacks the key. */
  drift: Array<{ key: string; previous: string | null; target: string | null }>;
  /** How many differences the allow list allowed. */
  allowed: number;
  /** Set when a platform configuration could not be read. */
  error?: string;
}

/**
 * The secret isolation policy of the environment promoted into (`secrets:`): required names it
 * lacks, per service, and values it shares with another environment (by keyed fingerprint).
 */
export interface SecretsFact {
  missing: Array<{ service: string; names: string[] }>;
  /** How many names are required of the target. */
  requiredCount: number;
  shared: SharedValue[];
  /** Set when the target's secret names could not be read. */
  error?: string;
}

/** CI at the release's exact commit (from GitHub statuses and check runs, or `airlock ci run`). */
export interface CiFact {
  state: 'success' | 'failure' | 'pending' | 'none';
  source: 'github' | 'command';
  /** One line, e.g. `3 checks passed` or `test failed: …`. */
  summary: string;
  /** Names of failing contexts / checks. */
  failing: string[];
}

/** The audit log's hash chain, as checked when the facts were gathered (its newest events and head). */
export interface AuditFact {
  ok: boolean;
  /** The head as `seq:hash-prefix`, or null when it is missing. */
  head: string | null;
  /** "audit log altered at #N: …" when not ok. */
  alteration: string | null;
}

/** Everything the gates look at, gathered before evaluation so evaluation stays pure. */
/** One service of the previous environment as its platform reports it at promotion time. */
export interface LiveServiceFact {
  service: string;
  /** Where it serves; null when it could not be asked. */
  url: string | null;
  /** The release serving traffic; null when nothing serves (or it could not be asked). */
  release: string | null;
  /**
   * True when `release` is another release whose artifact for this service is the promoted
   * release's (a `--changed` deployment kept it serving, unchanged).
   */
  sameArtifact?: boolean;
  /** True when the serving process answers its health check. */
  healthy: boolean;
  /** Why it could not be asked, or null. */
  error: string | null;
  /** False when this machine may not ask (no credentials for that environment here). */
  askable: boolean;
}

export interface GateInputs {
  /**
   * The environment being promoted into, with the promotion policy the gates use: the stricter
   * of the working tree's and the one committed at the release's commit (`committed-policy.ts`).
   */
  environment: ResolvedEnvironment;
  /**
   * How the committed policy bears on this promotion (`committed-policy.ts`): where the working
   * tree's was looser, or why the committed one could not be read. Absent: the same policy.
   */
  policy?: {
    tightened: { commit: string; fields: string[] } | null;
    problem: { reason: string; next: string } | null;
  };
  /** The environment the release comes from. */
  previous: string;
  release: Release;
  /** What serves on the previous environment, one record per service. */
  previousServing: ServingRecord[];
  services: string[];
  /** The latest deployment of this release into the previous environment that switched traffic. */
  previousDeployment: Deployment | null;
  previousChecks: StoredCheckResult[];
  migrations: MigrationGateFacts[];
  /** One per service with a database; empty when there is none. */
  drift: DriftFact[];
  /** One per service; empty when `parity.gate` is off. */
  parity: ParityFact[];
  /**
   * The approvals that may count under the environment's `approval.identity` policy, each
   * `actor` the verified principal (signatures verified again against the allowed-signers file
   * at the release's commit).
   */
  approvals: Approval[];
  /** Approvals recorded that do not count under the identity policy, with why (shown). */
  approvalsNotCounted?: { actor: string; reason: string }[];
  /**
   * The latest rollback in this environment away from this release, or null: by `airlock
   * rollback` (`actor` ran it), or `automatic` (a deployment of it by `actor` failed after the
   * switch and Airlock switched back). Approvals given before it do not count: the release was
   * taken out of service, so it needs a fresh look.
   */
  rolledBack: { at: string; actor: string; to: string; automatic?: boolean } | null;
  /** People who deployed this release into earlier environments (prevent self-review). */
  deployers: string[];
  /** ISO-8601 time of evaluation. */
  now: string;
  /** CI at the commit, when the environment requires it. */
  ci: CiFact | null;
  /** `--override-window "reason"`: promote outside the window or during a freeze, audited. */
  windowOverride: string | null;
  /**
   * What the previous environment's platform reports now, per service (`pipeline/live-previous.ts`);
   * absent where it was not asked (the `deployed` gate then reads the records only).
   */
  previousLive?: LiveServiceFact[];
  /** The secrets policy; null when there is none and no value is shared (no `secrets` gate). */
  secrets?: SecretsFact | null;
  /**
   * Incidents open on the previous environment (`airlock monitor`); the `health` gate appears
   * when there is one. Absent: not asked.
   */
  incidents?: Incident[];
  /** `--fixes <incident>`: the promotion is meant to fix this incident (audited when it lets it through). */
  fixes?: number | null;
  /** The audit chain; the `audit` gate appears (and fails) when it is altered. */
  audit?: AuditFact | null;
  /** Rollback rehearsals on the previous environment, per service with a database (`rollbackRehearsal: required`). */
  rehearsal?: RehearsalFact[];
  /** What the target environment serves now (the rollback target a rehearsal must have tried). */
  targetServing?: ServingRecord[];
  /** `--fix-forward "reason"`: the acknowledgement that a contract release cannot be rolled back (audited). */
  fixForward?: string | null;
}
