/**
 * `airlock home` through the real CLI: where the home is, and an earlier version's `.airlock/`
 * (with staging serving from it) refused until `airlock home move`, which moves it while what
 * served keeps its release and data.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalRuntimeClient } from '../../src/providers/local/runtime-client.ts';
import { exampleProject, liveVersion, projectHome, type TestProject } from '../helpers/project.ts';

/** The release `url` serves, polled until it answers (a restarted runtime restores in the background). */
async function servedRelease(url: string): Promise<string | undefined> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const release = await liveVersion(url).then(
      (v) => v.release,
      () => undefined,
    );
    if (release || Date.now() > deadline) return release;
    await new Promise((r) => setTimeout(r, 100));
  }
}

let project: TestProject | null = null;
let legacyRuntime: LocalRuntimeClient | null = null;
afterEach(async () => {
  await legacyRuntime?.shutdown().catch(() => {});
  legacyRuntime = null;
  await project?.cleanup();
  project = null;
});

describe('airlock home', () => {
  it('show and path name the home outside the project; status ends with it', async () => {
    project = await exampleProject();
    const home = projectHome(project.dir);
    expect(path.relative(project.dir, home).startsWith('..')).toBe(true);
    const printed = await project.cli(['home', 'path']);
    expect(printed.stdout).toBe(`${home}\n`);
    const shown = JSON.parse((await project.cli(['home', 'show', '--json'])).stdout) as {
      dir: string;
      source: string;
      state: string;
    };
    expect(shown).toMatchObject({
      dir: home,
      source: 'AIRLOCK_HOME',
      state: path.join(home, 'state.db'),
    });
    const status = await project.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`Airlock home: ${home}`);
    expect(existsSync(path.join(project.dir, '.airlock'))).toBe(false);
  });

  it("refuses an earlier version's .airlock/ until home move, which keeps staging serving the same release and data", async () => {
    project = await exampleProject();
    const home = projectHome(project.dir);
    const deployed = await project.cli(['deploy', 'staging']);
    expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
    const created = await fetch(`${project.url('staging')}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'kept across the move', body: 'x' }),
    });
    expect(created.status).toBe(201);

    // What an earlier version left: everything in <project>/.airlock, the runtime serving from it.
    expect((await project.cli(['local', 'stop'])).code).toBe(0);
    const legacy = path.join(project.dir, '.airlock');
    renameSync(home, legacy);
    const stateFile = path.join(legacy, 'local', 'state.json');
    writeFileSync(stateFile, readFileSync(stateFile, 'utf8').split(home).join(legacy));
    legacyRuntime = new LocalRuntimeClient({ home: legacy });
    await legacyRuntime.ensureStarted();
    expect(await servedRelease(project.url('staging'))).toBe('r1');

    const refused = await project.cli(['status']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(legacy);
    expect(refused.stderr).toContain('airlock home move');

    const moved = await project.cli(['home', 'move']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain(`Moved ${legacy} to ${home}`);
    expect(existsSync(legacy)).toBe(false);
    expect(readFileSync(path.join(home, 'local', 'state.json'), 'utf8')).not.toContain(legacy);
    legacyRuntime = null;

    // The runtime now runs from the home and staging serves r1 with its data.
    expect(await servedRelease(project.url('staging'))).toBe('r1');
    const notes = (await (await fetch(`${project.url('staging')}/notes`)).json()) as Array<{
      title: string;
    }>;
    expect(notes.map((n) => n.title)).toContain('kept across the move');
    const status = await project.cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ home });

    // Nothing left to move; a second .airlock/ beside a full home is refused, not merged.
    expect((await project.cli(['home', 'move'])).stdout).toContain('Nothing to move');
    mkdirSync(path.join(legacy, 'artifacts'), { recursive: true });
    const conflict = await project.cli(['home', 'move']);
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain('will not merge');
  });
});
