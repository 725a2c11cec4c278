/**
 * (c) Rollback time, warm and cold. Spawns `airlock rollback production --yes --json` and polls
 * production's /version from the bench process every ~2 ms (one keep-alive connection) until it
 * reports another release: spawn → served is the user-visible figure, CLI process start included.
 * Without the process start: the rollback's deploy step, from its started_at in run_steps to
 * the runtime's `switched` event (events.jsonl), and the step's recorded duration.
 * Warm: production keeps the previous release warm (`keepWarmMs` as in the example). Cold:
 * `keepWarmMs: 0` for production in airlock.yaml, so the release rolled back to must boot.
 * Successive rollbacks alternate between the two newest releases.
 */
import http from 'node:http';
import { type BenchProject, cliJson, log, servedRelease, sleep, stepOf } from './project.ts';
import { row, type Section } from './report.ts';
import { median, p95, round1 } from './stats.ts';

export interface RollbackIteration {
  from: string;
  to: string;
  /** Whether the bench polled /version during this rollback (the control runs do not). */
  polled: boolean;
  /** Spawn → /version reports `to` (bench poll); NaN without the poll. */
  servedMs: number;
  /** Spawn → exit. */
  wallMs: number;
  /** Spawn → the run row's started_at (process start, config, state, plan, lock). */
  spawnToRunMs: number;
  /** Spawn → the deploy step's started_at. */
  spawnToStepMs: number;
  /** Deploy step started → runtime `switched` event. */
  stepToSwitchMs: number;
  /** The deploy step's duration_ms (run_steps). */
  deployStepMs: number;
  /** Spawn → runtime `switched` event. */
  spawnToSwitchMs: number;
  /** `switched` event → the bench saw the new release. */
  pollLagMs: number;
  reusedWarm: boolean;
  bootMs: number;
  /** The rollback's check step (its smoke and e2e checks), ms. */
  checksMs: number;
  polls: number;
}

export async function measureRollback(
  project: BenchProject,
  iterations: number,
  label: string,
  options: { poll: boolean } = { poll: true },
): Promise<RollbackIteration[]> {
  const url = project.url('production');
  const out: RollbackIteration[] = [];
  for (let i = 1; i <= iterations; i++) {
    const from = await servedRelease(url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await getVersion(url, agent); // open the connection before the clock starts
    const started = project.startCli(['rollback', 'production', '--yes', '--json']);
    let observedPerf: number | null = null;
    let polls = 0;
    if (options.poll) {
      let exitedPerf: number | null = null;
      const markExit = () => {
        exitedPerf = performance.now();
      };
      void started.done.then(markExit, markExit);
      while (observedPerf === null) {
        const release = await getVersion(url, agent).catch(() => null);
        polls += 1;
        if (release !== null && release !== from) {
          observedPerf = performance.now();
          break;
        }
        if (exitedPerf !== null && performance.now() - exitedPerf > 2_000) break;
        await sleep(2);
      }
    }
    agent.destroy();
    const cli = await started.done;
    const json = cliJson(cli);
    if (cli.code !== 0 || json.status !== 'succeeded' || (options.poll && observedPerf === null)) {
      throw new Error(
        `${label} rollback ${i} failed (exit ${cli.code}, status ${String(json.status)}, seen ${observedPerf !== null}): ${cli.stdout.slice(0, 800)}`,
      );
    }
    const to = String((json.release as { id: string }).id);
    if (!options.poll && (await servedRelease(url)) !== to) {
      throw new Error(`${label} rollback ${i}: production does not serve ${to} afterwards`);
    }
    const run = project.run(Number(json.runId));
    const step = stepOf(run, 'deploy:notes');
    const switched = project
      .events('production')
      .find((e) => e.type === 'switched' && e.release === to && e.at >= step.startedAt - 1);
    const switchedAt = switched?.at ?? Number.NaN;
    const observedEpoch =
      observedPerf === null ? Number.NaN : performance.timeOrigin + observedPerf;
    const it: RollbackIteration = {
      from,
      to,
      polled: options.poll,
      servedMs: observedPerf === null ? Number.NaN : observedPerf - started.startedPerf,
      wallMs: cli.wallMs,
      spawnToRunMs: run.startedAt - started.startedAt,
      spawnToStepMs: step.startedAt - started.startedAt,
      stepToSwitchMs: switchedAt - step.startedAt,
      deployStepMs: step.durationMs ?? Number.NaN,
      spawnToSwitchMs: switchedAt - started.startedAt,
      pollLagMs: observedEpoch - switchedAt,
      reusedWarm: step.output?.reusedWarm === true,
      bootMs: typeof step.output?.bootMs === 'number' ? step.output.bootMs : 0,
      checksMs: run.steps.find((s) => s.name === 'check:notes')?.durationMs ?? 0,
      polls,
    };
    out.push(it);
    log(
      `rollback (${label}${options.poll ? '' : ', no poll'}) ${i}/${iterations}: ${from} → ${to}${options.poll ? ` served after ${Math.round(it.servedMs)} ms` : ''}, spawn → switched ${Math.round(it.spawnToSwitchMs)} ms (step → switch ${it.stepToSwitchMs} ms, warm ${it.reusedWarm}), CLI ${Math.round(it.wallMs)} ms`,
    );
  }
  return out;
}

function getVersion(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/version`, { agent, timeout: 2_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        try {
          resolve(String((JSON.parse(text) as { release: unknown }).release));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

export async function prepareColdRollback(project: BenchProject): Promise<void> {
  project.setEnvironmentSetting('production', 'keepWarmMs', 0);
  // One unmeasured rollback: it switches to a release still warm from before and, with
  // keepWarmMs 0, stops the one it leaves, so every measured rollback after it boots.
  log('rollback: keepWarmMs 0 for production, one unmeasured rollback to stop warm processes');
  await project.cli(['rollback', 'production', '--yes', '--json']);
}

export function rollbackSection(
  warm: RollbackIteration[],
  warmUnpolled: RollbackIteration[],
  cold: RollbackIteration[],
  context: { versionMs: number[]; plainBootMs: number[]; keepWarmMs: number },
): Section {
  const stat = (its: RollbackIteration[], pick: (it: RollbackIteration) => number) => {
    const values = its.map(pick);
    return { value: median(values), p95: p95(values), n: values.length };
  };
  const versionMedian = median(context.versionMs);
  const warmStepSwitch = median(warm.map((it) => it.stepToSwitchMs));
  const warmStep = median(warm.map((it) => it.deployStepMs));
  const coldOf = (pick: (it: RollbackIteration) => number) => ({
    baseline: median(cold.map(pick)),
    baselineLabel: 'cold (keepWarmMs 0)',
  });
  const plainBoot = {
    baseline: median(context.plainBootMs),
    baselineLabel: 'plain `node server.js` boot',
  };
  const allWarm = [...warm, ...warmUnpolled].every((it) => it.reusedWarm);
  const allCold = cold.every((it) => !it.reusedWarm);
  return {
    id: 'rollback',
    title:
      '(c) Rollback: `airlock rollback production --yes --json`, production /version polled every ~2 ms',
    valueLabel: 'median',
    rows: [
      row('warm: spawn → previous release served (incl. CLI start)', {
        ...stat(warm, (it) => it.servedMs),
        ...coldOf((it) => it.servedMs),
      }),
      row('warm: rollback step started → proxy switched to the previous release', {
        ...stat(warm, (it) => it.stepToSwitchMs),
        ...coldOf((it) => it.stepToSwitchMs),
        target: '≤ 100 ms',
        ok: warmStepSwitch <= 100,
      }),
      row('warm: rollback deploy step duration (run_steps)', {
        ...stat(warm, (it) => it.deployStepMs),
        ...coldOf((it) => it.deployStepMs),
        target: '≤ 100 ms',
        ok: warmStep <= 100,
      }),
      row('warm: spawn → run started (start, config, plan, lock)', {
        ...stat(warm, (it) => it.spawnToRunMs),
        baseline: versionMedian,
        baselineLabel: '`airlock --version` start',
      }),
      row(
        'warm: spawn → deploy step started',
        stat(warm, (it) => it.spawnToStepMs),
      ),
      row(
        'warm: switched → seen by the poll',
        stat(warm, (it) => it.pollLagMs),
      ),
      row('warm: spawn → switched (runtime event)', {
        ...stat(warm, (it) => it.spawnToSwitchMs),
        baseline: median(warmUnpolled.map((it) => it.spawnToSwitchMs)),
        baselineLabel: `same without the poll (control, n=${warmUnpolled.length})`,
      }),
      row('warm: CLI wall (incl. smoke + e2e checks)', {
        ...stat(warm, (it) => it.wallMs),
        ...coldOf((it) => it.wallMs),
      }),
      row(
        'cold: spawn → previous release served',
        stat(cold, (it) => it.servedMs),
      ),
      row('cold: deploy step started → switched', {
        ...stat(cold, (it) => it.stepToSwitchMs),
        ...plainBoot,
      }),
      row('cold: of which app boot (bootMs)', { ...stat(cold, (it) => it.bootMs), ...plainBoot }),
      row(
        'cold: rollback deploy step duration',
        stat(cold, (it) => it.deployStepMs),
      ),
      row(
        'cold: CLI wall (incl. smoke + e2e checks)',
        stat(cold, (it) => it.wallMs),
      ),
    ],
    notes: [
      `warm: keepWarmMs ${context.keepWarmMs} (the example's production setting); ${allWarm ? 'every' : 'NOT every'} warm rollback reused a warm process. cold: keepWarmMs 0; ${allCold ? 'every' : 'NOT every'} cold rollback booted a new process.`,
      'step started_at and the switched event are ms-resolution wall-clock times written by the CLI and the runtime daemon.',
      "the ≤ 100 ms target is the rollback's own serving latency: from the moment the rollback step starts (the release verified, the lock held, the run recorded) until the proxy serves the previous release. From spawning a new CLI process it adds Node's start, loading the bundle, the config, the state store and the plan (see the spawn rows).",
    ],
    details: {
      warm: warm.map(roundIteration),
      warmUnpolled: warmUnpolled.map(roundIteration),
      cold: cold.map(roundIteration),
    },
  };
}

function roundIteration(it: RollbackIteration): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(it).map(([k, v]) => [k, typeof v === 'number' ? round1(v) : v]),
  );
}
