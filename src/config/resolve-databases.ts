/**
 * Resolution of databases: each service's own database per environment (a SQLite file under
 * `<home>/envs/<env>/data/`, a Postgres URL read from `${NAME}`, or a D1 binding of the
 * environment's wrangler file), the rule that two environments never share one, and where the
 * state store lives. URLs may hold passwords: they are shown masked (`redactUrl`, src/secrets/redact.ts).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { redactUrl } from '../secrets/redact.ts';
import type { Finding } from './diagnostics.ts';
import { databaseUrlVariable, expandEnv, referencedNames } from './references.ts';
import type {
  D1Location,
  ProviderSettings,
  ResolveContext,
  ResolvedDatabase,
  ResolvedEnvironment,
  StateLocation,
} from './resolve.ts';
import type { Config } from './schema.ts';

/** Postgres migration timeouts (ms) when the service's database does not set them. */
const DATABASE_DEFAULTS = {
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 60_000,
} as const;

type MigrationsSetting = NonNullable<Config['services'][string]['database']>['migrations'];

function migrationsDirOf(migrations: MigrationsSetting): string {
  return typeof migrations === 'string' ? migrations : migrations.dir;
}

/** The layout of `database.migrations`, with the tool ledger's default (on but for `airlock`). */
function migrationsLayoutOf(
  migrations: MigrationsSetting,
): Pick<ResolvedDatabase, 'layout' | 'toolLedger'> {
  if (typeof migrations === 'string') return { layout: { layout: 'airlock' }, toolLedger: false };
  return {
    layout: {
      layout: migrations.layout,
      ...(migrations.pattern ? { pattern: migrations.pattern } : {}),
    },
    toolLedger: migrations.toolLedger ?? migrations.layout !== 'airlock',
  };
}

/**
 * The database of `service` in `environment`: `base` from the service, `databaseUrl` from the
 * environment (engine postgres only). Problems are pushed to `ctx.findings`; an unset variable
 * is a deferred finding that marks the result `unset` (see `usableDatabase`).
 */
export function resolveDatabase(
  base: NonNullable<Config['services'][string]['database']>,
  root: string,
  environment: string,
  service: string,
  databaseUrl: string | undefined,
  settings: ProviderSettings,
  ctx: ResolveContext,
): ResolvedDatabase {
  const common = {
    engine: base.engine,
    environment,
    migrations: migrationsDirOf(base.migrations),
    migrationsDir: path.resolve(ctx.dir, root, migrationsDirOf(base.migrations)),
    ...migrationsLayoutOf(base.migrations),
    migrate: base.migrate,
    lockTimeoutMs: base.lockTimeoutMs ?? DATABASE_DEFAULTS.lockTimeoutMs,
    statementTimeoutMs: base.statementTimeoutMs ?? DATABASE_DEFAULTS.statementTimeoutMs,
    drift: base.drift,
  };
  const where = ['environments', environment, 'services', service, 'databaseUrl'];
  if (base.engine === 'd1') {
    if (databaseUrl !== undefined) {
      ctx.findings.push({
        severity: 'error',
        path: where,
        at: 'key',
        message:
          "is only for engine postgres; a D1 database is the one each environment's wrangler configuration binds.",
        fix: `remove databaseUrl; set services.${service}.database.binding to the D1 binding name.`,
      });
    }
    if (settings.provider !== 'cloudflare') {
      ctx.findings.push({
        severity: 'error',
        path: ['environments', environment, 'provider'],
        message: `is ${settings.provider}, but ${service}'s database has engine d1, which only the cloudflare provider can reach.`,
        fix: `set environments.${environment}.provider: cloudflare, or use engine sqlite or postgres.`,
      });
      return { ...common, url: '', display: '' };
    }
    const d1: D1Location = {
      environment,
      binding: base.binding ?? null,
      wranglerConfig: settings.config,
      serviceDir: path.resolve(ctx.dir, root),
      wranglerEnv: settings.env,
      mode: settings.mode,
      persistDir: path.join(ctx.home, 'envs', environment, 'wrangler'),
      accountId: settings.accountId,
    };
    const display = `d1 ${d1.binding ?? '(the only D1 binding)'} of ${d1.wranglerEnv ? `env.${d1.wranglerEnv}` : 'the top level'} (${d1.mode})`;
    return { ...common, url: `d1:${environment}/${service}`, display, d1 };
  }
  if (base.engine === 'sqlite') {
    if (databaseUrl !== undefined) {
      ctx.findings.push({
        severity: 'error',
        path: where,
        at: 'key',
        message:
          'is only for engine postgres; with sqlite each environment gets its own file under the Airlock home of the project (envs/<env>/data/).',
        fix: `remove databaseUrl, or set services.${service}.database.engine: postgres.`,
      });
    }
    const file = path.join(ctx.home, 'envs', environment, 'data', `${service}.db`);
    const url = pathToFileURL(file).href;
    return { ...common, url, display: url };
  }
  if (databaseUrl === undefined) {
    ctx.findings.push({
      severity: 'error',
      path: where,
      at: 'key',
      message: `is required: with engine postgres every environment names its own database (data is never shared between environments).`,
      fix: `add \`databaseUrl: \${${databaseUrlVariable(environment)}}\` under environments.${environment}.services.${service}, and export that variable.`,
    });
    return { ...common, url: '', display: '' };
  }
  const { value, missing } = expandEnv(databaseUrl, ctx.env);
  if (missing.length > 0) {
    const database: ResolvedDatabase = {
      ...common,
      url: '',
      display: `(unset: ${missing.map((m) => `$${m}`).join(', ')})`,
      unsetVariables: missing,
    };
    ctx.findings.push({
      severity: 'error',
      path: where,
      message: `reads ${missing.map((m) => `$${m}`).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not set in the environment.`,
      fix: `export ${missing[0]}=postgres://user:password@host:5432/${service}_${environment} (this environment's database) before running a command that touches ${environment}.`,
      deferred: (diagnostic) => {
        database.unset = diagnostic;
      },
    });
    return database;
  }
  const wellFormed = /^postgres(ql)?:\/\//.test(value) && databaseIdentity(value) !== null;
  const read = referencedNames(databaseUrl);
  if (!wellFormed && read.length > 0) {
    // The value came from the environment: name the variable (never its value: it may hold a
    // password), since the line in airlock.yaml is right.
    const names = read.map((n) => `$${n}`).join(', ');
    ctx.findings.push({
      severity: 'error',
      path: where,
      message: `reads ${names}, whose value is not a valid postgres:// URL (the value is not shown: it may hold a password).`,
      fix: `set ${read[0]} to a valid URL like postgres://user@host:5432/${service}_${environment} (postgres://user:password@host:port/database).`,
    });
  } else if (!/^postgres(ql)?:\/\//.test(value)) {
    ctx.findings.push({
      severity: 'error',
      path: where,
      message: `expected a postgres:// URL, got ${value.includes('://') ? `"${redactUrl(value).split('://')[0]}://…"` : 'something else'}.`,
      fix: 'use postgres://user:password@host:5432/database.',
    });
  }
  return {
    ...common,
    url: value,
    display: redactUrl(value),
    ...(read.length > 0 ? { variables: read } : {}),
  };
}

/**
 * `host:port/database` of a Postgres URL, or null. Spellings of one host compare equal (see below);
 * a host alias (another DNS name) does not: the database's claim catches that one.
 */
export function databaseIdentity(url: string): string | null {
  try {
    const u = new URL(url);
    // `?host=` wins over the authority (libpq, pg); an IPv4 address in any spelling (127.1,
    // 2130706433, 0x7f.1) is read as the WHATWG parser reads an http host; every loopback name
    // and 0.0.0.0 (which connects to this machine) is one host.
    const raw = (u.searchParams.get('host') || u.hostname).toLowerCase();
    let host = raw;
    try {
      host = new URL(`http://${raw.includes(':') && !raw.startsWith('[') ? `[${raw}]` : raw}/`)
        .hostname;
    } catch {
      // not a host an http URL accepts (a socket folder): compared as written
    }
    if (['localhost', '0.0.0.0', '[::1]', '[::]'].includes(host) || host.startsWith('127.'))
      host = '127.0.0.1';
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || u.username || 'postgres';
    return `${host}:${u.port || '5432'}/${database}`;
  } catch {
    return null;
  }
}

/**
 * No two environments may resolve to the same Postgres database (a staging mistake must not
 * touch production data); pushes an error finding for each that does.
 */
export function checkIsolation(
  environments: Record<string, ResolvedEnvironment>,
  findings: Finding[],
): void {
  const owner = new Map<string, { environment: string; service: string }>();
  for (const env of Object.values(environments)) {
    for (const service of Object.values(env.services)) {
      if (service.database?.engine !== 'postgres' || !service.database.url) continue;
      const id = databaseIdentity(service.database.url);
      if (!id) continue;
      const first = owner.get(id);
      if (first && first.environment !== env.name) {
        findings.push({
          severity: 'error',
          path: ['environments', env.name, 'services', service.name, 'databaseUrl'],
          message: `${env.name} and ${first.environment} resolve to the same database (${id}); environments never share a database, so a staging mistake cannot touch production data.`,
          fix: `give ${env.name} its own database (e.g. ${id.replace(/\/[^/]*$/, `/${service.name}_${env.name}`)}).`,
        });
      } else if (!first) {
        owner.set(id, { environment: env.name, service: service.name });
      }
    }
  }
}

/**
 * Where the state store lives: `AIRLOCK_STATE_URL`, else `state:`, else `<home>/state.db` (the
 * project's Airlock home, beside the artifacts and release folders it describes); a
 * postgres:// URL (team mode) or a file path resolved against the project folder.
 */
export function resolveState(config: Config, ctx: ResolveContext): StateLocation {
  const override = ctx.env.AIRLOCK_STATE_URL;
  const raw = override || config.state;
  if (!raw) {
    const file = path.join(ctx.home, 'state.db');
    return { kind: 'sqlite', file, display: file };
  }
  const { value, missing } = expandEnv(raw, ctx.env);
  if (missing.length > 0) {
    ctx.findings.push({
      severity: 'error',
      path: ['state'],
      message: `reads ${missing.map((m) => `$${m}`).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not set in the environment.`,
      fix: `export ${missing[0]}=postgres://user:password@host:5432/airlock, or remove state to use state.db in Airlock's home.`,
    });
  }
  // A malformed Postgres URL from a variable would otherwise be taken for a file path.
  const variables = override ? ['AIRLOCK_STATE_URL'] : referencedNames(raw);
  if (
    variables.length > 0 &&
    /^postgres/i.test(value) &&
    (!/^postgres(ql)?:\/\//.test(value) || databaseIdentity(value) === null)
  ) {
    ctx.findings.push({
      severity: 'error',
      path: ['state'],
      message: `${override ? 'is overridden by' : 'reads'} ${variables.map((n) => `$${n}`).join(', ')}, whose value is not a valid postgres:// URL (the value is not shown: it may hold a password).`,
      fix: `set ${variables[0]} to a valid URL like postgres://user@host:5432/airlock (postgres://user:password@host:port/database).`,
    });
    const file = path.join(ctx.home, 'state.db');
    return { kind: 'sqlite', file, display: file };
  }
  if (/^postgres(ql)?:\/\//.test(value))
    return { kind: 'postgres', url: value, display: redactUrl(value) };
  if (/^d1:\/\//i.test(value)) {
    const d1 = d1StateLocation(value, ctx.env);
    if (d1) return d1;
    ctx.findings.push({
      severity: 'error',
      path: ['state'],
      message: `expected d1://<account-id>/<database-id>, got ${redactUrl(value)}.`,
      fix: 'give the account id (`wrangler whoami`) and the database id (`wrangler d1 list`), e.g. d1://0123…/4567…; the token comes from AIRLOCK_STATE_TOKEN or CLOUDFLARE_API_TOKEN, never from the URL.',
    });
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    ctx.findings.push({
      severity: 'error',
      path: ['state'],
      message: `expected a file path, a postgres:// or a d1:// URL, got a ${value.split('://')[0]}:// URL (its value is not shown: it may hold a password).`,
      fix: "remove state (the default is state.db in Airlock's home), give a file path, a postgres:// URL or d1://<account-id>/<database-id>.",
    });
  }
  const file = path.resolve(ctx.dir, value);
  return { kind: 'sqlite', file, display: file };
}

/**
 * `d1://<account-id>/<database-id>` as a state location: the token from AIRLOCK_STATE_TOKEN (a
 * token for the state database alone), else CLOUDFLARE_API_TOKEN; the API from
 * CLOUDFLARE_API_BASE_URL when set. Undefined when the URL is not of that shape (a user or
 * password in it included: a token never goes in the URL).
 */
export function d1StateLocation(
  url: string,
  env: Readonly<Record<string, string | undefined>>,
): StateLocation | undefined {
  const match = /^d1:\/\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)\/?$/i.exec(url.trim());
  if (!match) return undefined;
  const [, accountId, databaseId] = match as unknown as [string, string, string];
  return {
    kind: 'd1',
    url: `d1://${accountId}/${databaseId}`,
    display: `d1://${accountId}/${databaseId}`,
    accountId,
    databaseId,
    apiToken: env.AIRLOCK_STATE_TOKEN || env.CLOUDFLARE_API_TOKEN || null,
    baseUrl: env.CLOUDFLARE_API_BASE_URL || null,
  };
}
