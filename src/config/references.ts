/**
 * `${NAME}` references to environment variables, read the same way in every field where a
 * user puts a URL or a credential: `databaseUrl`, `state`, a service's `vars`, a check's
 * `path`, `headers` and `body`, a command check's `env` and `run` (docker compose and wrangler
 * interpolate `${NAME}` the same way). A reference to a variable that is not set is never
 * passed on as literal text: it is a finding naming the file, line and variable.
 *
 * Check placeholders (`${release.id}`, `${release.commit}`, `${release.digest}`,
 * `${environment}`, `${service}`, see checks/interpolate.ts) are facts of a run, not
 * variables: they are left for the check to fill in.
 */
import type { CheckSpec } from '../checks/check.ts';
import type { ConfigDiagnostic } from '../errors.ts';
import type { ConfigPath, Finding } from './diagnostics.ts';

/**
 * The variable an environment's database URL is read from by convention (`${STAGING_DATABASE_URL}`,
 * `${EU_WEST_DATABASE_URL}`): what `airlock init` writes and what hints suggest.
 */
export function databaseUrlVariable(environment: string): string {
  return `${environment.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_DATABASE_URL`;
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Placeholder names a check fills in itself (checks/interpolate.ts); never variables. */
const CHECK_PLACEHOLDERS = new Set(['environment', 'service']);

/**
 * Replaces `${NAME}` with the environment variable NAME; lists the names that are not set (or
 * empty). `keep` names are left as written (check placeholders).
 */
export function expandEnv(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  keep: ReadonlySet<string> = new Set(),
): { value: string; missing: string[]; used: string[] } {
  const missing: string[] = [];
  const used: string[] = [];
  const expanded = value.replace(ENV_REFERENCE, (whole, name: string) => {
    if (keep.has(name)) return whole;
    const v = env[name];
    if (v === undefined || v === '') {
      missing.push(name);
      return '';
    }
    used.push(name);
    return v;
  });
  return { value: expanded, missing, used };
}

/** The `${NAME}` references in `value` (check placeholders excluded). */
export function referencedNames(value: string): string[] {
  return [...value.matchAll(ENV_REFERENCE)]
    .map((m) => m[1] as string)
    .filter((name) => !CHECK_PLACEHOLDERS.has(name));
}

/** A service's `vars` and `checks` with their `${NAME}` references read. */
export interface ExpandedServiceFields {
  vars: Record<string, string>;
  checks: CheckSpec[];
  /**
   * Variables read into those fields, with their values: output that would show one of these
   * values (a check's output tail, `config show`) masks it.
   */
  references: Array<{ name: string; value: string }>;
  /** Unset variables: a command that uses this service in this environment stops with these. */
  unset: ConfigDiagnostic[];
}

interface Where {
  /** Where `vars` was written. */
  vars: ConfigPath;
  /** Where `checks` was written. */
  checks: ConfigPath;
  /** Names a command check gets from Airlock itself (BASE_URL, DATABASE_URL, …). */
  provided: ReadonlySet<string>;
  /** The environment being resolved. */
  environment: string;
}

/**
 * Reads the `${NAME}` references of one service's `vars` and `checks` in one environment.
 * Unset variables become deferred findings (pushed to `findings`): the file stays valid for
 * commands that do not touch this environment, and the diagnostic lands in `unset`.
 * A command check's `run` is not rewritten: its shell expands `${NAME}` from the check's
 * environment (so values never appear in argv or messages); a name that neither that
 * environment nor Airlock provides is reported the same way.
 */
export function expandServiceFields(
  vars: Record<string, string>,
  checks: readonly CheckSpec[],
  env: Readonly<Record<string, string | undefined>>,
  where: Where,
  findings: Finding[],
): ExpandedServiceFields {
  const out: ExpandedServiceFields = { vars: {}, checks: [], references: [], unset: [] };
  const seen = new Map<string, string>();
  const read = (value: string, path: ConfigPath, keep = new Set<string>()): string => {
    const r = expandEnv(value, env, keep);
    for (const name of r.used) seen.set(name, env[name] as string);
    if (r.missing.length > 0) report(r.missing, path);
    return r.value;
  };
  const report = (missing: string[], path: ConfigPath) => {
    const list = missing.map((m) => `$${m}`).join(', ');
    findings.push({
      severity: 'error',
      path,
      message: `reads ${list} for ${where.environment}, which ${missing.length === 1 ? 'is' : 'are'} not set in the environment (Airlock never passes \${${missing[0]}} on as text).`,
      fix: `export ${missing[0]} before running a command that touches ${where.environment}, or remove the reference.`,
      deferred: (diagnostic) => {
        out.unset.push(diagnostic);
      },
    });
  };
  for (const [key, value] of Object.entries(vars))
    out.vars[key] = read(value, [...where.vars, key]);
  checks.forEach((check, i) => {
    const at = (...rest: Array<string | number>): ConfigPath => [...where.checks, i, ...rest];
    if (check.type === 'command') {
      const checkEnv: Record<string, string> = {};
      for (const [key, value] of Object.entries(check.env ?? {}))
        checkEnv[key] = read(value, at('env', key));
      const available = (name: string) =>
        where.provided.has(name) || name in checkEnv || (env[name] ?? '') !== '';
      const missing = [...new Set(referencedNames(check.run))].filter((n) => !available(n));
      if (missing.length > 0) report(missing, at('run'));
      out.checks.push({ ...check, ...(check.env ? { env: checkEnv } : {}) });
      return;
    }
    const keep = CHECK_PLACEHOLDERS;
    if (check.type === 'perf') {
      out.checks.push({
        ...check,
        paths: check.paths.map((p, i) => read(p, at('paths', i), keep)),
      });
      return;
    }
    const path = read(check.path, at('path'), keep);
    if (check.type === 'latency') {
      out.checks.push({ ...check, path });
      return;
    }
    const headers = check.headers
      ? Object.fromEntries(
          Object.entries(check.headers).map(([k, v]) => [k, read(v, at('headers', k), keep)]),
        )
      : undefined;
    const body = check.body === undefined ? undefined : read(check.body, at('body'), keep);
    out.checks.push({
      ...check,
      path,
      ...(headers ? { headers } : {}),
      ...(body !== undefined ? { body } : {}),
    });
  });
  out.references = [...seen].map(([name, value]) => ({ name, value }));
  return out;
}
