/**
 * Ctrl-C during a Postgres migration of a real `airlock deploy`: the migration's running
 * statement is cancelled at once, its transaction rolls back with its ledger row, the deployment
 * stops at the migrate step, and the next deployment applies the file. A CLI that dies instead
 * (`kill -9`; a second Ctrl-C exits as abruptly) leaves no statement running for long: the
 * server notices the session is gone and cancels it.
 */
import { Client } from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { exampleProject, liveVersion, spawnCli, type TestProject } from '../helpers/project.ts';

/** The migration that is interrupted: 5 s of sleep, then DDL. */
const SLOW_TAGS = 'SELECT pg_sleep(5);\nCREATE TABLE tags (id integer PRIMARY KEY);\n';

/**
 * Answers every path with the release it runs (as the app's /version does), so a release starts
 * without the example app's `pg` dependency (its build does not install it).
 */
const TINY_SERVER = `node -e "require('http').createServer((q, s) => s.end(JSON.stringify({ release: process.env.AIRLOCK_RELEASE }))).listen(process.env.PORT)"`;

describeIfPostgres(
  'a Postgres migration interrupted during `airlock deploy`',
  () => {
    let project: TestProject;
    let staging: TestDatabase;
    let production: TestDatabase;

    beforeEach(async () => {
      staging = await createTestDatabase('airlock_int_staging');
      production = await createTestDatabase('airlock_int_production');
      project = await exampleProject({
        config: (doc) => {
          doc.setIn(['services', 'notes', 'database'], {
            engine: 'postgres',
            migrations: 'migrations-postgres',
          });
          doc.setIn(['services', 'notes', 'run'], TINY_SERVER);
          doc.deleteIn(['services', 'notes', 'checks']);
          doc.setIn(['environments', 'staging', 'services', 'notes', 'databaseUrl'], staging.url);
          doc.setIn(
            ['environments', 'production', 'services', 'notes', 'databaseUrl'],
            production.url,
          );
        },
        commitMessage: 'notes on Postgres',
      });
      const first = await project.cli(['deploy', 'staging']);
      expect(first.code, first.stderr).toBe(0);
      project.commitFiles({ 'migrations-postgres/0003_slow_tags.sql': SLOW_TAGS }, 'slow tags');
    });

    afterEach(async () => {
      try {
        await project.cleanup();
      } finally {
        await staging.drop();
        await production.drop();
      }
    });

    /** Rows of `text` on staging's database. */
    async function onStaging<T>(text: string, params: unknown[] = []): Promise<T[]> {
      const client = new Client({ connectionString: staging.url });
      client.on('error', () => {});
      await client.connect();
      try {
        return (await client.query(text, params)).rows as T[];
      } finally {
        await client.end();
      }
    }

    /** Sessions on staging's database running the slow migration now. */
    async function sleeping(): Promise<number> {
      const [row] = await onStaging<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()",
      );
      return row?.n ?? 0;
    }

    async function waitFor(predicate: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if (await predicate()) return true;
        await new Promise((r) => setTimeout(r, 25));
      }
      return predicate();
    }

    /** `airlock deploy staging` as a real child process, once it runs the slow migration. */
    async function deployUntilSleeping() {
      const running = spawnCli(project.dir, ['deploy', 'staging'], { AIRLOCK_ACTOR: '' });
      expect(await waitFor(async () => (await sleeping()) > 0, 30_000), running.output()).toBe(
        true,
      );
      return running;
    }

    async function ledger(): Promise<number[]> {
      const rows = await onStaging<{ version: number }>(
        'SELECT version FROM airlock.migrations ORDER BY version',
      );
      return rows.map((r) => Number(r.version));
    }

    async function tagsExist(): Promise<boolean> {
      const [row] = await onStaging<{ t: string | null }>("SELECT to_regclass('tags')::text AS t");
      return row?.t != null;
    }

    it('Ctrl-C cancels the statement: nothing applied, the deployment stops, the next one applies it', async () => {
      const { child, exited, output } = await deployUntilSleeping();
      const pressed = Date.now();
      child.kill('SIGINT');
      expect(await exited, output()).toBe(1);
      expect(Date.now() - pressed).toBeLessThan(2000); // not the 5 s of pg_sleep

      expect(output()).toContain('Interrupting (Ctrl-C)');
      expect(output()).toMatch(
        /✖ Migrate notes .*— Migration \S*0003_slow_tags\.sql was cancelled by Ctrl-C: nothing of 0003_slow_tags\.sql was applied\./,
      );
      expect(output()).not.toContain('applied 0003');
      expect(output()).toContain('staging serves notes → r1.');
      expect(await sleeping()).toBe(0);
      expect(await tagsExist()).toBe(false);
      expect(await ledger()).toEqual([1, 2]);
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');

      const again = await project.cli(['deploy', 'staging']);
      expect(again.code, again.stderr).toBe(0);
      expect(await tagsExist()).toBe(true);
      expect(await ledger()).toEqual([1, 2, 3]);
    });

    it('a killed CLI leaves no migration statement running on the server', async () => {
      const { child, exited } = await deployUntilSleeping();
      const killed = Date.now();
      child.kill('SIGKILL'); // nothing is cancelled by Airlock: its process is gone
      await exited;
      // client_connection_check_interval: the server checks every second that the client is
      // still there, and cancels the statement of a session whose client is gone.
      expect(await waitFor(async () => (await sleeping()) === 0, 2500)).toBe(true);
      expect(Date.now() - killed).toBeLessThan(2500);
      expect(await tagsExist()).toBe(false);
      expect(await ledger()).toEqual([1, 2]);
    });
  },
  { timeout: 90_000 },
);
