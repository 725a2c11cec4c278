import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE_NAMES, parseConfig } from '../config/load.ts';
import { ConfigError, InternalError, UserError } from '../errors.ts';
import { detectProject } from '../init/detect.ts';
import { renderConfig } from '../init/render.ts';
import type { CommandIO } from './command-io.ts';

/**
 * `airlock init [--force] [--print]`: writes a starting, commented airlock.yaml from the files
 * the project already has (wrangler.toml/.jsonc and its [env.*] sections and D1 bindings,
 * fly.toml + fly.<env>.toml, railway.json/.toml, package.json, a migrations folder). Never
 * replaces an existing airlock.yaml without --force; --print writes to stdout instead. The
 * text is validated with the real loader before it is written (docs/init.md).
 */
export async function initCommand(
  io: CommandIO,
  opts: { force?: boolean; print?: boolean },
): Promise<number> {
  const file = path.resolve(io.globals.config ?? path.join(process.cwd(), 'airlock.yaml'));
  const dir = path.dirname(file);
  const detection = detectProject(dir);
  const text = renderConfig(detection);
  const display = path.relative(process.cwd(), file) || file;
  // What init writes must load; anything else is a bug here, not the user's to fix.
  try {
    parseConfig(text, file, display, process.env);
  } catch (error) {
    throw new InternalError(
      'INTERNAL',
      'airlock init generated a configuration that does not validate.',
      {
        cause: error,
        hint: 'Run `airlock init --print`, fix the file by hand, and report this.',
        ...(error instanceof ConfigError ? { details: { diagnostics: error.diagnostics } } : {}),
      },
    );
  }
  io.reporter.result({ file, platform: detection.platform, found: detection.found, yaml: text });
  if (opts.print) {
    if (!io.globals.json) process.stdout.write(text);
    return 0;
  }
  const existing = CONFIG_FILE_NAMES.map((n) => path.join(dir, n)).find((f) => existsSync(f));
  if (existing && !opts.force) {
    throw new UserError(
      'CONFIG_EXISTS',
      `${path.relative(process.cwd(), existing) || existing} already exists; airlock init leaves it alone.`,
      {
        hint: 'Compare with `airlock init --print`, or replace it with `airlock init --force`.',
      },
    );
  }
  writeFileSync(file, text);
  io.reporter.success(`Wrote ${display} for provider ${detection.platform}, from:`);
  for (const f of detection.found) io.reporter.info(`  - ${f}`);
  io.reporter.info(
    'Next: read the file (every guess is commented), `airlock config validate`, then `airlock deploy staging`.',
  );
  return 0;
}
