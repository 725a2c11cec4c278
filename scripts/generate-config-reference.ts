/**
 * Writes the files generated from the config schema (src/config/schema.ts):
 * `schema/airlock.schema.json` (the JSON Schema editors use) and `docs/configuration.md` (the
 * reference). Run with `npm run config:generate` after changing the schema; a test fails while
 * the committed copies are stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configGeneratedFiles } from '../src/config/reference.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const file of configGeneratedFiles()) {
  const target = join(root, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.text);
  console.log(`wrote ${file.path}`);
}
