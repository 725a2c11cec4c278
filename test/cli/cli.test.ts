/** The CLI as users run it: real child processes, exit codes, --json, protected environments. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { projectTest, promotedProjectTest } from '../helpers/fixtures.ts';
import { BIN, DEMO_STORY, demoStory, REVIEWER } from '../helpers/project.ts';

describe('airlock CLI', () => {
  projectTest(
    'status --json prints one JSON object when nothing is deployed',
    async ({ project }) => {
      const { code, stdout } = await project.cli(['status', '--json']);
      expect(code).toBe(0);
      const json = JSON.parse(stdout);
      expect(json.ok).toBe(true);
      expect(json.environments.map((e: { environment: string }) => e.environment)).toEqual([
        'staging',
        'production',
      ]);
      expect(json.environments[0].services[0]).toMatchObject({
        service: 'notes',
        release: null,
        url: project.url('staging'),
      });
    },
  );

  projectTest(
    'status <env> shows that environment only, in the table and in --json',
    async ({ project }) => {
      const text = await project.cli(['status', 'production']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^\s+production\s+notes\s/m);
      expect(text.stdout).not.toMatch(/^\s+staging\s/m);
      const json = JSON.parse((await project.cli(['status', 'production', '--json'])).stdout);
      expect(json.environments.map((e: { environment: string }) => e.environment)).toEqual([
        'production',
      ]);
    },
  );

  projectTest(
    'every command taking an environment refuses an unknown one alike, before anything else: the one it likely means, exit 2',
    async ({ project }) => {
      const { code, stdout, stderr } = await project.cli(['deploy', 'prod']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        '✖ there is no environment "prod" in airlock.yaml; did you mean "production"?\n  → Environments are: staging, production.\n',
      ); // nothing printed before it (check used to say what it checks first), no stack trace
      // Those that once answered otherwise (an empty history, "nothing to resume", another
      // message), and one of each way a command reads its environments.
      const commands = [
        ['history', 'prod'],
        ['status', 'prod'],
        ['check', 'prod'],
        ['resume', 'prod'],
        ['promote', 'prod', '--auto', '--watch'],
        ['lock', 'acquire', 'prod', '-m', 'maintenance'],
        ['migrate', 'status', 'prod'],
        ['data', 'refresh', 'staging', '--from', 'prod'],
        ['diff', 'staging', 'prod'],
      ];
      const results = await Promise.all(commands.map((args) => project.cli(args)));
      results.forEach((result, i) => {
        const what = commands[i]?.join(' ');
        expect({ what, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
          what,
          code: 2,
          stdout: '',
          stderr,
        });
      });
      // An abbreviation is understood too; --json carries the error's kind and code.
      const json = await project.cli(['migrate', 'status', 'prd', '--json']);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout).error).toMatchObject({
        kind: 'config',
        code: 'UNKNOWN_ENVIRONMENT',
        message: 'there is no environment "prd" in airlock.yaml; did you mean "production"?',
      });
    },
  );

  projectTest('puts errors in the JSON object with --json', async ({ project }) => {
    const { code, stdout } = await project.cli(['rollback', 'staging', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({
      ok: false,
      error: { kind: 'user', code: 'NOTHING_TO_ROLL_BACK' },
    });
  });

  projectTest(
    'warns an approver that the release was built from uncommitted changes',
    async ({ project }) => {
      // An edit not committed: the build of this commit is dirty.
      writeFileSync(path.join(project.dir, 'README.md'), '# Notes, edited and not committed\n');
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
      const approved = await project.cli(['approve', 'production', '--as', REVIEWER]);
      expect(approved.code).toBe(0);
      expect(`${approved.stdout}${approved.stderr}`).toContain(
        'was built from uncommitted changes',
      );
    },
  );

  projectTest(
    'warns an approver that the release has not succeeded on the previous environment',
    async ({ project }) => {
      expect((await project.cli(['build'])).code).toBe(0); // r1, never deployed
      const ahead = await project.cli([
        'approve',
        'production',
        '--release',
        'r1',
        '--as',
        REVIEWER,
      ]);
      expect(ahead.code).toBe(0);
      expect(`${ahead.stdout}${ahead.stderr}`).toContain(
        'r1 has not been deployed on staging: the approval is recorded, and production takes r1 only once it has.',
      );
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
      const after = await project.cli(['approve', 'production', '-m', 'again', '--as', REVIEWER]);
      expect(after.code).toBe(0);
      expect(`${after.stdout}${after.stderr}`).not.toContain('has not been deployed');
    },
  );

  projectTest(
    'refuses to change a protected environment without --yes when there is no terminal',
    async ({ project }) => {
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
      expect((await project.cli(['approve', 'production', '--as', REVIEWER])).code).toBe(0);
      const refused = await project.cli(['promote', 'production']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(
        'production is a protected environment and there is no terminal to confirm on.',
      );
      expect(refused.stderr).toContain('Re-run with --yes to confirm.');
      const status = JSON.parse((await project.cli(['status', '--json'])).stdout);
      expect(status.environments[1].services[0].release).toBeNull();
      const done = await project.cli(['promote', 'production', '--yes', '--json']);
      expect(done.code).toBe(0);
      expect(JSON.parse(done.stdout)).toMatchObject({
        ok: true,
        action: 'promote',
        status: 'succeeded',
        release: { id: 'r1' },
      });
    },
  );

  promotedProjectTest(
    'does nothing when promoting the release production already serves',
    async ({ project }) => {
      const { code, stdout } = await project.cli(['promote', 'production', '--yes']);
      expect(code).toBe(0);
      expect(stdout).toContain('production already serves r1; nothing to promote.');
    },
  );

  projectTest('shows every gate and exits 1 when a promotion is refused', async ({ project }) => {
    expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
    const { code, stdout, stderr } = await project.cli(['promote', 'production', '--yes']);
    expect(code).toBe(1);
    expect(stdout).toContain('Gate for production:');
    expect(stdout).toMatch(/✔ deployed {3}r1 serves on staging/);
    expect(stdout).toContain(
      '… approval   1 more approval needed (0/1) by someone other than dev@airlock.demo.',
    );
    expect(stderr).toContain(
      '✖ promotion of r1 to production refused: the approval gate is pending',
    );
    expect(stderr).toContain('→ Next: airlock approve production --release r1.');
  });

  projectTest('exits 2 on an invalid airlock.yaml and names file:line:col', async ({ project }) => {
    const bad = path.join(project.dir, 'bad.yaml');
    writeFileSync(
      bad,
      'project: notes\npipeline: [staging]\nservices: {}\nenvironments:\n  staging: { provder: local }\n',
    );
    const text = await project.cli(['config', 'validate', '-c', 'bad.yaml']);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain(
      'bad.yaml:5:14: error: environments.staging.provder: unknown field "provder"',
    );
    const json = await project.cli(['config', 'validate', '-c', 'bad.yaml', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ kind: 'config', code: 'CONFIG_INVALID' });
  });

  projectTest(
    'a database URL variable that is not set is reported as that, not as an invalid file',
    async ({ project }) => {
      project.editConfig((doc) => {
        doc.setIn(
          ['services', 'notes', 'database'],
          doc.createNode({ engine: 'postgres', migrations: 'migrations-postgres' }),
        );
        doc.setIn(
          ['environments', 'staging', 'services', 'notes', 'databaseUrl'],
          '${NOTES_TEST_STAGING_DB}',
        );
        doc.setIn(
          ['environments', 'production', 'services', 'notes', 'databaseUrl'],
          '${NOTES_TEST_PRODUCTION_DB}',
        );
      });
      const result = await project.cli(['deploy', 'staging', '--yes'], {
        env: { NOTES_TEST_STAGING_DB: '', NOTES_TEST_PRODUCTION_DB: '' },
      });
      expect(result.code).toBe(2);
      expect(result.stderr).not.toContain('Invalid configuration');
      expect(result.stderr).toContain(
        "✖ NOTES_TEST_STAGING_DB is not set: staging's database URL is read from it (airlock.yaml itself is valid).",
      );
      expect(result.stderr).toMatch(
        /airlock\.yaml:\d+:\d+: error: environments\.staging\.services\.notes\.databaseUrl: reads \$NOTES_TEST_STAGING_DB, which is not set in the environment\. Fix: export NOTES_TEST_STAGING_DB=postgres:\/\//,
      );
      expect(result.stderr).toContain(
        '→ Set NOTES_TEST_STAGING_DB in this shell (export), or as a secret of the CI job that runs this command, then run the command again.',
      );
      expect(result.stderr).not.toMatch(/\n\s+at /);
      // Refused before the build: no release was made.
      expect(JSON.parse((await project.cli(['releases', '--json'])).stdout).releases).toEqual([]);
      const json = await project.cli(['deploy', 'staging', '--yes', '--json'], {
        env: { NOTES_TEST_STAGING_DB: '', NOTES_TEST_PRODUCTION_DB: '' },
      });
      expect(JSON.parse(json.stdout).error).toMatchObject({
        kind: 'config',
        code: 'CONFIG_VARIABLE_UNSET',
      });
    },
  );

  projectTest(
    'refuses a second deployment while the environment is locked, naming the holder',
    async ({ project }) => {
      expect((await project.cli(['build'])).code).toBe(0); // r1
      const { ctx } = await project.session();
      const held = await ctx.store.acquireLock({
        environment: 'staging',
        token: 'held-by-this-test',
        holder: 'ann@example.com',
        runId: null,
        pid: process.pid, // alive, on this host
        host: ctx.host,
        message: 'hotfix in progress',
        ttlMs: 60_000,
        now: new Date(),
      });
      expect(held.acquired).toBe(true);
      const { code, stderr } = await project.cli(['deploy', 'staging', '--release', 'r1']);
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /✖ staging is locked by ann@example\.com \(pid \d+ on .+\) since .+: "hotfix in progress"\./,
      );
      expect(stderr).toContain('Wait for it to finish (or pass --wait 10m).');
      await ctx.store.releaseLock('staging', 'held-by-this-test');
      expect((await project.cli(['deploy', 'staging', '--release', 'r1'])).code).toBe(0);
    },
  );

  projectTest('exits 2 with a suggestion for an unknown command', async ({ project }) => {
    const { code, stderr } = await project.cli(['promot']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'promot'");
    expect(stderr).toContain('promote');
    // In Airlock's own shape (the mark and a fix), not commander's bare "error:" line.
    expect(stderr).toMatch(/^✖ unknown command 'promot'/);
    expect(stderr).toContain('→ See the command');
    expect(stderr).toContain('`airlock --help`');
    expect(stderr).not.toMatch(/^error:/m);
  });

  projectTest(
    'a usage error points at the help of the command that was run, nested ones too',
    async ({ project }) => {
      const apply = await project.cli(['migrate', 'apply']);
      expect(apply.code).toBe(2);
      expect(apply.stderr).toBe(
        "✖ missing required argument 'environment'\n  → See the command's usage with `airlock migrate apply --help`.\n",
      );
      const deploy = await project.cli(['deploy', 'staging', '--bogus']);
      expect(deploy.code).toBe(2);
      expect(deploy.stderr).toContain("unknown option '--bogus'");
      expect(deploy.stderr).toContain('`airlock deploy --help`');
      // An unknown subcommand: the group's help, which lists its commands.
      const group = await project.cli(['migrate', 'aply']);
      expect(group.code).toBe(2);
      expect(group.stderr).toContain("unknown command 'aply'");
      expect(group.stderr).toContain('`airlock migrate --help`');
    },
  );

  projectTest(
    'without airlock.yaml, suggests airlock init; a missing -c file is said not to exist',
    async ({ project }) => {
      const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'airlock-no-config-'));
      try {
        const none = spawnSync(process.execPath, [BIN, 'status'], {
          cwd: elsewhere,
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1' },
        });
        expect(none.status).toBe(2);
        expect(none.stderr).toContain(`✖ no airlock.yaml in ${elsewhere} or any parent folder.`);
        expect(none.stderr).toContain(
          "→ Run `airlock init` in your project's folder to write one for it, or pass -c <file>. To see the whole flow on an example first, run `airlock demo`.",
        );
        // Not a file inside Airlock's own package, and no line of a file that is not there.
        expect(none.stderr).not.toContain('examples/notes');
        expect(none.stderr).not.toContain(':1:1');
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
      const missing = await project.cli(['-c', 'nope.yaml', 'status']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(
        `✖ nope.yaml does not exist (${path.join(project.dir, 'nope.yaml')}).`,
      );
      expect(missing.stderr).not.toContain('nope.yaml:1:1');
      const json = JSON.parse((await project.cli(['-c', 'nope.yaml', 'status', '--json'])).stdout);
      expect(json.error).toMatchObject({ code: 'CONFIG_NOT_FOUND', kind: 'config' });
    },
  );
});

describe('airlock demo', () => {
  // The project is only a CLI runner and a scratch folder: the demo makes its own.
  projectTest('runs the whole story, exits 0, and cleans up', async ({ project }) => {
    const started = Date.now();
    const { code, stdout, stderr } = await project.cli(['demo', '--json'], { timeoutMs: 60_000 });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    const json = JSON.parse(stdout);
    expect(json.ok).toBe(true);
    expect(demoStory(json)).toEqual(DEMO_STORY);
    expect(existsSync(json.dir)).toBe(false);
  });
});
