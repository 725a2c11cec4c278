/**
 * The secret isolation policy on the notes example (local provider): one value under a name that
 * is not shared is refused in a second environment (by keyed fingerprint, naming both
 * environments and the name, never the value); names in `secrets.shared` may hold one value;
 * `airlock diff` tells refused from allowed; a required name missing on production fails the
 * `secrets` gate and blocks the promotion until it is set.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { deploy, planDeploy } from '../../src/pipeline/operations.ts';
import { projectTest, projectTestWith, stageAndApprove } from '../helpers/fixtures.ts';
import { projectHome, type TestProject } from '../helpers/project.ts';

const VALUE = 'sk_live_policy-value-51c0ffee';

const set = (project: TestProject, env: string, name: string, value = VALUE) =>
  project.cli(['secret', 'set', env, name], { input: value });

describe('secret isolation policy', () => {
  projectTest(
    'the same value in two environments is refused, under the same or another name; never shown',
    async ({ project }) => {
      expect((await set(project, 'staging', 'PAYMENT_KEY')).code).toBe(0);
      const same = await set(project, 'production', 'PAYMENT_KEY');
      expect(same.code).not.toBe(0);
      expect(same.stderr).toContain(
        'refused: PAYMENT_KEY on production holds the same value as PAYMENT_KEY on staging',
      );
      const renamed = await set(project, 'production', 'BILLING_TOKEN');
      expect(renamed.code).not.toBe(0);
      expect(renamed.stderr).toContain(
        'BILLING_TOKEN on production holds the same value as PAYMENT_KEY on staging',
      );
      // A value of production's own is accepted.
      expect((await set(project, 'production', 'PAYMENT_KEY', `${VALUE}-prod`)).code).toBe(0);
      const home = projectHome(project.dir);
      expect(
        readFileSync(path.join(home, 'envs/production/secrets/notes.json'), 'utf8'),
      ).not.toContain(`"${VALUE}"`);
      const history = await project.cli(['history', '--json']);
      for (const text of [same.stdout, same.stderr, renamed.stderr, history.stdout])
        expect(text).not.toContain(VALUE);
      // Neither the state nor its fingerprints hold the value; the key is outside the state.
      const state = readFileSync(path.join(home, 'state.db'));
      expect(state.includes(Buffer.from(VALUE))).toBe(false);
      const key = readFileSync(path.join(home, 'fingerprint.key'));
      expect(key.length).toBe(32);
      expect(state.includes(key)).toBe(false);
    },
  );

  projectTestWith({
    config: (doc) => doc.set('secrets', { shared: ['MAPS_KEY'] }),
  })(
    'names in secrets.shared may hold one value; airlock diff tells allowed from refused',
    async ({ project }) => {
      expect((await set(project, 'staging', 'MAPS_KEY')).code).toBe(0);
      expect((await set(project, 'production', 'MAPS_KEY')).code).toBe(0);
      const allowed = await project.cli(['diff', 'staging', 'production']);
      expect(allowed.stdout).toContain(
        '≈ MAPS_KEY on production holds the same value as MAPS_KEY on staging — shared on purpose (secrets.shared)',
      );
      expect(allowed.stdout).toContain('1 secret value shared on purpose (secrets.shared)');
      expect(allowed.code).toBe(0);

      // The name is no longer shared on purpose: diff now reports the shared value as refused.
      project.editConfig((doc) => doc.set('secrets', { shared: [] }));
      const refused = await project.cli(['diff', 'staging', 'production', '--json']);
      expect(refused.code).toBe(1);
      const json = JSON.parse(refused.stdout) as { sharedValues: unknown[] };
      expect(json.sharedValues).toEqual([
        {
          name: 'MAPS_KEY',
          other: { environment: 'staging', name: 'MAPS_KEY' },
          status: 'refused',
        },
      ]);
      expect(refused.stdout + refused.stderr).not.toContain(VALUE);
    },
  );

  projectTestWith({
    config: (doc) => doc.set('secrets', { required: ['SESSION_SECRET'] }),
  })('a required name missing on production blocks the promotion', async ({ project }) => {
    expect((await set(project, 'staging', 'SESSION_SECRET', `${VALUE}-staging`)).code).toBe(0);
    const dev = await stageAndApprove(project);
    const blocked = await planDeploy(dev, 'production', {});
    expect(blocked.gates.find((g) => g.gate === 'secrets')).toMatchObject({
      status: 'fails',
      reason: 'notes on production lacks required secret SESSION_SECRET.',
    });
    await expect(deploy(dev, 'production', {})).rejects.toMatchObject({ code: 'GATE_BLOCKED' });

    expect((await set(project, 'production', 'SESSION_SECRET')).code).toBe(0);
    const open = await planDeploy(dev, 'production', {});
    expect(open.gates.find((g) => g.gate === 'secrets')).toMatchObject({
      status: 'holds',
      reason:
        'production has its required secrets (1) and shares no value with another environment.',
    });
    expect((await deploy(dev, 'production', {})).status).toBe('succeeded');
  });
});
