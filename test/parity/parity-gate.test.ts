/**
 * The parity gate and `airlock diff` on the real example (local provider, real processes, the
 * real CLI): the example's environments differ only in allowed keys, so it promotes; a health
 * path production does not share blocks the promotion by name until parity.allow (or
 * parity.gate: warn) allows it; a secret set only on staging is drift by name, never by value.
 */
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';
import { liveVersion, REVIEWER, type TestProject } from '../helpers/project.ts';

const FROM_SOURCE = { AIRLOCK_FROM_SOURCE: '1' };

/** `airlock <args>` in `project`, run from the sources. */
const cliIn =
  (project: TestProject) =>
  (...args: string[]) =>
    project.cli(args, { env: FROM_SOURCE });

describe('parity on the example project', () => {
  projectTest(
    'airlock diff: the example mirrors staging (keepWarmMs is allowed); --json lists every row',
    async ({ project }) => {
      const cli = cliIn(project);
      const text = await cli('diff', 'staging', 'production');
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('notes: staging ↔ production');
      expect(text.stdout).toMatch(
        /≈\s+airlock\.keepWarmMs\s+0\s+600000\s+allowed \(airlock\.keepWarmMs\)/,
      );
      expect(text.stdout).toMatch(/vars\.LOG_LEVEL\s+set\s+set/);
      expect(text.stdout).toContain(
        '✔ production mirrors staging: 13 keys compared, 1 allowed difference.',
      );

      const json = await cli('diff', 'staging', 'production', '--json');
      expect(json.code).toBe(0);
      const body = JSON.parse(json.stdout);
      expect(body).toMatchObject({
        ok: true,
        drift: false,
        diff: { environments: ['staging', 'production'], gate: 'block' },
      });
      expect(body.diff.services[0]).toMatchObject({
        service: 'notes',
        drift: [],
        allowed: ['airlock.keepWarmMs'],
      });
      expect(body.diff.services[0].rows).toContainEqual({
        key: 'airlock.health.path',
        section: 'airlock',
        a: '/health',
        b: '/health',
        status: 'same',
        allowedBy: null,
      });

      expect((await cli('diff', 'staging', 'staging')).code).toBe(2);
      expect((await cli('diff', 'staging', 'prod')).stderr).toContain(
        'there is no environment "prod"',
      );
    },
  );

  projectTest(
    'a secret set only on staging is drift by name; its value appears nowhere',
    async ({ project }) => {
      const cli = cliIn(project);
      const { ctx } = await project.session();
      const staging = ctx.config.environments.staging;
      if (!staging) throw new Error('no staging');
      const value = 'sk-live-parity-3f9a1c';
      await ctx.providerFor(staging).setSecrets(
        {
          environment: 'staging',
          service: 'notes',
          port: 0,
          projectDir: project.dir,
          serviceDir: project.dir,
          settings: { provider: 'local' },
        },
        { STRIPE_KEY: value },
      );
      const diff = await cli('diff', 'staging', 'production', '--service', 'notes');
      expect(diff.code).toBe(1);
      expect(diff.stdout).toMatch(/✖\s+secrets\.STRIPE_KEY\s+set\s+—\s+drift/);
      expect(diff.stdout).toContain(
        '✖ staging and production differ outside the allow list in 1 key (notes: secrets.STRIPE_KEY); 1 allowed difference.',
      );
      expect(diff.stdout + diff.stderr).not.toContain(value);
      // The same secret name on production: names match, values are never compared.
      const production = ctx.config.environments.production;
      if (!production) throw new Error('no production');
      await ctx.providerFor(production).setSecrets(
        {
          environment: 'production',
          service: 'notes',
          port: 0,
          projectDir: project.dir,
          serviceDir: project.dir,
          settings: { provider: 'local' },
        },
        { STRIPE_KEY: 'sk-live-production-other' },
      );
      expect((await cli('diff', 'staging', 'production')).code).toBe(0);
    },
  );

  projectTest(
    'a health path production does not share blocks the promotion, naming the key; parity.allow lets it through',
    async ({ project }) => {
      const cli = cliIn(project);
      project.editConfig((doc) => {
        doc.setIn(
          ['environments', 'production', 'services', 'notes', 'health'],
          doc.createNode({ path: '/version' }),
        );
      });
      project.commitFiles({}, 'Production probes /version');
      expect((await cli('deploy', 'staging')).code).toBe(0);
      expect(
        (await project.cli(['approve', 'production', '--as', REVIEWER], { env: FROM_SOURCE })).code,
      ).toBe(0);

      const plan = await cli('plan', 'production');
      // A blocked plan exits 4 (not 0, not the 1 of a broken command), in --json too.
      expect(plan.code).toBe(4);
      const planJson = JSON.parse((await cli('plan', 'production', '--json')).stdout);
      expect(planJson).toMatchObject({ ok: false, blocked: true, exitCode: 4 });
      expect(planJson.error).toBeUndefined();
      expect(plan.stdout).toMatch(
        /✖ parity {5}production does not mirror staging — notes: airlock\.health\.path \(\/health on staging, \/version on production\)\./,
      );
      expect(plan.stdout).toContain(
        '→ see `airlock diff staging production`; make them match, or add the key to parity.allow in airlock.yaml',
      );

      const refused = await cli('promote', 'production', '--yes');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        'the parity gate fails (production does not mirror staging — notes: airlock.health.path (/health on staging, /version on production))',
      );
      const diff = await cli('diff', 'staging', 'production');
      expect(diff.code).toBe(1);
      expect(diff.stdout).toMatch(/✖\s+airlock\.health\.path\s+\/health\s+\/version\s+drift/);

      // warn: the gate holds and says so (plan only), then allowed by name: the promotion goes through.
      project.editConfig((doc) => {
        doc.setIn(['parity'], doc.createNode({ gate: 'warn' }));
      });
      const warned = await cli('plan', 'production');
      expect(warned.code).toBe(0);
      expect(warned.stdout).toContain(
        '✔ parity     staging and production differ, allowed by parity.gate: warn — notes: airlock.health.path (/health on staging, /version on production).',
      );
      project.editConfig((doc) => {
        doc.setIn(['parity'], doc.createNode({ allow: ['airlock.health.path'] }));
      });
      const promoted = await cli('promote', 'production', '--yes');
      expect(promoted.code).toBe(0);
      expect((await liveVersion(project.url('production'))).release).toBe('r1');
      const afterwards = await cli('diff', 'staging', 'production');
      expect(afterwards.code).toBe(0);
      expect(afterwards.stdout).toMatch(
        /≈\s+airlock\.health\.path\s+\/health\s+\/version\s+allowed \(airlock\.health\.path\)/,
      );
    },
  );
});
