/**
 * The build `airlock init` writes for a Node service on the local provider: one shell command
 * that produces a self-contained release folder (the built code, package.json, the lockfile,
 * and the production dependencies installed inside it), so the release runs from wherever it
 * is copied without reaching any other `node_modules`. One recipe per package manager, each
 * run by Airlock in a clean checkout of the commit (docs/node-apps.md):
 *
 * - npm: `npm ci && npm run build`, then the output folder with the build, package.json and
 *   package-lock.json, and `npm ci --omit=dev` inside it (npm's "omit" docs).
 * - pnpm: `pnpm deploy --prod <folder>` (pnpm's deploy docs; `--filter=.` selects the project
 *   itself outside a workspace, pnpm 10 needs `--legacy` without `inject-workspace-packages`),
 *   then the build output copied in (deploy copies what `pnpm pack` would, which leaves out a
 *   gitignored dist/ unless package.json `files` lists it).
 * - Yarn 1: a copy and `yarn install --production --frozen-lockfile`.
 * - Yarn 2+: a copy and `yarn workspaces focus --production` with the node-modules linker
 *   (Plug'n'Play's dependencies live in a cache outside the folder).
 * - bun: a copy and `bun install --production --frozen-lockfile`.
 *
 * Pure.
 */
import type { NodeProject, PackageManagerInfo } from './node-project.ts';

/** The release folder a Node build writes, relative to the service folder. */
export const RELEASE_FOLDER = '.airlock-release';

export interface NodeRecipe {
  command: string;
  output: string;
  /** The command that starts the app inside `output`; null when it could not be decided. */
  run: string | null;
  /** Comment lines above the build (what it does and why). */
  comments: string[];
  runComment: string;
}

/** The install a build starts with, in the clean checkout (dev dependencies included). */
export function installCommand(pm: PackageManagerInfo): string {
  switch (pm.name) {
    case 'pnpm':
      return pm.lockfile ? 'pnpm install --frozen-lockfile' : 'pnpm install';
    case 'yarn':
      if (pm.berry) return pm.lockfile ? 'yarn install --immutable' : 'yarn install';
      return pm.lockfile ? 'yarn install --frozen-lockfile' : 'yarn install';
    case 'bun':
      return pm.lockfile ? 'bun install --frozen-lockfile' : 'bun install';
    default:
      return pm.lockfile ? 'npm ci' : 'npm install';
  }
}

/** `<pm> run <script>`. */
export function runScript(pm: PackageManagerInfo, script: string): string {
  return pm.name === 'yarn' ? `yarn run ${script}` : `${pm.name} run ${script}`;
}

/** A binary of the project's dependencies (wrangler …), run through the package manager. */
export function execBinary(pm: PackageManagerInfo, command: string): string {
  switch (pm.name) {
    case 'pnpm':
      return `pnpm exec ${command}`;
    case 'yarn':
      return `yarn ${command}`;
    case 'bun':
      return `bunx ${command}`;
    default:
      return `npx ${command}`;
  }
}

/** The production-only install, run inside a folder holding package.json and the lockfile. */
/**
 * pnpm's records of an install (`node_modules/.modules.yaml`, `.pnpm-workspace-state-v1.json`):
 * they hold the time of the install and the store's path on the machine, so two builds of one
 * commit differ by them alone. Nothing reads them at run time (the app runs with node, not
 * through pnpm). One shell word per file (`rm -f` of a glob that matches nothing is a no-op).
 */
const PNPM_RECORDS = ['node_modules/.modules.yaml', 'node_modules/.pnpm-workspace-state*.json'];
const PNPM_BOOKKEEPING_COMMENT = `pnpm's records of the install (${PNPM_RECORDS.join(', ')}: its time and the store's path) are removed, so two builds of one commit, on any machine, give the same bytes: the same release.`;

function productionInstall(pm: PackageManagerInfo): string {
  switch (pm.name) {
    case 'pnpm':
      return pm.lockfile ? 'pnpm install --prod --frozen-lockfile' : 'pnpm install --prod';
    case 'yarn':
      if (pm.berry) return 'YARN_NODE_LINKER=node-modules yarn workspaces focus --production';
      return pm.lockfile
        ? 'yarn install --production --frozen-lockfile'
        : 'yarn install --production';
    case 'bun':
      return pm.lockfile
        ? 'bun install --production --frozen-lockfile'
        : 'bun install --production';
    default:
      return pm.lockfile ? `npm ci --omit=dev` : 'npm install --omit=dev';
  }
}

/** Settings files the package manager reads, copied beside package.json. */
function settingsFiles(project: NodeProject): string[] {
  const wanted: Record<string, string[]> = {
    npm: ['.npmrc'],
    pnpm: ['.npmrc', 'pnpm-workspace.yaml'],
    yarn: project.packageManager.berry ? ['.yarnrc.yml'] : ['.npmrc', '.yarnrc'],
    bun: ['.npmrc', 'bunfig.toml'],
  };
  return project.configFiles.filter((f) => wanted[project.packageManager.name]?.includes(f));
}

/** `npm pkg delete scripts.prepare …`: the project's own install scripts need its devDependencies. */
function dropInstallScripts(project: NodeProject): string | null {
  if (project.installScripts.length === 0) return null;
  return `npm pkg delete ${project.installScripts.map((s) => `scripts.${s}`).join(' ')}`;
}

/**
 * The build of a Node service (see the module comment).
 * @returns the command, the output folder, and the run command inside it.
 */
export function nodeRecipe(project: NodeProject): NodeRecipe {
  const pm = project.packageManager;
  const install = installCommand(pm);
  const build = project.build;
  const run = project.start?.command ?? null;
  const runComment = project.start
    ? `${project.start.from}; it runs inside ${build ? `${RELEASE_FOLDER}/` : 'the release'} and must listen on $PORT`
    : 'could not tell how the app starts: the command that starts it from the release folder, listening on $PORT';
  const pmLabel = `${pm.name}${pm.name === 'yarn' ? (pm.berry ? ' 2+' : ' 1') : ''} (${pm.source})`;
  if (!build) {
    // No build step: the release is the checkout itself with production dependencies only.
    const drop = dropInstallScripts(project);
    const pnpm = pm.name === 'pnpm';
    return {
      command: [
        ...(drop ? [drop] : []),
        productionInstall(pm),
        ...(pnpm ? [`rm -f ${PNPM_RECORDS.join(' ')}`] : []),
      ].join(' && '),
      output: '.',
      run,
      comments: [
        `Package manager: ${pmLabel}.`,
        'No build script: the release is the checkout with its production dependencies installed in it.',
        ...(pnpm ? [PNPM_BOOKKEEPING_COMMENT] : []),
        ...(drop
          ? [
              `Its own ${project.installScripts.join(', ')} script(s) need devDependencies, so the release's package.json goes without them.`,
            ]
          : []),
      ],
      runComment,
    };
  }
  const out = build.outDir;
  const T = RELEASE_FOLDER;
  const steps = [install, runScript(pm, 'build'), `rm -rf ${T}`];
  const comments = [
    `Package manager: ${pmLabel}. Build: ${build.script}, writing ${out}/ (${build.outDirFrom ?? 'a guess'}).`,
  ];
  if (pm.name === 'pnpm') {
    const legacy = pm.major === 10 ? ' --legacy' : '';
    steps.push(`pnpm --filter=. deploy --prod${legacy} ${T}`);
    steps.push(`rm -f ${PNPM_RECORDS.map((f) => `${T}/${f}`).join(' ')}`);
    steps.push(`cp -R ${out}/. ${T}/${out}`);
    comments.push(
      `${T}/ is self-contained: \`pnpm deploy --prod\` puts the project with its production dependencies there${legacy ? ' (--legacy: pnpm 10 without inject-workspace-packages)' : ''}, then the build output is copied in (deploy leaves out a gitignored ${out}/).`,
      PNPM_BOOKKEEPING_COMMENT,
    );
  } else {
    const copied = [
      out,
      'package.json',
      ...(pm.lockfile ? [pm.lockfile] : []),
      ...settingsFiles(project),
    ];
    steps.push(`mkdir ${T}`, `cp -R ${copied.join(' ')} ${T}/`);
    if (pm.name === 'yarn' && pm.berry && project.yarnFolders.length > 0)
      steps.push(`mkdir ${T}/.yarn`, `cp -R ${project.yarnFolders.join(' ')} ${T}/.yarn/`);
    steps.push(`cd ${T}`);
    const drop = dropInstallScripts(project);
    if (drop) steps.push(drop);
    steps.push(productionInstall(pm));
    comments.push(
      `${T}/ is self-contained: the build output, package.json and the lockfile, with the production dependencies installed inside it (${productionInstall(pm)}).`,
    );
    if (drop)
      comments.push(
        `The project's own ${project.installScripts.join(', ')} script(s) need devDependencies: the release's package.json goes without them.`,
      );
  }
  return { command: steps.join(' && '), output: T, run, comments, runComment };
}
