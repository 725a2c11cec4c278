/**
 * Rules the schema alone cannot express: cross-references between the pipeline, environments
 * and services; ports that must be unique; per-environment fields that must be set; and
 * wrangler's warning for fields that environments do not inherit. Pure.
 */
import { didYouMean, dotted, type Finding } from './diagnostics.ts';
import type { Config } from './schema.ts';

export function checkRules(config: Config): Finding[] {
  const findings: Finding[] = [];
  const envNames = Object.keys(config.environments);
  const serviceNames = Object.keys(config.services);

  // The pipeline names each environment once, and every one of them is defined.
  const seen = new Map<string, number>();
  config.pipeline.forEach((name, i) => {
    const first = seen.get(name);
    if (first !== undefined) {
      findings.push({
        severity: 'error',
        path: ['pipeline', i],
        message: `environment "${name}" appears twice (also at pipeline[${first}]).`,
        fix: 'list each environment once, in promotion order.',
      });
      return;
    }
    seen.set(name, i);
    if (!config.environments[name]) {
      const guess = didYouMean(name, envNames);
      findings.push({
        severity: 'error',
        path: ['pipeline', i],
        message: `environment "${name}" is not defined under environments.`,
        fix: guess
          ? `did you mean "${guess}"?`
          : `add an environments.${name} section, or remove "${name}" from the pipeline.`,
      });
    }
  });
  for (const name of envNames) {
    if (!config.pipeline.includes(name)) {
      findings.push({
        severity: 'error',
        path: ['environments', name],
        at: 'key',
        message: `environment "${name}" is not in the pipeline, so nothing could ever reach it.`,
        fix: `add "${name}" to pipeline (in promotion order), or remove environments.${name}.`,
      });
    }
  }

  // secrets.required per environment names environments of the pipeline.
  const required = config.secrets?.required;
  if (required && !Array.isArray(required)) {
    for (const name of Object.keys(required)) {
      if (config.pipeline.includes(name)) continue;
      const guess = didYouMean(name, config.pipeline);
      findings.push({
        severity: 'error',
        path: ['secrets', 'required', name],
        at: 'key',
        message: `environment "${name}" is not in the pipeline.`,
        fix: guess ? `did you mean "${guess}"?` : `use one of: ${config.pipeline.join(', ')}.`,
      });
    }
  }

  // Per-environment service settings refer to real services, and ports are set and unique.
  const ports = new Map<number, string>();
  const allPorts = new Set<number>();
  for (const env of Object.values(config.environments))
    for (const s of Object.values(env.services ?? {}))
      if (s.port !== undefined) allPorts.add(s.port);
  const freePort = (from: number): number => {
    let p = from + 1;
    while (allPorts.has(p) && p < 65535) p++;
    allPorts.add(p);
    return p;
  };
  for (const envName of config.pipeline) {
    const env = config.environments[envName];
    if (!env) continue;
    for (const name of Object.keys(env.services ?? {})) {
      if (!config.services[name]) {
        const guess = didYouMean(name, serviceNames);
        findings.push({
          severity: 'error',
          path: ['environments', envName, 'services', name],
          at: 'key',
          message: `unknown service "${name}" (services are: ${serviceNames.join(', ')}).`,
          fix: guess
            ? `did you mean "${guess}"?`
            : `define services.${name}, or remove this block.`,
        });
      }
    }
    for (const service of serviceNames) {
      const override = env.services?.[service];
      const port = override?.port;
      const base = config.services[service];
      // The local target (and wrangler dev behind it) serves each environment on its own port.
      const cloudflareMode = override?.cloudflare?.mode ?? base?.cloudflare?.mode ?? 'remote';
      const runsHere =
        env.provider === 'local' || (env.provider === 'cloudflare' && cloudflareMode === 'local');
      if (runsHere && port === undefined) {
        findings.push({
          severity: 'error',
          path: ['environments', envName, 'services', service, 'port'],
          at: 'key',
          message: `is required: ${env.provider === 'local' ? 'the local provider' : 'cloudflare in local mode'} serves each environment on its own stable port.`,
          fix: `add \`port: ${4100 + 100 * config.pipeline.indexOf(envName) + serviceNames.indexOf(service)}\` under environments.${envName}.services.${service}.`,
        });
      }
      if (env.provider === 'local' && base && !(override?.run ?? base.run)) {
        findings.push({
          severity: 'error',
          path: ['services', service, 'run'],
          at: 'key',
          message: `is required: the local provider starts ${service} with this command (it must listen on $PORT).`,
          fix: `add \`run: node server.js\` (run inside the build output) under services.${service}.`,
        });
      }
      if (port !== undefined) {
        const other = ports.get(port);
        if (other) {
          findings.push({
            severity: 'error',
            path: ['environments', envName, 'services', service, 'port'],
            message: `port ${port} is already used by ${other}; each environment and service needs its own port.`,
            fix: `choose a free port, e.g. \`port: ${freePort(port)}\`.`,
          });
        } else {
          ports.set(port, `environments.${envName}.services.${service}.port`);
        }
      }
      // wrangler's warning: vars are not inherited.
      const topVars = config.services[service]?.vars;
      if (topVars && Object.keys(topVars).length > 0 && override?.vars === undefined) {
        findings.push({
          severity: 'warning',
          path: ['services', service, 'vars'],
          at: 'key',
          message: `vars exists at the top level, but not on environments.${envName}.services.${service}.vars. This is not what you probably want, since vars are not inherited by environments.`,
          fix: `copy the vars into environments.${envName}.services.${service}.vars (with that environment's values).`,
        });
      }
    }
  }

  // Check names are unique per service, wherever the list is set.
  const checkLists: Array<{ path: (string | number)[]; names: string[] }> = [];
  for (const [service, s] of Object.entries(config.services)) {
    checkLists.push({
      path: ['services', service, 'checks'],
      names: (s.checks ?? []).map((c) => c.name),
    });
  }
  for (const [envName, env] of Object.entries(config.environments)) {
    for (const [service, s] of Object.entries(env.services ?? {})) {
      if (s.checks)
        checkLists.push({
          path: ['environments', envName, 'services', service, 'checks'],
          names: s.checks.map((c) => c.name),
        });
    }
  }
  for (const list of checkLists) {
    list.names.forEach((name, i) => {
      const first = list.names.indexOf(name);
      if (first !== i) {
        findings.push({
          severity: 'error',
          path: [...list.path, i, 'name'],
          message: `check "${name}" is defined twice in this list (first at ${dotted([...list.path, first])}).`,
          fix: 'give each check its own name; history and output refer to checks by name.',
        });
      }
    });
  }

  // The first environment is deployed directly; a promotion policy there would do nothing.
  const first = config.pipeline[0];
  if (first && config.environments[first]?.promotion !== undefined) {
    findings.push({
      severity: 'warning',
      path: ['environments', first, 'promotion'],
      at: 'key',
      message: `is ignored: ${first} is the first environment of the pipeline, so releases are deployed into it directly, not promoted.`,
      fix: `remove environments.${first}.promotion.`,
    });
  }

  // `identity: oidc` needs to know which repository's tokens may approve.
  for (const [name, env] of Object.entries(config.environments)) {
    const promotion = env.promotion;
    if (typeof promotion !== 'object') continue;
    const approval = promotion.approval;
    if (approval?.identity === 'oidc' && !approval.oidc) {
      findings.push({
        severity: 'error',
        path: ['environments', name, 'promotion', 'approval', 'identity'],
        message:
          'is oidc, but approval.oidc.repository is not set, so no token could be checked against a repository.',
        fix: `add environments.${name}.promotion.approval.oidc: { repository: <owner>/<name> }.`,
      });
    }
  }

  return findings;
}
