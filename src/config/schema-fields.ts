/**
 * The building blocks of the `airlock.yaml` schema: the metadata every field carries (a
 * description, examples, and for service fields its {@link Inheritance} class) and the small
 * value schemas the parts share (names, milliseconds, ports, environment variables).
 */
import { z } from 'zod';

/**
 * How a service field behaves across environments (wrangler's environments model).
 * - `global-only`: set once under `services`, never per environment (the release is built once).
 * - `inheritable`: set under `services`, optionally overridden in `environments.<env>.services`.
 * - `per-environment`: must be set in each environment; never inherited.
 * - `non-inheritable`: may be set at the top, but an environment that does not repeat it does
 *   not get it (wrangler's `vars`); Airlock warns when that happens.
 */
export type Inheritance = 'global-only' | 'inheritable' | 'per-environment' | 'non-inheritable';

/** Metadata of one field: it feeds the docs, the JSON Schema and error fixes. */
export interface FieldMeta {
  description: string;
  /** Example value (YAML-ready), used in docs and in error fixes. */
  examples?: unknown[];
  inherit?: Inheritance;
  [key: string]: unknown;
}

/** `schema` with its metadata attached (zod `.meta`). */
export function field<T extends z.ZodType>(schema: T, meta: FieldMeta): T {
  return schema.meta(meta);
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;
/** A project, environment, service or check name; `what` names it in the error. */
export const nameSchema = (what: string) =>
  z.string().regex(NAME_PATTERN, {
    error: `a ${what} name (lowercase letters, digits and dashes, starting with a letter, at most 40 characters)`,
  });

/** A duration in milliseconds. */
export const msSchema = z.number().int().min(0);
/** A TCP port. */
export const portSchema = z.number().int().min(1).max(65535);
/** Environment variables by name. */
export const envVarsSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    error: 'an environment variable name (letters, digits and _, not starting with a digit)',
  }),
  z.string(),
);
