/**
 * What the command provider remembers about one service in one environment, in
 * `<home>/envs/<env>/command/<service>.json`: the release and URL Airlock last deployed there
 * (so `describe` can answer without a `describe` command) and the names of the secrets it set
 * (never their values). Written atomically.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CommandRecord {
  /** Release Airlock last deployed (or rolled back to) successfully; null: none yet. */
  release: string | null;
  url: string | null;
  /** ISO-8601 time that deployment finished. */
  since: string | null;
  /** Names of the secrets set through the `secrets` command, sorted. */
  secrets: string[];
}

export function commandRecordFile(home: string, environment: string, service: string): string {
  return path.join(home, 'envs', environment, 'command', `${service}.json`);
}

const EMPTY: CommandRecord = { release: null, url: null, since: null, secrets: [] };

/** The record in `file`; an empty one when there is none (or it is damaged). */
export function readCommandRecord(file: string): CommandRecord {
  if (!existsSync(file)) return { ...EMPTY };
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<CommandRecord>;
    return {
      release: typeof data.release === 'string' ? data.release : null,
      url: typeof data.url === 'string' ? data.url : null,
      since: typeof data.since === 'string' ? data.since : null,
      secrets: Array.isArray(data.secrets)
        ? data.secrets.filter((s): s is string => typeof s === 'string')
        : [],
    };
  } catch {
    return { ...EMPTY };
  }
}

/** Merges `change` into the record in `file`. */
export function updateCommandRecord(file: string, change: Partial<CommandRecord>): CommandRecord {
  const next = { ...readCommandRecord(file), ...change };
  next.secrets = [...new Set(next.secrets)].sort();
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(next, null, 2)}\n`);
  renameSync(temporary, file);
  return next;
}
