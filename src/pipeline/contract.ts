/**
 * Expand/contract (the parallel change pattern). A migration marked `-- airlock:contract` drops or renames what
 * older code still uses, so it may reach an environment only once the release serving there
 * was built with the schema the contract leaves behind — that is, the release carries the
 * contract migration itself, so its code no longer uses what the migration removes. Until
 * then the contract migration, and every migration after it (migrations run in order), is
 * held back; the next deployment into that environment applies them: a later release's, or
 * the same release's again once it serves there (`airlock deploy` into the first environment,
 * `airlock promote` into a later one, which is not "nothing to promote" while a migration of
 * the release serving there has not run: see `alreadyServing` in decide.ts). An environment
 * where nothing serves yet has no old code to break.
 *
 * The rollback guard is the mirror image: going back to a release that does not carry a
 * contract migration the environment has applied would start code against a schema it does
 * not know (Heroku's and Kamal's rollbacks do exactly that).
 */
import { directivesOf } from '../migrations/directives.ts';
import type { LedgerEntry } from '../migrations/ledger.ts';
import type { MigrationFile } from '../migrations/migration-files.ts';
import type { Release, ReleaseArtifact } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';
import { releaseMigrationFiles } from './release-migration-files.ts';

/** Contract migrations held back in one environment for one service. */
export interface ContractHold {
  /** The first contract migration the serving release does not carry. */
  contract: { version: number; filename: string };
  /** The release serving the environment, which predates it. */
  serving: string;
  /** It and every pending migration after it, in order. */
  heldBack: Array<{ version: number; filename: string }>;
}

/** True when `artifact` carries `file` (same version and checksum). */
export function carries(
  artifact: Pick<ReleaseArtifact, 'migrations'> | undefined,
  file: { version: number; sha256: string },
): boolean {
  return (
    artifact?.migrations.some((m) => m.version === file.version && m.sha256 === file.sha256) ??
    false
  );
}

/**
 * Splits `pending` (in version order) into what may run now and what is held back because
 * `serving` (the release serving the service before this deployment; null when nothing does)
 * does not carry a contract migration among them. Pure.
 */
export function holdBackContracts(
  pending: MigrationFile[],
  service: string,
  serving: Release | null,
): { run: MigrationFile[]; hold: ContractHold | null } {
  if (!serving) return { run: pending, hold: null };
  const artifact = serving.services[service];
  const index = pending.findIndex((f) => directivesOf(f).contract && !carries(artifact, f));
  if (index < 0) return { run: pending, hold: null };
  const contract = pending[index] as MigrationFile;
  return {
    run: pending.slice(0, index),
    hold: {
      contract: { version: contract.version, filename: contract.filename },
      serving: serving.id,
      heldBack: pending.slice(index).map((f) => ({ version: f.version, filename: f.filename })),
    },
  };
}

/**
 * The command that deploys into `env` again, and so applies what was held back there once a
 * release that carries it serves: `airlock deploy` into the first environment, `airlock promote`
 * into a later one.
 */
export function applyCommand(env: { name: string; previous: string | null }): string {
  return `airlock ${env.previous ? 'promote' : 'deploy'} ${env.name}`;
}

/**
 * Why a contract migration is held back in `env`, and what applies it (for plans and
 * `migrate apply`). `release`: the release being deployed, which carries it; without it (files
 * from the working tree) the sentence speaks of a release that carries it.
 */
export function describeHold(
  hold: ContractHold,
  env: { name: string; previous: string | null },
  service: string,
  release?: string,
): string {
  const others = hold.heldBack.length - 1;
  const held =
    others > 0 ? `it and the ${others} migration${others === 1 ? '' : 's'} after it are` : 'it is';
  const them = others > 0 ? 'them' : 'it';
  const next = release
    ? `Once ${release} serves ${env.name}, run \`${applyCommand(env)}\` again to apply ${them}.`
    : `Once a release that carries it serves ${env.name}, \`${applyCommand(env)}\` applies ${them}.`;
  return `${service}: ${hold.contract.filename} is a contract migration and ${env.name} serves ${hold.serving}, which predates it (its code may still use what the migration removes), so ${held} held back. ${next}`;
}

/** A migration applied in an environment that a rollback target does not carry. */
export interface UncarriedContract {
  service: string;
  version: number;
  filename: string;
}

/**
 * The contract migrations in `ledger` that `target` does not carry: rolling back to it would
 * start its code against a schema it does not know. Whether a ledger entry is a contract is
 * read from a release that carries it: the one it ran with, else the newest of `candidates`.
 */
export async function contractsNotCarried(
  ctx: AirlockContext,
  service: string,
  ledger: LedgerEntry[],
  target: Release,
  candidates: Release[],
): Promise<UncarriedContract[]> {
  const out: UncarriedContract[] = [];
  const snapshots = new Map<string, MigrationFile[]>();
  const filesOf = async (release: Release): Promise<MigrationFile[]> => {
    const digest = release.services[service]?.migrationsDigest;
    if (!digest) return [];
    const cached = snapshots.get(digest);
    if (cached) return cached;
    const files = await releaseMigrationFiles(ctx, service, digest);
    snapshots.set(digest, files);
    return files;
  };
  for (const entry of ledger) {
    if (carries(target.services[service], entry)) continue;
    // The release it ran with knows best; then the others, newest first.
    const ordered = [
      ...candidates.filter((r) => r.id === entry.release),
      ...candidates.filter((r) => r.id !== entry.release),
    ];
    for (const release of ordered) {
      if (!carries(release.services[service], entry)) continue;
      const file = (await filesOf(release)).find(
        (f) => f.version === entry.version && f.sha256 === entry.sha256,
      );
      if (file && directivesOf(file).contract)
        out.push({ service, version: entry.version, filename: file.filename });
      break;
    }
  }
  return out;
}
