/**
 * A vitest reporter that ends every shuffled run with its seed and the command that replays
 * the same order of files and tests (vitest prints the seed only in its banner, at the top of
 * a long log). Registered in vitest.config.ts beside the default reporter.
 */
import type { Reporter, Vitest } from 'vitest/node';

export default class SeedReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(): void {
    const seed = this.vitest?.getSeed();
    if (seed === null || seed === undefined) return;
    process.stdout.write(
      `\nTests ran in a random order, seed ${seed}. Replay that order: npx vitest run --sequence.seed=${seed}\n`,
    );
  }
}
