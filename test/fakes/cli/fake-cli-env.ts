/**
 * Puts the FAKE platform CLIs on PATH for a test: a temporary folder with `fly`, `flyctl` and
 * `railway` shims (each a two-line script running fake-flyctl.ts / fake-railway.ts with this
 * Node), their state files and one JSONL transcript. Only for tests.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Invocation, loadState, readTranscript, saveState } from './fake-cli-common.ts';
import { emptyFlyState, type FakeFlyState } from './fake-flyctl.ts';
import { emptyRailwayState, type FakeRailwayState } from './fake-railway.ts';

const FAKES = path.dirname(fileURLToPath(import.meta.url));

export interface FakeCliEnv {
  dir: string;
  /** The environment for a provider: PATH with the fakes first, state and transcript files. */
  env: Record<string, string>;
  flyState(): FakeFlyState;
  updateFlyState(edit: (state: FakeFlyState) => void): void;
  railwayState(): FakeRailwayState;
  updateRailwayState(edit: (state: FakeRailwayState) => void): void;
  /** Every recorded invocation so far. */
  invocations(): Invocation[];
  /** The transcript file's text (argv, env names, stdin digests: what the fakes received). */
  transcriptText(): string;
  cleanup(): void;
}

function shim(dir: string, name: string, script: string): void {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `#!/bin/sh\n# FAKE ${name} for Airlock tests (not the real CLI): ${path.basename(script)}\nexec "${process.execPath}" "${script}" "$@"\n`,
  );
  chmodSync(file, 0o755);
}

export function fakeCliEnv(
  options: { flyApps?: string[]; railway?: Parameters<typeof emptyRailwayState>[0] } = {},
): FakeCliEnv {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-fake-cli-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  shim(bin, 'fly', path.join(FAKES, 'fake-flyctl.ts'));
  shim(bin, 'flyctl', path.join(FAKES, 'fake-flyctl.ts'));
  shim(bin, 'railway', path.join(FAKES, 'fake-railway.ts'));
  const flyFile = path.join(dir, 'fly-state.json');
  const railwayFile = path.join(dir, 'railway-state.json');
  const transcript = path.join(dir, 'transcript.jsonl');
  saveState(flyFile, emptyFlyState(options.flyApps ?? []));
  saveState(railwayFile, emptyRailwayState(options.railway));
  writeFileSync(transcript, '');
  return {
    dir,
    env: {
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
      HOME: dir,
      FAKE_FLY_STATE: flyFile,
      FAKE_RAILWAY_STATE: railwayFile,
      FAKE_CLI_TRANSCRIPT: transcript,
    },
    flyState: () => loadState<FakeFlyState>(flyFile),
    updateFlyState(edit) {
      const state = loadState<FakeFlyState>(flyFile);
      edit(state);
      saveState(flyFile, state);
    },
    railwayState: () => loadState<FakeRailwayState>(railwayFile),
    updateRailwayState(edit) {
      const state = loadState<FakeRailwayState>(railwayFile);
      edit(state);
      saveState(railwayFile, state);
    },
    invocations: () => readTranscript(transcript),
    transcriptText: () => readFileSync(transcript, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
