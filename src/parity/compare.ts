/**
 * Parity (staging as "a 100% production mirror" — identical configuration and
 * resources, only names, databases and secrets differ). The **profile** of one service in one
 * environment is every setting that must match, as dotted keys:
 *
 * - `airlock.*`: the resolved Airlock settings that shape how the service runs and is verified:
 *   provider, run command, health probe, checks by name (→ kind), database engine and migrate
 *   mode, keepWarm/drain/stop timeouts. Not the port, the database URL, or promotion policy
 *   (those differ by design).
 * - `platform.*`: the platform's settings and resources from the user's own files
 *   (`PlatformConfig.settings`: `platform.vm.0.memory`, `platform.compatibility_date`, …).
 * - `bindings.<name>` → its kind (`d1`, `kv`, `volume`, …).
 * - `vars.<NAME>` and `secrets.<NAME>` → `set`: names only, never values.
 *
 * Two profiles are compared key by key; a difference is drift unless a pattern of the allow list
 * (defaults + `parity.allow`) matches its key. Pure, except `readProfile`, which asks the
 * environment's provider for its platform configuration.
 */
import type { ResolvedConfig, ResolvedEnvironment } from '../config/resolve.ts';
import type { PlatformConfig, Provider, ServiceTarget } from '../providers/provider.ts';
import { allowedBy, DEFAULT_PARITY_ALLOW } from './allow-list.ts';

/** The sections of a profile, in the order `airlock diff` prints them. */
export const PARITY_SECTIONS = ['airlock', 'platform', 'bindings', 'vars', 'secrets'] as const;
export type ParitySection = (typeof PARITY_SECTIONS)[number];

export interface ParityProfile {
  environment: string;
  service: string;
  /** Dotted key → value (`set` for var and secret names). */
  entries: Record<string, string>;
  /** Files the platform configuration was read from. */
  sources: string[];
  /** Parts that could not be read, with the reason (`PlatformConfig.unread`); empty when none. */
  unread: string[];
}

export type ParityStatus = 'same' | 'allowed' | 'drift';

/** One key of two profiles, side by side. */
export interface ParityRow {
  key: string;
  section: ParitySection;
  /** Value in the first environment; null when it does not have the key. */
  a: string | null;
  b: string | null;
  status: ParityStatus;
  /** The allow-list pattern that allowed a difference. */
  allowedBy: string | null;
}

export interface ParityComparison {
  service: string;
  a: string;
  b: string;
  rows: ParityRow[];
  drift: ParityRow[];
  allowed: ParityRow[];
  sources: { a: string[]; b: string[] };
  /** What could not be read, `<environment>: <part>: <reason>`: those keys were not compared. */
  unread: string[];
}

/** The allow list in effect: the defaults, then the project's own patterns. */
export function allowList(config: Pick<ResolvedConfig, 'parity'>): string[] {
  return [...DEFAULT_PARITY_ALLOW, ...config.parity.allow];
}

/** The Airlock part of a profile: resolved settings that must match between environments. */
export function airlockEntries(env: ResolvedEnvironment, service: string): Record<string, string> {
  const s = env.services[service];
  if (!s) return {};
  const out: Record<string, string> = { 'airlock.provider': env.provider };
  if (s.run) out['airlock.run'] = s.run;
  out['airlock.health.path'] = s.health.path;
  out['airlock.health.timeoutMs'] = String(s.health.timeoutMs);
  out['airlock.health.intervalMs'] = String(s.health.intervalMs);
  for (const check of s.checks) out[`airlock.checks.${check.name}`] = check.type;
  if (s.database) {
    out['airlock.database.engine'] = s.database.engine;
    out['airlock.database.migrate'] = s.database.migrate;
  }
  out['airlock.keepWarmMs'] = String(s.keepWarmMs);
  out['airlock.drainTimeoutMs'] = String(s.drainTimeoutMs);
  out['airlock.stopTimeoutMs'] = String(s.stopTimeoutMs);
  return out;
}

/**
 * A profile from its parts: Airlock's entries, the platform's configuration, and the var names
 * configured in airlock.yaml (they reach the app too, whatever the platform files say).
 */
export function buildProfile(
  environment: string,
  service: string,
  airlock: Record<string, string>,
  platform: PlatformConfig,
  configVars: string[] = [],
): ParityProfile {
  const entries: Record<string, string> = { ...airlock };
  for (const [key, value] of Object.entries(platform.settings)) entries[`platform.${key}`] = value;
  for (const [name, kind] of Object.entries(platform.bindings)) entries[`bindings.${name}`] = kind;
  for (const name of new Set([...platform.vars, ...configVars])) entries[`vars.${name}`] = 'set';
  for (const name of platform.secrets) entries[`secrets.${name}`] = 'set';
  return {
    environment,
    service,
    entries,
    sources: platform.sources,
    unread: platform.unread ?? [],
  };
}

/**
 * Reads the profile of `service` in `env`: Airlock's settings plus the provider's platform
 * configuration for that environment.
 * @throws what `provider.platformConfig` throws (e.g. UserError `PROVIDER_CONFIG_INVALID`).
 */
export async function readProfile(
  env: ResolvedEnvironment,
  service: string,
  provider: Provider,
  target: ServiceTarget,
): Promise<ParityProfile> {
  const platform = await provider.platformConfig(target);
  const vars = Object.keys(env.services[service]?.vars ?? {});
  return buildProfile(env.name, service, airlockEntries(env, service), platform, vars);
}

function sectionOf(key: string): ParitySection {
  const head = key.split('.')[0] as ParitySection;
  return (PARITY_SECTIONS as readonly string[]).includes(head) ? head : 'platform';
}

/** Compares two profiles of one service, every key side by side. */
export function compareProfiles(
  a: ParityProfile,
  b: ParityProfile,
  allow: readonly string[],
): ParityComparison {
  // Each key's section once (a page compares every service of two environments).
  const sections = new Map<string, ParitySection>();
  for (const key of Object.keys(a.entries)) sections.set(key, sectionOf(key));
  for (const key of Object.keys(b.entries))
    if (!sections.has(key)) sections.set(key, sectionOf(key));
  const order = (k: string) => PARITY_SECTIONS.indexOf(sections.get(k) as ParitySection);
  const keys = [...sections.keys()];
  keys.sort((x, y) => order(x) - order(y) || (x < y ? -1 : x > y ? 1 : 0));
  const rows: ParityRow[] = keys.map((key) => {
    const va = a.entries[key] ?? null;
    const vb = b.entries[key] ?? null;
    const section = sections.get(key) as ParitySection;
    if (va === vb) return { key, section, a: va, b: vb, status: 'same', allowedBy: null };
    const pattern = allowedBy(key, allow);
    return {
      key,
      section,
      a: va,
      b: vb,
      status: pattern ? 'allowed' : 'drift',
      allowedBy: pattern,
    };
  });
  return {
    service: a.service,
    a: a.environment,
    b: b.environment,
    rows,
    drift: rows.filter((r) => r.status === 'drift'),
    allowed: rows.filter((r) => r.status === 'allowed'),
    sources: { a: a.sources, b: b.sources },
    unread: [
      ...a.unread.map((u) => `${a.environment}: ${u}`),
      ...b.unread.map((u) => `${b.environment}: ${u}`),
    ],
  };
}

/**
 * What the parity gate needs of two profiles: the drifting rows (in `compareProfiles`' order),
 * how many differences the allow list allowed, and what could not be read; the same answers as
 * `compareProfiles`, without a row per equal key (a plan compares every service).
 */
export function compareForGate(
  a: ParityProfile,
  b: ParityProfile,
  allow: readonly string[],
): { drift: ParityRow[]; allowed: number; unread: string[] } {
  const drift: ParityRow[] = [];
  let allowed = 0;
  const differing = (key: string) => {
    const va = a.entries[key] ?? null;
    const vb = b.entries[key] ?? null;
    if (va === vb) return;
    const pattern = allowedBy(key, allow);
    if (pattern) allowed++;
    else
      drift.push({ key, section: sectionOf(key), a: va, b: vb, status: 'drift', allowedBy: null });
  };
  for (const key of Object.keys(a.entries)) differing(key);
  for (const key of Object.keys(b.entries)) if (!(key in a.entries)) differing(key);
  const order = (r: ParityRow) => PARITY_SECTIONS.indexOf(r.section);
  drift.sort((x, y) => order(x) - order(y) || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return {
    drift,
    allowed,
    unread: [
      ...a.unread.map((u) => `${a.environment}: ${u}`),
      ...b.unread.map((u) => `${b.environment}: ${u}`),
    ],
  };
}

/** `platform.vm.0.memory (1gb on staging, 512mb on production)`, `secrets.X (only on staging)`. */
export function describeDifference(
  row: Pick<ParityRow, 'key' | 'a' | 'b'>,
  a: string,
  b: string,
): string {
  if (row.a === null) return `${row.key} (only on ${b})`;
  if (row.b === null) return `${row.key} (only on ${a})`;
  return `${row.key} (${row.a} on ${a}, ${row.b} on ${b})`;
}
