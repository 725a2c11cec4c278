/**
 * `${…}` placeholders in check specs, and the JSON subset match used by HTTP checks.
 * Placeholders let one `airlock.yaml` say "`/version` must report the release being deployed"
 * (a version smoke test): `${release.id}`, `${release.commit}`, `${release.digest}`,
 * `${environment}`, `${service}`.
 */

import type { CheckContext } from './check.ts';

/** The facts placeholders can name. */
export type InterpolationContext = Pick<CheckContext, 'environment' | 'service' | 'release'>;

const PLACEHOLDER = /\$\{\s*([a-zA-Z.]+)\s*\}/g;

function lookup(name: string, ctx: InterpolationContext): string | undefined {
  switch (name) {
    case 'release.id':
      return ctx.release.id;
    case 'release.commit':
      return ctx.release.commit;
    case 'release.digest':
      return ctx.release.digest;
    case 'environment':
      return ctx.environment;
    case 'service':
      return ctx.service;
    default:
      return undefined;
  }
}

/**
 * Replaces the known placeholders in `template`. Unknown ones (`${foo}`) are left as written,
 * so a mismatch shows them verbatim rather than silently matching an empty string.
 */
export function interpolate(template: string, ctx: InterpolationContext): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => lookup(name, ctx) ?? whole);
}

/**
 * Interpolates every string inside a JSON value (object keys stay as written), returning a new
 * value; numbers, booleans and null are returned unchanged.
 */
export function interpolateJson(value: unknown, ctx: InterpolationContext): unknown {
  if (typeof value === 'string') return interpolate(value, ctx);
  if (Array.isArray(value)) return value.map((v) => interpolateJson(v, ctx));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateJson(v, ctx);
    return out;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/**
 * Checks that `actual` contains `expected`: every key of an expected object must be present
 * with a matching value (extra actual keys are fine); an expected array must have the same
 * length with each element matching; anything else must be strictly equal.
 *
 * @param path name of the root in messages. Default `body`.
 * @returns null when it matches, else one line naming the first mismatch by its JSON path:
 *   `body.release was "r2", expected "r3"`, `body.db is missing, expected "ok"`,
 *   `body.items has 1 element, expected 2`.
 */
export function matchJsonSubset(actual: unknown, expected: unknown, path = 'body'): string | null {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      return `${path} was ${actual === undefined ? 'missing' : kind(actual)}, expected an array`;
    }
    if (actual.length !== expected.length) {
      return `${path} has ${actual.length} element${actual.length === 1 ? '' : 's'}, expected ${expected.length}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const mismatch = matchJsonSubset(actual[i], expected[i], childPath(path, i));
      if (mismatch) return mismatch;
    }
    return null;
  }
  if (isPlainObject(expected)) {
    if (!isPlainObject(actual)) {
      return `${path} was ${actual === undefined ? 'missing' : kind(actual)}, expected an object`;
    }
    for (const [key, value] of Object.entries(expected)) {
      const child = childPath(path, key);
      if (!Object.hasOwn(actual, key)) return `${child} is missing, expected ${describe(value)}`;
      const mismatch = matchJsonSubset(actual[key], value, child);
      if (mismatch) return mismatch;
    }
    return null;
  }
  if (actual === expected) return null;
  if (actual === undefined) return `${path} is missing, expected ${describe(expected)}`;
  return `${path} was ${describe(actual)}, expected ${describe(expected)}`;
}
