/**
 * What `airlock ci init github` checks before it writes a workflow that could not run: the
 * project installs Airlock itself (a devDependency, from a committed lockfile, with the package
 * manager that lockfile belongs to), every environment deploys somewhere a thrown-away runner
 * can reach, and the flow matches the promotion policy. Each refusal is a `UserError` whose hint
 * is the fix. Reads `package.json`, the lockfiles and `.yarnrc.yml` of the project folder (and
 * its parents up to the repository root); nothing else.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/resolve.ts';
import { UserError } from '../errors.ts';

export type PackageManager = 'npm' | 'pnpm' | 'yarn';

/** How the generated jobs install the project's dependencies (Airlock among them). */
export interface ProjectInstall {
  manager: PackageManager;
  /** The lockfile, relative to the repository root (POSIX separators). */
  lockfile: string;
  /** The install command, frozen to the lockfile: `npm ci`, `pnpm install --frozen-lockfile`, `yarn install --immutable`. */
  command: string;
  /** `npm install -D airlock-deploy` and its equivalents. */
  addAirlock: string;
}

const LOCKFILES: ReadonlyArray<{ file: string; manager: PackageManager }> = [
  { file: 'package-lock.json', manager: 'npm' },
  { file: 'npm-shrinkwrap.json', manager: 'npm' },
  { file: 'pnpm-lock.yaml', manager: 'pnpm' },
  { file: 'yarn.lock', manager: 'yarn' },
];

const INSTALL: Record<PackageManager, string> = {
  npm: 'npm ci',
  pnpm: 'pnpm install --frozen-lockfile',
  yarn: 'yarn install --immutable',
};

/** The command that adds a devDependency with `manager`. */
export function addDevDependency(manager: PackageManager, name: string): string {
  return manager === 'npm' ? `npm install -D ${name}` : `${manager} add -D ${name}`;
}

/** The package name users install; the command it gives is `airlock`. */
export const AIRLOCK_PACKAGE = 'airlock-deploy';

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function dependsOn(pkg: Record<string, unknown>, name: string): boolean {
  return ['dependencies', 'devDependencies'].some((field) => {
    const deps = pkg[field];
    return Boolean(deps && typeof deps === 'object' && name in deps);
  });
}

/**
 * The package manager and lockfile of the project at `config.dir` (the nearest lockfile from the
 * project folder up to `repositoryRoot`, so a workspace's root lockfile counts).
 * @throws UserError `CI_PRECONDITION` with the fix: no package.json, no `airlock-deploy`
 *   (dev)dependency, no lockfile, Yarn Plug'n'Play (no `node_modules/.bin` for `npx airlock`),
 *   or a Cloudflare project without `wrangler` as a dependency.
 */
export function projectInstall(config: ResolvedConfig, repositoryRoot: string): ProjectInstall {
  const pkgFile = path.join(config.dir, 'package.json');
  const pkg = readJson(pkgFile);
  const where = path.relative(repositoryRoot, config.dir) || '.';
  if (!pkg) {
    throw new UserError(
      'CI_PRECONDITION',
      `${path.join(where, 'package.json')} is missing or unreadable: the generated jobs install Airlock as the project's devDependency.`,
      {
        hint: `Run \`npm init -y && ${addDevDependency('npm', AIRLOCK_PACKAGE)}\` in ${where} and commit package.json and package-lock.json.`,
      },
    );
  }
  let found: { file: string; manager: PackageManager } | undefined;
  for (let dir = config.dir; ; dir = path.dirname(dir)) {
    const hit = LOCKFILES.find((l) => existsSync(path.join(dir, l.file)));
    if (hit) {
      found = { file: path.join(dir, hit.file), manager: hit.manager };
      break;
    }
    if (dir === repositoryRoot || path.dirname(dir) === dir) break;
  }
  const manager = found?.manager ?? 'npm';
  if (!dependsOn(pkg, AIRLOCK_PACKAGE)) {
    throw new UserError(
      'CI_PRECONDITION',
      `${path.join(where, 'package.json')} does not list ${AIRLOCK_PACKAGE}: on a runner \`npx airlock\` would fetch an unrelated npm package named "airlock".`,
      {
        hint: `Run \`${addDevDependency(manager, AIRLOCK_PACKAGE)}\` in ${where}, commit package.json and the lockfile, then run \`airlock ci init github\` again.`,
      },
    );
  }
  if (!found) {
    // Refused rather than generated without a cache: without a lockfile every run may install
    // another Airlock (and other tools) than the one the project tested.
    throw new UserError(
      'CI_PRECONDITION',
      `no lockfile (package-lock.json, pnpm-lock.yaml or yarn.lock) in ${where} or above it: the jobs install exactly what the lockfile pins, so every run uses the same Airlock.`,
      { hint: `Run \`npm install\` in ${where} and commit package-lock.json.` },
    );
  }
  if (manager === 'yarn') {
    const rc = path.join(path.dirname(found.file), '.yarnrc.yml');
    const linker = existsSync(rc)
      ? /^nodeLinker:\s*["']?([\w-]+)/m.exec(readFileSync(rc, 'utf8'))?.[1]
      : undefined;
    const classic = existsSync(path.join(path.dirname(found.file), 'node_modules/.yarn-integrity'));
    if (!classic && linker !== 'node-modules') {
      throw new UserError(
        'CI_PRECONDITION',
        `Yarn installs ${where} with Plug'n'Play (no node_modules/.bin), so the jobs' \`npx airlock\` would not find the project's Airlock.`,
        {
          hint: `Add \`nodeLinker: node-modules\` to ${path.relative(repositoryRoot, rc) || '.yarnrc.yml'}, run \`yarn install\` and commit the changes.`,
        },
      );
    }
  }
  const cloudflare = Object.values(config.environments).some((env) =>
    Object.values(env.services).some((s) => s.provider.provider === 'cloudflare'),
  );
  if (cloudflare && !dependsOn(pkg, 'wrangler')) {
    throw new UserError(
      'CI_PRECONDITION',
      `${path.join(where, 'package.json')} does not list wrangler: the Cloudflare jobs run the project's own wrangler (runners do not ship one).`,
      {
        hint: `Run \`${addDevDependency(manager, 'wrangler')}\` in ${where} and commit the lockfile.`,
      },
    );
  }
  return {
    manager,
    lockfile: path.relative(repositoryRoot, found.file).split(path.sep).join('/'),
    command: INSTALL[manager],
    addAirlock: addDevDependency(manager, AIRLOCK_PACKAGE),
  };
}

/**
 * What GitHub-hosted runners cannot do, and what a flow cannot do under the configured policy.
 * @throws UserError `CI_PRECONDITION` naming the environment and the fix: the local provider
 *   or Cloudflare `mode: local` (they deploy onto the runner, which is thrown away after the
 *   job), a command provider without `command.describe` (a fresh runner cannot know what
 *   serves), or the automatic flow when the last environment is promoted by hand or requires
 *   approvals.
 */
export function checkCiTargets(config: ResolvedConfig, flow: string, last: string): void {
  for (const name of config.pipeline) {
    const env = config.environments[name];
    for (const [service, settings] of Object.entries(env?.services ?? {})) {
      const p = settings.provider;
      if (p.provider === 'local') {
        throw new UserError(
          'CI_PRECONDITION',
          `${config.displayFile}: environment ${name} deploys ${service} with the local provider, which runs it on this machine; a GitHub runner is thrown away when its job ends, and the release with it.`,
          {
            hint: `Deploy ${name} to a platform (provider: cloudflare, fly, railway or command; see docs/providers/), or keep deploying the local provider from a machine that stays up.`,
          },
        );
      }
      if (p.provider === 'cloudflare' && p.mode === 'local') {
        throw new UserError(
          'CI_PRECONDITION',
          `${config.displayFile}: environment ${name} runs ${service} with Cloudflare's local mode (wrangler dev on this machine); a GitHub runner is thrown away when its job ends, and the Worker with it.`,
          {
            hint: `Set services.${service}.cloudflare.mode: remote (or environments.${name}.services.${service}.cloudflare.mode) to deploy to Cloudflare; see docs/providers/cloudflare.md.`,
          },
        );
      }
      if (p.provider === 'command' && !p.describe) {
        throw new UserError(
          'CI_PRECONDITION',
          `${config.displayFile}: environment ${name} deploys ${service} with the command provider without command.describe; each job starts on a fresh runner, which has no record of what ${name} serves.`,
          {
            hint: `Set services.${service}.command.describe to a command that asks the platform what serves (see docs/providers/command.md, "describe").`,
          },
        );
      }
    }
  }
  const promotion = config.environments[last]?.promotion;
  if (flow === 'automatic' && promotion?.policy === 'manual') {
    throw new UserError(
      'CI_PRECONDITION',
      `--flow automatic promotes to ${last} as soon as its gate holds, but ${config.displayFile} promotes ${last} by hand (promotion: manual): its job would always be refused.`,
      {
        hint: `Use --flow manual or --flow staging-branch, or set environments.${last}.promotion: automatic in ${config.displayFile}.`,
      },
    );
  }
  const approval = promotion?.approval;
  if (flow === 'automatic' && approval && approval.required > 0) {
    throw new UserError(
      'CI_PRECONDITION',
      `--flow automatic promotes to ${last} with no human step, but ${config.displayFile} requires ${approval.required} approval${approval.required === 1 ? '' : 's'} for ${last}: its job would always stop at the gate.`,
      {
        hint: `Use --flow manual (a reviewer approves, then dispatches the promotion), or set environments.${last}.promotion.approval.required: 0 in ${config.displayFile}.`,
      },
    );
  }
}
