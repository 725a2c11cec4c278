/**
 * Flattening a platform's configuration file into dotted keys, as parity compares them
 * (`airlock diff`, the parity gate): every setting a key, bindings by name and kind, vars by
 * name. The providers read their own files with it (wrangler, fly.toml, railway.json).
 */

/**
 * Flattens `value` into `out` as dotted keys: objects by key, arrays by index (`vm.0.memory`),
 * scalars as strings. Arrays of scalars become one comma-separated value.
 */
export function flatten(value: unknown, prefix: string, out: Record<string, string>): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      out[prefix] = value.map(String).join(',');
      return;
    }
    value.forEach((v, i) => {
      flatten(v, `${prefix}.${i}`, out);
    });
    return;
  }
  if (value instanceof Date) {
    out[prefix] = value.toISOString();
    return;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out[prefix] = String(value);
}
