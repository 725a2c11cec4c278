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

/** The folder holding `.git` (a folder, or a file in a worktree) at or above `dir`, if any. */
function gitRoot(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, '.git'))) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * The airlock.yaml of a parent folder of `dir`, up to the git root (every folder above, outside
 * a repository): the one every other command run in `dir` reads.
 */
function parentConfig(dir: string): string | undefined {
  const root = gitRoot(dir);
  if (root === dir) return undefined;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const found = CONFIG_FILE_NAMES.map((n) => path.join(d, n)).find((f) => existsSync(f));
    if (found) return found;
    if (d === root || path.dirname(d) === d) return undefined;
  }
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
  // A folder inside a project already has its configuration: every other command reads the
  // parent's. A second project here is made on purpose only (--force, or -c naming the file).
  const parent = io.globals.config || opts.force ? undefined : parentConfig(dir);
  const shown = (f: string) => path.relative(process.cwd(), f) || f;
  if (parent && !opts.print) {
    throw new UserError(
      'CONFIG_EXISTS',
      `${shown(parent)} is in a parent folder: this folder is part of that project (every airlock command run here reads it), so airlock init writes nothing here.`,
      {
        hint: `That project is set up already: run airlock commands from here, or edit ${shown(parent)} (\`airlock init --print\` in ${path.dirname(parent)} shows what init would write there now). To make a separate project in this folder instead, run \`airlock init --force\` here.`,
        details: { existing: parent },
      },
    );
  }
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
    if (parent)
      io.reporter.warn(
        `${shown(parent)} already configures this folder; \`airlock init --force\` writes this file as a separate project.`,
      );
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
  if (detection.found.length > 0) {
    io.reporter.success(`Wrote ${display} for provider ${detection.platform}, from:`);
    for (const f of detection.found) io.reporter.info(`  - ${f}`);
  } else {
    io.reporter.success(`Wrote ${display} for provider ${detection.platform}: a template.`);
    io.reporter.warn(
      `Found nothing to deploy in ${dir === process.cwd() ? 'this folder' : shown(dir)}: no wrangler.toml, fly.toml, railway.json, package.json or migrations folder. The build and run commands in ${display} are placeholders: set your app's own (its build, the folder it writes, how it starts) before \`airlock deploy staging\`. If the app lives in another folder, delete ${display} and run \`airlock init\` there.`,
    );
  }
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
