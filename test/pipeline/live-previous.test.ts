/**
 * The `deployed` gate asks the previous environment's platform at promotion time: a staging that
 * the records show serving the release but that is stopped now blocks the promotion, naming its
 * URL; once it serves again, the gate holds.
 */
import { expect } from 'vitest';
import { stagedProjectTest } from '../helpers/fixtures.ts';
import { liveVersion, REVIEWER } from '../helpers/project.ts';

stagedProjectTest(
  'staging stopped: promote production is refused, naming the URL; running again: the gate holds',
  async ({ project, r1 }) => {
    expect((await project.cli(['approve', 'production', '--as', REVIEWER])).code).toBe(0);
    expect((await project.cli(['local', 'stop'])).code).toBe(0);

    const refused = await project.cli(['promote', 'production', '--yes']);
    expect(refused.code).toBe(1);
    const stagingUrl = `http://127.0.0.1:${project.ports.staging}`;
    expect(`${refused.stdout}${refused.stderr}`).toContain(
      `the deployed gate fails (staging at ${stagingUrl} serves nothing now (notes), not ${r1}`,
    );

    // The runtime serves staging again (it restores what served), as soon as `local start`
    // returns: the gate holds, live.
    const started = await project.cli(['local', 'start']);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(`1 service(s) serving again: staging/notes ${r1}`);
    expect((await liveVersion(stagingUrl)).release).toBe(r1);
    const plan = JSON.parse((await project.cli(['plan', 'production', '--json'])).stdout);
    const deployed = plan.plan.gates.find((g: { gate: string }) => g.gate === 'deployed');
    expect(deployed).toMatchObject({ status: 'holds' });
    expect(deployed.reason).toContain('live and healthy now');
  },
);
