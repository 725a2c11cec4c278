/**
 * Where the local runtime keeps its files in the project's Airlock home (`config/home.ts`), the shape of
 * `local/state.json` and `local/runtime.json`, and the small file and process helpers the
 * runtime, the daemon and the client share (atomic writes, "is this pid alive and ours").
 *
 * Layout:
 *
 *     <home>/local/state.json     what serves per environment/service (relaunch data + pids), 0600
 *     <home>/local/runtime.json   { pid, port, token, startedAt, version: 1 } of the live daemon, 0600
 *     <home>/local/runtime.pid    single-instance pid file of the daemon
 *     <home>/local/runtime.log    the daemon's own log
 *     <home>/envs/<env>/events.jsonl              one RuntimeEvent per line
 *     <home>/envs/<env>/logs/<service>-<release>.log   stdout+stderr of an app process
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ProcessDeployment, ServiceState } from '../provider.ts';
import type { LeaseRecord } from './checks-lease.ts';

/** Absolute paths of the local runtime's files for one Airlock home. */
export interface RuntimePaths {
  home: string;
  localDir: string;
  stateFile: string;
  runtimeFile: string;
  pidFile: string;
  logFile: string;
  envDir(environment: string): string;
  eventsFile(environment: string): string;
  appLogFile(environment: string, service: string, releaseId: string): string;
}

/** Resolves the runtime's file layout for a home directory (made absolute). */
export function runtimePaths(home: string): RuntimePaths {
  const root = path.resolve(home);
  const localDir = path.join(root, 'local');
  const envDir = (environment: string) => path.join(root, 'envs', environment);
  return {
    home: root,
    localDir,
    stateFile: path.join(localDir, 'state.json'),
    runtimeFile: path.join(localDir, 'runtime.json'),
    pidFile: path.join(localDir, 'runtime.pid'),
    logFile: path.join(localDir, 'runtime.log'),
    envDir,
    eventsFile: (environment) => path.join(envDir(environment), 'events.jsonl'),
    appLogFile: (environment, service, releaseId) =>
      path.join(envDir(environment), 'logs', `${service}-${releaseId}.log`),
  };
}

/** `<home>/local/runtime.json`: how to reach the live daemon. */
export interface RuntimeInfo {
  pid: number;
  /** Control API port on 127.0.0.1. */
  port: number;
  /** Bearer token of the control API (32 random bytes, hex). */
  token: string;
  /** ISO-8601 time the daemon started. */
  startedAt: string;
  /** Pid of the watchdog that restarts the daemon if it dies (runtime-watchdog.ts), if any. */
  watchdogPid?: number;
  version: 1;
}

/** One service's record in `state.json`: enough to relaunch it. */
export interface ServiceRecord {
  environment: string;
  service: string;
  /** The deployment that should serve (it contains the app's env: the file is 0600). */
  deployment: ProcessDeployment;
  /** Pid of the serving process, null while it is restarting. */
  pid: number | null;
  /** ISO-8601 time the release started serving. */
  since: string | null;
  /** The deployment that served before (a crash with a copy that no longer verifies falls back to it). */
  previous?: ProcessDeployment | null;
  /** The switch's checks lease while it is pending (see checks-lease.ts). */
  lease?: LeaseRecord;
}

/** A live app process the runtime started (serving, warm, draining or booting). */
export interface ProcessRecord {
  pid: number;
  environment: string;
  service: string;
  release: string;
  role: 'candidate' | 'serving' | 'draining' | 'warm';
  /** The port the app listens on (127.0.0.1), so a new daemon can adopt it. */
  port?: number;
  /** The deployment it runs (for adoption; absent in files of older versions). */
  deployment?: ProcessDeployment;
  /** Byte offset of its log file where its output starts. */
  logOffset?: number;
  /** Grace period (ms) between SIGTERM and SIGKILL when stopping it. */
  stopTimeoutMs: number;
}

/** `<home>/local/state.json`. */
export interface RuntimeStateFile {
  version: 1;
  updatedAt: string;
  services: ServiceRecord[];
  processes: ProcessRecord[];
}

/**
 * Writes a file atomically (temp file in the same directory + rename) with the given mode
 * (default 0600), creating the directory (0700) if needed.
 */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fsp.writeFile(temp, data, { mode });
    await fsp.chmod(temp, mode);
    await fsp.rename(temp, file);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
}

/** Reads and parses a JSON file; `null` when it does not exist or is not valid JSON. */
export async function readJsonFile<T>(file: string): Promise<T | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/** Reads `state.json`; an empty state when it is missing or unreadable. */
export async function readStateFile(home: string): Promise<RuntimeStateFile> {
  const state = await readJsonFile<RuntimeStateFile>(runtimePaths(home).stateFile);
  if (state?.version !== 1 || !Array.isArray(state.services)) {
    return { version: 1, updatedAt: new Date(0).toISOString(), services: [], processes: [] };
  }
  return { ...state, processes: Array.isArray(state.processes) ? state.processes : [] };
}

/**
 * True when `pid` exists and is not a zombie. (A killed daemon's orphans are reparented; if
 * nobody reaps them they linger as zombies, which `kill(pid, 0)` alone reports as alive.)
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // No procfs (or the process vanished in between): trust kill(0).
    return isProcessAliveWithoutProc(pid);
  }
}

function isProcessAliveWithoutProc(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when `pid` is an app process started by the runtime of this home: its environment holds
 * `AIRLOCK_RUNTIME_HOME=<home>` (read from `/proc/<pid>/environ`). False when that cannot be read,
 * so a recycled pid of someone else's process is never killed.
 */
export function isRuntimeProcess(pid: number, home: string): boolean {
  const marker = `AIRLOCK_RUNTIME_HOME=${path.resolve(home)}`;
  try {
    const environ = fs.readFileSync(`/proc/${pid}/environ`);
    return environ.toString('utf8').split('\0').includes(marker);
  } catch {
    return false;
  }
}

/** Resolves once `pid` is gone (see {@link isProcessAlive}) or `timeoutMs` passed; true if gone. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return true;
}

/**
 * Sends a signal to a process group (the runtime starts every app as a group leader). When there
 * is no such group and `fallbackToPid` is true, signals the pid itself.
 */
export function signalProcessGroup(
  pid: number,
  signal: NodeJS.Signals,
  fallbackToPid = true,
): void {
  try {
    process.kill(-pid, signal);
    return;
  } catch {
    // not a group leader (or already gone)
  }
  if (!fallbackToPid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Public URL of a local proxy port. */
export const urlFor = (port: number): string => `http://127.0.0.1:${port}`;

/** The state of a service nothing serves (yet). */
export function emptyServiceState(
  environment: string,
  service: string,
  port: number,
): ServiceState {
  return {
    environment,
    service,
    url: urlFor(port),
    release: null,
    pid: null,
    since: null,
    healthy: false,
    restarts: 0,
    lastCrash: null,
    warm: [],
  };
}
