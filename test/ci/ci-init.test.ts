/**
 * `airlock ci init github` through the real CLI on the example project: it writes the flow's
 * workflows into the repository, leaves identical files alone, keeps a file that differs
 * unless --force, and picks the flow from the production policy by default.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';
import type { TestProject } from '../helpers/project.ts';
import { deployWithCommands } from './ci-project.ts';

/**
 * The notes example as a project CI can deploy: the command provider (with describe) instead of
 * the local one; without airlock-deploy in package.json when `withAirlock` is false.
 */
function ciReady(project: TestProject, withAirlock = true): void {
  project.editConfig(deployWithCommands);
  const file = path.join(project.dir, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  // The example lists airlock-deploy already (as a user's project does).
  expect(pkg.devDependencies['airlock-deploy']).toBeDefined();
  if (!withAirlock) delete pkg.devDependencies['airlock-deploy'];
  writeFileSync(file, JSON.stringify(pkg, null, 2));
}

/** The workflow files in `project`, by name. */
const workflowsIn = (project: TestProject) =>
  readdirSync(path.join(project.dir, '.github', 'workflows')).sort();

describe('airlock ci init github', () => {
  projectTest(
    'writes the manual flow for a manually promoted production, and is idempotent',
    async ({ project }) => {
      ciReady(project);
      const first = await project.cli(['ci', 'init', 'github']);
      expect(first.code, first.stderr).toBe(0);
      expect(workflowsIn(project)).toEqual([
        'airlock-monitor.yml',
        'airlock-production.yml',
        'airlock-rollback.yml',
        'airlock-staging.yml',
      ]);
      expect(first.stdout).toContain('manual flow: wrote 4 workflow files');
      expect(first.stdout).toContain(
        'repository secrets of the monitor (read-only platform tokens): AIRLOCK_STATE_URL',
      );
      // The secrets each GitHub environment needs.
      expect(first.stdout).toContain(
        'secrets of the GitHub environment staging: AIRLOCK_STATE_URL',
      );
      const production = readFileSync(
        path.join(project.dir, '.github/workflows/airlock-production.yml'),
        'utf8',
      );
      expect(production).toContain(
        'npx airlock promote production --release "$RELEASE_DIGEST" --yes',
      );
      const again = await project.cli(['ci', 'init', 'github']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('manual flow: workflows already up to date');
    },
  );

  projectTest('keeps a file that differs unless --force', async ({ project }) => {
    ciReady(project);
    expect((await project.cli(['ci', 'init', 'github'])).code).toBe(0);
    const file = path.join(project.dir, '.github/workflows/airlock-staging.yml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}# edited by hand\n`);
    const kept = await project.cli(['ci', 'init', 'github']);
    expect(kept.code).not.toBe(0);
    expect(kept.stderr).toContain(
      '.github/workflows/airlock-staging.yml already exists and differs from what manual generates; left unchanged.',
    );
    expect(readFileSync(file, 'utf8')).toContain('# edited by hand');
    expect((await project.cli(['ci', 'init', 'github', '--force'])).code).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toContain('# edited by hand');
  });

  projectTest(
    'follows an automatic production policy, and refuses an unknown flow or provider',
    async ({ project }) => {
      ciReady(project);
      project.editConfig((doc) => {
        doc.setIn(['environments', 'production', 'promotion'], 'automatic');
      });
      const auto = await project.cli(['ci', 'init', 'github']);
      expect(auto.code, auto.stderr).toBe(0);
      expect(workflowsIn(project)).toContain('airlock-deploy.yml');
      expect(
        readFileSync(path.join(project.dir, '.github/workflows/airlock-deploy.yml'), 'utf8'),
      ).toContain('promote production --auto');
      // Switching from the manual flow: its two files would still run on their triggers, so
      // they are named (kept) without --force and removed with it; a hand-written one stays.
      project.editConfig((doc) => {
        doc.setIn(['environments', 'production', 'promotion'], 'manual');
      });
      expect((await project.cli(['ci', 'init', 'github', '--force'])).code).toBe(0);
      const own = path.join(project.dir, '.github/workflows/airlock-extra.yml');
      writeFileSync(own, 'name: mine\n');
      project.editConfig((doc) => {
        doc.setIn(['environments', 'production', 'promotion'], 'automatic');
      });
      const stale = await project.cli(['ci', 'init', 'github']);
      expect(stale.code).not.toBe(0);
      expect(stale.stderr).toContain(
        '.github/workflows/airlock-production.yml, .github/workflows/airlock-staging.yml belong to another flow and would still run; left in place.',
      );
      const switched = await project.cli(['ci', 'init', 'github', '--force']);
      expect(switched.code, switched.stderr).toBe(0);
      expect(switched.stdout).toContain('✖ removed .github/workflows/airlock-staging.yml');
      expect(workflowsIn(project)).toEqual([
        'airlock-deploy.yml',
        'airlock-extra.yml',
        'airlock-monitor.yml',
        'airlock-rollback.yml',
      ]);
      const bad = await project.cli(['ci', 'init', 'github', '--flow', 'nightly']);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain(
        '--flow must be one of manual, automatic, staging-branch, got "nightly".',
      );
      const gitlab = await project.cli(['ci', 'init', 'gitlab']);
      expect(gitlab.stderr).toContain('there is no CI provider "gitlab".');
    },
  );

  projectTest(
    'refuses a project without airlock-deploy, printing the install command, and the local provider',
    async ({ project }) => {
      const local = await project.cli(['ci', 'init', 'github']);
      expect(local.code).toBe(1);
      expect(local.stderr).toContain(
        'environment staging deploys notes with the local provider, which runs it on this machine',
      );
      ciReady(project, false);
      const missing = await project.cli(['ci', 'init', 'github']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('package.json does not list airlock-deploy');
      expect(missing.stderr).toContain('Run `npm install -D airlock-deploy`');
      expect(() => workflowsIn(project)).toThrow();
    },
  );
});
