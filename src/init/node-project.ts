/**
 * What `airlock init` reads from a Node project: its package manager (the `packageManager`
 * field corepack reads, else the lockfile), its build (a `build` script and the folder it
 * writes: TypeScript's `outDir`, or an `--outDir`/`--out-dir`/`-d` flag of the script), and the
 * command that starts it (the `start` script, else `main`). Reads files only; the one thing a
 * file cannot say, the version of the package manager on this machine, is asked of the caller
 * (`probeVersion`). Everything it could not decide is listed in `unsure`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';

export type PackageManagerName = 'npm' | 'pnpm' | 'yarn' | 'bun';

export interface PackageManagerInfo {
  name: PackageManagerName;
  /** The full version when the `packageManager` field or the installed tool says it, e.g. `10.12.1`. */
  version: string | null;
  /** Its major version, when known. */
  major: number | null;
  /** Yarn 2 or later ("berry": `.yarnrc.yml`, `workspaces focus`), as opposed to Yarn 1. */
  berry: boolean;
  /** The lockfile's name (`pnpm-lock.yaml` …), null when there is none. */
  lockfile: string | null;
  /** How it was found, for the written file's comments, e.g. `pnpm-lock.yaml`. */
  source: string;
}

export interface NodeBuildInfo {
  /** The `build` script, verbatim. */
  script: string;
  /** The folder it writes, relative to the project, without `./` (e.g. `dist`). */
  outDir: string;
  /** Where `outDir` comes from, e.g. `tsconfig.json compilerOptions.outDir`; null: a guess. */
  outDirFrom: string | null;
  /** The TypeScript `rootDir` the sources are compiled from (e.g. `src`), when known. */
  rootDir: string | null;
  typescript: boolean;
}

export interface NodeStartInfo {
  /** The command that starts the app from the release folder, e.g. `node dist/index.js`. */
  command: string;
  /** Where it comes from, for the comment. */
  from: string;
}

export interface NodeProject {
  packageManager: PackageManagerInfo;
  build: NodeBuildInfo | null;
  start: NodeStartInfo | null;
  /** Install-time scripts of the project itself (`prepare`, `postinstall` …), which a production install would run without their devDependencies. */
  installScripts: string[];
  /** Package-manager settings files beside package.json that an install in another folder needs (`.npmrc`, `.yarnrc.yml` …). */
  configFiles: string[];
  /** Yarn 2+ folders an install needs (`.yarn/releases`, `.yarn/plugins`, `.yarn/patches`). */
  yarnFolders: string[];
  /** A workspace root (`workspaces`, `pnpm-workspace.yaml` with `packages`). */
  workspaces: boolean;
  /** What could not be decided about the package manager, one sentence each. */
  unsure: string[];
  /** What could not be decided about building and starting it on this machine (the local provider). */
  unsureRun: string[];
}

/** Asks the machine for the version of a package manager (`pnpm --version`); null when absent. */
export type VersionProbe = (name: PackageManagerName) => string | null;

const LOCKFILES: Array<[string, PackageManagerName]> = [
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['bun.lock', 'bun'],
  ['bun.lockb', 'bun'],
  ['package-lock.json', 'npm'],
  ['npm-shrinkwrap.json', 'npm'],
];

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** `./dist/` → `dist`. */
export function cleanRelative(p: string): string {
  return path.posix
    .normalize(p.replaceAll('\\', '/'))
    .replace(/^\.\/+/, '')
    .replace(/\/+$/, '');
}

const majorOf = (version: string | null): number | null => {
  const m = version ? /^(\d+)\./.exec(version) : null;
  return m ? Number(m[1]) : null;
};

function packageManagerOf(
  dir: string,
  pkg: Record<string, unknown>,
  probe: VersionProbe,
  unsure: string[],
): PackageManagerInfo {
  const lockfiles = LOCKFILES.filter(([file]) => existsSync(path.join(dir, file)));
  // corepack's field: "pnpm@10.12.1" or "yarn@4.5.0+sha512.…"
  const field = str(pkg.packageManager);
  const declared = field ? /^(npm|pnpm|yarn|bun)@(\d+\.\d+\.\d+[^+]*)/.exec(field) : null;
  let name: PackageManagerName;
  let version: string | null = null;
  let source: string;
  if (declared) {
    name = declared[1] as PackageManagerName;
    version = declared[2] as string;
    source = `package.json packageManager (${field?.split('+')[0]})`;
  } else if (lockfiles.length > 0) {
    name = (lockfiles[0] as [string, PackageManagerName])[1];
    source = (lockfiles[0] as [string, PackageManagerName])[0];
    const others = [...new Set(lockfiles.map(([, n]) => n))].filter((n) => n !== name);
    if (others.length > 0)
      unsure.push(
        `lockfiles of several package managers (${lockfiles.map(([f]) => f).join(', ')}): using ${name}; delete the others, or set "packageManager" in package.json.`,
      );
  } else {
    name = 'npm';
    source = 'no lockfile';
    unsure.push(
      'no lockfile: the build resolves versions afresh each time (`npm install`); commit a lockfile so a release is reproducible.',
    );
  }
  const lockfile = lockfiles.find(([, n]) => n === name)?.[0] ?? null;
  if (declared && !lockfile && lockfiles.length > 0)
    unsure.push(
      `package.json says ${name} but the lockfile is ${lockfiles[0]?.[0]}: using ${name}, which has no lockfile here.`,
    );
  if (!version && name !== 'npm') {
    version = probe(name);
    if (version) source += `, ${name} ${version} on this machine`;
  }
  let major = majorOf(version);
  let berry = false;
  if (name === 'yarn') {
    const lock = lockfile ? readFileSync(path.join(dir, lockfile), 'utf8').slice(0, 400) : '';
    berry =
      major !== null
        ? major >= 2
        : existsSync(path.join(dir, '.yarnrc.yml')) || lock.includes('__metadata:');
    if (major === null && !berry && lock.includes('yarn lockfile v1')) major = 1;
  }
  if (name === 'pnpm' && major === null)
    unsure.push(
      'the pnpm version (no "packageManager" in package.json, no pnpm on this machine): the build assumes pnpm 11 or later; with pnpm 10 add --legacy to `pnpm deploy`.',
    );
  return { name, version, major, berry, lockfile, source };
}

function readJsonc(file: string): Record<string, unknown> {
  try {
    return obj(parseJsonc(readFileSync(file, 'utf8'), [], { allowTrailingComma: true }));
  } catch {
    return {};
  }
}

/** compilerOptions of a tsconfig, following one level of relative `extends`. */
function compilerOptions(dir: string, file: string): Record<string, unknown> {
  const config = readJsonc(path.join(dir, file));
  const own = obj(config.compilerOptions);
  const base = str(config.extends);
  if (base?.startsWith('.')) {
    const parentFile = path.join(
      path.dirname(file),
      base.endsWith('.json') ? base : `${base}.json`,
    );
    const parent = obj(readJsonc(path.join(dir, parentFile)).compilerOptions);
    return { ...parent, ...own };
  }
  return own;
}

/** `--outDir x`, `--out-dir=x`, `--outdir x`, `-d x` (tsup), `-o x` in a script. */
const OUT_FLAG = /(?:^|\s)(?:--outDir|--out-dir|--outdir|-d|-o)(?:=|\s+)(\S+)/;

function buildOf(
  dir: string,
  scripts: Record<string, string>,
  deps: Set<string>,
  unsure: string[],
): NodeBuildInfo | null {
  const script = scripts.build;
  if (!script) return null;
  const tsconfigArg = /(?:^|\s)(?:-p|--project)\s+(\S+)/.exec(script)?.[1];
  const tsconfig = tsconfigArg ?? 'tsconfig.json';
  const hasTsconfig = existsSync(path.join(dir, tsconfig));
  const typescript = hasTsconfig || deps.has('typescript');
  const options = hasTsconfig ? compilerOptions(dir, tsconfig) : {};
  const flag = OUT_FLAG.exec(script)?.[1];
  const usesTsc = /(?:^|[\s;&|])tsc(?:\s|$)/.test(script);
  let outDir: string | null = null;
  let outDirFrom: string | null = null;
  if (flag) {
    outDir = flag;
    outDirFrom = `the build script (${flag})`;
  } else if (
    str(options.outDir) &&
    (usesTsc || !/\b(tsup|esbuild|vite|rollup|rolldown|webpack|swc|babel|bun build)\b/.test(script))
  ) {
    outDir = str(options.outDir);
    outDirFrom = `${tsconfig} compilerOptions.outDir`;
  }
  if (!outDir) {
    outDir = 'dist';
    unsure.push(
      `the folder the build script writes (\`${script}\`): assumed dist/; set it in build.command and run.`,
    );
  }
  const rootDir = str(options.rootDir);
  return {
    script,
    outDir: cleanRelative(outDir),
    outDirFrom,
    rootDir: rootDir ? cleanRelative(rootDir) : null,
    typescript,
  };
}

/** `tsx src/index.ts` → `src/index.ts`: the entry file a TypeScript runner starts. */
const TS_RUNNER =
  /^(?:tsx|ts-node|ts-node-esm|node\s+--(?:import|loader)[= ]\S+|bun(?:\s+run)?)\s+(\S+\.[cm]?ts)\s*$/;

/** The compiled path of a TypeScript source file: `src/index.ts` → `dist/index.js`. */
function compiledPath(source: string, build: NodeBuildInfo): string {
  const clean = cleanRelative(source);
  const root = build.rootDir ?? (clean.startsWith('src/') ? 'src' : '');
  const inside = root && clean.startsWith(`${root}/`) ? clean.slice(root.length + 1) : clean;
  return `${build.outDir}/${inside.replace(/\.([cm]?)ts$/, '.$1js')}`;
}

function startOf(
  scripts: Record<string, string>,
  main: string | null,
  build: NodeBuildInfo | null,
  unsure: string[],
): NodeStartInfo | null {
  const start = scripts.start?.trim();
  if (
    start &&
    /^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:node|bun|deno)\s/.test(start) &&
    !TS_RUNNER.test(start)
  ) {
    if (/--env-file(?:=|\s)/.test(start))
      unsure.push(
        `the start script reads an env file (${start}): the release has no .env; give the app its settings as vars and secrets.`,
      );
    return { command: start, from: `package.json start (${start})` };
  }
  const source = start ? TS_RUNNER.exec(start)?.[1] : undefined;
  if (source && build?.typescript) {
    return {
      command: `node ${compiledPath(source, build)}`,
      from: `package.json start (${start}) runs ${source} with a TypeScript runner; the release runs what the build compiled it to`,
    };
  }
  if (main) {
    const file = cleanRelative(main);
    if (start)
      unsure.push(
        `how to start the app: the start script (${start}) is not a plain \`node\` command; used main (${file}).`,
      );
    return { command: `node ${file}`, from: `package.json main (${file})` };
  }
  if (start) {
    unsure.push(
      `how to start the app: the start script (${start}) is not a plain \`node\` command and there is no main; write the command that starts it from the release folder in run.`,
    );
    return null;
  }
  unsure.push(
    'how to start the app (no start script, no main): write the command that starts it from the release folder in run.',
  );
  return null;
}

/**
 * Reads the Node side of a project folder that has a package.json.
 * @param pkg the parsed package.json.
 */
export function detectNodeProject(
  dir: string,
  pkg: Record<string, unknown>,
  probe: VersionProbe,
): NodeProject {
  const unsure: string[] = [];
  const unsureRun: string[] = [];
  const scripts = Object.fromEntries(
    Object.entries(obj(pkg.scripts)).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  const deps = new Set([
    ...Object.keys(obj(pkg.dependencies)),
    ...Object.keys(obj(pkg.devDependencies)),
  ]);
  const packageManager = packageManagerOf(dir, pkg, probe, unsure);
  const build = buildOf(dir, scripts, deps, unsureRun);
  const start = startOf(scripts, str(pkg.main), build, unsureRun);
  const configFiles = [
    '.npmrc',
    '.yarnrc',
    '.yarnrc.yml',
    'bunfig.toml',
    'pnpm-workspace.yaml',
  ].filter((f) => existsSync(path.join(dir, f)));
  const yarnFolders = ['.yarn/releases', '.yarn/plugins', '.yarn/patches'].filter((f) =>
    existsSync(path.join(dir, f)),
  );
  const workspaceYaml = path.join(dir, 'pnpm-workspace.yaml');
  const workspaces =
    pkg.workspaces !== undefined ||
    (existsSync(workspaceYaml) && /^packages\s*:/m.test(readFileSync(workspaceYaml, 'utf8')));
  if (workspaces)
    unsureRun.push(
      'this is a workspace root: the build below packages the root package only; for one package of the workspace, run init in its folder and adapt the paths (docs/node-apps.md).',
    );
  return {
    packageManager,
    build,
    start,
    installScripts: INSTALL_SCRIPTS.filter((s) => scripts[s]),
    configFiles,
    yarnFolders,
    workspaces,
    unsure,
    unsureRun,
  };
}
