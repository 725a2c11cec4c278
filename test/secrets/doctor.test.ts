/**
 * `airlock doctor` on the notes example in a real git repository: clean, it passes; a committed
 * plaintext `.env` and a token string in a tracked file (secretlint's recommended rules over
 * `git ls-files`) fail it, named by file, line and rule — never by value. The generated verify
 * job runs it.
 */
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';

// Put together at run time so this file holds no token-shaped string itself.
const TOKEN = ['ghp', 'wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx'].join('_');
const PASSWORD = 'hunter2-doctor-password-77';

describe('airlock doctor', () => {
  projectTest(
    'passes a clean project, fails on a committed .env and a token in a tracked file',
    async ({ project }) => {
      const clean = await project.cli(['doctor']);
      expect(clean.stdout).toContain('✓ plaintext .env: no plaintext .env file is tracked.');
      expect(clean.stdout).toContain(
        '✓ secrets in files: secretlint (recommended rules) finds nothing',
      );
      expect(clean.code, clean.stdout).toBe(0);

      project.commitFiles(
        {
          '.env': `DATABASE_PASSWORD=${PASSWORD}\n`,
          '.env.example': 'DATABASE_PASSWORD=\n',
          'src/github.js': `export const token = '${TOKEN}';\n`,
        },
        'oops',
      );
      const dirty = await project.cli(['doctor', '--json']);
      expect(dirty.code).toBe(1);
      const json = JSON.parse(dirty.stdout) as {
        ok: boolean;
        checks: Array<{ name: string; status: string; findings?: string[] }>;
      };
      expect(json.ok).toBe(false);
      expect(json.checks.find((c) => c.name === 'plaintext .env')).toMatchObject({
        status: 'fail',
        findings: ['.env'],
      });
      expect(json.checks.find((c) => c.name === 'secrets in files')).toMatchObject({
        status: 'fail',
        findings: [
          expect.stringMatching(/^src\/github\.js:1 @secretlint\/secretlint-rule-github /),
        ],
      });
      // .secretlintignore keeps fixtures out of the string scan, not out of the .env check.
      project.commitFiles({ '.secretlintignore': '# fixtures\nsrc/github.js\n' }, 'ignore');
      const ignored = JSON.parse((await project.cli(['doctor', '--json'])).stdout) as typeof json;
      expect(ignored.checks.find((c) => c.name === 'secrets in files')?.status).toBe('ok');
      expect(ignored.checks.find((c) => c.name === 'plaintext .env')?.status).toBe('fail');
      const text = await project.cli(['doctor']);
      expect(text.stdout).toContain('✖ plaintext .env: 1 plaintext .env file is committed.');
      for (const out of [dirty.stdout, dirty.stderr, text.stdout, text.stderr]) {
        expect(out).not.toContain(TOKEN);
        expect(out).not.toContain(PASSWORD);
      }
    },
  );
});
