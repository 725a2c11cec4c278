/**
 * The migration file name convention: `NNNN_name.sql`, wrangler d1's naming
 * (https://developers.cloudflare.com/d1/reference/migrations/): a number of at least four
 * digits, zero-padded, numbering from 0001; an underscore; a name of lowercase letters, digits
 * and `_`. The number is the migration's version, the order it runs in.
 */

/** The pattern every migration file name must match; group 1 is the number, group 2 the name. */
export const MIGRATION_FILENAME = /^(\d{4,})_([a-z0-9_]+)\.sql$/;

/**
 * Any `<digits>_<anything>.sql` name: what other tools accept (wrangler takes any name after
 * the number). Group 1 is the number.
 */
const NUMBERED_SQL_FILENAME = /^(\d+)_(.+)\.sql$/;

/** The parts of a migration file name. */
export interface MigrationName {
  /** The number, e.g. 1 for `0001_create_notes.sql`. */
  version: number;
  /** The name part, e.g. `create_notes`. */
  name: string;
}

/**
 * The version and name of `filename` (a base name, e.g. `0001_create_notes.sql`), or null when
 * it is not named `NNNN_name.sql` (`MIGRATION_FILENAME`).
 */
export function parseMigrationFilename(filename: string): MigrationName | null {
  const match = MIGRATION_FILENAME.exec(filename);
  return match ? { version: Number(match[1]), name: match[2]! } : null;
}

/**
 * The number in front of a `<digits>_<anything>.sql` name, Airlock's or not (`0003_Add-Tags.sql`
 * gives 3), or null for any other name.
 */
export function leadingMigrationNumber(filename: string): number | null {
  const match = NUMBERED_SQL_FILENAME.exec(filename);
  return match ? Number(match[1]) : null;
}

/** A version as file names show it: zero-padded to four digits (`1` → `0001`, `12345` stays). */
export function formatMigrationVersion(version: number): string {
  return String(version).padStart(4, '0');
}

/** `0001_create_notes` for version 1 and name `create_notes` (the file name without `.sql`). */
export function migrationLabel(version: number, name: string): string {
  return `${formatMigrationVersion(version)}_${name}`;
}

/** The file name of a migration: `0001_create_notes.sql` for version 1, `create_notes`. */
export function migrationFilename(version: number, name: string): string {
  return `${migrationLabel(version, name)}.sql`;
}

/**
 * The file name of the migration after `existing` (any order): the highest version plus one
 * (1 when there is none), with `name` as its name part (already slugged: `slugMigrationName`).
 */
export function nextMigrationFilename(
  existing: ReadonlyArray<{ version: number }>,
  name: string,
): string {
  const last = existing.reduce((max, f) => Math.max(max, f.version), 0);
  return migrationFilename(last + 1, name);
}

/** Turns a free-form name into the `[a-z0-9_]+` part of a migration file name. */
export function slugMigrationName(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/**
 * How a migrations folder is laid out: Airlock's own strict `NNNN_name.sql` (the default), or
 * the layout of the tool that writes it, read as that tool reads it (its order, names and
 * gaps). See `LAYOUTS` for each one's file names and the tool's documentation.
 */
export const MIGRATION_LAYOUTS = [
  'airlock',
  'wrangler',
  'supabase',
  'drizzle',
  'prisma',
  'dbmate',
  'goose',
  'node-pg-migrate',
  'postgrator',
] as const;

export type MigrationLayout = (typeof MIGRATION_LAYOUTS)[number];

/** What one layout's migration files are called, for parsing and for messages. */
export interface LayoutNaming {
  /** The tool that writes and runs this layout (`Airlock` for `airlock`). */
  tool: string;
  /** The file names, as messages show them, e.g. `<timestamp>_<name>.sql`. */
  shape: string;
  /** Where the tool documents it. */
  source: string;
  /** The tool's command that writes a new migration. */
  create: string;
  /**
   * Version and name of a path relative to the migrations folder (`/`-separated), or null when
   * this layout does not read it as a migration. The drizzle journal layout and wrangler's
   * `migrations_pattern` are read by the folder reader (`migration-layouts.ts`), which also
   * uses this for drizzle's folder-per-migration form.
   */
  parse(relativePath: string): MigrationName | null;
  /** Files of the layout that are never migrations to run (down/undo files), or null. */
  ignored?: RegExp;
  /** Files the tool runs that are not SQL (JS/TS/Go migrations), which Airlock cannot run. */
  code?: RegExp;
  /** The up part of a file holding both directions, or null for whole-file migrations. */
  sections?: { up: RegExp; down: RegExp; noTransaction?: RegExp };
}

function named(pattern: RegExp): (relativePath: string) => MigrationName | null {
  return (relativePath) => {
    const match = pattern.exec(relativePath);
    return match ? { version: Number(match[1]), name: match[2] ?? '' } : null;
  };
}

/** Each layout's naming; sources are the tools' documentation pages. */
export const LAYOUTS: Record<MigrationLayout, LayoutNaming> = {
  airlock: {
    tool: 'Airlock',
    create: 'airlock migrate create <name>',
    shape: 'NNNN_name.sql (numbered from 0001 without gaps, lowercase name)',
    source: 'docs/migrations.md',
    parse: (p) => parseMigrationFilename(p),
  },
  wrangler: {
    tool: 'wrangler',
    create: 'wrangler d1 migrations create <database> <name>',
    shape: 'NNNN_name.sql (any name after the number)',
    source: 'https://developers.cloudflare.com/d1/reference/migrations/',
    parse: named(/^(\d+)_?([^/]*?)(?:\.sql|\/.*)$/),
  },
  supabase: {
    tool: 'the Supabase CLI',
    create: 'supabase migration new <name>',
    shape: '<timestamp>_<name>.sql',
    source: 'https://supabase.com/docs/reference/cli/supabase-migration-new',
    parse: named(/^(\d+)_([^/]*)\.sql$/),
  },
  drizzle: {
    tool: 'drizzle-kit',
    create: 'drizzle-kit generate --name <name>',
    shape: 'NNNN_name.sql listed in meta/_journal.json, or <timestamp>_<name>/migration.sql',
    source: 'https://orm.drizzle.team/docs/drizzle-kit-generate',
    parse: named(/^(\d+)_([^/]+)\/migration\.sql$/),
  },
  prisma: {
    tool: 'Prisma Migrate',
    create: 'prisma migrate dev --create-only --name <name>',
    shape: '<timestamp>_<name>/migration.sql',
    source:
      'https://www.prisma.io/docs/orm/prisma-migrate/understanding-prisma-migrate/migration-histories',
    parse: named(/^(\d+)_([^/]+)\/migration\.sql$/),
  },
  dbmate: {
    tool: 'dbmate',
    create: 'dbmate new <name>',
    shape: '<version>_<name>.sql with -- migrate:up / -- migrate:down sections',
    source: 'https://github.com/amacneil/dbmate#creating-migrations',
    parse: named(/^(\d+)_?([^/]*)\.sql$/),
    sections: {
      up: /^--\s*migrate:up\b/,
      down: /^--\s*migrate:down\b/,
      noTransaction: /^--\s*migrate:up\b.*\btransaction:false\b/,
    },
  },
  goose: {
    tool: 'goose',
    create: 'goose create <name> sql',
    shape: '<version>_<name>.sql with -- +goose Up / -- +goose Down sections',
    source: 'https://pressly.github.io/goose/documentation/annotations/',
    parse: named(/^(\d+)_([^/]+)\.sql$/),
    code: /^\d+_[^/]+\.go$/,
    sections: {
      up: /^--\s*\+goose\s+Up\b/i,
      down: /^--\s*\+goose\s+Down\b/i,
      noTransaction: /^--\s*\+goose\s+NO\s+TRANSACTION\b/i,
    },
  },
  'node-pg-migrate': {
    tool: 'node-pg-migrate',
    create: 'node-pg-migrate create <name> --migration-file-language sql',
    shape: '<timestamp>_<name>.sql with -- Up Migration / -- Down Migration sections',
    source: 'https://salsita.github.io/node-pg-migrate/migrations/sql',
    parse: named(/^(\d+)_([^/]+)\.sql$/),
    code: /^\d+[^/]*\.(?:js|cjs|mjs|ts|cts|mts)$/,
    sections: { up: /^--\s*Up Migration\b/i, down: /^--\s*Down Migration\b/i },
  },
  postgrator: {
    tool: 'postgrator',
    create: 'a file NNN.do.<name>.sql with the next number',
    shape: 'NNN.do.name.sql (NNN.undo.name.sql files are not run)',
    source: 'https://github.com/rickbergfalk/postgrator#usage',
    parse: named(/^(\d+)\.do(?:\.([^/]*))?\.sql$/),
    ignored: /^\d+\.undo(?:\.[^/]*)?\.sql$/,
    code: /^\d+\.(?:do|undo)(?:\.[^/]*)?\.(?:js|cjs|mjs)$/,
  },
};

/** True when `value` names a layout. */
export function isMigrationLayout(value: string): value is MigrationLayout {
  return (MIGRATION_LAYOUTS as readonly string[]).includes(value);
}

/**
 * How a new migration is made in a folder of `layout`, as commands to run: Airlock's own, or
 * (for a folder another tool writes) that tool's, then `airlock migrate hash` to record the file.
 */
export function createMigrationCommands(layout: MigrationLayout): string {
  return layout === 'airlock'
    ? `\`${LAYOUTS.airlock.create}\``
    : `\`${LAYOUTS[layout].create}\`, then \`airlock migrate hash\``;
}

/**
 * The advice for a change to an applied migration, for hints: "put the change in a new migration
 * (`airlock migrate create <name>`)", or for a folder another tool writes, "…, created with
 * drizzle-kit (`drizzle-kit generate --name <name>`, then `airlock migrate hash`)", as
 * `airlock migrate create` says when it refuses such a folder.
 */
export function newMigrationAdvice(layout: MigrationLayout): string {
  return layout === 'airlock'
    ? `put the change in a new migration (${createMigrationCommands(layout)})`
    : `put the change in a new migration, created with ${LAYOUTS[layout].tool} (${createMigrationCommands(layout)})`;
}

/**
 * The way out of a migration that failed and left nothing applied, for hints ("Fix <file>, then
 * …"): Airlock deploys releases built from commits, so the fixed file is re-hashed into
 * airlock.sum (which `airlock migrate hash` writes in every layout), committed with it, and
 * deployed as a new release. A driver does not know the environments and leaves `<env>`;
 * `withDeployTarget` names the environment a new release enters.
 */
export function shipFixedMigrationAdvice(environment = '<env>'): string {
  return `run \`airlock migrate hash\` (it records the file's new checksum in airlock.sum), commit both, and deploy again (\`airlock deploy ${environment}\`)`;
}

/** `hint` with the `<env>` of `shipFixedMigrationAdvice` replaced by `environment`. */
export function withDeployTarget(hint: string, environment: string): string {
  return hint.replace(shipFixedMigrationAdvice(), shipFixedMigrationAdvice(environment));
}

/**
 * How to put applied migration files back as they ran, for hints ("Restore X as it ran (…)").
 * Airlock deploys releases built from commits, so an edit is usually committed already and
 * `git checkout -- <file>` alone restores nothing. With the release that ran the file known
 * (its ledger row) and built from a clean commit, the file comes out of that commit; otherwise
 * the advice covers an edit not committed yet and one already committed. `shown`: the files as
 * messages name them (`projectPath`), separated by spaces.
 */
export function restoreAppliedAdvice(
  shown: string,
  ranWith?: { release: string; commit: string } | null,
): string {
  return ranWith
    ? `as ${ranWith.release} ran it (\`git checkout ${ranWith.commit.slice(0, 12)} -- ${shown}\`)`
    : `as it ran (\`git checkout -- ${shown}\` if the edit is not committed; if it is, \`git log -p -- ${shown}\` shows the commit that made it: \`git checkout <commit>~1 -- ${shown}\`, or \`git revert <commit>\`)`;
}
