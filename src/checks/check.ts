/**
 * Check specifications (as resolved from `airlock.yaml`, defaults applied) and results.
 * A check verifies a live environment after every deployment; unreachable counts as failed.
 * ("smoke tests (health + version)", "smoke/E2E against
 * the live staging URL (unreachable blocks)".)
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** An HTTP request against the environment's URL, retried until it passes or `timeoutMs` ends. */
export interface HttpCheckSpec {
  name: string;
  type: 'http';
  method: HttpMethod;
  /** Path appended to the environment URL, e.g. `/version`. */
  path: string;
  headers?: Record<string, string>;
  /** Request body (sent as is). */
  body?: string;
  expect: {
    /** Expected status code. */
    status: number;
    /**
     * A JSON subset the response body must contain. Strings may use `${release.id}`,
     * `${release.commit}`, `${release.digest}`, `${environment}`, `${service}`.
     */
    json?: unknown;
    /** A substring the body must contain (same interpolation). */
    bodyIncludes?: string;
  };
  /** A passing attempt must also answer within this many ms. */
  maxLatencyMs?: number;
  /** Keep retrying for this long (ms) before reporting failure. */
  timeoutMs: number;
  /** Pause between attempts (ms). */
  intervalMs: number;
  /** Abort one attempt after this long (ms). */
  requestTimeoutMs: number;
}

/** A command (an E2E suite, a script) run with `BASE_URL` set; exit code 0 passes. */
export interface CommandCheckSpec {
  name: string;
  type: 'command';
  /** Shell command. */
  run: string;
  /** Working directory relative to the service root. Default: the service root. */
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the command and fail after this long (ms). */
  timeoutMs: number;
}

/** Sends `requests` GETs (`concurrency` at a time); passes when the p95 is within `p95Ms`. */
export interface LatencyCheckSpec {
  name: string;
  type: 'latency';
  path: string;
  requests: number;
  concurrency: number;
  /** Budget for the 95th percentile (ms). */
  p95Ms: number;
  /** Abort one request after this long (ms). */
  requestTimeoutMs: number;
}

/**
 * A fixed-rate load on each path for several short rounds; the median p50/p95 (ms) is compared
 * with the same check's result for the release that served before (the baseline).
 */
export interface PerfCheckSpec {
  name: string;
  type: 'perf';
  paths: string[];
  /** Requests per second per path (all connections together). */
  rate: number;
  connections: number;
  /** One round on one path (ms). */
  durationMs: number;
  rounds: number;
  /** Allowed growth of the median p95, as a fraction of the baseline (0.2 = 20 %). */
  maxRegression: number;
  /** The smallest p95 increase (ms) that may fail. */
  minRegressionMs: number;
  requestTimeoutMs: number;
}

export type CheckSpec = HttpCheckSpec | CommandCheckSpec | LatencyCheckSpec | PerfCheckSpec;

/** Facts available to checks and their interpolation. */
export interface CheckContext {
  /** Environment URL without trailing slash, e.g. `http://127.0.0.1:4100`. */
  baseUrl: string;
  environment: string;
  service: string;
  release: { id: string; commit: string; digest: string };
  /** Absolute path of the service root (command checks run here unless `cwd` is set). */
  serviceRoot: string;
  signal?: AbortSignal;
  /**
   * The environment's database URL for this service (what the app gets as `DATABASE_URL`), so
   * a command check can read the same database without the user writing it twice.
   */
  databaseUrl?: string;
  /** Values never shown in a check's output or message (masked): variables read, credentials. */
  secrets?: readonly string[];
  /**
   * What the same checks found for the release that served this environment before (their
   * stored results, by check name): the baseline a perf check compares with. Absent: none.
   */
  baseline?: {
    release: string;
    results: ReadonlyArray<Pick<CheckResult, 'name' | 'type' | 'status' | 'details'>>;
  };
}

export interface CheckResult {
  name: string;
  type: CheckSpec['type'];
  status: 'passed' | 'failed';
  /** Wall time of the whole check including retries (ms). */
  durationMs: number;
  /** Attempts made (HTTP), 1 for command checks, requests sent for latency checks. */
  attempts: number;
  /** One line: why it passed or failed, e.g. `GET /version → 500, expected 200`. */
  message: string;
  /** Extra facts: status code, latency ms, p95, exit code, output tail. Never secrets. */
  details: Record<string, unknown>;
}
