/**
 * The notes app run without Airlock: built with its own build script, on a migrated SQLite file
 * of its own, started with `node server.js` on a fixed port. The baseline for app boot time and
 * for the "stop old, start new" deploy.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { findFreePort } from '../src/providers/local/app-process.ts';
import { getJson, sleep } from './project.ts';

export interface PlainApp {
  port: number;
  url: string;
  /** Starts a new process on the port; resolves once it is spawned (not yet listening). */
  start(release: string): ChildProcess;
  /** Polls /health every `intervalMs` until 200; returns ms since `sinceMs` (performance.now()). */
  waitHealthy(sinceMs: number, intervalMs: number): Promise<number>;
  /** SIGTERM, then resolves when the process exited. */
  stop(child: ChildProcess): Promise<void>;
  stopAll(): Promise<void>;
}

/** Builds the project's app into `<workDir>/app` and migrates `<workDir>/notes.db`. */
export async function preparePlainApp(projectDir: string, workDir: string): Promise<PlainApp> {
  mkdirSync(workDir, { recursive: true });
  const appDir = path.join(workDir, 'app');
  execFileSync(process.execPath, [path.join(projectDir, 'scripts', 'build.mjs'), appDir], {
    cwd: projectDir,
    stdio: 'ignore',
  });
  const dbFile = path.join(workDir, 'notes.db');
  const db = new DatabaseSync(dbFile);
  const migrations = path.join(projectDir, 'migrations');
  for (const file of readdirSync(migrations).sort()) {
    if (file.endsWith('.sql')) db.exec(readFileSync(path.join(migrations, file), 'utf8'));
  }
  db.close();
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  const live = new Set<ChildProcess>();
  const app: PlainApp = {
    port,
    url,
    start(release) {
      const child = spawn(process.execPath, ['server.js'], {
        cwd: appDir,
        stdio: 'ignore',
        env: {
          PATH: process.env.PATH ?? '',
          PORT: String(port),
          DATABASE_URL: pathToFileURL(dbFile).href,
          AIRLOCK_RELEASE: release,
          AIRLOCK_ENV: 'baseline',
        },
      });
      live.add(child);
      child.once('exit', () => live.delete(child));
      return child;
    },
    async waitHealthy(sinceMs, intervalMs) {
      const deadline = performance.now() + 15_000;
      for (;;) {
        const ok = await getJson(`${url}/health`, false, 1_000).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) return performance.now() - sinceMs;
        if (performance.now() > deadline) throw new Error(`the plain app on ${url} never answered`);
        await sleep(intervalMs);
      }
    },
    stop(child) {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
    async stopAll() {
      await Promise.all([...live].map((child) => app.stop(child)));
    },
  };
  return app;
}

/** Spawn → first 200 on /health of the plain app, polled every 1 ms, `runs` times. */
export async function measurePlainBoot(app: PlainApp, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const child = app.start(`boot-${i}`);
    times.push(await app.waitHealthy(started, 1));
    await app.stop(child);
  }
  return times;
}
