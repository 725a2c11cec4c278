/**
 * Airlock's one door to GitHub, over `@octokit/rest`: CI state at a commit (commit statuses and
 * check runs) for the `ci` gate, and the Deployments API to report each deployment's progress.
 * The token is held in private fields only and never reaches state, logs, errors or output;
 * Octokit's own logging is silenced (the CLI reporter is the only writer to the terminal).
 * ("CI green at the exact commit", "the GitHub Deployments API status is success".)
 */
import { Octokit } from '@octokit/rest';
import { AirlockError, UserError } from '../errors.ts';
import { type CiStatusResult, combineCiStatus } from './ci-status.ts';
import {
  type GitHubErrorContext,
  type GitHubOperation,
  toGitHubError,
  unexpectedGitHubResponse,
} from './github-error.ts';

export interface GitHubClientOptions {
  /** A token with `statuses: read`, `checks: read` and `deployments: write` (docs/github.md). Empty: anonymous. */
  token: string;
  /** `owner/name`. */
  repository: string;
  /** The REST API root: `https://api.github.com` (default), `https://HOST/api/v3` for GitHub Enterprise Server, or a fake's URL in tests. */
  baseUrl?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Give up on one HTTP request after this long (default 30 s). */
  timeoutMs?: number;
}

export interface CiStatusOptions {
  /** Only these status contexts / check run names count; one nothing reported is pending. */
  required?: string[];
  signal?: AbortSignal;
}

/** The environment flags GitHub shows a deployment with. */
export interface CreateDeploymentOptions {
  /** The full commit SHA of the release. */
  ref: string;
  environment: string;
  /** One line, shown on GitHub's environment page. */
  description: string;
  /** `auditHead`: the audit chain's head (`seq:hash-prefix`) when the deployment was made. */
  payload: { release: string; digest: string; auditHead?: string };
  /** The environment goes away eventually (a preview). Default false. */
  transientEnvironment?: boolean;
  /** The environment serves end users. Default: GitHub's (true for an environment named `production`). */
  productionEnvironment?: boolean;
}

export type DeploymentState =
  | 'queued'
  | 'in_progress'
  | 'success'
  | 'failure'
  | 'inactive'
  | 'error';

export interface DeploymentStatusOptions {
  state: DeploymentState;
  /** The live URL of the environment (GitHub links it as "View deployment"). */
  environmentUrl?: string;
  /** Where the deployment's log is (e.g. the Actions run). */
  logUrl?: string;
  /** One line; GitHub keeps at most 140 characters. */
  description: string;
}

export interface GitHubDeployment {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  description: string | null;
  payload: unknown;
  createdAt: string;
  transientEnvironment: boolean;
  productionEnvironment: boolean;
}

export interface GitHubDeploymentStatus {
  id: number;
  /** `pending` only when GitHub reports it (deployments start `pending` before any status). */
  state: DeploymentState | 'pending';
  description: string;
  environmentUrl: string;
  logUrl: string;
  createdAt: string;
}

/** An issue as Airlock reads it back. */
export interface GitHubIssue {
  number: number;
  /** The issue's page on GitHub. */
  htmlUrl: string;
  title: string;
  state: 'open' | 'closed';
  labels: string[];
}

/** GitHub truncates deployment status descriptions at 140 characters; we do it first, visibly. */
const DESCRIPTION_LIMIT = 140;

/** Deployment states that still claim the environment (or a run on it). */
const ACTIVE_STATES = new Set(['success', 'in_progress', 'queued', 'pending']);

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

const SILENT_LOG = { debug() {}, info() {}, warn() {}, error() {} };

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/**
 * Reads the client options from the environment: `GITHUB_TOKEN`, and `GITHUB_REPOSITORY` and
 * `GITHUB_API_URL` (both set by GitHub Actions) unless the repository is given (from config).
 * @throws UserError `USAGE` when the token or the repository is missing.
 */
export function gitHubClientOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  repository?: string,
): GitHubClientOptions {
  const token = env.GITHUB_TOKEN?.trim();
  if (!token) {
    throw new UserError('USAGE', 'GITHUB_TOKEN is not set.', {
      hint: 'Set GITHUB_TOKEN to a token with `statuses: read`, `checks: read` and `deployments: write` (see docs/github.md); in GitHub Actions pass `${{ secrets.GITHUB_TOKEN }}` and grant those permissions.',
    });
  }
  const repo = repository ?? env.GITHUB_REPOSITORY;
  if (!repo) {
    throw new UserError('USAGE', 'The GitHub repository is not known.', {
      hint: 'Set GITHUB_REPOSITORY=owner/name (GitHub Actions sets it for you).',
    });
  }
  return {
    token,
    repository: repo,
    ...(env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {}),
  };
}

/** The GitHub REST API, as Airlock uses it. */
export class GitHubClient {
  readonly repository: string;
  readonly owner: string;
  readonly repo: string;
  readonly #octokit: Octokit;
  readonly #token: string;
  readonly #timeoutMs: number;

  /** @throws UserError `USAGE` for a repository that is not `owner/name`. */
  constructor(options: GitHubClientOptions) {
    const [owner, repo, ...rest] = options.repository.split('/');
    if (!owner || !repo || rest.length > 0) {
      throw new UserError('USAGE', `"${options.repository}" is not a GitHub repository.`, {
        hint: 'Name the repository as owner/name, e.g. acme/shop.',
      });
    }
    this.repository = options.repository;
    this.owner = owner;
    this.repo = repo;
    this.#token = options.token.trim();
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#octokit = new Octokit({
      ...(this.#token ? { auth: this.#token } : {}),
      ...(options.baseUrl ? { baseUrl: options.baseUrl.replace(/\/+$/, '') } : {}),
      userAgent: 'airlock',
      log: SILENT_LOG,
      request: options.fetch ? { fetch: options.fetch } : {},
    });
    const timeoutMs = this.#timeoutMs;
    this.#octokit.hook.before('request', (request) => {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = request.request.signal;
      request.request.signal = signal ? AbortSignal.any([signal, timeout]) : timeout;
    });
  }

  /**
   * CI state at exactly `sha`: the combined commit status and every check run (all pages),
   * combined by `combineCiStatus` (failure > pending > success; nothing reported is `none`).
   * With `branch: true`, `sha` is a branch name and GitHub reads its head (the monitor's CI).
   * @throws UserError `USAGE` for anything but a full commit SHA; GitHubApiError.
   */
  async ciStatus(
    sha: string,
    options: CiStatusOptions & { branch?: boolean } = {},
  ): Promise<CiStatusResult> {
    if (!options.branch && !FULL_SHA.test(sha)) {
      throw new UserError('USAGE', `"${sha}" is not a full commit SHA.`, {
        hint: 'CI is checked at the exact commit of a release; pass its full 40-character SHA.',
      });
    }
    const at = sha.slice(0, 7);
    const { owner, repo } = this;
    const request = options.signal ? { signal: options.signal } : {};
    const statuses = this.#call(
      { action: `read the combined commit status of ${at}`, permission: 'statuses: read' },
      async () => {
        const all = [];
        for (let page = 1; page <= 10; page++) {
          const { data } = await this.#octokit.rest.repos.getCombinedStatusForRef({
            owner,
            repo,
            ref: sha,
            per_page: 100,
            page,
            request,
          });
          all.push(...data.statuses);
          if (data.statuses.length < 100 || all.length >= data.total_count) break;
        }
        return all;
      },
      options.signal,
    );
    const checkRuns = this.#call(
      { action: `read the check runs of ${at}`, permission: 'checks: read' },
      () =>
        this.#octokit.paginate(this.#octokit.rest.checks.listForRef, {
          owner,
          repo,
          ref: sha,
          filter: 'latest',
          per_page: 100,
          request,
        }),
      options.signal,
    );
    const [s, c] = await Promise.all([statuses, checkRuns]);
    return combineCiStatus({
      sha,
      statuses: s,
      checkRuns: c.map((r) => ({ ...r, app: r.app ? { id: r.app.id } : null })),
      ...(options.required ? { required: options.required } : {}),
    });
  }

  /**
   * Records a deployment of `ref` into `environment` on GitHub. Airlock evaluates its own gate,
   * so GitHub is told not to: `required_contexts: []`, `auto_merge: false`.
   */
  async createDeployment(options: CreateDeploymentOptions): Promise<{ id: number }> {
    const data = await this.#call(
      {
        action: `create a deployment of ${options.ref.slice(0, 7)} to ${options.environment}`,
        permission: 'deployments: write',
      },
      async () => {
        const response = await this.#octokit.rest.repos.createDeployment({
          owner: this.owner,
          repo: this.repo,
          ref: options.ref,
          task: 'deploy',
          environment: options.environment,
          description: options.description,
          payload: {
            release: options.payload.release,
            digest: options.payload.digest,
            ...(options.payload.auditHead ? { auditHead: options.payload.auditHead } : {}),
          },
          auto_merge: false,
          required_contexts: [],
          transient_environment: options.transientEnvironment ?? false,
          ...(options.productionEnvironment === undefined
            ? {}
            : { production_environment: options.productionEnvironment }),
        });
        return response.data;
      },
    );
    if (!('id' in data) || typeof data.id !== 'number') {
      // 202: GitHub merged the default branch into the ref instead (only with auto_merge).
      throw unexpectedGitHubResponse(
        this.#errorContext({
          action: `create a deployment of ${options.ref.slice(0, 7)} to ${options.environment}`,
          permission: 'deployments: write',
        }),
        `no deployment was created${'message' in data && data.message ? ` (${data.message})` : ''}`,
      );
    }
    return { id: data.id };
  }

  /** Adds a status to a deployment (GitHub shows the newest). */
  async setDeploymentStatus(id: number, options: DeploymentStatusOptions): Promise<void> {
    await this.#call(
      { action: `set deployment ${id} to ${options.state}`, permission: 'deployments: write' },
      () =>
        this.#octokit.rest.repos.createDeploymentStatus({
          owner: this.owner,
          repo: this.repo,
          deployment_id: id,
          state: options.state,
          description: truncate(options.description, DESCRIPTION_LIMIT),
          ...(options.environmentUrl ? { environment_url: options.environmentUrl } : {}),
          ...(options.logUrl ? { log_url: options.logUrl } : {}),
          // Airlock inactivates older deployments itself (markOlderInactive), for production too.
          auto_inactive: false,
        }),
    );
  }

  /** The newest deployments of an environment, newest first. */
  async listDeployments(environment: string, limit = 100): Promise<GitHubDeployment[]> {
    return this.#call(
      { action: `list the deployments of ${environment}`, permission: 'deployments: read' },
      async () => {
        const out: GitHubDeployment[] = [];
        for await (const { data } of this.#octokit.paginate.iterator(
          this.#octokit.rest.repos.listDeployments,
          { owner: this.owner, repo: this.repo, environment, per_page: Math.min(limit, 100) },
        )) {
          for (const d of data) {
            if (out.length >= limit) return out;
            out.push({
              id: d.id,
              sha: d.sha,
              ref: d.ref,
              environment: d.environment,
              description: d.description,
              payload: d.payload,
              createdAt: d.created_at,
              transientEnvironment: d.transient_environment ?? false,
              productionEnvironment: d.production_environment ?? false,
            });
          }
          if (out.length >= limit) return out;
        }
        return out;
      },
    );
  }

  /** A deployment's statuses, newest first (`limit` 1: just the current one). */
  async deploymentStatuses(id: number, limit = 100): Promise<GitHubDeploymentStatus[]> {
    return this.#call(
      { action: `read the statuses of deployment ${id}`, permission: 'deployments: read' },
      async () => {
        const out: GitHubDeploymentStatus[] = [];
        for await (const { data } of this.#octokit.paginate.iterator(
          this.#octokit.rest.repos.listDeploymentStatuses,
          { owner: this.owner, repo: this.repo, deployment_id: id, per_page: Math.min(limit, 100) },
        )) {
          for (const s of data) {
            if (out.length >= limit) return out;
            out.push({
              id: s.id,
              state: s.state,
              description: s.description,
              environmentUrl: s.environment_url ?? '',
              logUrl: s.log_url ?? '',
              createdAt: s.created_at,
            });
          }
          if (out.length >= limit) return out;
        }
        return out;
      },
    );
  }

  /**
   * Marks `inactive` every deployment of `environment` older than `exceptId` that still claims
   * it (latest state success, in_progress, queued or pending); failed and errored ones keep
   * their state. GitHub's `auto_inactive` skips production environments and unfinished runs,
   * so Airlock does it explicitly, after each success. Idempotent and cheap: it walks newest
   * first and stops at the first already-inactive deployment, because it inactivates oldest
   * first — everything below an inactive one was handled by an earlier call.
   * @returns the ids it inactivated, oldest first.
   */
  async markOlderInactive(
    environment: string,
    exceptId: number,
  ): Promise<{ inactivated: number[] }> {
    const stale: number[] = [];
    await this.#call(
      { action: `list the deployments of ${environment}`, permission: 'deployments: read' },
      async () => {
        for await (const { data } of this.#octokit.paginate.iterator(
          this.#octokit.rest.repos.listDeployments,
          { owner: this.owner, repo: this.repo, environment, per_page: 30 },
        )) {
          for (const d of data) {
            if (d.id >= exceptId) continue;
            const [latest] = await this.deploymentStatuses(d.id, 1);
            const state = latest?.state ?? 'pending';
            if (state === 'inactive') return;
            if (ACTIVE_STATES.has(state)) stale.push(d.id);
          }
        }
      },
    );
    const inactivated: number[] = [];
    for (const id of stale.reverse()) {
      await this.setDeploymentStatus(id, {
        state: 'inactive',
        description: `Superseded by deployment ${exceptId} (Airlock).`,
      });
      inactivated.push(id);
    }
    return { inactivated };
  }

  #errorContext(operation: GitHubOperation): GitHubErrorContext {
    return {
      operation,
      repository: this.repository,
      token: this.#token,
      authenticated: this.#token.length > 0,
      timeoutMs: this.#timeoutMs,
    };
  }

  /** Opens an issue with `labels` (GitHub creates a label that does not exist yet). */
  async createIssue(options: {
    title: string;
    body: string;
    labels: string[];
  }): Promise<GitHubIssue> {
    return this.#call({ action: 'open an issue', permission: 'issues: write' }, async () => {
      const { data } = await this.#octokit.rest.issues.create({
        owner: this.owner,
        repo: this.repo,
        title: options.title,
        body: options.body,
        labels: options.labels,
      });
      return toIssue(data);
    });
  }

  /** Adds a comment to issue `number`. */
  async commentOnIssue(number: number, body: string): Promise<void> {
    await this.#call({ action: `comment on issue #${number}`, permission: 'issues: write' }, () =>
      this.#octokit.rest.issues.createComment({
        owner: this.owner,
        repo: this.repo,
        issue_number: number,
        body,
      }),
    );
  }

  /** Closes issue `number` as completed. */
  async closeIssue(number: number): Promise<void> {
    await this.#call({ action: `close issue #${number}`, permission: 'issues: write' }, () =>
      this.#octokit.rest.issues.update({
        owner: this.owner,
        repo: this.repo,
        issue_number: number,
        state: 'closed',
        state_reason: 'completed',
      }),
    );
  }

  /** Open issues carrying `label`, newest first (pull requests left out), at most 100. */
  async listOpenIssues(label: string): Promise<GitHubIssue[]> {
    return this.#call(
      { action: `list the open ${label} issues`, permission: 'issues: write' },
      async () => {
        const { data } = await this.#octokit.rest.issues.listForRepo({
          owner: this.owner,
          repo: this.repo,
          state: 'open',
          labels: label,
          per_page: 100,
        });
        return data.filter((i) => !i.pull_request).map(toIssue);
      },
    );
  }

  /** Runs one API operation; whatever it throws becomes a token-free GitHubApiError. */
  async #call<T>(
    operation: GitHubOperation,
    run: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof AirlockError) throw error;
      throw toGitHubError(error, this.#errorContext(operation));
    }
  }
}

function toIssue(data: {
  number: number;
  html_url: string;
  title: string;
  state: string;
  labels: Array<string | { name?: string }>;
}): GitHubIssue {
  return {
    number: data.number,
    htmlUrl: data.html_url,
    title: data.title,
    state: data.state === 'closed' ? 'closed' : 'open',
    labels: data.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))),
  };
}
