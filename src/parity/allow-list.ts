/**
 * Which differences between two environments parity allows (staging as "a
 * 100% production mirror" where only names, databases and secrets differ). Patterns are globs
 * over the dotted keys of a profile (`platform.vm.0.memory`, `airlock.health.path`,
 * `vars.LOG_LEVEL`): `*` matches within one segment, `**` across segments. A pattern matches a
 * key when it matches the whole key or any tail of it that starts at a segment (as a gitignore
 * pattern without a slash matches at any depth): `app` matches `platform.app`, `*_id` matches
 * `platform.kv_namespaces.0.preview_id`. Pure, no dependencies.
 */

/** The default allow list: names and ids, routes and hostnames, databases and URLs, APP_ENV, LOG_LEVEL, runtime timeouts. */
export const DEFAULT_PARITY_ALLOW: readonly string[] = [
  // Names and ids: every environment has its own app, Worker, database, bucket, volume.
  'app',
  'name',
  'id',
  '*_id',
  '*_name',
  'mounts.*.source',
  // Routes and hostnames: each environment answers on its own.
  'route',
  'routes',
  'routes.**',
  'workers_dev',
  'preview_urls',
  'hostname',
  'hostnames',
  // Databases and URLs: each environment has its own. The engine and the
  // migrate mode are compared (airlock.database.engine, airlock.database.migrate).
  'database_name',
  'database_id',
  'databaseUrl',
  'url',
  '*_url',
  '*_URL',
  // What a production mirror sets differently on purpose (app name, APP_ENV, LOG_LEVEL …).
  'APP_ENV',
  'LOG_LEVEL',
  // Runtime timeouts are not resources: production may keep the previous release warm longer.
  'airlock.keepWarmMs',
  'airlock.drainTimeoutMs',
];

const cache = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    let source = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i] as string;
      if (c === '*' && pattern[i + 1] === '*') {
        source += '.*';
        i++;
      } else if (c === '*') source += '[^.]*';
      else if (c === '?') source += '[^.]';
      else source += c.replace(/[\\^$+.()|[\]{}]/g, '\\$&');
    }
    re = new RegExp(`^(?:.*\\.)?${source}$`);
    cache.set(pattern, re);
  }
  return re;
}

/** The first pattern of `patterns` that matches `key`, or null. */
export function allowedBy(key: string, patterns: readonly string[]): string | null {
  for (const pattern of patterns) if (compile(pattern).test(key)) return pattern;
  return null;
}
