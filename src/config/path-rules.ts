/**
 * Every folder or file airlock.yaml names stays inside the project: a service's `root`, its
 * build `output`, its migrations folder, a provider's configuration file and an environment's
 * allowed-signers file. A path that climbs
 * out (`../../etc`) or reaches outside through a symbolic link is refused, because Airlock writes
 * next to some of them (the migrations integrity file) and ships what others hold (the build
 * output). Checked lexically first, then on the real path of the nearest part that exists.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { ConfigPath, Finding } from './diagnostics.ts';
import type { Config } from './schema.ts';

/** Where `target` really is: the real path of its nearest existing ancestor plus the rest. */
function realLocation(target: string): string {
  const rest: string[] = [];
  let current = target;
  for (;;) {
    try {
      return path.join(realpathSync(current), ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return target;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

function inside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

interface NamedPath {
  path: ConfigPath;
  value: string;
  /** The folder the value is relative to. */
  base: string;
  what: string;
}

function namedPaths(config: Config, projectDir: string): NamedPath[] {
  const out: NamedPath[] = [];
  for (const [name, service] of Object.entries(config.services)) {
    const at: ConfigPath = ['services', name];
    out.push({
      path: [...at, 'root'],
      value: service.root,
      base: projectDir,
      what: 'service root',
    });
    const serviceDir = path.resolve(projectDir, service.root);
    out.push({
      path: [...at, 'build', 'output'],
      value: service.build.output,
      base: serviceDir,
      what: 'build output',
    });
    const migrations = service.database?.migrations;
    if (migrations !== undefined) {
      const isString = typeof migrations === 'string';
      out.push({
        path: isString
          ? [...at, 'database', 'migrations']
          : [...at, 'database', 'migrations', 'dir'],
        value: isString ? migrations : migrations.dir,
        base: serviceDir,
        what: 'migrations folder',
      });
    }
    const providerFiles = (sections: Record<string, unknown>, prefix: ConfigPath) => {
      for (const provider of ['cloudflare', 'fly'] as const) {
        const file = (sections[provider] as { config?: string } | undefined)?.config;
        if (file)
          out.push({
            path: [...prefix, provider, 'config'],
            value: file,
            base: serviceDir,
            what: `${provider} configuration file`,
          });
      }
    };
    providerFiles(service as unknown as Record<string, unknown>, at);
    for (const [envName, env] of Object.entries(config.environments)) {
      const override = env.services?.[name];
      if (override)
        providerFiles(override as unknown as Record<string, unknown>, [
          'environments',
          envName,
          'services',
          name,
        ]);
    }
  }
  // The allowed-signers file (and the signed approvals committed beside it).
  for (const [envName, env] of Object.entries(config.environments)) {
    const promotion = env.promotion;
    const file = typeof promotion === 'object' ? promotion.approval?.allowedSigners : undefined;
    if (file)
      out.push({
        path: ['environments', envName, 'promotion', 'approval', 'allowedSigners'],
        value: file,
        base: projectDir,
        what: 'allowed-signers file',
      });
  }
  return out;
}

/**
 * Findings (errors) for configured paths that leave `projectDir` (the folder of airlock.yaml),
 * by `..`, by an absolute path, or through a symbolic link. Reads the filesystem (realpath).
 */
export function checkPaths(config: Config, projectDir: string): Finding[] {
  const root = path.resolve(projectDir);
  const realRoot = realLocation(root);
  const findings: Finding[] = [];
  for (const p of namedPaths(config, root)) {
    const target = path.resolve(p.base, p.value);
    if (!inside(root, target)) {
      findings.push({
        severity: 'error',
        path: p.path,
        message: `the ${p.what} "${p.value}" is outside the project (${target}); Airlock reads and writes only inside the folder of airlock.yaml.`,
        fix: `name a folder inside the project, relative to ${p.base === root ? 'airlock.yaml' : 'the service root'} (move the files into the project if they live elsewhere).`,
      });
      continue;
    }
    const real = realLocation(target);
    if (!inside(realRoot, real)) {
      findings.push({
        severity: 'error',
        path: p.path,
        message: `the ${p.what} "${p.value}" leads outside the project through a symbolic link (it is really ${real}).`,
        fix: 'replace the link with the real folder inside the project, or point the field at a folder inside it.',
      });
    }
  }
  return findings;
}
