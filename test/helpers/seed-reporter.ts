/**
 * A vitest reporter that ends every shuffled run with its seed and the command that replays
 * the same order of files and tests (vitest prints the seed only in its banner, at the top of
 * a long log), and with the slowest test files (wall time in ms, from vitest's own module
 * timings) — CI has a time budget, and this says where it goes. Registered in vitest.config.ts
 * beside the default reporter.
 */
import type { Reporter, TestModule, Vitest } from 'vitest/node';

/** How many of the slowest files the summary names. */
const SLOWEST = 12;

export default class SeedReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const timed = modules
      .map((m) => ({ file: m.moduleId, ms: m.diagnostic().duration }))
      .filter((t) => Number.isFinite(t.ms))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SLOWEST);
    if (timed.length > 1) {
      const root = this.vitest?.config.root ?? '';
      process.stdout.write(`\nSlowest test files (wall time):\n`);
      for (const t of timed)
        process.stdout.write(
          `  ${(t.ms / 1000).toFixed(1).padStart(7)} s  ${t.file.startsWith(root) ? t.file.slice(root.length + 1) : t.file}\n`,
        );
    }
    const seed = this.vitest?.getSeed();
    if (seed === null || seed === undefined) return;
    process.stdout.write(
      `\nTests ran in a random order, seed ${seed}. Replay that order: npx vitest run --sequence.seed=${seed}\n`,
    );
  }
}
