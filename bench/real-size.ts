/**
 * (i) A real-size release. The notes example with the production dependencies of a realistic
 * service (the npm packages of `bench/real-size/package-lock.json`, installed with `npm ci
 * --ignore-scripts` once into a cache folder under the system's temporary folder and reused by
 * later runs) copied into its build output: thousands of files, tens of MB. Measured side by side
 * in one run, with `cp -a` and a single-threaded `sha256sum` (`find | xargs -0 sha256sum`: one
 * process at a time) over the same tree as baselines:
 *
 * - storing a build (`ArtifactStore.put`), verifying it with no verified cache (`--verify full`)
 *   and with a warm one, and the first materialization into a new folder (in process), as the
 *   deploy step runs it (after the command's verify step, with the same store) and with its
 *   verification (a fresh store); the
 *   warm verification also as the first call of a fresh process (bench/verify-once.ts), which is
 *   what a command pays: its code not yet compiled;
 * - the floors of the last two, in the same run: `find -printf` of every store object's inode,
 *   size, times and mode (a native stat of each, which a warm verification cannot do without)
 *   and `cp -al` of the tree (every folder and hard link, which a linked materialization makes),
 *   taken right before the materialization, both after a `sync` (see `settle`);
 * - the disk a second release that changes one file adds to the store (`du`);
 * - `airlock promote production` (whole command; Airlock's overhead is the wall time minus app
 *   boot, checks and migration SQL, as in (a)), and warm and cold `airlock rollback production`
 *   (whole command, as in (c)). Warm rollbacks run three times: with the bench polling
 *   production's /version every 2 ms (spawn → served), then without (the whole command as a user
 *   runs it: the poll competes for the same CPUs), then without the example's e2e check (its
 *   smoke check, an HTTP request Airlock makes itself, stays; after one unmeasured rollback, so
 *   that the changed airlock.yaml's validation is not in a measured one). The e2e script is also timed alone
 *   against production (spawn → exit), the floor any rollback that runs it cannot go below.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { ArtifactStore } from '../src/releases/artifact-store.ts';
import { scanTree } from '../src/releases/manifest.ts';
import { type BenchProject, cliJson, createBenchProject, log, stepOf } from './project.ts';
import { stageAndApprove } from './promotion.ts';
import { row, type Section } from './report.ts';
import { measureRollback, prepareColdRollback, type RollbackIteration } from './rollback.ts';
import { median, p95, round1 } from './stats.ts';

const PACKAGE_DIR = fileURLToPath(new URL('./real-size/', import.meta.url));
const VERIFY_ONCE = fileURLToPath(new URL('./verify-once.ts', import.meta.url));

export interface RealSizeOptions {
  /** Repetitions of each in-process and baseline measurement. */
  runs: number;
  promotions: number;
  rollbacks: number;
}

export interface RealSizeResult {
  files: number;
  bytes: number;
  installDir: string;
  cpMs: number[];
  /** `cp -al` of the same tree: hard links alone, the floor of any linked materialization. */
  cpLinkMs: number[];
  sha256sumMs: number[];
  /** `find -printf` of every store object's inode, size, times and mode: a native stat of each. */
  statWalkMs: number[];
  storeMs: number[];
  verifyColdMs: number[];
  verifyWarmMs: number[];
  /** The first (warm) verification in a fresh process: what a command pays. */
  verifyFirstMs: number[];
  /**
   * The first materialization into a new folder as the deploy step runs it: after the command's
   * verify step, with the same store (not verified again).
   */
  materializeMs: number[];
  /** Verification and first materialization together, in a fresh store (both steps). */
  verifyMaterializeMs: number[];
  /** Bytes the store grew by when a release changing one file was stored. */
  secondReleaseBytes: number;
  promotions: Array<{ release: string; wallMs: number; overheadMs: number; bootMs: number }>;
  /** Warm rollbacks with the bench polling /version (spawn → served). */
  warm: RollbackIteration[];
  /** The same without the poll: the whole command's figures. */
  warmUnpolled: RollbackIteration[];
  /** Warm, without the poll, with the smoke check only (the e2e check left out of airlock.yaml). */
  warmHttpChecks: RollbackIteration[];
  /** `node e2e/notes.e2e.mjs` against production by itself, spawn → exit (ms). */
  e2eAloneMs: number[];
  cold: RollbackIteration[];
  /** `node -e 0` from spawn to exit, in the same run: the floor of any command's wall time. */
  nodeStartMs: number[];
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const started = performance.now();
  const value = fn();
  return { ms: performance.now() - started, value };
}

/**
 * Flushes what earlier steps wrote (`sync`), so the next timed step does not share the disk with
 * their writeback: before the materialization and before its floor, `cp -al`, alike. A promotion
 * meets a store written long before (build, staging deployment, checks), not one being written
 * back. The `cp -a` baseline is left as it was (a `sync` right before it made it slower here,
 * which would flatter the ratio).
 */
function settle(): void {
  execFileSync('sync');
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

/**
 * The installed dependencies, from the committed lockfile; installed once per lockfile into
 * `<tmp>/airlock-bench-real-size-<hash>/` and reused by later runs.
 */
export function installRealSizeTree(): string {
  const lock = readFileSync(path.join(PACKAGE_DIR, 'package-lock.json'));
  const dir = path.join(
    os.tmpdir(),
    `airlock-bench-real-size-${createHash('sha256').update(lock).digest('hex').slice(0, 12)}`,
  );
  const done = path.join(dir, '.installed');
  if (existsSync(done)) return dir;
  log(`real size: installing the packages of bench/real-size/package-lock.json into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of ['package.json', 'package-lock.json'])
    cpSync(path.join(PACKAGE_DIR, file), path.join(dir, file));
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(done, `${new Date().toISOString()}\n`);
  return dir;
}

/** Disk used by `dir` in bytes (`du -s -B1`: hard links counted once). */
function diskUsed(dir: string): number {
  return Number(execFileSync('du', ['-s', '-B1', dir], { encoding: 'utf8' }).split(/\s/)[0]);
}

/** Drops a folder of read-only files. */
function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function measureRealSize(options: RealSizeOptions): Promise<RealSizeResult> {
  const installDir = installRealSizeTree();
  const scratch = path.join(os.tmpdir(), `airlock-bench-real-size-run-${process.pid}`);
  remove(scratch);
  mkdirSync(scratch, { recursive: true });
  try {
    // The tree: the notes app's build output with the dependencies, as the project builds it.
    const tree = path.join(scratch, 'tree');
    mkdirSync(tree);
    execFileSync(
      'cp',
      ['-a', path.join(installDir, 'node_modules'), path.join(tree, 'node_modules')],
      {
        stdio: 'ignore',
      },
    );
    writeFileSync(path.join(tree, 'server.js'), "console.log('real size')\n");
    const scan = await scanTree(tree);
    const files = scan.files.length;
    const bytes = scan.files.reduce((sum, f) => sum + f.stat.size, 0);
    log(`real size: ${files} files, ${(bytes / 1e6).toFixed(1)} MB`);

    const result: RealSizeResult = {
      files,
      bytes,
      installDir,
      cpMs: [],
      cpLinkMs: [],
      sha256sumMs: [],
      statWalkMs: [],
      storeMs: [],
      verifyColdMs: [],
      verifyWarmMs: [],
      verifyFirstMs: [],
      materializeMs: [],
      verifyMaterializeMs: [],
      secondReleaseBytes: Number.NaN,
      promotions: [],
      warm: [],
      warmUnpolled: [],
      warmHttpChecks: [],
      e2eAloneMs: [],
      cold: [],
      nodeStartMs: [],
    };
    let store: ArtifactStore | null = null;
    let digest = '';
    for (let i = 0; i < options.runs; i++) {
      const copy = path.join(scratch, `cp-${i}`);
      result.cpMs.push(time(() => execFileSync('cp', ['-a', tree, copy])).ms);
      remove(copy);
      result.sha256sumMs.push(
        time(() =>
          execFileSync('sh', ['-c', 'find . -type f -print0 | xargs -0 sha256sum > /dev/null'], {
            cwd: tree,
          }),
        ).ms,
      );
      const root = path.join(scratch, `store-${i}`, 'artifacts');
      const candidate = new ArtifactStore(root);
      const put = await timeAsync(() => candidate.put(tree));
      result.storeMs.push(put.ms);
      if (store) remove(path.dirname(store.root));
      store = candidate;
      digest = put.value.digest;
      // Cold: no verified cache (what `--verify full` does), a fresh instance as a new command.
      result.verifyColdMs.push(
        (await timeAsync(() => new ArtifactStore(root).verify(digest, { full: true }))).ms,
      );
      result.verifyWarmMs.push((await timeAsync(() => new ArtifactStore(root).verify(digest))).ms);
      result.statWalkMs.push(
        time(() =>
          execFileSync('find', ['objects', '-type', 'f', '-printf', '%i %s %T@ %C@ %m\n'], {
            cwd: root,
            stdio: ['ignore', 'ignore', 'inherit'],
          }),
        ).ms,
      );
      // Right before the materialization, both after the store's writes were flushed.
      settle();
      result.cpLinkMs.push(time(() => execFileSync('cp', ['-al', tree, copy])).ms);
      remove(copy);
      // As the deploy step runs it: the command's verify step verified the store moments
      // before, with the same store (its verification is the row above, not timed again).
      const asDeployed = async () => {
        const command = new ArtifactStore(root);
        await command.verify(digest);
        const dest = path.join(scratch, `env-${i}`, 'r1', 'notes');
        settle();
        result.materializeMs.push((await timeAsync(() => command.materialize(digest, dest))).ms);
      };
      // Both steps in a fresh store: the verification and the copy together.
      const bothSteps = async () => {
        const dest = path.join(scratch, `env-${i}-both`, 'r1', 'notes');
        settle();
        result.verifyMaterializeMs.push(
          (await timeAsync(() => new ArtifactStore(root).materialize(digest, dest))).ms,
        );
      };
      // Alternated: the one that runs second finds the objects' ctimes moved by the first's links.
      if (i % 2 === 0) {
        await asDeployed();
        await bothSteps();
      } else {
        await bothSteps();
        await asDeployed();
      }
    }
    for (let i = 1; i < options.runs; i++)
      result.verifyWarmMs.push(
        (await timeAsync(() => new ArtifactStore((store as ArtifactStore).root).verify(digest))).ms,
      );
    for (let i = 0; i < options.runs; i++) {
      const once = execFileSync(
        process.execPath,
        [VERIFY_ONCE, (store as ArtifactStore).root, digest],
        {
          encoding: 'utf8',
        },
      );
      result.verifyFirstMs.push((JSON.parse(once) as { ms: number }).ms);
    }
    // A second release: one file changed.
    const root = (store as ArtifactStore).root;
    const before = diskUsed(root);
    const second = path.join(scratch, 'tree-2');
    execFileSync('cp', ['-a', tree, second]);
    writeFileSync(path.join(second, 'server.js'), "console.log('real size, second release')\n");
    await new ArtifactStore(root).put(second);
    result.secondReleaseBytes = diskUsed(root) - before;
    log(
      `real size: store ${Math.round(median(result.storeMs))} ms, verify cold ${Math.round(median(result.verifyColdMs))} ms / warm ${Math.round(median(result.verifyWarmMs))} ms (sha256sum ${Math.round(median(result.sha256sumMs))} ms), materialize ${Math.round(median(result.materializeMs))} ms, with its verification ${Math.round(median(result.verifyMaterializeMs))} ms (cp -a ${Math.round(median(result.cpMs))} ms), second release +${result.secondReleaseBytes} B`,
    );

    await measureCli(result, installDir, options);
    return result;
  } finally {
    remove(scratch);
  }
}

/** Promotions and rollbacks of the real-size artifact through the CLI. */
async function measureCli(
  result: RealSizeResult,
  installDir: string,
  options: RealSizeOptions,
): Promise<void> {
  // Run alone (`--only real-size`), the bench has not pointed AIRLOCK_HOME at a temporary folder.
  const ownHome = process.env.AIRLOCK_HOME
    ? null
    : mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-home-'));
  if (ownHome) process.env.AIRLOCK_HOME = ownHome;
  const project: BenchProject = await createBenchProject();
  try {
    const file = path.join(project.dir, 'airlock.yaml');
    const doc = parseDocument(readFileSync(file, 'utf8'));
    doc.setIn(
      ['services', 'notes', 'build', 'command'],
      `node scripts/build.mjs && cp -a '${path.join(installDir, 'node_modules')}' dist/node_modules`,
    );
    writeFileSync(file, doc.toString());
    execFileSync('git', ['commit', '-q', '-am', 'bench: real-size dependencies in the build'], {
      cwd: project.dir,
    });
    log('real size: warm-up (r1 to staging and production)');
    await stageAndApprove(project);
    await project.cli(['promote', 'production', '--yes', '--json']);
    for (let i = 1; i <= options.promotions; i++) {
      project.commitChange(`real size ${i}`);
      await stageAndApprove(project);
      const promote = await project.cli(['promote', 'production', '--yes', '--json']);
      const json = cliJson(promote);
      if (json.status !== 'succeeded')
        throw new Error(
          `real-size promotion ${i} did not succeed: ${promote.stdout.slice(0, 800)}`,
        );
      const run = project.run(Number(json.runId));
      const bootMs = Number(stepOf(run, 'deploy:notes').output?.bootMs ?? 0);
      const migrationsMs = Number(stepOf(run, 'migrate:notes').output?.durationMs ?? 0);
      const checksMs = ((json.checks as Array<{ durationMs: number }>) ?? []).reduce(
        (sum, c) => sum + c.durationMs,
        0,
      );
      const it = {
        release: String((json.release as { id: string }).id),
        wallMs: promote.wallMs,
        bootMs,
        overheadMs: promote.wallMs - bootMs - checksMs - migrationsMs,
      };
      result.promotions.push(it);
      log(
        `real size: promotion ${i}/${options.promotions} ${it.release} ${Math.round(it.wallMs)} ms, overhead ${Math.round(it.overheadMs)} ms`,
      );
    }
    for (let i = 0; i < options.rollbacks; i++)
      result.nodeStartMs.push(
        time(() => execFileSync(process.execPath, ['-e', '0'], { stdio: 'ignore' })).ms,
      );
    result.warm = await measureRollback(project, options.rollbacks, 'real size, warm');
    result.warmUnpolled = await measureRollback(project, options.rollbacks, 'real size, warm', {
      poll: false,
    });
    for (let i = 0; i < options.rollbacks; i++)
      result.e2eAloneMs.push(
        time(() =>
          execFileSync(process.execPath, ['e2e/notes.e2e.mjs'], {
            cwd: project.dir,
            env: { ...process.env, BASE_URL: project.url('production') },
            stdio: 'ignore',
          }),
        ).ms,
      );
    // The same warm rollbacks with the smoke check only, then the example's checks again.
    const config = readFileSync(file, 'utf8');
    const smokeOnly = parseDocument(config);
    const checks = smokeOnly.getIn(['services', 'notes', 'checks']) as YAMLSeq<YAMLMap>;
    checks.items = checks.items.filter((check) => check.get('name') !== 'e2e');
    writeFileSync(file, smokeOnly.toString());
    execFileSync('git', ['commit', '-q', '-am', 'bench: the smoke check only'], {
      cwd: project.dir,
    });
    // One unmeasured rollback first: the changed airlock.yaml is validated again once (a miss of
    // the config cache, ~150 ms), which the other series do not pay either.
    await project.cli(['rollback', 'production', '--yes', '--json']);
    result.warmHttpChecks = await measureRollback(
      project,
      options.rollbacks,
      'real size, warm, smoke check only',
      { poll: false },
    );
    writeFileSync(file, config);
    execFileSync('git', ['commit', '-q', '-am', 'bench: the example checks again'], {
      cwd: project.dir,
    });
    await prepareColdRollback(project);
    result.cold = await measureRollback(project, options.rollbacks, 'real size, cold');
  } finally {
    await project.cleanup();
    if (ownHome) {
      delete process.env.AIRLOCK_HOME;
      remove(ownHome);
    }
  }
}

export function realSizeSection(result: RealSizeResult): Section {
  const stat = (values: number[]) => ({
    value: round1(median(values)),
    p95: round1(p95(values)),
    n: values.length,
  });
  const cp = round1(median(result.cpMs));
  const cpLink = round1(median(result.cpLinkMs));
  const sum = round1(median(result.sha256sumMs));
  const statWalk = round1(median(result.statWalkMs));
  const ratio = (values: number[], base: number) => median(values) / base;
  const overhead = result.promotions.map((p) => p.overheadMs);
  const warmWall = result.warmUnpolled.map((r) => r.wallMs);
  const warmOwn = result.warmUnpolled.map((r) => r.wallMs - r.checksMs);
  const warmHttp = result.warmHttpChecks.map((r) => r.wallMs);
  return {
    id: 'real-size',
    title: `(i) Real-size release: ${result.files} files, ${(result.bytes / 1e6).toFixed(1)} MB`,
    valueLabel: 'median',
    rows: [
      row('store a build (ArtifactStore.put)', {
        unit: 'ms',
        ...stat(result.storeMs),
        baseline: cp,
        baselineLabel: 'cp -a',
      }),
      row('verify, cold (no verified cache)', {
        unit: 'ms',
        ...stat(result.verifyColdMs),
        baseline: sum,
        baselineLabel: 'sha256sum, 1 thread',
        target: '≤ 1.0× sha256sum',
        ok: ratio(result.verifyColdMs, sum) <= 1.0,
      }),
      row('verify, warm verified cache', {
        unit: 'ms',
        ...stat(result.verifyWarmMs),
        baseline: sum,
        baselineLabel: 'sha256sum, 1 thread',
        target: '≤ 0.1× sha256sum',
        ok: ratio(result.verifyWarmMs, sum) <= 0.1,
      }),
      row('  the first one in a fresh process (what a command pays)', {
        unit: 'ms',
        ...stat(result.verifyFirstMs),
        baseline: sum,
        baselineLabel: 'sha256sum, 1 thread',
      }),
      row('  a native stat of every store object (`find -printf`)', {
        unit: 'ms',
        ...stat(result.statWalkMs),
        baseline: sum,
        baselineLabel: 'sha256sum, 1 thread',
      }),
      row('verify, warm, against the native stat of every object', {
        unit: 'ms',
        ...stat(result.verifyWarmMs),
        baseline: statWalk,
        baselineLabel: '`find -printf` of the objects',
        target: '≤ 1.0× find',
        ok: ratio(result.verifyWarmMs, statWalk) <= 1.0,
      }),
      row('first materialization (links), as the deploy step runs it', {
        unit: 'ms',
        ...stat(result.materializeMs),
        baseline: cp,
        baselineLabel: 'cp -a',
        target: '≤ 0.2× cp -a',
        ok: ratio(result.materializeMs, cp) <= 0.2,
      }),
      row('  hard links alone, nothing checked (`cp -al`)', {
        unit: 'ms',
        ...stat(result.cpLinkMs),
        baseline: cp,
        baselineLabel: 'cp -a',
      }),
      row('first materialization against hard links alone', {
        unit: 'ms',
        ...stat(result.materializeMs),
        baseline: cpLink,
        baselineLabel: 'cp -al',
        target: '≤ 1.0× cp -al',
        ok: ratio(result.materializeMs, cpLink) <= 1.0,
      }),
      row('verify + first materialization, a fresh store (both steps)', {
        unit: 'ms',
        ...stat(result.verifyMaterializeMs),
        baseline: cp,
        baselineLabel: 'cp -a',
      }),
      row('  the same against hard links alone', {
        unit: 'ms',
        ...stat(result.verifyMaterializeMs),
        baseline: cpLink,
        baselineLabel: 'cp -al',
      }),
      row('promote production (whole command)', {
        unit: 'ms',
        ...stat(result.promotions.map((p) => p.wallMs)),
      }),
      row("Airlock's overhead in that promotion", {
        unit: 'ms',
        ...stat(overhead),
        target: '≤ 1000 ms',
        ok: median(overhead) <= 1000,
      }),
      row('warm rollback, whole command, smoke check only', {
        unit: 'ms',
        ...stat(warmHttp),
        baseline: round1(median(result.nodeStartMs)),
        baselineLabel: '`node -e 0`',
        target: '≤ 300 ms',
        ok: median(warmHttp) <= 300,
      }),
      row("warm rollback, whole command, the example's smoke + e2e checks", {
        unit: 'ms',
        ...stat(warmWall),
      }),
      row('  of which its checks', {
        unit: 'ms',
        ...stat(result.warmUnpolled.map((r) => r.checksMs)),
      }),
      row('  the e2e script alone against production (spawn → exit)', {
        unit: 'ms',
        ...stat(result.e2eAloneMs),
      }),
      row('warm rollback, whole command minus its checks', {
        unit: 'ms',
        ...stat(warmOwn),
        baseline: round1(median(result.nodeStartMs)),
        baselineLabel: '`node -e 0`',
      }),
      row('warm rollback: spawn → the previous release serves (polled)', {
        unit: 'ms',
        ...stat(result.warm.map((r) => r.servedMs)),
        baseline: round1(median(result.nodeStartMs)),
        baselineLabel: '`node -e 0`',
      }),
      row('warm rollback, whole command while the bench polls', {
        unit: 'ms',
        ...stat(result.warm.map((r) => r.wallMs)),
      }),
      row('cold rollback (whole command)', {
        unit: 'ms',
        ...stat(result.cold.map((r) => r.wallMs)),
      }),
      row('second release changing one file: disk added (kB)', {
        unit: 'count',
        value: Math.round(result.secondReleaseBytes / 1000),
        p95: null,
        n: 1,
        target: '≤ 1000 kB',
        ok: result.secondReleaseBytes <= 1_000_000,
      }),
    ],
    notes: [
      `The tree: bench/real-size/package-lock.json installed with npm ci --omit=dev --ignore-scripts (cached in ${result.installDir}), plus the app. Baselines over the same tree in the same run: cp -a ${cp} ms, find | xargs -0 sha256sum ${sum} ms.`,
      `Floors, in the same run: a warm verification must stat every store object, which find -printf does natively in ${statWalk} ms; a linked materialization must make every folder and link, which cp -al does in ${cpLink} ms. Where system calls are dear (a virtual machine) these floors alone can exceed 0.1× sha256sum and 0.2× cp -a, so the rows against them show what Airlock adds to what the file system itself costs. cp -al also stats every file it links, which stands for the verification a fresh command does before its copy.`,
      `Verify cold re-hashes every file (what --verify full does); warm reads the verified cache and stats every store object. The first materialization is timed as the deploy step runs it: the command's verify step (the warm verification above) has just verified the store with the same store object, so the copy only makes folders and links and renews the verified cache. The both-steps rows time a fresh store that verifies and then copies.`,
      `Promotion overhead is the whole command minus app boot, checks and migration SQL; it includes building nothing (the release exists), verifying, materializing production's copy and the garbage collection after the deployment.`,
      `Warm rollback whole-command rows come from rollbacks run without the bench polling production (the poll, every 2 ms, competes for the same CPUs); spawn → served comes from polled ones. The example's checks are a smoke HTTP request and an e2e script, a second Node process run in a checkout of the release's commit: the script alone takes longer than 300 ms, so the 300 ms target is held by the rollbacks whose only check is the smoke request (the same release switch, checked by Airlock itself), and the rows with the e2e script show what a project's own suite adds.`,
    ],
    details: { ...result },
  };
}
