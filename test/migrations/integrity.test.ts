/**
 * `airlock.sum`: the write/verify round trip, each way the directory can drift from it, and a
 * real `git merge` of two branches that both add a `0003_…` (git must report a conflict on
 * airlock.sum, and the conflicted file must be reported clearly).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkIntegrity,
  computeSum,
  formatSum,
  parseSum,
  readSumFile,
  SUM_FILENAME,
  verifyIntegrity,
  writeSumFile,
} from '../../src/migrations/integrity.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { caught, type MigrationDir, migrationDir } from './engines.ts';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('airlock.sum', () => {
  let files: MigrationDir;

  beforeEach(async () => {
    files = await migrationDir();
    await files.write('0001_create_notes.sql', 'CREATE TABLE notes (id INTEGER PRIMARY KEY);\n');
    await files.write('0002_add_title.sql', 'ALTER TABLE notes ADD COLUMN title TEXT;\n');
  });

  afterEach(async () => {
    await files.remove();
  });

  it('writes the documented format and verifies it (round trip)', async () => {
    const { sum, path } = await writeSumFile(files.dir);
    expect(path).toBe(join(files.dir, SUM_FILENAME));
    const text = await readFile(path, 'utf8');
    const lines = [
      `${sha('CREATE TABLE notes (id INTEGER PRIMARY KEY);\n')}  0001_create_notes.sql\n`,
      `${sha('ALTER TABLE notes ADD COLUMN title TEXT;\n')}  0002_add_title.sql\n`,
    ].join('');
    // line 1 is the sha256 of the lines below it (`tail -n +2 airlock.sum | sha256sum`)
    expect(text).toBe(`v1 ${sha(lines)}\n${lines}`);
    expect(await readSumFile(files.dir)).toEqual(sum);
    const read = await readMigrationDir(files.dir); // ignores airlock.sum
    expect(read.map((f) => f.filename)).toEqual(['0001_create_notes.sql', '0002_add_title.sql']);
    expect(computeSum(read)).toEqual(sum);
    expect(formatSum(sum)).toBe(text);
    await verifyIntegrity(files.dir, read);
    // git's autocrlf may turn it into CRLF: it reads the same
    expect(parseSum(text.replace(/\n/g, '\r\n'))).toEqual(sum);
  });

  it('is checkable with coreutils sha256sum', async () => {
    await writeSumFile(files.dir);
    const out = execFileSync(
      'sh',
      ['-c', `tail -n +2 ${SUM_FILENAME} | sha256sum -c && head -n 1 ${SUM_FILENAME}`],
      { cwd: files.dir, encoding: 'utf8' },
    );
    expect(out).toContain('0001_create_notes.sql: OK');
    const digest = execFileSync('sh', ['-c', `tail -n +2 ${SUM_FILENAME} | sha256sum`], {
      cwd: files.dir,
      encoding: 'utf8',
    }).split(' ')[0];
    expect(out).toContain(`v1 ${digest}`);
  });

  it('names a file edited without re-hashing', async () => {
    await writeSumFile(files.dir);
    await files.write('0002_add_title.sql', 'ALTER TABLE notes ADD COLUMN title TEXT NOT NULL;\n');
    const error = await caught(verifyIntegrity(files.dir, await readMigrationDir(files.dir)));
    expect(error.code).toBe('MIGRATION_INTEGRITY');
    expect(error.message).toBe(
      '0002_add_title.sql changed since airlock.sum was written: run `airlock migrate hash` if the change is intended and not yet applied anywhere.',
    );
    // Outside any project (no airlock.yaml above it), the file's absolute path.
    expect(error.hint).toContain(`git checkout -- ${join(files.dir, '0002_add_title.sql')}`);
    expect(error.details.problems).toEqual([
      expect.objectContaining({ kind: 'changed', filename: '0002_add_title.sql' }),
    ]);
    // re-hashing accepts the change
    await writeSumFile(files.dir);
    await verifyIntegrity(files.dir, await readMigrationDir(files.dir));
  });

  it('names a file added without re-hashing', async () => {
    await writeSumFile(files.dir);
    await files.write('0003_add_tags.sql', 'CREATE TABLE tags (id INTEGER);\n');
    const error = await caught(verifyIntegrity(files.dir, await readMigrationDir(files.dir)));
    expect(error.code).toBe('MIGRATION_INTEGRITY');
    expect(error.message).toContain('0003_add_tags.sql was added without updating airlock.sum');
    expect(error.message).toContain('airlock migrate hash');
  });

  it('names a file removed without re-hashing', async () => {
    await writeSumFile(files.dir);
    await unlink(join(files.dir, '0002_add_title.sql'));
    const error = await caught(verifyIntegrity(files.dir, await readMigrationDir(files.dir)));
    expect(error.code).toBe('MIGRATION_INTEGRITY');
    expect(error.message).toContain('0002_add_title.sql is listed in airlock.sum but is gone');
  });

  it('lists every problem at once', async () => {
    await writeSumFile(files.dir);
    await files.write('0001_create_notes.sql', 'CREATE TABLE notes (id BIGINT PRIMARY KEY);\n');
    await files.write('0003_add_tags.sql', 'CREATE TABLE tags (id INTEGER);\n');
    const sum = (await readSumFile(files.dir))!;
    const problems = checkIntegrity(sum, await readMigrationDir(files.dir));
    expect(problems.map((p) => `${p.kind} ${p.filename}`)).toEqual([
      'changed 0001_create_notes.sql',
      'added 0003_add_tags.sql',
    ]);
    const error = await caught(verifyIntegrity(files.dir, await readMigrationDir(files.dir)));
    expect(error.message).toMatch(/^2 migration files do not match airlock\.sum: 0001_create/);
  });

  it('requires the sum file when there are migrations, unless allowed', async () => {
    const read = await readMigrationDir(files.dir);
    expect(await readSumFile(files.dir)).toBeNull();
    const error = await caught(verifyIntegrity(files.dir, read));
    expect(error.code).toBe('MIGRATION_INTEGRITY');
    expect(error.message).toContain('airlock.sum is missing');
    expect(error.hint).toContain('airlock migrate hash');
    await verifyIntegrity(files.dir, read, { allowMissing: true });
    await verifyIntegrity(join(files.dir, 'nowhere'), []);
  });

  it('reports a hand-edited or malformed sum file', async () => {
    await writeSumFile(files.dir);
    const path = join(files.dir, SUM_FILENAME);
    const text = await readFile(path, 'utf8');
    const cases: Array<[string, RegExp]> = [
      ['', /it is empty/],
      ['h1:abc\n', /first line should be `v1 <sha256>`/],
      [text.replace('  0002', ' 0002'), /line 3 should be/],
      [text.replace('0001_create_notes', '0001_create_note'), /directory hash\) does not match/],
      [
        (() => {
          const [head, a, b] = text.trimEnd().split('\n');
          return `${head}\n${b}\n${a}\n`;
        })(),
        /out of order/,
      ],
    ];
    for (const [content, pattern] of cases) {
      await writeFile(path, content);
      const error = await caught(readSumFile(files.dir));
      expect(error.code).toBe('MIGRATION_INTEGRITY');
      expect(error.message).toMatch(/^airlock\.sum is malformed: /);
      expect(error.message).toMatch(pattern);
      expect(error.hint).toContain('airlock migrate hash');
    }
  });
});

describe('airlock.sum in git', () => {
  let repo: string;
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: repo,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'Test',
        GIT_AUTHOR_EMAIL: 'test@example.com',
        GIT_COMMITTER_NAME: 'Test',
        GIT_COMMITTER_EMAIL: 'test@example.com',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
      },
    });
  const dir = () => join(repo, 'migrations');
  const add = async (filename: string, sql: string) => {
    await writeFile(join(dir(), filename), sql);
    await writeSumFile(dir()); // `airlock migrate hash`
    git('add', 'migrations');
    git('commit', '-q', '-m', `add ${filename}`);
  };

  beforeEach(async () => {
    repo = await mkdtemp(join(tmpdir(), 'airlock-sum-git-'));
    git('init', '-q', '-b', 'main');
    execFileSync('mkdir', [dir()]);
    await add('0001_create_notes.sql', 'CREATE TABLE notes (id INTEGER PRIMARY KEY);\n');
    await add('0002_add_title.sql', 'ALTER TABLE notes ADD COLUMN title TEXT;\n');
  });

  afterEach(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('two branches that each add a different 0003 conflict on airlock.sum', async () => {
    git('checkout', '-q', '-b', 'alice');
    await add('0003_add_tags.sql', 'CREATE TABLE tags (note_id INTEGER, tag TEXT);\n');
    git('checkout', '-q', 'main');
    git('checkout', '-q', '-b', 'bob');
    await add('0003_add_pinned.sql', 'ALTER TABLE notes ADD COLUMN pinned INTEGER;\n');
    git('checkout', '-q', 'main');
    git('merge', '-q', 'alice'); // fast-forward: alice lands first

    let output = '';
    try {
      git('merge', 'bob', '-m', 'merge bob');
      expect.unreachable('git merged two branches that both add 0003');
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toContain('CONFLICT (content): Merge conflict in migrations/airlock.sum');
    expect(git('diff', '--name-only', '--diff-filter=U').trim()).toBe('migrations/airlock.sum');

    // The conflicted sum file says what happened and what to do, before the duplicate number.
    const error = await caught(readSumFile(dir()));
    expect(error.code).toBe('MIGRATION_INTEGRITY');
    expect(error.message).toBe(
      "airlock.sum has merge conflict markers: two branches added migrations; renumber yours after the other's, then run `airlock migrate hash`.",
    );
    expect(error.details.reason).toBe('merge-conflict');
    const verify = await caught(verifyIntegrity(dir(), []));
    expect(verify.message).toContain('merge conflict markers');

    // The fix the message asks for: renumber bob's file, re-hash; then it verifies.
    git('mv', 'migrations/0003_add_pinned.sql', 'migrations/0004_add_pinned.sql');
    await writeSumFile(dir());
    git('add', 'migrations');
    git('commit', '-q', '-m', 'renumber');
    const files = await readMigrationDir(dir());
    expect(files.map((f) => f.filename)).toEqual([
      '0001_create_notes.sql',
      '0002_add_title.sql',
      '0003_add_tags.sql',
      '0004_add_pinned.sql',
    ]);
    await verifyIntegrity(dir(), files);
  });

  it('a branch that adds after the other merged merges cleanly', async () => {
    git('checkout', '-q', '-b', 'alice');
    await add('0003_add_tags.sql', 'CREATE TABLE tags (note_id INTEGER, tag TEXT);\n');
    git('checkout', '-q', 'main');
    git('merge', '-q', 'alice');
    git('checkout', '-q', '-b', 'bob');
    await add('0004_add_pinned.sql', 'ALTER TABLE notes ADD COLUMN pinned INTEGER;\n');
    git('checkout', '-q', 'main');
    git('merge', '-q', 'bob');
    await verifyIntegrity(dir(), await readMigrationDir(dir()));
  });
});
