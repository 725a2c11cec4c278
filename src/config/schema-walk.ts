/**
 * Reading a zod schema's structure and metadata, for the diagnostics (fixes from field
 * examples) and the generated reference. Uses zod v4's documented `_zod.def` for library
 * authors.
 */
import type { z } from 'zod';
import type { FieldMeta } from './schema-fields.ts';

/** The parts of a zod definition Airlock reads. */
export interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  in?: z.ZodType;
  values?: unknown[];
  entries?: Record<string, unknown>;
  checks?: Array<{ _zod: { def: ZodCheckDef } }>;
  defaultValue?: unknown;
}

export interface ZodCheckDef {
  check: string;
  format?: string;
  prefix?: string;
  pattern?: RegExp;
  minimum?: number;
}

export function defOf(schema: z.ZodType): ZodDef {
  return (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
}

/** The metadata attached with `.meta()`, if any. */
export function metaOf(schema: z.ZodType): FieldMeta | undefined {
  return (schema as unknown as { meta(): FieldMeta | undefined }).meta();
}
