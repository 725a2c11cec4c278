/**
 * Secrets of the local provider: one JSON file per environment and service,
 * `<home>/envs/<env>/secrets/<service>.json`, mode 0600 in a 0700 folder (wrangler's
 * `.dev.vars`, kept per environment). The app process reads them at spawn: values never pass
 * through the runtime's state, its logs or a command line. They take effect at the next
 * deployment, as on the platforms.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The secrets file of one service in one environment. */
export function localSecretsFile(home: string, environment: string, service: string): string {
  return path.join(home, 'envs', environment, 'secrets', `${service}.json`);
}

/** The secrets in `file` ({} when there is none). A damaged file reads as none rather than failing a spawn. */
export function readLocalSecrets(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!data || typeof data !== 'object' || Array.isArray(data)) return {};
    return Object.fromEntries(
      Object.entries(data).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
  } catch {
    return {};
  }
}

/** Sets (creates or replaces) `secrets` in `file`, atomically, owner-only. */
export function writeLocalSecrets(file: string, secrets: Record<string, string>): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(file), 0o700);
  const merged = { ...readLocalSecrets(file), ...secrets };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}
