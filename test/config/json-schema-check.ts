/**
 * A tiny JSON Schema (2020-12) checker covering exactly the keywords the generated
 * `schema/airlock.schema.json` uses, so the published schema can be tested without adding a
 * validator dependency. An unsupported keyword throws, so a change in what zod emits is noticed
 * rather than silently ignored.
 */
type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'examples',
  'default',
  'format',
  'inherit',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/** Problems found, as `path: message`; empty when `value` is valid. */
export function checkJsonSchema(schema: Schema, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  for (const [keyword, arg] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue;
    switch (keyword) {
      case 'type':
        if (!matchesType(value, arg as string))
          errors.push(`${path}: expected ${arg}, got ${typeOf(value)}`);
        break;
      case 'enum':
        if (!(arg as unknown[]).includes(value)) errors.push(`${path}: not one of the enum`);
        break;
      case 'const':
        if (value !== arg) errors.push(`${path}: expected ${JSON.stringify(arg)}`);
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(arg as string, 'u').test(value))
          errors.push(`${path}: does not match ${arg}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && value.length < (arg as number))
          errors.push(`${path}: shorter than ${arg}`);
        break;
      case 'minimum':
        if (typeof value === 'number' && value < (arg as number))
          errors.push(`${path}: less than ${arg}`);
        break;
      case 'maximum':
        if (typeof value === 'number' && value > (arg as number))
          errors.push(`${path}: more than ${arg}`);
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < (arg as number))
          errors.push(`${path}: fewer than ${arg} items`);
        break;
      case 'items':
        if (Array.isArray(value))
          value.forEach((item, i) => {
            errors.push(...checkJsonSchema(arg as Schema, item, `${path}[${i}]`));
          });
        break;
      case 'required':
        if (typeOf(value) === 'object')
          for (const key of arg as string[])
            if (!(key in (value as object))) errors.push(`${path}: missing ${key}`);
        break;
      case 'properties':
        if (typeOf(value) === 'object')
          for (const [key, sub] of Object.entries(arg as Record<string, Schema>))
            if (key in (value as object))
              errors.push(
                ...checkJsonSchema(sub, (value as Record<string, unknown>)[key], `${path}.${key}`),
              );
        break;
      case 'additionalProperties':
        if (typeOf(value) === 'object') {
          const known = Object.keys((schema.properties as object | undefined) ?? {});
          for (const [key, sub] of Object.entries(value as Record<string, unknown>)) {
            if (known.includes(key)) continue;
            if (arg === false) errors.push(`${path}: unknown key ${key}`);
            else errors.push(...checkJsonSchema(arg as Schema, sub, `${path}.${key}`));
          }
        }
        break;
      case 'propertyNames':
        if (typeOf(value) === 'object')
          for (const key of Object.keys(value as object))
            errors.push(...checkJsonSchema(arg as Schema, key, `${path}{${key}}`));
        break;
      case 'anyOf':
      case 'oneOf': {
        const passing = (arg as Schema[]).filter(
          (sub) => checkJsonSchema(sub, value, path).length === 0,
        ).length;
        if (keyword === 'anyOf' ? passing === 0 : passing !== 1)
          errors.push(`${path}: ${passing} of the ${keyword} options match`);
        break;
      }
      default:
        throw new Error(`json-schema-check: unsupported keyword "${keyword}" at ${path}`);
    }
  }
  return errors;
}
