/**
 * Drift and dry runs on a Supabase-shaped project, on real Postgres: two environments whose
 * databases the platform made (roles anon/authenticated/service_role, schemas auth, storage and
 * extensions with uuid-ossp and pgcrypto, auth.users and auth.uid(), and `ALTER DATABASE … SET
 * search_path` including extensions), migrated with RLS policies, grants and unqualified calls
 * to extension functions. The scratch databases drift and dry runs replay on are shaped like the
 * live one, from its catalog (platform-shape.ts), so both give real answers.
 */
import { beforeAll, expect, test } from 'vitest';
import { dryRunMigrations } from '../../src/migrations/dry-run.ts';
import { describePostgres } from '../../src/migrations/introspect-postgres.ts';
import type { LedgerEntry } from '../../src/migrations/ledger.ts';
import type { MigrationFile } from '../../src/migrations/migration-files.ts';
import { replaySchema } from '../../src/migrations/migration-replay.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { readPlatformShape } from '../../src/migrations/platform-shape.ts';
import { withClient } from '../../src/migrations/postgres-client.ts';
import { PostgresMigrationDriver } from '../../src/migrations/postgres-migration-driver.ts';
import { detectDrift } from '../../src/migrations/schema-drift.ts';
import {
  createTestDatabase,
  describeIfPostgres,
  type TestDatabase,
  withAdminClient,
} from '../helpers/postgres.ts';
import { migrations } from './lint/helpers.ts';
import { leakedScratchDatabases } from './scratch-helpers.ts';

/** What the platform (not the migrations) made in every project database. */
const PLATFORM = (database: string) => `
CREATE SCHEMA extensions;
CREATE EXTENSION "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION pgcrypto WITH SCHEMA extensions;
CREATE SCHEMA auth;
CREATE TABLE auth.users (
  id uuid PRIMARY KEY DEFAULT extensions.uuid_generate_v4(),
  email text UNIQUE
);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
CREATE SCHEMA storage;
CREATE TABLE storage.buckets (id text PRIMARY KEY, public boolean DEFAULT false);
ALTER DATABASE "${database}" SET search_path TO "$user", public, extensions;
`;

/** The project's migrations, as a Supabase project writes them. */
const FILES = migrations(
  `CREATE TABLE public.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  username text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "profiles are public" ON public.profiles FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY "own profile" ON public.profiles FOR UPDATE TO authenticated USING (auth.uid() = id);
GRANT SELECT ON public.profiles TO anon, authenticated;
GRANT ALL ON public.profiles TO service_role;
`,
  `-- uuid_generate_v4 and digest live in the extensions schema, found through search_path.
CREATE TABLE public.notes (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  owner uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
  body text NOT NULL,
  checksum text
);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own notes" ON public.notes FOR ALL TO authenticated USING (auth.uid() = owner);
INSERT INTO storage.buckets (id) VALUES ('avatars');
`,
);

/** A later migration: unqualified extension functions again, and a column. */
const PENDING = migrations(
  '',
  '',
  `ALTER TABLE public.notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;
UPDATE public.notes SET checksum = encode(digest(body, 'sha256'), 'hex');
CREATE INDEX notes_owner_idx ON public.notes (owner);
`,
)[2]!;

async function apply(db: TestDatabase, files: MigrationFile[]): Promise<void> {
  const driver = new PostgresMigrationDriver(db.url);
  try {
    await new Migrator(driver, files).apply({ appliedBy: 'test', release: null });
  } finally {
    await driver.close();
  }
}

async function side(name: string, db: TestDatabase) {
  const driver = new PostgresMigrationDriver(db.url);
  let ledger: LedgerEntry[];
  try {
    ledger = await driver.readLedger();
  } finally {
    await driver.close();
  }
  return {
    name,
    ledger,
    schema: await withClient(db.url, (client) => describePostgres(client)),
  };
}

async function supabaseDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  await withClient(db.url, (client) => client.query(PLATFORM(db.name)));
  await apply(db, FILES);
  return db;
}

/**
 * `staging` and `production`: databases of their own for each test, shaped like a Supabase
 * project (its schemas, extensions and search_path) with FILES applied, dropped afterwards.
 */
const supabaseTest = test
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  .extend('staging', async ({}, { onCleanup }): Promise<TestDatabase> => {
    const db = await supabaseDatabase('airlock_supa_staging');
    onCleanup(() => db.drop());
    return db;
  })
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  .extend('production', async ({}, { onCleanup }): Promise<TestDatabase> => {
    const db = await supabaseDatabase('airlock_supa_production');
    onCleanup(() => db.drop());
    return db;
  });

describeIfPostgres('a Supabase-shaped project on real Postgres', () => {
  beforeAll(async () => {
    // Roles belong to the server: made once, shared by every database on it (never changed).
    await withAdminClient(async (c) => {
      for (const role of ['anon', 'authenticated', 'service_role']) {
        await c.query(
          `DO $$ BEGIN CREATE ROLE ${role} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
        );
      }
    });
  });

  supabaseTest(
    "reads the platform's shape from the live catalog, leaving out what the migrations create",
    async ({ staging }) => {
      const shape = await readPlatformShape(staging.url, [
        ...FILES,
        ...migrations('', '', '', 'CREATE SCHEMA IF NOT EXISTS storage;\n'),
      ]);
      expect(shape).toEqual({
        settings: [{ role: null, name: 'search_path', value: '"$user", public, extensions' }],
        extensions: [
          { name: 'pgcrypto', schema: 'extensions' },
          { name: 'uuid-ossp', schema: 'extensions' },
        ],
        schemas: ['auth', 'extensions'],
      });
    },
  );

  supabaseTest(
    'passes drift: the replay runs on a scratch database shaped like the live one',
    async ({ staging, production }) => {
      const result = await detectDrift(
        {
          a: await side('staging', staging),
          b: await side('production', production),
          files: FILES,
        },
        { postgresUrl: staging.url },
      );
      expect(result).toMatchObject({ drifted: false, findings: [], explainedByPending: [] });
      expect(await leakedScratchDatabases()).toEqual([]);
    },
  );

  supabaseTest(
    'without the shape the replay fails, which is what drift used to answer',
    async ({ staging }) => {
      await expect(
        replaySchema('postgres', FILES, { postgresUrl: staging.url, platformShape: false }),
      ).rejects.toMatchObject({
        code: 'MIGRATION_SCRATCH_FAILED',
        message: expect.stringContaining('schema "auth" does not exist'),
      });
    },
  );

  supabaseTest(
    'still finds real drift: a column added by hand on production',
    async ({ staging, production }) => {
      await withClient(production.url, (c) =>
        c.query('ALTER TABLE public.notes ADD COLUMN hotfix int'),
      );
      try {
        const result = await detectDrift(
          {
            a: await side('staging', staging),
            b: await side('production', production),
            files: FILES,
          },
          { postgresUrl: staging.url },
        );
        expect(result.drifted).toBe(true);
        expect(result.findings.map((f) => f.difference.message)).toEqual([
          'production has column notes.hotfix (integer) that none of its applied migrations creates: it was changed outside migrations',
        ]);
      } finally {
        await withClient(production.url, (c) =>
          c.query('ALTER TABLE public.notes DROP COLUMN hotfix'),
        );
      }
    },
  );

  supabaseTest(
    'dry-runs a pending migration that relies on the database search_path, as the real apply does',
    async ({ production }) => {
      const files = [...FILES, PENDING];
      const dry = await dryRunMigrations({ engine: 'postgres', url: production.url }, files);
      expect(dry.failed).toBeNull();
      expect(dry.pending).toEqual([PENDING.filename]);
      expect(dry.applied.map((e) => e.version)).toEqual([3]);
      await apply(production, files); // the real apply agrees
      const broken = migrations('', '', '', 'SELECT no_such_function(1);\n')[3]!;
      const failing = await dryRunMigrations({ engine: 'postgres', url: production.url }, [
        ...files,
        broken,
      ]);
      expect(failing.failed).toMatchObject({ code: 'MIGRATION_FAILED' });
      expect(failing.failed!.message).toContain('no_such_function');
      expect(await leakedScratchDatabases()).toEqual([]);
    },
  );
});
