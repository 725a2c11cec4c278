/** `airlock demo --postgres`: the whole story on Postgres (state + one database per environment). */
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeIfPostgres, TEST_POSTGRES_URL, withAdminClient } from '../helpers/postgres.ts';
import { DEMO_STORY, demoStory, exampleProject } from '../helpers/project.ts';

describeIfPostgres('airlock demo --postgres', () => {
  it('runs the whole story on Postgres and drops its databases afterwards', async () => {
    const scratch = await exampleProject(); // for its CLI runner only
    try {
      const { code, stdout, stderr } = await scratch.cli(
        ['demo', '--postgres', TEST_POSTGRES_URL, '--json'],
        { timeoutMs: 120_000 },
      );
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const json = JSON.parse(stdout);
      expect(demoStory(json)).toEqual(DEMO_STORY);
      const databases: string[] = json.postgres.databases;
      expect(databases).toHaveLength(3);
      expect(new Set(databases).size).toBe(3); // state, staging and production apart
      const left = await withAdminClient(
        async (c) =>
          (await c.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [databases]))
            .rows,
      );
      expect(left).toEqual([]);
      expect(existsSync(json.dir)).toBe(false);
    } finally {
      await scratch.cleanup();
    }
  });
});
