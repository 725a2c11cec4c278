import path from 'node:path';
import { environmentNamed } from '../config/environments.ts';
import { UserError } from '../errors.ts';
import {
  allowList,
  compareProfiles,
  PARITY_SECTIONS,
  type ParityComparison,
  type ParitySection,
  readProfile,
} from '../parity/compare.ts';
import { serviceTarget } from '../pipeline/context.ts';
import { createProviders } from '../providers/registry.ts';
import { describeSharedValue, type SharedValue, sharedValues } from '../secrets/fingerprint.ts';
import { openStateStore } from '../state/open-state-store.ts';
import type { CommandIO } from './command-io.ts';
import { airlockHome, loadProjectConfig, localRuntimeOptions } from './session.ts';

const SECTION_TITLES: Record<ParitySection, string> = {
  airlock: 'Airlock settings',
  platform: 'Platform settings and resources',
  bindings: 'Bindings (name → kind)',
  vars: 'Vars (names)',
  secrets: 'Secrets (names)',
};

/**
 * `airlock diff <a> <b> [--service S]`: the two environments' profiles side by side (staging as
 * a production mirror) — Airlock settings, platform settings and resources, bindings with their kinds, var
 * and secret names (never values) — each difference marked as drift or as allowed (and by which
 * pattern) — and secret values the two hold alike (keyed fingerprints), refused unless the names are
 * in `secrets.shared`. Exit 1 when there is drift. Reads only: nothing is deployed or changed.
 */
export async function diffCommand(
  io: CommandIO,
  a: string,
  b: string,
  opts: { service?: string },
): Promise<number> {
  const config = await loadProjectConfig(io.globals);
  const envA = environmentNamed(config, a);
  const envB = environmentNamed(config, b);
  if (envA.name === envB.name) {
    throw new UserError('USAGE', `airlock diff compares two environments; both are ${a}.`, {
      hint: `Run \`airlock diff ${config.pipeline[0]} ${config.pipeline[1] ?? '<environment>'}\`.`,
    });
  }
  if (opts.service && !config.services.includes(opts.service)) {
    throw new UserError('UNKNOWN_SERVICE', `there is no service "${opts.service}".`, {
      hint: `Services are: ${config.services.join(', ')}.`,
    });
  }
  const home = airlockHome(config);
  const providerFor = await createProviders(config, {
    home,
    env: process.env,
    local: localRuntimeOptions(config, home),
  });
  const allow = allowList(config);
  const comparisons: ParityComparison[] = [];
  for (const service of opts.service ? [opts.service] : config.services) {
    const side = (env: typeof envA) =>
      readProfile(env, service, providerFor(env), serviceTarget(config, env, service));
    comparisons.push(compareProfiles(await side(envA), await side(envB), allow));
  }

  for (const c of comparisons) render(io, c, config.dir);
  // Equal values are known only by the keyed fingerprints `airlock secret set` records.
  const store = await openStateStore(config.state);
  let values: SharedValue[];
  try {
    const fingerprints = (await store.listSecretFingerprints()).filter(
      (f) => f.environment === envA.name || f.environment === envB.name,
    );
    values = sharedValues(fingerprints, envB.name, config.secrets.shared);
  } finally {
    await store.close();
  }
  const refused = values.filter((v) => !v.allowed);
  if (values.length > 0) {
    io.reporter.info('  Secret values (by keyed fingerprint; values are never shown)');
    for (const v of values)
      io.reporter.info(
        `  ${v.allowed ? '≈' : '✖'} ${describeSharedValue(v)} — ${v.allowed ? 'shared on purpose (secrets.shared)' : 'refused: not in secrets.shared'}`,
      );
  }
  const drift = comparisons.flatMap((c) => c.drift.map((r) => `${c.service}: ${r.key}`));
  const unread = comparisons.flatMap((c) => c.unread.map((u) => `${c.service}: ${u}`));
  const allowed = comparisons.reduce((n, c) => n + c.allowed.length, 0);
  const compared = comparisons.reduce((n, c) => n + c.rows.length, 0);
  io.reporter.result({
    diff: {
      environments: [envA.name, envB.name],
      allow,
      gate: config.parity.gate,
      services: comparisons.map((c) => ({
        service: c.service,
        sources: { [envA.name]: c.sources.a, [envB.name]: c.sources.b },
        rows: c.rows,
        drift: c.drift.map((r) => r.key),
        allowed: c.allowed.map((r) => r.key),
        unread: c.unread,
      })),
    },
    drift: drift.length > 0,
    complete: unread.length === 0,
    sharedValues: values.map((v) => ({
      name: v.name,
      other: v.other,
      status: v.allowed ? 'allowed' : 'refused',
    })),
  });
  if (refused.length > 0) {
    io.reporter.info(
      `✖ ${envA.name} and ${envB.name} share ${refused.length} secret value${refused.length === 1 ? '' : 's'} under names not in secrets.shared: ${refused.map((v) => v.name).join(', ')}.`,
    );
    io.reporter.note(
      `  Give each environment its own value (\`airlock secret set ${envB.name} <NAME>\`), or list external keys shared on purpose in secrets.shared (docs/secrets.md).`,
    );
    return 1;
  }
  if (drift.length > 0) {
    io.reporter.info(
      `✖ ${envA.name} and ${envB.name} differ outside the allow list in ${drift.length} key${drift.length === 1 ? '' : 's'} (${drift.join(', ')}); ${allowed} allowed difference${allowed === 1 ? '' : 's'}${unread.length ? `; ${unread.length} part${unread.length === 1 ? ' was' : 's were'} not read` : ''}.`,
    );
    io.reporter.note(
      '  Make them match, or add the keys (globs allowed) to parity.allow in airlock.yaml (docs/parity.md).',
    );
    return 1;
  }
  if (unread.length > 0) {
    // Not drift, but not a proven mirror either: scripts relying on exit 0 must not pass.
    io.reporter.info(
      `✖ ${envB.name} matches ${envA.name} in the ${compared} keys compared, but ${unread.length === 1 ? 'one part was' : `${unread.length} parts were`} not read: ${unread.join('; ')}.`,
    );
    io.reporter.note(
      '  Give Airlock access to both platforms (their CLI and tokens) and run it again; the parity gate fails until it can read them.',
    );
    return 1;
  }
  io.reporter.success(
    `${envB.name} mirrors ${envA.name}: ${compared} keys compared, ${allowed} allowed difference${allowed === 1 ? '' : 's'}${values.length ? `; ${values.length} secret value${values.length === 1 ? '' : 's'} shared on purpose (secrets.shared)` : ''}.`,
  );
  return 0;
}

function render(io: CommandIO, c: ParityComparison, dir: string): void {
  io.reporter.heading(`${c.service}: ${c.a} ↔ ${c.b}`);
  const shown = (file: string) => {
    const rel = path.relative(dir, file);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
  };
  const sources = (list: string[]) => (list.length ? list.map(shown).join(', ') : '—');
  io.reporter.note(`  read from ${c.a}: ${sources(c.sources.a)}; ${c.b}: ${sources(c.sources.b)}`);
  for (const u of c.unread) io.reporter.info(`  ⚠ not compared — ${u}`);
  const show = (value: string | null) => value ?? '—';
  for (const section of PARITY_SECTIONS) {
    const rows = c.rows.filter((r) => r.section === section);
    io.reporter.info(`  ${SECTION_TITLES[section]}`);
    if (rows.length === 0) {
      const unread = section === 'secrets' && c.unread.some((u) => u.includes('secret names'));
      io.reporter.note(unread ? '    (not read: see above)' : '    (none)');
      continue;
    }
    io.reporter.table(
      ['', 'key', c.a, c.b, ''],
      rows.map((r) => [
        r.status === 'drift' ? '✖' : r.status === 'allowed' ? '≈' : ' ',
        r.key,
        show(r.a),
        show(r.b),
        r.status === 'drift' ? 'drift' : r.status === 'allowed' ? `allowed (${r.allowedBy})` : '',
      ]),
    );
  }
}
