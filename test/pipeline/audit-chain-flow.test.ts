/**
 * The audit chain end to end on the notes example: an event's detail edited in the SQLite state
 * file (trigger dropped, as the sqlite3 shell can) is named by `airlock audit verify`, refuses
 * the promotion through the `audit` gate, and `airlock audit accept --reason` lets it through.
 */
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import { projectTest, stageAndApprove } from '../helpers/fixtures.ts';

describe('audit chain in a real flow', () => {
  projectTest(
    'an edited event blocks promotion until the break is accepted',
    async ({ project }) => {
      const dev = await stageAndApprove(project);
      const state = loadConfig({ cwd: project.dir, env: process.env }).state;
      if (state.kind !== 'sqlite') throw new Error('expected the SQLite state store');
      const raw = new DatabaseSync(state.file);
      raw.exec(
        `DROP TRIGGER audit_events_no_update; UPDATE audit_events SET actor = 'someone-else' WHERE id = 2`,
      );
      raw.close();

      // history warns: the edited event is among the newest ones every command re-hashes.
      const history = await project.cli(['history']);
      expect(history.stderr).toContain('audit log altered at #2');

      const verify = await project.cli(['audit', 'verify', '--json']);
      expect(verify.code).not.toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({
        ok: false,
        audit: { firstBad: 2 },
        error: {
          code: 'AUDIT_ALTERED',
          message: expect.stringContaining('audit log altered at #2'),
        },
      });

      await expect(deploy(dev, 'production', {})).rejects.toMatchObject({
        code: 'GATE_BLOCKED',
        details: {
          gates: expect.arrayContaining([
            expect.objectContaining({ gate: 'audit', status: 'fails' }),
          ]),
        },
      });

      const accept = await project.cli([
        'audit',
        'accept',
        '--reason',
        'restored the edit by hand',
      ]);
      expect(accept.code, accept.stderr).toBe(0);
      expect((await deploy(dev, 'production', {})).status).toBe('succeeded');
      const again = await project.cli(['audit', 'verify', '--json']);
      expect(JSON.parse(again.stdout)).toMatchObject({
        ok: true,
        audit: { accepted: [expect.objectContaining({ id: 2 })] },
      });

      // state grant: SQL for Postgres (printed without connecting); refused for a SQLite file.
      const sqlite = await project.cli(['state', 'grant']);
      expect(sqlite.code).toBe(2);
      expect(sqlite.stderr).toContain('for the Postgres state store');
      const grant = await project.cli(['state', 'grant', '--role', 'deployer'], {
        env: { AIRLOCK_STATE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      });
      expect(grant.code, grant.stderr).toBe(0);
      expect(grant.stdout).toContain(
        'REVOKE UPDATE, DELETE, TRUNCATE ON "airlock"."audit_events" FROM deployer;',
      );
    },
    60_000,
  );
});
