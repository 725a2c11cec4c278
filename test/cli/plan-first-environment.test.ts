/**
 * `airlock plan <first environment>` plans what `airlock deploy` would deploy there: the release
 * built from HEAD once it is built (`airlock build` reuses it, and so does deploy), and, with
 * uncommitted changes, a build of the working tree, which no existing release is.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';

describe('airlock plan <first environment>', () => {
  projectTest(
    'plans the release built from HEAD, and says that deploy would build a dirty working tree',
    async ({ project }) => {
      const before = await project.cli(['plan', 'staging']);
      expect(before.code, before.stderr).toBe(0);
      expect(before.stdout).toMatch(/^No release of [0-9a-f]{7} is built yet/);

      const built = await project.cli(['build']);
      expect(built.code, built.stderr).toBe(0);
      const plan = await project.cli(['plan', 'staging']);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/^Deploy r1 → staging /);
      expect(plan.stdout).toContain('• Migrate notes (2 pending)');

      // Uncommitted changes: deploy builds the working tree, not HEAD's r1.
      writeFileSync(path.join(project.dir, 'README.md'), '# Notes, edited\n');
      const dirty = await project.cli(['plan', 'staging', '--json']);
      expect(dirty.code, dirty.stderr).toBe(0);
      expect(JSON.parse(dirty.stdout)).toMatchObject({
        plan: null,
        dirty: true,
        dirtyFiles: ['README.md'],
      });
      const text = await project.cli(['plan', 'staging']);
      expect(text.stdout).toContain(
        'The working tree has uncommitted changes (README.md): `airlock deploy staging` would build the working tree, not commit',
      );
    },
  );
});
