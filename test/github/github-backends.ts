/**
 * The GitHub APIs the contract suite runs against: the fake (always), and the real API when a
 * sandbox repository and a token are given in the environment:
 *
 *   AIRLOCK_GITHUB_CONTRACT_REPOSITORY  owner/name of a PUBLIC sandbox repository (the suite
 *                                       creates dangling commits, statuses and deployments there)
 *   AIRLOCK_GITHUB_CONTRACT_TOKEN       contents: write, statuses: write, deployments: write
 *   AIRLOCK_GITHUB_CONTRACT_API_URL     optional, for GitHub Enterprise Server
 *   AIRLOCK_GITHUB_CONTRACT_CHECK_RUNS  set to 1 when the token is a GitHub App installation
 *                                       token with checks: write (only apps can create check runs)
 */
import { randomUUID } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import {
  type FakeCheckRunInput,
  FakeGitHub,
  type FakeStatusInput,
} from '../fakes/github/fake-github.ts';

export interface GitHubBackend {
  repository: string;
  token: string;
  baseUrl: string | undefined;
  /** A commit nothing has reported on; its full SHA. */
  newCommit(): Promise<string>;
  setStatus(sha: string, input: FakeStatusInput): Promise<void>;
  addCheckRun(sha: string, input: FakeCheckRunInput): Promise<void>;
  close(): Promise<void>;
}

export interface GitHubBackendFactory {
  name: string;
  /** Why this backend does not run here, or null when it does. */
  skip: string | null;
  /** Whether check runs can be created (the fake: yes; the real API: only with an app token). */
  checkRuns: boolean;
  start(): Promise<GitHubBackend>;
}

export const FAKE_TOKEN = `ghp_fake${randomUUID().replaceAll('-', '')}`;

export function fakeBackend(): GitHubBackendFactory {
  return {
    name: 'FakeGitHub',
    skip: null,
    checkRuns: true,
    async start() {
      const fake = await FakeGitHub.start({ repository: 'acme/shop', token: FAKE_TOKEN });
      return {
        repository: fake.repository,
        token: FAKE_TOKEN,
        baseUrl: fake.url,
        newCommit: async () => fake.createCommit(),
        setStatus: async (sha, input) => fake.setStatus(sha, input),
        addCheckRun: async (sha, input) => {
          fake.addCheckRun(sha, input);
        },
        close: () => fake.close(),
      };
    },
  };
}

export function realBackend(env: NodeJS.ProcessEnv): GitHubBackendFactory {
  const repository = env.AIRLOCK_GITHUB_CONTRACT_REPOSITORY;
  const token = env.AIRLOCK_GITHUB_CONTRACT_TOKEN;
  const baseUrl = env.AIRLOCK_GITHUB_CONTRACT_API_URL || undefined;
  return {
    name: 'the real GitHub API',
    skip:
      repository && token
        ? null
        : 'set AIRLOCK_GITHUB_CONTRACT_REPOSITORY and AIRLOCK_GITHUB_CONTRACT_TOKEN to run it',
    checkRuns: env.AIRLOCK_GITHUB_CONTRACT_CHECK_RUNS === '1',
    async start() {
      const [owner = '', repo = ''] = (repository ?? '').split('/');
      const octokit = new Octokit({ auth: token, ...(baseUrl ? { baseUrl } : {}) });
      return {
        repository: repository ?? '',
        token: token ?? '',
        baseUrl,
        async newCommit() {
          // A dangling commit of its own, so no earlier run's statuses are on it.
          const tree = await octokit.rest.git.createTree({
            owner,
            repo,
            tree: [
              { path: 'airlock-contract.txt', mode: '100644', type: 'blob', content: randomUUID() },
            ],
          });
          const commit = await octokit.rest.git.createCommit({
            owner,
            repo,
            message: 'airlock contract suite',
            tree: tree.data.sha,
            parents: [],
          });
          return commit.data.sha;
        },
        async setStatus(sha, input) {
          await octokit.rest.repos.createCommitStatus({
            owner,
            repo,
            sha,
            state: input.state,
            context: input.context,
            ...(input.targetUrl ? { target_url: input.targetUrl } : {}),
            ...(input.description ? { description: input.description } : {}),
          });
        },
        async addCheckRun(sha, input) {
          const status = input.status ?? 'completed';
          await octokit.rest.checks.create({
            owner,
            repo,
            name: input.name,
            head_sha: sha,
            status: status as 'queued' | 'in_progress' | 'completed',
            ...(status === 'completed'
              ? {
                  conclusion: (input.conclusion ?? 'success') as 'success',
                  completed_at: new Date().toISOString(),
                }
              : {}),
            ...(input.detailsUrl ? { details_url: input.detailsUrl } : {}),
          });
        },
        close: async () => {},
      };
    },
  };
}
