/**
 * Per-test fixtures (vitest `test.extend`): every test gets its own project, state and
 * processes, set up before it and cleaned up after it whatever its outcome, so any test runs
 * alone (`-t`) and in any order (`--sequence.shuffle`).
 *
 * - `projectTest`: `{ project }`, the notes example in a temporary git repository (ports from
 *   the OS), its local runtime stopped afterwards.
 * - `projectTestWith(options)`: the same with `ExampleProjectOptions` (environment, a first
 *   edit of airlock.yaml, committed when a message is given).
 * - `stagedProjectTest(With)`: also `{ r1 }`, the first release deployed to staging.
 * - `promotedProjectTest(With)`: also `{ r1 }`, the first release deployed to staging,
 *   approved by `REVIEWER` and promoted to production (in process, real processes and checks).
 *   `r1` is set up even in a test that does not name it.
 * - `postgresProjectTestWith(options)`: `{ project, stateDatabase }`, team mode: the state
 *   store in a Postgres database of its own, dropped after the test.
 *
 * Extend them in a test file for what only that file needs (`.extend('name', fn)`); keep setup
 * that no test changes (a server's roles, an installed node_modules) in `beforeAll`.
 */
import { expect, test } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import {
  type ExampleProjectOptions,
  exampleProject,
  REVIEWER,
  type TestProject,
} from './project.ts';

/** A test whose `project` fixture is the example project made with `options`. */
export function projectTestWith(options: ExampleProjectOptions = {}) {
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  return test.extend('project', async ({}, { onCleanup }): Promise<TestProject> => {
    const project = await exampleProject(options);
    onCleanup(() => project.cleanup());
    return project;
  });
}

/** A test with `project`: the notes example, fresh for this test. */
export const projectTest = projectTestWith();

/**
 * Deploys the current commit to staging (in process, as `DEVELOPER`) and has `REVIEWER` approve
 * it for production. Returns the developer's context. Fails the test when the deployment does
 * not succeed.
 */
export async function stageAndApprove(project: TestProject): Promise<AirlockContext> {
  const { ctx: dev } = await project.session();
  const { ctx: reviewer } = await project.session(REVIEWER);
  const staged = await deploy(dev, 'staging', {});
  expect(staged.status, staged.failedStep?.message ?? '').toBe('succeeded');
  await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
  return dev;
}

/**
 * `stageAndApprove`, then promotes the release to production. Returns the release id (`r1` on
 * a fresh project). Fails the test when a step does not succeed.
 */
export async function ship(project: TestProject): Promise<string> {
  const dev = await stageAndApprove(project);
  const promoted = await deploy(dev, 'production', {});
  expect(promoted.status, promoted.failedStep?.message ?? '').toBe('succeeded');
  return promoted.plan.release.id;
}

/** `projectTestWith(options)` plus `r1`: the first release deployed to staging (only). */
export function stagedProjectTestWith(options: ExampleProjectOptions = {}) {
  return projectTestWith(options).extend('r1', { auto: true }, async ({ project }) => {
    const { ctx } = await project.session();
    const staged = await deploy(ctx, 'staging', {});
    expect(staged.status, staged.failedStep?.message ?? '').toBe('succeeded');
    return staged.plan.release.id;
  });
}

/** A test with `project` and `r1` serving staging; nothing serves production. */
export const stagedProjectTest = stagedProjectTestWith();

/** `projectTestWith(options)` plus `r1`: the first release serving staging and production. */
export function promotedProjectTestWith(options: ExampleProjectOptions = {}) {
  // auto: the project is promoted even in a test that does not name `r1`.
  return projectTestWith(options).extend('r1', { auto: true }, async ({ project }) =>
    ship(project),
  );
}

/** A test with `project` and `r1` serving both staging and production. */
export const promotedProjectTest = promotedProjectTestWith();

/**
 * A test in team mode: `stateDatabase`, a Postgres database of its own holding the state
 * store (`AIRLOCK_STATE_URL`), and `project` using it. Use inside `describeIfPostgres`.
 */
export function postgresProjectTestWith(options: ExampleProjectOptions = {}) {
  const withDatabase = test.extend(
    'stateDatabase',
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
    async ({}, { onCleanup }): Promise<TestDatabase> => {
      const database = await createTestDatabase('airlock_state');
      onCleanup(() => database.drop());
      return database;
    },
  );
  return withDatabase.extend('project', async ({ stateDatabase }, { onCleanup }) => {
    const project = await exampleProject({
      ...options,
      env: { ...options.env, AIRLOCK_STATE_URL: stateDatabase.url },
    });
    onCleanup(() => project.cleanup());
    return project;
  });
}
