/**
 * A fly.toml as parity compares it (staging as a mirror of production). A pure reader: no
 * network, no CLI.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { UserError } from '../../errors.ts';
import { flatten } from '../../parity/flatten.ts';
import type { PlatformConfig } from '../provider.ts';

/**
 * A fly.toml as parity sees it: every setting flattened (`primary_region`, `vm.0.memory`,
 * `http_service.internal_port`, `deploy.strategy`, …), mounts as bindings (`volume`), `[env]`
 * names as vars. Secrets are the provider's to add.
 * @throws UserError `PROVIDER_CONFIG_INVALID` naming the file.
 */
export function flyPlatformConfig(file: string): PlatformConfig {
  let data: Record<string, unknown>;
  try {
    data = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${file}: ${(error as Error).message.split('\n')[0]}`,
      { hint: 'Fix the TOML (flyctl reads the same file), or set fly.config in airlock.yaml.' },
    );
  }
  const { env, mounts, ...rest } = data as {
    env?: Record<string, unknown>;
    mounts?: unknown;
  };
  const settings: Record<string, string> = {};
  flatten(rest, '', settings);
  const bindings: Record<string, string> = {};
  for (const mount of Array.isArray(mounts) ? mounts : mounts ? [mounts] : []) {
    const m = mount as { source?: unknown; destination?: unknown };
    if (typeof m.destination === 'string') {
      bindings[m.destination] = 'volume';
      if (typeof m.source === 'string') settings[`mounts.${m.destination}.source`] = m.source;
    }
  }
  return {
    settings,
    bindings,
    vars: Object.keys(env ?? {}).sort(),
    secrets: [],
    sources: [file],
  };
}
