/**
 * Lint before staging (issue 4), on the example app with real SQLite: a deployment into the
 * first environment lints its pending migrations first; an error-level finding stops it before
 * anything is migrated or switched, and a suppression's reason lands in the audit log.
 */
import { describe, expect } from 'vitest';
import { deploy } from '../../src/pipeline/operations.ts';
import { projectTest, stagedProjectTest } from '../helpers/fixtures.ts';
import { ledgerVersions, liveVersion } from '../helpers/project.ts';

describe('migrations are linted before they reach staging', () => {
  projectTest(
    'lints the first release’s migrations and lets clean ones through',
    async ({ project }) => {
      const { ctx: dev } = await project.session();
      const result = await deploy(dev, 'staging', {});
      expect(result.status).toBe('succeeded');
      expect(result.steps.find((s) => s.name === 'lint:notes')).toMatchObject({
        status: 'succeeded',
        message: '2 files: 0 errors, 0 warnings',
      });
    },
  );

  stagedProjectTest(
    'an unsafe migration stops the deployment before it touches staging',
    async ({ project }) => {
      const { ctx: dev } = await project.session();
      project.commitFiles(
        { 'migrations/0003_drop_updated_at.sql': 'ALTER TABLE notes DROP COLUMN updated_at;\n' },
        'Drop notes.updated_at',
      );
      const result = await deploy(dev, 'staging', {});
      expect(result.status).toBe('failed');
      expect(result.failedStep?.name).toBe('lint:notes');
      expect(result.failedStep?.message).toMatch(
        /^1 file: 1 error, 0 warnings — migrations\/0003_drop_updated_at\.sql:1: destructive-change-outside-contract: /,
      );
      // The finding's own sentence ends it: one period before the pointer, not two.
      expect(result.failedStep?.message).toMatch(/[^.]\. See every finding and its fix with/);
      expect(result.steps.find((s) => s.name === 'migrate:notes')?.status).toBe('skipped');
      expect(ledgerVersions(project, 'staging')).toEqual([1, 2]);
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');
    },
  );

  stagedProjectTest(
    'a warning passes, and the step shows each one by rule, file:line and message',
    async ({ project }) => {
      const { ctx: dev } = await project.session();
      const stale = (n: number) =>
        `-- airlock:lint-ignore foreign-keys-pragma stale reason ${n}\nCREATE TABLE tags_${n} (id INTEGER);\n`;
      project.commitFiles(
        { 'migrations/0003_add_tags.sql': Array.from({ length: 7 }, (_, i) => stale(i)).join('') },
        'Add tags tables',
      );
      const result = await deploy(dev, 'staging', {});
      expect(result.status, result.failedStep?.message ?? '').toBe('succeeded');
      const lines = result.steps.find((s) => s.name === 'lint:notes')?.message?.split('\n');
      expect(lines?.[0]).toBe('1 file: 0 errors, 7 warnings');
      expect(lines?.slice(1, 6)).toEqual(
        [1, 3, 5, 7, 9].map((line) =>
          expect.stringMatching(
            new RegExp(
              `^ {4}warning: migrations/0003_add_tags\\.sql:${line}: unused-lint-ignore: \`-- airlock:lint-ignore foreign-keys-pragma\` suppresses nothing`,
            ),
          ),
        ),
      );
      expect(lines?.slice(6)).toEqual([
        '    and 2 more warnings (`airlock migrate lint` lists them all)',
      ]);
    },
  );

  stagedProjectTest(
    'a finding suppressed with a reason passes, and the reason is audited',
    async ({ project }) => {
      const { ctx: dev } = await project.session();
      project.commitFiles(
        {
          // Never ran anywhere, so it may still change.
          'migrations/0003_drop_updated_at.sql':
            '-- airlock:lint-ignore foreign-keys-pragma kept for parity with the D1 twin of this file\nPRAGMA foreign_keys = OFF;\nCREATE TABLE note_tags (note_id INTEGER NOT NULL, tag TEXT NOT NULL);\n',
        },
        'Add note_tags instead',
      );
      const result = await deploy(dev, 'staging', {});
      expect(result.status, result.failedStep?.message ?? '').toBe('succeeded');
      expect(result.steps.find((s) => s.name === 'lint:notes')?.message).toBe(
        '1 file: 0 errors, 0 warnings, 1 suppressed',
      );
      expect(ledgerVersions(project, 'staging')).toEqual([1, 2, 3]);
      const audit = await dev.store.listAudit({ environment: 'staging', limit: 30 });
      expect(audit.find((a) => a.action === 'migrations.lint_suppressed')).toMatchObject({
        releaseId: result.plan.release.id,
        detail: {
          service: 'notes',
          suppressed: [
            {
              rule: 'foreign-keys-pragma',
              file: '0003_drop_updated_at.sql',
              reason: 'kept for parity with the D1 twin of this file',
            },
          ],
        },
      });
    },
  );
});
