/**
 * FAKE — NOT GITHUB. `FakeGitHub` is an in-memory stand-in for the few GitHub REST API endpoints
 * Airlock calls, served over real HTTP on 127.0.0.1 for tests (DESIGN.md principle 6: fakes only
 * for SaaS we cannot reach, and a fake passes the same contract suite as the real thing).
 *
 * Every response body is typed against GitHub's published OpenAPI description
 * (`@octokit/openapi-types`: `components['schemas']` and `operations`), so `tsc` proves the
 * shapes; required fields are filled the way github.com fills them. Behaviour copied from
 * GitHub: `Authorization: token …` or `Bearer …` (401 "Requires authentication" / "Bad
 * credentials"), 403 with `x-accepted-github-permissions` for a token without a permission,
 * `Link` pagination, check runs `filter=latest`, combined status state, deployments'
 * `required_contexts` (409), `auto_inactive`, 140-character status descriptions, 404/422 bodies.
 *
 * Endpoints (under /repos/{owner}/{repo}):
 *   GET  /commits/{ref}/status                      combined commit status (ref: a SHA or a branch)
 *   GET  /commits/{ref}/check-runs                  check runs (filter, check_name, status)
 *   GET  /deployments                               list (sha, ref, task, environment)
 *   POST /deployments                               create
 *   GET  /deployments/{id}                          get
 *   GET  /deployments/{id}/statuses                 list, newest first
 *   POST /deployments/{id}/statuses                 create
 *   GET  /issues                                    list (state, labels; pull requests never made here)
 *   POST /issues                                    create (title required; labels made on the fly)
 *   GET  /issues/{number}                           get
 *   PATCH /issues/{number}                          update (state, state_reason, title, body, labels)
 *   GET  /issues/{number}/comments                  list, oldest first
 *   POST /issues/{number}/comments                  create
 * Test helpers: createCommit, setStatus, addCheckRun, addToken, failNext, requests, deployments,
 * issues, issueComments, setBranch.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { components, operations } from '@octokit/openapi-types';
import { type Context, Hono } from 'hono';

type Schemas = components['schemas'];
type SimpleUser = Schemas['simple-user'];
type Integration = NonNullable<Schemas['nullable-integration']>;
type MinimalRepository = Schemas['minimal-repository'];
type SimpleCommitStatus = Schemas['simple-commit-status'];
type CombinedCommitStatus = Schemas['combined-commit-status'];
type CheckRun = Schemas['check-run'];
type Deployment = Schemas['deployment'];
type DeploymentStatus = Schemas['deployment-status'];
type BasicError = Schemas['basic-error'];
type Issue = Schemas['issue'];
type IssueComment = Schemas['issue-comment'];
type IssueLabel = {
  id: number;
  node_id: string;
  url: string;
  name: string;
  color: string;
  default: boolean;
  description: string | null;
};
type ValidationError = Schemas['validation-error'];
type Json<O extends keyof operations, S extends number> = operations[O]['responses'] extends {
  [K in S]: { content: { 'application/json': infer B } };
}
  ? B
  : never;
type CheckRunsPage = Json<'checks/list-for-ref', 200>;
type CombinedStatusPage = Json<'repos/get-combined-status-for-ref', 200>;
type DeploymentList = Json<'repos/list-deployments', 200>;
type CreatedDeployment = Json<'repos/create-deployment', 201>;
type OneDeployment = Json<'repos/get-deployment', 200>;
type DeploymentStatusList = Json<'repos/list-deployment-statuses', 200>;
type CreatedDeploymentStatus = Json<'repos/create-deployment-status', 201>;
type CreatedIssue = Json<'issues/create', 201>;
type UpdatedIssue = Json<'issues/update', 200>;
type IssueList = Json<'issues/list-for-repo', 200>;
type CreatedIssueComment = Json<'issues/create-comment', 201>;
type IssueCommentList = Json<'issues/list-comments', 200>;
type CreateIssueBody = operations['issues/create']['requestBody']['content']['application/json'];
type UpdateIssueBody = NonNullable<
  operations['issues/update']['requestBody']
>['content']['application/json'];
type CreateIssueCommentBody =
  operations['issues/create-comment']['requestBody']['content']['application/json'];
type CreateDeploymentBody =
  operations['repos/create-deployment']['requestBody']['content']['application/json'];
type CreateDeploymentStatusBody =
  operations['repos/create-deployment-status']['requestBody']['content']['application/json'];

export type FakePermission = 'statuses' | 'checks' | 'deployments' | 'issues';
export type FakeAccess = 'none' | 'read' | 'write';

export interface FakeTokenOptions {
  /** The user the token belongs to (the `creator` of what it creates). Default `airlock-bot`. */
  login?: string;
  /** Repository permissions, as a fine-grained token has them. Default: write on all four. */
  permissions?: Partial<Record<FakePermission, FakeAccess>>;
}

export interface FakeGitHubOptions {
  /** `owner/name`. Default `acme/shop`. */
  repository?: string;
  /** A token the fake accepts with full permissions. */
  token?: string;
}

export interface FakeStatusInput {
  context: string;
  state: 'success' | 'failure' | 'error' | 'pending';
  targetUrl?: string | null;
  description?: string | null;
}

export interface FakeCheckRunInput {
  name: string;
  status?: CheckRun['status'];
  /** Required when `status` is `completed` (the default). */
  conclusion?: NonNullable<CheckRun['conclusion']> | null;
  detailsUrl?: string | null;
  /** The app that reports it: GitHub Actions (default) or another. */
  app?: { id: number; slug: string; name: string };
}

export interface FakeFault {
  /** The HTTP status to answer with (502, 503, 403 …). */
  status: number;
  /** How many requests fail this way. Default 1. */
  times?: number;
  /** Answer like GitHub's primary rate limit (403 + x-ratelimit-remaining: 0). */
  rateLimited?: boolean;
  message?: string;
  /** Only requests whose path (with query) contains this fail; others pass untouched. */
  path?: string;
}

/** One request the fake answered; never carries the token. */
export interface FakeRequest {
  method: string;
  /** Path and query, e.g. `/repos/acme/shop/commits/abc/check-runs?per_page=100&page=2`. */
  path: string;
  auth: 'none' | 'token' | 'bearer';
  status: number;
}

interface TokenRecord {
  user: SimpleUser;
  permissions: Record<FakePermission, FakeAccess>;
}

/** Hono's per-request variables: the authenticated token. */
interface FakeEnv {
  Variables: { token: TokenRecord };
}
type FakeContext = Context<FakeEnv>;

interface CommitRecord {
  statuses: SimpleCommitStatus[];
  checkRuns: CheckRun[];
}

const API_VERSION = '2022-11-28';
const DOCS = 'https://docs.github.com/rest';
const ACCESS_RANK: Record<FakeAccess, number> = { none: 0, read: 1, write: 2 };
const DEPLOYMENT_STATES = [
  'error',
  'failure',
  'inactive',
  'in_progress',
  'queued',
  'pending',
  'success',
] as const;

/** GitHub's timestamps: ISO 8601 in UTC without milliseconds. */
function timestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function nodeId(prefix: string, id: number): string {
  return `${prefix}_kwDO${Buffer.from(`fake:${id}`).toString('base64url')}`;
}

/** FAKE GitHub REST API (see the file header). Start with `FakeGitHub.start()`; `close()` it. */
export class FakeGitHub {
  readonly repository: string;
  readonly owner: string;
  readonly repo: string;
  /** Every request answered, in order (no tokens). */
  readonly requests: FakeRequest[] = [];
  #url = '';
  #server: Server | null = null;
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #commits = new Map<string, CommitRecord>();
  readonly #deployments: Deployment[] = [];
  readonly #deploymentStatuses = new Map<number, DeploymentStatus[]>();
  readonly #branches = new Map<string, string>();
  readonly #issues: Issue[] = [];
  readonly #issueComments = new Map<number, IssueComment[]>();
  readonly #labels = new Map<string, IssueLabel>();
  readonly #faults: Array<
    Required<Omit<FakeFault, 'message' | 'path'>> & Omit<FakeFault, 'times'>
  > = [];
  readonly #repositoryId = 704_251_337;
  #nextId = 1_000;

  private constructor(options: FakeGitHubOptions) {
    this.repository = options.repository ?? 'acme/shop';
    const [owner, repo] = this.repository.split('/');
    if (!owner || !repo) throw new Error(`FakeGitHub: "${this.repository}" is not owner/name`);
    this.owner = owner;
    this.repo = repo;
    if (options.token) this.addToken(options.token);
  }

  /** Starts the fake on a random port of 127.0.0.1. */
  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    const fake = new FakeGitHub(options);
    const app = fake.#app();
    await new Promise<void>((resolve, reject) => {
      const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
        fake.#url = `http://127.0.0.1:${(info as AddressInfo).port}`;
        resolve();
      }) as Server;
      server.once('error', reject);
      fake.#server = server;
    });
    return fake;
  }

  /** The API root to pass as `baseUrl`. */
  get url(): string {
    return this.#url;
  }

  /** Stops listening and drops every open connection. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  }

  // ---- test helpers ----------------------------------------------------------------------

  /** Accepts `token` from now on. */
  addToken(token: string, options: FakeTokenOptions = {}): void {
    const login = options.login ?? 'airlock-bot';
    this.#tokens.set(token, {
      user: this.#user(login, 'User'),
      permissions: {
        statuses: 'write',
        checks: 'write',
        deployments: 'write',
        issues: 'write',
        ...options.permissions,
      },
    });
  }

  /** A new commit nothing has reported on yet; returns its SHA. */
  createCommit(): string {
    const sha = randomBytes(20).toString('hex');
    this.#commits.set(sha, { statuses: [], checkRuns: [] });
    return sha;
  }

  /** Points branch `name` at commit `sha` (the commit endpoints then accept the name as ref). */
  setBranch(name: string, sha: string): void {
    this.#commit(sha);
    this.#branches.set(name, sha);
  }

  /** Reports a commit status (a newer one of the same context replaces it in the combined status). */
  setStatus(sha: string, input: FakeStatusInput): void {
    const commit = this.#commit(sha);
    const id = this.#id();
    const now = timestamp();
    const status: SimpleCommitStatus = {
      id,
      node_id: nodeId('SC', id),
      url: `${this.#repoApi()}/statuses/${sha}`,
      avatar_url: 'https://avatars.githubusercontent.com/u/9919?v=4',
      state: input.state,
      description: input.description ?? null,
      target_url: input.targetUrl ?? null,
      context: input.context,
      created_at: now,
      updated_at: now,
    };
    commit.statuses.push(status);
  }

  /** Reports a check run; returns its id. */
  addCheckRun(sha: string, input: FakeCheckRunInput): number {
    const commit = this.#commit(sha);
    const id = this.#id();
    const status = input.status ?? 'completed';
    const now = timestamp();
    const url = `${this.#repoApi()}/check-runs/${id}`;
    const html = `https://github.com/${this.repository}/runs/${id}`;
    const run: CheckRun = {
      id,
      head_sha: sha,
      node_id: nodeId('CR', id),
      external_id: '',
      url,
      html_url: html,
      details_url: input.detailsUrl === undefined ? html : input.detailsUrl,
      status,
      conclusion: status === 'completed' ? (input.conclusion ?? 'success') : null,
      started_at: status === 'queued' ? null : now,
      completed_at: status === 'completed' ? now : null,
      output: {
        title: null,
        summary: null,
        text: null,
        annotations_count: 0,
        annotations_url: `${url}/annotations`,
      },
      name: input.name,
      check_suite: { id: 90_000 + (input.app?.id ?? 15_368) },
      app: this.#integration(input.app),
      pull_requests: [],
    };
    commit.checkRuns.push(run);
    return id;
  }

  /** Makes the next `times` requests fail with `status`. */
  failNext(fault: FakeFault): void {
    this.#faults.push({
      status: fault.status,
      times: fault.times ?? 1,
      rateLimited: fault.rateLimited ?? false,
      ...(fault.message ? { message: fault.message } : {}),
      ...(fault.path ? { path: fault.path } : {}),
    });
  }

  /** Deployments as stored, newest first. */
  deployments(environment?: string): Deployment[] {
    return this.#deployments
      .filter((d) => environment === undefined || d.environment === environment)
      .reverse();
  }

  /** A deployment's statuses, newest first. */
  deploymentStatuses(id: number): DeploymentStatus[] {
    return [...(this.#deploymentStatuses.get(id) ?? [])].reverse();
  }

  /** Issues as stored, oldest first (optionally only those carrying `label`). */
  issues(label?: string): Issue[] {
    return this.#issues.filter(
      (i) =>
        label === undefined || i.labels.some((l) => (typeof l === 'string' ? l : l.name) === label),
    );
  }

  /** An issue's comments, oldest first. */
  issueComments(number: number): IssueComment[] {
    return [...(this.#issueComments.get(number) ?? [])];
  }

  // ---- the API ---------------------------------------------------------------------------

  #app(): Hono<FakeEnv> {
    const app = new Hono<FakeEnv>();
    app.use('*', async (c, next) => {
      const auth = this.#authScheme(c.req.header('authorization'));
      await next();
      const url = new URL(c.req.url);
      this.requests.push({
        method: c.req.method,
        path: `${url.pathname}${url.search}`,
        auth,
        status: c.res.status,
      });
      c.res.headers.set('x-github-api-version-selected', API_VERSION);
      c.res.headers.set('x-github-request-id', randomBytes(8).toString('hex').toUpperCase());
    });
    app.use('/repos/:owner/:repo/*', async (c, next) => {
      const token = this.#authenticate(c);
      if (token instanceof Response) return token;
      const url = new URL(c.req.url);
      const fault = this.#takeFault(`${url.pathname}${url.search}`);
      if (fault) return fault;
      if (
        c.req.param('owner').toLowerCase() !== this.owner.toLowerCase() ||
        c.req.param('repo').toLowerCase() !== this.repo.toLowerCase()
      ) {
        return this.#notFound();
      }
      c.set('token', token);
      await next();
    });

    app.get('/repos/:owner/:repo/commits/:ref/status', (c) => {
      const denied = this.#require(c, 'statuses', 'read');
      if (denied) return denied;
      const ref = this.#branches.get(c.req.param('ref')) ?? c.req.param('ref');
      const commit = this.#commits.get(ref);
      if (!commit) return this.#unprocessable(`No commit found for SHA: ${ref}`);
      const latest = new Map<string, SimpleCommitStatus>();
      for (const s of commit.statuses) latest.set(s.context, s);
      const all = [...latest.values()];
      const { items, headers } = this.#page(c, all, 100);
      const body: CombinedStatusPage = {
        state: combinedState(all),
        statuses: items,
        sha: ref,
        total_count: all.length,
        repository: this.#minimalRepository(),
        commit_url: `${this.#repoApi()}/commits/${ref}`,
        url: `${this.#repoApi()}/commits/${ref}/status`,
      } satisfies CombinedCommitStatus;
      return this.#json(200, body, headers);
    });

    app.get('/repos/:owner/:repo/commits/:ref/check-runs', (c) => {
      const denied = this.#require(c, 'checks', 'read');
      if (denied) return denied;
      const ref = this.#branches.get(c.req.param('ref')) ?? c.req.param('ref');
      const commit = this.#commits.get(ref);
      if (!commit) return this.#unprocessable(`No commit found for SHA: ${ref}`);
      const filter = c.req.query('filter') ?? 'latest';
      const name = c.req.query('check_name');
      const status = c.req.query('status');
      let runs = [...commit.checkRuns].reverse();
      if (filter === 'latest') {
        const seen = new Set<string>();
        runs = runs.filter((r) => {
          const key = `${r.app?.id}:${r.name}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
      }
      if (name) runs = runs.filter((r) => r.name === name);
      if (status) runs = runs.filter((r) => r.status === status);
      const { items, headers } = this.#page(c, runs, 30);
      const body: CheckRunsPage = { total_count: runs.length, check_runs: items };
      return this.#json(200, body, headers);
    });

    app.get('/repos/:owner/:repo/deployments', (c) => {
      const denied = this.#require(c, 'deployments', 'read');
      if (denied) return denied;
      const q = (k: string) => c.req.query(k);
      const list: DeploymentList = this.deployments().filter(
        (d) =>
          (!q('sha') || d.sha === q('sha')) &&
          (!q('ref') || d.ref === q('ref')) &&
          (!q('task') || d.task === q('task')) &&
          (!q('environment') || d.environment === q('environment')),
      );
      const { items, headers } = this.#page(c, list, 30);
      return this.#json(200, items, headers);
    });

    app.post('/repos/:owner/:repo/deployments', async (c) => {
      const denied = this.#require(c, 'deployments', 'write');
      if (denied) return denied;
      const input = await this.#body<CreateDeploymentBody>(c);
      if (input instanceof Response) return input;
      if (typeof input.ref !== 'string' || !input.ref) {
        return this.#invalid('Deployment', 'ref', 'missing_field');
      }
      const commit = this.#commits.get(input.ref);
      if (!commit) return this.#unprocessable(`No ref found for: ${input.ref}`);
      const required = input.required_contexts ?? this.#contextsOf(commit);
      const failing = required.filter((ctx) => !this.#contextSucceeded(commit, ctx));
      if (failing.length > 0) {
        return this.#json(409, {
          message: `Conflict: Commit status checks failed for ${input.ref}.`,
          documentation_url: `${DOCS}/deployments/deployments#create-a-deployment`,
          status: '409',
        } satisfies BasicError);
      }
      const id = this.#id();
      const environment = input.environment ?? 'production';
      const now = timestamp();
      const deployment: CreatedDeployment = {
        url: `${this.#repoApi()}/deployments/${id}`,
        id,
        node_id: nodeId('DE', id),
        sha: input.ref,
        ref: input.ref,
        task: input.task ?? 'deploy',
        payload: input.payload ?? {},
        original_environment: environment,
        environment,
        description: input.description ?? '',
        creator: this.#tokenOf(c).user,
        created_at: now,
        updated_at: now,
        statuses_url: `${this.#repoApi()}/deployments/${id}/statuses`,
        repository_url: this.#repoApi(),
        transient_environment: input.transient_environment ?? false,
        production_environment: input.production_environment ?? environment === 'production',
        performed_via_github_app: null,
      } satisfies Deployment;
      this.#deployments.push(deployment);
      this.#deploymentStatuses.set(id, []);
      return this.#json(201, deployment);
    });

    app.get('/repos/:owner/:repo/deployments/:id', (c) => {
      const denied = this.#require(c, 'deployments', 'read');
      if (denied) return denied;
      const deployment = this.#deployment(c.req.param('id'));
      if (!deployment) return this.#notFound();
      const body: OneDeployment = deployment;
      return this.#json(200, body);
    });

    app.get('/repos/:owner/:repo/deployments/:id/statuses', (c) => {
      const denied = this.#require(c, 'deployments', 'read');
      if (denied) return denied;
      const deployment = this.#deployment(c.req.param('id'));
      if (!deployment) return this.#notFound();
      const list: DeploymentStatusList = this.deploymentStatuses(Number(deployment.id));
      const { items, headers } = this.#page(c, list, 30);
      return this.#json(200, items, headers);
    });

    app.post('/repos/:owner/:repo/deployments/:id/statuses', async (c) => {
      const denied = this.#require(c, 'deployments', 'write');
      if (denied) return denied;
      const deployment = this.#deployment(c.req.param('id'));
      if (!deployment) return this.#notFound();
      const input = await this.#body<CreateDeploymentStatusBody>(c);
      if (input instanceof Response) return input;
      if (!DEPLOYMENT_STATES.includes(input.state)) {
        return this.#invalid('DeploymentStatus', 'state', 'invalid');
      }
      if ((input.description ?? '').length > 140) {
        return this.#invalid('DeploymentStatus', 'description', 'custom', {
          message: 'description is too long (maximum is 140 characters)',
        });
      }
      const status = this.#addDeploymentStatus(deployment, this.#tokenOf(c).user, input);
      if (input.state === 'success' && input.auto_inactive !== false) {
        // GitHub: prior non-transient, non-production deployments of the environment that had
        // a success state get an inactive status.
        for (const prior of this.#deployments) {
          if (prior.id === deployment.id || Number(prior.id) > Number(deployment.id)) continue;
          if (prior.environment !== deployment.environment) continue;
          if (prior.transient_environment || prior.production_environment) continue;
          const latest = this.deploymentStatuses(Number(prior.id))[0];
          if (latest?.state !== 'success') continue;
          this.#addDeploymentStatus(prior, this.#tokenOf(c).user, {
            state: 'inactive',
            description: '',
          });
        }
      }
      const body: CreatedDeploymentStatus = status;
      return this.#json(201, body);
    });

    app.get('/repos/:owner/:repo/issues', (c) => {
      const denied = this.#require(c, 'issues', 'read');
      if (denied) return denied;
      const state = c.req.query('state') ?? 'open';
      const labels = (c.req.query('labels') ?? '').split(',').filter(Boolean);
      const list: IssueList = [...this.#issues]
        .reverse()
        .filter(
          (i) =>
            (state === 'all' || i.state === state) &&
            labels.every((name) =>
              i.labels.some((l) => (typeof l === 'string' ? l : l.name) === name),
            ),
        );
      const { items, headers } = this.#page(c, list, 30);
      return this.#json(200, items, headers);
    });

    app.post('/repos/:owner/:repo/issues', async (c) => {
      const denied = this.#require(c, 'issues', 'write');
      if (denied) return denied;
      const input = await this.#body<CreateIssueBody>(c);
      if (input instanceof Response) return input;
      if (input.title === undefined || input.title === null || String(input.title) === '') {
        return this.#invalid('Issue', 'title', 'missing_field');
      }
      const number = this.#issues.length + 1;
      const id = this.#id();
      const now = timestamp();
      const api = `${this.#repoApi()}/issues/${number}`;
      const issue: CreatedIssue = {
        id,
        node_id: nodeId('I', id),
        url: api,
        repository_url: this.#repoApi(),
        labels_url: `${api}/labels{/name}`,
        comments_url: `${api}/comments`,
        events_url: `${api}/events`,
        html_url: `https://github.com/${this.repository}/issues/${number}`,
        number,
        state: 'open',
        state_reason: null,
        title: String(input.title),
        body: input.body ?? null,
        user: this.#tokenOf(c).user,
        labels: (input.labels ?? []).map((l) =>
          this.#label(typeof l === 'string' ? l : (l.name ?? '')),
        ),
        assignee: null,
        assignees: [],
        milestone: null,
        locked: false,
        active_lock_reason: null,
        comments: 0,
        closed_at: null,
        created_at: now,
        updated_at: now,
        closed_by: null,
        author_association: 'OWNER',
      } satisfies Issue;
      this.#issues.push(issue);
      this.#issueComments.set(number, []);
      return this.#json(201, issue);
    });

    app.get('/repos/:owner/:repo/issues/:number', (c) => {
      const denied = this.#require(c, 'issues', 'read');
      if (denied) return denied;
      const issue = this.#issue(c.req.param('number'));
      return issue ? this.#json(200, issue) : this.#notFound();
    });

    app.patch('/repos/:owner/:repo/issues/:number', async (c) => {
      const denied = this.#require(c, 'issues', 'write');
      if (denied) return denied;
      const issue = this.#issue(c.req.param('number'));
      if (!issue) return this.#notFound();
      const input = await this.#body<UpdateIssueBody>(c);
      if (input instanceof Response) return input;
      if (input.state !== undefined && input.state !== 'open' && input.state !== 'closed') {
        return this.#invalid('Issue', 'state', 'invalid');
      }
      const now = timestamp();
      if (input.title !== undefined && input.title !== null) issue.title = String(input.title);
      if (input.body !== undefined) issue.body = input.body;
      if (input.labels) {
        issue.labels = input.labels.map((l) =>
          this.#label(typeof l === 'string' ? l : (l.name ?? '')),
        );
      }
      if (input.state === 'closed' && issue.state !== 'closed') {
        issue.state = 'closed';
        issue.state_reason = input.state_reason ?? 'completed';
        issue.closed_at = now;
        issue.closed_by = this.#tokenOf(c).user;
      } else if (input.state === 'open' && issue.state !== 'open') {
        issue.state = 'open';
        issue.state_reason = 'reopened';
        issue.closed_at = null;
        issue.closed_by = null;
      }
      issue.updated_at = now;
      const body: UpdatedIssue = issue;
      return this.#json(200, body);
    });

    app.get('/repos/:owner/:repo/issues/:number/comments', (c) => {
      const denied = this.#require(c, 'issues', 'read');
      if (denied) return denied;
      const issue = this.#issue(c.req.param('number'));
      if (!issue) return this.#notFound();
      const list: IssueCommentList = this.issueComments(issue.number);
      const { items, headers } = this.#page(c, list, 30);
      return this.#json(200, items, headers);
    });

    app.post('/repos/:owner/:repo/issues/:number/comments', async (c) => {
      const denied = this.#require(c, 'issues', 'write');
      if (denied) return denied;
      const issue = this.#issue(c.req.param('number'));
      if (!issue) return this.#notFound();
      const input = await this.#body<CreateIssueCommentBody>(c);
      if (input instanceof Response) return input;
      if (typeof input.body !== 'string' || !input.body) {
        return this.#invalid('IssueComment', 'body', 'missing_field');
      }
      const id = this.#id();
      const now = timestamp();
      const comment: CreatedIssueComment = {
        id,
        node_id: nodeId('IC', id),
        url: `${this.#repoApi()}/issues/comments/${id}`,
        html_url: `${issue.html_url}#issuecomment-${id}`,
        body: input.body,
        user: this.#tokenOf(c).user,
        created_at: now,
        updated_at: now,
        issue_url: issue.url,
        author_association: 'OWNER',
      } satisfies IssueComment;
      this.#issueComments.get(issue.number)?.push(comment);
      issue.comments += 1;
      issue.updated_at = now;
      return this.#json(201, comment);
    });

    app.all('*', () => this.#notFound());
    return app;
  }

  #addDeploymentStatus(
    deployment: Deployment,
    creator: SimpleUser,
    input: CreateDeploymentStatusBody,
  ): DeploymentStatus {
    const id = this.#id();
    const now = timestamp();
    const logUrl = input.log_url ?? input.target_url ?? '';
    const status: DeploymentStatus = {
      url: `${this.#repoApi()}/deployments/${deployment.id}/statuses/${id}`,
      id,
      node_id: nodeId('DES', id),
      state: input.state,
      creator,
      description: input.description ?? '',
      environment: input.environment ?? deployment.environment,
      target_url: logUrl,
      created_at: now,
      updated_at: now,
      deployment_url: `${this.#repoApi()}/deployments/${deployment.id}`,
      repository_url: this.#repoApi(),
      environment_url: input.environment_url ?? '',
      log_url: logUrl,
      performed_via_github_app: null,
    };
    this.#deploymentStatuses.get(Number(deployment.id))?.push(status);
    return status;
  }

  // ---- plumbing --------------------------------------------------------------------------

  #json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '4999',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        'x-ratelimit-resource': 'core',
        ...headers,
      },
    });
  }

  #notFound(): Response {
    return this.#json(404, {
      message: 'Not Found',
      documentation_url: DOCS,
      status: '404',
    } satisfies BasicError);
  }

  #unprocessable(message: string): Response {
    return this.#json(422, {
      message,
      documentation_url: DOCS,
      status: '422',
    } satisfies BasicError);
  }

  #invalid(
    resource: string,
    field: string,
    code: string,
    extra: { message?: string } = {},
  ): Response {
    const body: ValidationError = {
      message: 'Validation Failed',
      errors: [{ resource, field, code, ...extra }],
      documentation_url: DOCS,
    };
    return this.#json(422, body);
  }

  async #body<T>(c: FakeContext): Promise<T | Response> {
    try {
      const body: unknown = await c.req.json();
      if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as T;
    } catch {
      // fall through
    }
    return this.#json(400, {
      message: 'Problems parsing JSON',
      documentation_url: DOCS,
      status: '400',
    } satisfies BasicError);
  }

  #authScheme(header: string | undefined): FakeRequest['auth'] {
    const scheme = header?.split(/\s+/)[0]?.toLowerCase();
    return scheme === 'token' ? 'token' : scheme === 'bearer' ? 'bearer' : 'none';
  }

  /** The token's record, or GitHub's 401. */
  #authenticate(c: FakeContext): TokenRecord | Response {
    const header = c.req.header('authorization');
    if (!header) {
      return this.#json(401, {
        message: 'Requires authentication',
        documentation_url: DOCS,
        status: '401',
      } satisfies BasicError);
    }
    const match = /^(?:token|bearer)\s+(\S+)$/i.exec(header.trim());
    const record = match?.[1] ? this.#tokens.get(match[1]) : undefined;
    if (!record) {
      return this.#json(401, {
        message: 'Bad credentials',
        documentation_url: DOCS,
        status: '401',
      } satisfies BasicError);
    }
    return record;
  }

  #tokenOf(c: FakeContext): TokenRecord {
    return c.get('token');
  }

  /** GitHub's 403 for a fine-grained token without the permission. */
  #require(c: FakeContext, permission: FakePermission, access: 'read' | 'write'): Response | null {
    const has = this.#tokenOf(c).permissions[permission];
    if (ACCESS_RANK[has] >= ACCESS_RANK[access]) return null;
    return this.#json(
      403,
      {
        message: 'Resource not accessible by personal access token',
        documentation_url: DOCS,
        status: '403',
      } satisfies BasicError,
      { 'x-accepted-github-permissions': `${permission}=${access}` },
    );
  }

  #takeFault(path: string): Response | null {
    const index = this.#faults.findIndex((f) => !f.path || path.includes(f.path));
    const fault = this.#faults[index];
    if (!fault) return null;
    fault.times -= 1;
    if (fault.times <= 0) this.#faults.splice(index, 1);
    if (fault.rateLimited) {
      return this.#json(
        fault.status,
        {
          message: fault.message ?? 'API rate limit exceeded for user ID 1.',
          documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api`,
          status: String(fault.status),
        } satisfies BasicError,
        {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60),
        },
      );
    }
    return this.#json(fault.status, {
      message: fault.message ?? 'Server Error',
    } satisfies BasicError);
  }

  /** GitHub's page/per_page with a `Link` header (first, prev, next, last). */
  #page<T>(
    c: FakeContext,
    all: T[],
    defaultPerPage: number,
  ): { items: T[]; headers: Record<string, string> } {
    const perPage = Math.min(
      100,
      Math.max(1, Number(c.req.query('per_page') ?? defaultPerPage) || defaultPerPage),
    );
    const page = Math.max(1, Number(c.req.query('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const items = all.slice((page - 1) * perPage, page * perPage);
    const link = (p: number, rel: string) => {
      const url = new URL(c.req.url);
      url.searchParams.set('per_page', String(perPage));
      url.searchParams.set('page', String(p));
      return `<${this.#url}${url.pathname}${url.search}>; rel="${rel}"`;
    };
    const links = [
      ...(page > 1 ? [link(page - 1, 'prev')] : []),
      ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
      ...(page > 1 ? [link(1, 'first')] : []),
    ];
    return { items, headers: links.length ? { link: links.join(', ') } : {} };
  }

  #commit(sha: string): CommitRecord {
    let commit = this.#commits.get(sha);
    if (!commit) {
      commit = { statuses: [], checkRuns: [] };
      this.#commits.set(sha, commit);
    }
    return commit;
  }

  #contextsOf(commit: CommitRecord): string[] {
    return [
      ...new Set([
        ...commit.statuses.map((s) => s.context),
        ...commit.checkRuns.map((r) => r.name),
      ]),
    ];
  }

  #contextSucceeded(commit: CommitRecord, context: string): boolean {
    const status = commit.statuses.filter((s) => s.context === context).at(-1);
    const run = commit.checkRuns.filter((r) => r.name === context).at(-1);
    if (!status && !run) return false;
    return (
      (!status || status.state === 'success') &&
      (!run ||
        (run.status === 'completed' &&
          ['success', 'neutral', 'skipped'].includes(run.conclusion ?? '')))
    );
  }

  #deployment(id: string): Deployment | undefined {
    return this.#deployments.find((d) => String(d.id) === id);
  }

  #issue(number: string): Issue | undefined {
    return this.#issues.find((i) => String(i.number) === number);
  }

  /** A repository label, made the first time it is named (as GitHub does on issue create). */
  #label(name: string): IssueLabel {
    let label = this.#labels.get(name);
    if (!label) {
      const id = this.#id();
      label = {
        id,
        node_id: nodeId('LA', id),
        url: `${this.#repoApi()}/labels/${encodeURIComponent(name)}`,
        name,
        color: 'ededed',
        default: false,
        description: null,
      };
      this.#labels.set(name, label);
    }
    return label;
  }

  #id(): number {
    this.#nextId += 1;
    return this.#nextId;
  }

  #repoApi(): string {
    return `${this.#url}/repos/${this.repository}`;
  }

  #user(login: string, type: 'User' | 'Organization'): SimpleUser {
    const id = [...login].reduce((n, ch) => (n * 31 + ch.charCodeAt(0)) % 9_000_000, 7) + 1_000_000;
    const api = `${this.#url}/users/${login}`;
    return {
      login,
      id,
      node_id: nodeId(type === 'User' ? 'U' : 'O', id),
      avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
      gravatar_id: '',
      url: api,
      html_url: `https://github.com/${login}`,
      followers_url: `${api}/followers`,
      following_url: `${api}/following{/other_user}`,
      gists_url: `${api}/gists{/gist_id}`,
      starred_url: `${api}/starred{/owner}{/repo}`,
      subscriptions_url: `${api}/subscriptions`,
      organizations_url: `${api}/orgs`,
      repos_url: `${api}/repos`,
      events_url: `${api}/events{/privacy}`,
      received_events_url: `${api}/received_events`,
      type,
      site_admin: false,
      user_view_type: 'public',
    };
  }

  #integration(app?: FakeCheckRunInput['app']): Integration {
    const slug = app?.slug ?? 'github-actions';
    return {
      id: app?.id ?? 15_368,
      slug,
      node_id: nodeId('A', app?.id ?? 15_368),
      client_id: `Iv1.${(app?.id ?? 15_368).toString(16).padStart(16, '0')}`,
      owner: this.#user(app ? this.owner : 'github', 'Organization'),
      name: app?.name ?? 'GitHub Actions',
      description: app ? null : 'Automate your workflow from idea to production',
      external_url: app ? `https://example.com/${slug}` : 'https://help.github.com/en/actions',
      html_url: `https://github.com/apps/${slug}`,
      created_at: '2018-07-30T09:30:17Z',
      updated_at: '2024-04-10T20:33:16Z',
      permissions: { checks: 'write', contents: 'read', metadata: 'read', statuses: 'write' },
      events: ['check_run', 'check_suite', 'push', 'status'],
    };
  }

  #minimalRepository(): MinimalRepository {
    const api = this.#repoApi();
    return {
      id: this.#repositoryId,
      node_id: nodeId('R', this.#repositoryId),
      name: this.repo,
      full_name: this.repository,
      owner: this.#user(this.owner, 'Organization'),
      private: true,
      html_url: `https://github.com/${this.repository}`,
      description: null,
      fork: false,
      url: api,
      archive_url: `${api}/{archive_format}{/ref}`,
      assignees_url: `${api}/assignees{/user}`,
      blobs_url: `${api}/git/blobs{/sha}`,
      branches_url: `${api}/branches{/branch}`,
      collaborators_url: `${api}/collaborators{/collaborator}`,
      comments_url: `${api}/comments{/number}`,
      commits_url: `${api}/commits{/sha}`,
      compare_url: `${api}/compare/{base}...{head}`,
      contents_url: `${api}/contents/{+path}`,
      contributors_url: `${api}/contributors`,
      deployments_url: `${api}/deployments`,
      downloads_url: `${api}/downloads`,
      events_url: `${api}/events`,
      forks_url: `${api}/forks`,
      git_commits_url: `${api}/git/commits{/sha}`,
      git_refs_url: `${api}/git/refs{/sha}`,
      git_tags_url: `${api}/git/tags{/sha}`,
      issue_comment_url: `${api}/issues/comments{/number}`,
      issue_events_url: `${api}/issues/events{/number}`,
      issues_url: `${api}/issues{/number}`,
      keys_url: `${api}/keys{/key_id}`,
      labels_url: `${api}/labels{/name}`,
      languages_url: `${api}/languages`,
      merges_url: `${api}/merges`,
      milestones_url: `${api}/milestones{/number}`,
      notifications_url: `${api}/notifications{?since,all,participating}`,
      pulls_url: `${api}/pulls{/number}`,
      releases_url: `${api}/releases{/id}`,
      stargazers_url: `${api}/stargazers`,
      statuses_url: `${api}/statuses/{sha}`,
      subscribers_url: `${api}/subscribers`,
      subscription_url: `${api}/subscription`,
      tags_url: `${api}/tags`,
      teams_url: `${api}/teams`,
      trees_url: `${api}/git/trees{/sha}`,
      hooks_url: `${api}/hooks`,
    };
  }
}

/** GitHub's combined state: failure if any failed or errored, pending if any pending or none at all. */
function combinedState(statuses: SimpleCommitStatus[]): CombinedCommitStatus['state'] {
  if (statuses.some((s) => s.state === 'failure' || s.state === 'error')) return 'failure';
  if (statuses.length === 0 || statuses.some((s) => s.state === 'pending')) return 'pending';
  return 'success';
}
