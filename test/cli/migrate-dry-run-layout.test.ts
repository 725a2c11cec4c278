/**
 * `airlock migrate apply <env> --dry-run` names each file as its layout does: a Prisma
 * migration is `<timestamp>_<name>/migration.sql`, not a made-up `<timestamp>_<name>.sql`.
 * The real CLI on the notes example (SQLite) with its migrations in Prisma's layout.
 */
import { expect } from 'vitest';
import { projectTestWith } from '../helpers/fixtures.ts';

const prismaTest = projectTestWith({
  config: (doc) =>
    doc.setIn(
      ['services', 'notes', 'database', 'migrations'],
      doc.createNode({ dir: 'prisma/migrations', layout: 'prisma' }),
    ),
});

prismaTest('a dry run names Prisma migrations by their folder', async ({ project }) => {
  project.commitFiles(
    {
      'prisma/migrations/migration_lock.toml': 'provider = "sqlite"\n',
      'prisma/migrations/20240101120000_init/migration.sql':
        '-- CreateTable\nCREATE TABLE "User" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "email" TEXT NOT NULL);\n',
    },
    'Prisma migrations',
    { hash: false },
  );
  const hashed = await project.cli(['migrate', 'hash']);
  expect(hashed.code, hashed.stderr).toBe(0);
  project.commitFiles({}, 'airlock.sum');
  const dry = await project.cli(['migrate', 'apply', 'staging', '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toContain('✔ 20240101120000_init/migration.sql would apply');
  expect(dry.stdout).not.toContain('20240101120000_init.sql');
});
