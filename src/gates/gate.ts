/**
 * Gates: the conditions a promotion must meet. Each gate kind is a small pure module,
 * `evaluate(inputs) -> GateResult`; `airlock plan` prints every result with its reason.
 * (DESIGN.md principle 1 and "gate"; Kargo verification, GitHub Environments protection rules.)
 */
import type { ResolvedEnvironment } from '../config/resolve.ts';
import type { MigrationProblem, NotOnPrevious } from '../migrations/migrator.ts';
import type {
  Approval,
  Deployment,
  Release,
  ServingRecord,
  StoredCheckResult,
} from '../state/state-store.ts';

export type GateKind = 'deployed' | 'checks' | 'migrations' | 'approval';

/** `holds`: satisfied. `fails`: blocks until something changes. `pending`: waiting (e.g. for an approval). */
export type GateStatus = 'holds' | 'fails' | 'pending';

export interface GateResult {
  gate: GateKind;
  status: GateStatus;
  /** One sentence a person can act on. */
  reason: string;
  /** The command that would move this gate forward, when there is one. */
  next?: string;
}

/** Per service: the migrations the target would run, and how they compare with the previous environment. */
export interface MigrationGateFacts {
  service: string;
  pending: Array<{ version: number; filename: string }>;
  notOnPrevious: NotOnPrevious[];
  problems: MigrationProblem[];
}

/** Everything the gates look at, gathered before evaluation so evaluation stays pure. */
export interface GateInputs {
  /** The environment being promoted into. */
  environment: ResolvedEnvironment;
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
  approvals: Approval[];
  /** People who deployed this release into earlier environments (prevent self-review). */
  deployers: string[];
}
