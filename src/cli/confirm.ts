/**
 * Confirmation before changing a protected environment. Without `--yes` and without a
 * terminal to ask on, Airlock refuses rather than guessing.
 */
import { UserError } from '../errors.ts';
import type { CommandIO } from './command-io.ts';

/** @throws UserError `CONFIRMATION_REQUIRED` (no terminal, no --yes) or `USAGE` (declined). */
export async function confirmChange(
  io: CommandIO,
  question: string,
  environment: string,
): Promise<void> {
  if (io.globals.yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY || io.globals.json) {
    throw new UserError(
      'CONFIRMATION_REQUIRED',
      `${environment} is a protected environment and there is no terminal to confirm on.`,
      {
        hint: 'Re-run with --yes to confirm.',
      },
    );
  }
  // Loaded only when a question is asked (most runs pass --yes or are not interactive).
  const { createInterface } = process.getBuiltinModule('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes')
      throw new UserError('USAGE', 'cancelled; nothing changed.');
  } finally {
    rl.close();
  }
}
