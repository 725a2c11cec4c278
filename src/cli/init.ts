import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE_NAMES, parseConfig } from '../config/load.ts';
import { ConfigError, InternalError, UserError } from '../errors.ts';
import { detectProject } from '../init/detect.ts';
import type { PackageManagerName } from '../init/node-project.ts';
import { choosePorts } from '../init/ports.ts';
import { renderInit, toName } from '../init/render.ts';
import { SUM_FILENAME } from '../migrations/integrity.ts';
import { PACKAGE_NAME } from '../package-paths.ts';
import { runToolSync } from '../process/run-tool.ts';
import type { CommandIO } from './command-io.ts';

/** Adding Airlock's package as a devDependency, per package manager. */
const ADD_DEV: Record<PackageManagerName, string> = {
  npm: `npm install -D ${PACKAGE_NAME}`,
  pnpm: `pnpm add -D ${PACKAGE_NAME}`,
  yarn: `yarn add -D ${PACKAGE_NAME}`,
  bun: `bun add -d ${PACKAGE_NAME}`,
};

/** `<pm> --version` in `dir`, or null when it is not installed (or takes over 15 s: a busy machine). */
function probeVersion(dir: string) {
  return (name: PackageManagerName): string | null => {
    const result = runToolSync({
      command: name,
      args: ['--version'],
      cwd: dir,
      timeoutMs: 15_000,
      env: { ...process.env, COREPACK_ENABLE_DOWNLOAD_PROMPT: '0' },
    });
    if (result.spawnError || result.exitCode !== 0) return null;
    return /^\d+\.\d+\.\d+/.exec(result.stdout.trim())?.[0] ?? null;
  };
}

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
  const detection = detectProject(dir, { probeVersion: probeVersion(dir) });
  // Local ports: free now, and different from other projects' (derived from the name).
  const ports =
    detection.platform === 'local'
      ? await choosePorts(toName(detection.packageJson?.name ?? path.basename(dir), 'app'), 2)
      : undefined;
  const { yaml: text, unsure } = renderInit(detection, ports ? { ports } : {});
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
  io.reporter.result({
    file,
    platform: detection.platform,
    found: detection.found,
    unsure,
    ...(ports ? { ports } : {}),
    yaml: text,
  });
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
  if (unsure.length > 0) {
    io.reporter.warn(
      `Could not decide ${unsure.length === 1 ? 'one thing' : `${unsure.length} things`} (also written at the top of ${display}):`,
    );
    for (const u of unsure) io.reporter.info(`  - ${u}`);
  }
  const m = detection.migrations;
  const hash =
    m && m.files > 0 && !existsSync(path.join(dir, m.dir, SUM_FILENAME))
      ? ` \`airlock migrate hash\` (records ${m.dir}/'s files in ${SUM_FILENAME}), commit,`
      : '';
  const pkg = detection.packageJson;
  if (
    pkg &&
    !pkg.dependencies.includes(PACKAGE_NAME) &&
    !pkg.devDependencies.includes(PACKAGE_NAME)
  )
    io.reporter.info(
      `Add Airlock to the project, so CI and everyone run the same version: \`${ADD_DEV[pkg.node.packageManager?.name ?? 'npm']}\` (the command stays \`airlock\`: \`npx airlock …\`).`,
    );
  io.reporter.info(
    `Next: read the file (every guess is commented), \`airlock config validate\`,${hash} then \`airlock deploy staging\`.`,
  );
  const pipeline = /^pipeline: \[(.*)\]$/m.exec(text)?.[1]?.split(', ');
  const first = pipeline?.[0];
  const last = pipeline?.at(-1);
  if (first && last && text.includes('identity: signed'))
    io.reporter.info(
      `Approvals into ${last} are signed: commit each reviewer's SSH public key to .approvals/allowed_signers (\`ann@example.com ssh-ed25519 AAAA…\`, git's format); they approve with \`airlock approve ${last} --key ~/.ssh/id_ed25519\`. The file is read at each release's commit, so a release built before the commit that adds a key cannot be approved with that key: commit the file before \`airlock deploy ${first}\`.`,
    );
  return 0;
}
