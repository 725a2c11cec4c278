/**
 * CPU time of `airlock promote production` (user + system, the CLI and the children it waits
 * for; the app's own boot runs in the runtime daemon and is not counted), for one or more
 * checkouts of Airlock on the same machine, interleaved: a figure that a busy machine disturbs
 * far less than wall time, for "is this change slower than that commit?".
 *
 *     git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci)
 *     node bench/promotion-cpu.ts --runs 9 --rounds 2 . /tmp/base
 *
 * Prints one line per checkout and round, then the medians over all rounds and each checkout's
 * ratio to the first. Uses the bench's notes project (bench/project.ts of each checkout).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './stats.ts';

interface Options {
  runs: number;
  rounds: number;
  checkouts: string[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { runs: 7, rounds: 1, checkouts: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--runs') options.runs = Number(argv[++i]);
    else if (arg === '--rounds') options.rounds = Number(argv[++i]);
    else options.checkouts.push(path.resolve(arg));
  }
  if (options.checkouts.length === 0) options.checkouts.push(path.resolve('.'));
  return options;
}

/** CPU ms of each of `runs` promotions of a fresh bench project built by `checkout`'s code. */
async function measure(checkout: string, runs: number): Promise<number[]> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-cpu-home-'));
  process.env.AIRLOCK_HOME = home;
  const { createBenchProject, killStrayChildren, BIN } = await import(
    path.join(checkout, 'bench', 'project.ts')
  );
  const { stageAndApprove } = await import(path.join(checkout, 'bench', 'promotion.ts'));
  const project = await createBenchProject();
  const cpu: number[] = [];
  try {
    await stageAndApprove(project);
    await project.cli(['promote', 'production', '--yes', '--json']);
    for (let i = 0; i < runs; i++) {
      project.commitChange(`cpu ${i}`, { migration: true });
      await stageAndApprove(project);
      const run = spawnSync(
        'bash',
        [
          '-c',
          'TIMEFORMAT="%3U %3S"; time "$@" >/dev/null',
          'time',
          process.execPath,
          BIN,
          'promote',
          'production',
          '--yes',
          '--json',
        ],
        {
          cwd: project.dir,
          env: { ...process.env, AIRLOCK_ACTOR: 'dev@airlock.demo', CI: '1', NO_COLOR: '1' },
          encoding: 'utf8',
        },
      );
      if (run.status !== 0) throw new Error(`promote failed:\n${run.stdout}${run.stderr}`);
      const [user, system] = (run.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
      cpu.push(Math.round(((user ?? Number.NaN) + (system ?? Number.NaN)) * 1000));
    }
  } finally {
    killStrayChildren();
    await project.cleanup().catch(() => {});
    rmSync(home, { recursive: true, force: true });
  }
  return cpu;
}

const options = parseArgs(process.argv.slice(2));
const all = new Map<string, number[]>(options.checkouts.map((c) => [c, []]));
for (let round = 1; round <= options.rounds; round++) {
  for (const checkout of options.checkouts) {
    const cpu = await measure(checkout, options.runs);
    all.get(checkout)?.push(...cpu);
    console.log(`round ${round} ${checkout}: median ${median(cpu)} ms CPU [${cpu.join(', ')}]`);
  }
}
const first = median(all.get(options.checkouts[0] as string) ?? []);
console.log('\ncheckout | promote CPU median (ms) | ratio to the first');
for (const [checkout, cpu] of all)
  console.log(`${checkout} | ${median(cpu)} | ${(median(cpu) / first).toFixed(2)}×`);
