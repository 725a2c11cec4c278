import type { GateInputs, GateResult } from './gate.ts';

/**
 * Holds when every migration this environment would run has already succeeded on the previous
 * environment with the same checksum, and this environment's ledger agrees with the files.
 * ("Staging gets migrations first; a migration that breaks staging must be fixed
 * before production receives later ones".)
 */
export function evaluateMigrationsGate(inputs: GateInputs): GateResult {
  const { environment, previous } = inputs;
  const notStored = inputs.migrations.find((m) => m.notStored);
  if (notStored) {
    // Not a verdict on the migrations: this machine cannot read them yet.
    return {
      gate: 'migrations',
      status: 'pending',
      reason: `${notStored.service}: ${notStored.notStored} The migrations are checked once they are.`,
      next: `airlock build --commit ${inputs.release.commit.slice(0, 7)}`,
    };
  }
  const problems = inputs.migrations.flatMap((m) =>
    m.problems.map((p) => `${m.service}: ${p.message}`),
  );
  if (problems.length > 0) {
    return {
      gate: 'migrations',
      status: 'fails',
      reason: `${environment.name}'s ledger disagrees with the release's migrations — ${problems.join('; ')}`,
    };
  }
  const missing = inputs.migrations.flatMap((m) =>
    m.notOnPrevious.map(
      (n) =>
        `${m.service}/${n.file.filename} (${n.reason === 'not-applied' ? `not applied on ${previous}` : `different checksum on ${previous}`})`,
    ),
  );
  if (missing.length > 0) {
    return {
      gate: 'migrations',
      status: 'fails',
      reason: `${environment.name} would run migrations that have not succeeded on ${previous} first: ${missing.join(', ')}.`,
      next: `airlock deploy ${previous} --release ${inputs.release.id}`,
    };
  }
  const pending = inputs.migrations.flatMap((m) =>
    m.pending.map((p) => `${m.service}/${p.filename}`),
  );
  const held = inputs.migrations.flatMap((m) =>
    m.held ? [`${m.service}/${m.held.contract.filename}`] : [],
  );
  const heldText = held.length
    ? ` Held back (contract, until a release that carries it serves ${environment.name}): ${held.join(', ')}.`
    : '';
  return {
    gate: 'migrations',
    status: 'holds',
    reason: `${
      pending.length
        ? `${pending.length} pending migration${pending.length === 1 ? '' : 's'} already succeeded on ${previous} with the same checksum (${pending.join(', ')}).`
        : `no pending migrations for ${environment.name}.`
    }${heldText}`,
  };
}
