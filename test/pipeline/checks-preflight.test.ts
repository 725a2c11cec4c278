/**
 * What a team meets when a check or a deploy goes wrong, on the real example (local provider,
 * real processes, the real CLI): an unset `${NAME}` and a taken port stop a deploy before its
 * migrations run; a failed command check shows its last lines with secrets masked (text and
 * --json); `airlock check` re-runs checks against what serves and the gate reads the result;
 * `plan` exits 4 while a gate blocks; a release rolled back from production needs a fresh
 * approval.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { exampleProject, REVIEWER, type TestProject } from '../helpers/project.ts';

const FROM_SOURCE = { AIRLOCK_FROM_SOURCE: '1' };
const TOKEN = 'tok-s3cret-8c1f07';

/** A command check that prints 30 numbered lines, what it was given, and fails on request. */
const PROBE = `
for (let i = 1; i <= 30; i++) console.log('line ' + i);
console.log('token is ' + process.env.PROBE_TOKEN);
console.log('database given: ' + (process.env.DATABASE_URL ? 'yes' : 'no'));
console.log('database is ' + process.env.DATABASE_URL);
if (process.env.PROBE_FAIL === '1') { console.error('probe failed on purpose'); process.exit(1); }
`;

let project: TestProject | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

async function withProbe(): Promise<TestProject> {
  const p = await exampleProject();
  p.editConfig((doc) => {
    const checks = doc.getIn(['services', 'notes', 'checks']) as { add(node: unknown): void };
    checks.add(
      doc.createNode({
        name: 'probe',
        type: 'command',
        run: 'node probe.mjs',
        // A check sees only what it declares of the shell's variables.
        env: { PROBE_TOKEN: '${PROBE_TOKEN}', PROBE_FAIL: '${PROBE_FAIL}' },
      }),
    );
  });
  p.commitFiles({ 'probe.mjs': PROBE }, 'A probe check');
  return p;
}

async function pending(p: TestProject, environment: string): Promise<string[]> {
  const status = await p.cli(['migrate', 'status', environment, '--json'], { env: FROM_SOURCE });
  return JSON.parse(status.stdout).services[0].pending;
}

describe('checks and preflight', () => {
  it('an unset ${NAME} stops a deploy before migrations; a failed check shows its last 20 lines, masked; airlock check re-runs it and opens the gate', async () => {
    project = await withProbe();
    const p = project;
    const cli = (args: string[], env: Record<string, string> = {}) =>
      p.cli(args, { env: { ...FROM_SOURCE, PROBE_FAIL: '0', ...env } });

    // No PROBE_TOKEN here: refused before anything changed, naming file, line and variable.
    const unset = await cli(['deploy', 'staging']);
    expect(unset.code, unset.stdout).toBe(1);
    expect(unset.stdout).toContain('✖ deploy of r1 to staging failed at verify: airlock.yaml:');
    expect(unset.stdout).toMatch(
      /airlock\.yaml:\d+:\d+: error: services\.notes\.checks\[2\]\.env\.PROBE_TOKEN: reads \$PROBE_TOKEN for staging, which is not set/,
    );
    expect(await pending(p, 'staging')).toEqual([
      '0001_create_notes.sql',
      '0002_add_notes_updated_at.sql',
    ]);

    // The probe fails: --json carries its last 20 lines, the token masked.
    const failed = await cli(['deploy', 'staging', '--json'], {
      PROBE_TOKEN: TOKEN,
      PROBE_FAIL: '1',
    });
    expect(failed.code).toBe(1);
    expect(failed.stdout).not.toContain(TOKEN);
    const body = JSON.parse(failed.stdout);
    const probe = body.checks.find((c: { name: string }) => c.name === 'probe');
    expect(probe).toMatchObject({ status: 'failed', message: expect.stringContaining('exited 1') });
    const tail = (probe.outputTail as string).split('\n');
    expect(tail).toHaveLength(20);
    expect(tail[0]).toBe('line 15');
    expect(tail).toContain('database given: yes');
    expect(tail).toContain('probe failed on purpose');
    expect(tail.find((l) => l.startsWith('token is '))).toMatch(/^token is \S+$/);
    expect(tail.find((l) => l.startsWith('database is '))).not.toMatch(/notes\.db|sqlite/);

    // airlock check: same failure in text, then a passing re-run recorded for the gate.
    const again = await cli(['check', 'staging'], { PROBE_TOKEN: TOKEN, PROBE_FAIL: '1' });
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('notes/probe output (last 20 lines, secrets masked):');
    expect(again.stdout).toContain('    │ line 30');
    expect(again.stdout).not.toContain('│ line 14');
    expect(again.stdout).not.toContain(TOKEN);
    expect(again.stdout).toContain('✖ 1 of 3 checks failed on staging (notes r1)');

    const blocked = await cli(['plan', 'production'], { PROBE_TOKEN: TOKEN });
    expect(blocked.code).toBe(4);
    expect(blocked.stdout).toMatch(/✖ checks .*probe/);

    const passed = await cli(['check', 'staging', '--json'], { PROBE_TOKEN: TOKEN });
    expect(passed.code, passed.stdout).toBe(0);
    expect(JSON.parse(passed.stdout)).toMatchObject({
      ok: true,
      passed: true,
      serving: { notes: 'r1' },
    });
    expect(
      (await cli(['approve', 'production', '--as', REVIEWER], { PROBE_TOKEN: TOKEN })).code,
    ).toBe(0);
    const open = await cli(['plan', 'production'], { PROBE_TOKEN: TOKEN });
    expect(open.code, open.stdout).toBe(0);
    expect(open.stdout).toMatch(/✔ checks\s+3 checks passed on staging/);

    const history = JSON.parse((await cli(['history', 'staging', '--json'])).stdout);
    const actions = (history.events as Array<{ action: string }>).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['check.failed', 'check.passed']));
    expect(JSON.stringify(history)).not.toContain(TOKEN);
  }, 240_000);

  it('a release whose /health logs an error on every probe shows that error, not its last 20 property lines, secrets masked', async () => {
    project = await exampleProject();
    const p = project;
    // /health queries a table that does not exist: the app logs the error `pg` gives (its first
    // line, a stack, one property per line) on every probe and answers 500.
    const BROKEN_HEALTH = `
import http from 'node:http';
class DatabaseError extends Error {
  constructor(message) { super(message); this.name = 'error'; }
}
http.createServer((req, res) => {
  const error = new DatabaseError('relation "healthz" does not exist (token ' + process.env.API_TOKEN + ')');
  Object.assign(error, { length: 106, severity: 'ERROR', code: '42P01', detail: undefined, hint: undefined,
    position: '15', internalPosition: undefined, internalQuery: undefined, where: undefined, schema: undefined,
    table: undefined, column: undefined, dataType: undefined, constraint: undefined,
    file: 'parse_relation.c', line: '1449', routine: 'parserOpenTable' });
  console.error(error);
  res.writeHead(500).end();
}).listen(Number(process.env.PORT), '127.0.0.1');
`;
    p.editConfig((doc) => {
      doc.setIn(['services', 'notes', 'run'], 'node broken-health.js');
      doc.setIn(['services', 'notes', 'health', 'timeoutMs'], 1500);
      doc.setIn(
        ['environments', 'staging', 'services', 'notes', 'vars', 'API_TOKEN'],
        '${API_TOKEN}',
      );
    });
    p.commitFiles(
      { 'src/broken-health.js': BROKEN_HEALTH },
      'A /health that queries a missing table',
    );

    const failed = await p.cli(['deploy', 'staging'], {
      env: { ...FROM_SOURCE, API_TOKEN: TOKEN },
    });
    expect(failed.code, failed.stdout).toBe(1);
    expect(failed.stdout).toContain('did not answer 200 on /health within 1500 ms');
    expect(failed.stdout).not.toContain(TOKEN);
    const shown = failed.stdout.split('\n').filter((l) => l.startsWith('    │ '));
    expect(shown.length).toBeLessThanOrEqual(28);
    expect(shown[0]).toBe('    │ error: relation "healthz" does not exist (token ***)');
    expect(shown).toContain("    │   routine: 'parserOpenTable'");
    expect(failed.stdout).toMatch(/│ … \(the \d+ lines above, written \d+ times in a row\)/);
  }, 120_000);

  it('a port another process holds is refused before the migration runs', async () => {
    project = await exampleProject();
    const p = project;
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(p.ports.staging, '127.0.0.1', resolve));
    try {
      const refused = await p.cli(['deploy', 'staging'], { env: FROM_SOURCE });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(
        `Port ${p.ports.staging} (environment staging, service notes) is already in use by another process; nothing was changed in staging.`,
      );
      expect(await pending(p, 'staging')).toHaveLength(2);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    const deployed = await p.cli(['deploy', 'staging'], { env: FROM_SOURCE });
    expect(deployed.code, deployed.stdout).toBe(0);
    expect(await pending(p, 'staging')).toEqual([]);
  }, 120_000);

  it('a release rolled back from production needs a fresh approval to be promoted again', async () => {
    project = await exampleProject();
    const p = project;
    const cli = (...args: string[]) => p.cli(args, { env: FROM_SOURCE });
    const approve = () => cli('approve', 'production', '--as', REVIEWER);
    expect((await cli('deploy', 'staging')).code).toBe(0);
    expect((await approve()).code).toBe(0);
    expect((await cli('promote', 'production', '--yes')).code).toBe(0);
    p.commit('2-pinned-notes');
    expect((await cli('deploy', 'staging')).code).toBe(0);
    expect((await approve()).code).toBe(0);
    expect((await cli('promote', 'production', '--yes')).code).toBe(0);

    expect((await cli('rollback', 'production', '--yes')).code).toBe(0);
    const plan = await cli('plan', 'production');
    expect(plan.code).toBe(4);
    expect(plan.stdout).toMatch(
      /… approval +1 more approval needed \(0\/1\) by someone other than dev@airlock\.demo; r2 was rolled back from production by dev@airlock\.demo at \S+ \(to r1\), so the approval given before \(reviewer@airlock\.demo\) no longer counts\./,
    );
    expect((await cli('promote', 'production', '--yes')).code).toBe(1);

    expect((await approve()).code).toBe(0);
    const approved = await cli('plan', 'production');
    expect(approved.code, approved.stdout).toBe(0);
    expect((await cli('promote', 'production', '--yes')).code).toBe(0);
  }, 240_000);
});
