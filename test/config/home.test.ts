/**
 * Where a project's Airlock home resolves (config/home.ts): AIRLOCK_HOME, then XDG_STATE_HOME,
 * then ~/.local/state; one folder per project path; never inside the project; an earlier
 * version's `.airlock/` is noticed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveHome } from '../../src/config/home.ts';
import { loadConfig } from '../../src/config/load.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(name = 'notes'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-home-test-'));
  dirs.push(dir);
  writeFileSync(
    path.join(dir, 'airlock.yaml'),
    `project: ${name}\npipeline: [staging]\nservices:\n  web:\n    build: { command: "true", output: "." }\n    run: node server.js\n    database: { engine: sqlite }\nenvironments:\n  staging: { services: { web: { port: 4100 } } }\n`,
  );
  return dir;
}

describe('the Airlock home', () => {
  it('is under AIRLOCK_HOME, then XDG_STATE_HOME, then ~/.local/state, named after the project', () => {
    const dir = project('Shop API');
    const byAirlock = resolveHome(dir, 'Shop API', {
      AIRLOCK_HOME: '/srv/airlock',
      HOME: '/home/u',
    });
    expect(byAirlock.source).toBe('AIRLOCK_HOME');
    expect(byAirlock.dir).toMatch(/^\/srv\/airlock\/projects\/shop-api-[0-9a-f]{10}$/);
    const byXdg = resolveHome(dir, 'Shop API', { XDG_STATE_HOME: '/x/state', HOME: '/home/u' });
    expect(byXdg.source).toBe('XDG_STATE_HOME');
    expect(path.dirname(byXdg.dir)).toBe('/x/state/airlock/projects');
    const byDefault = resolveHome(dir, 'Shop API', { HOME: '/home/u', XDG_STATE_HOME: 'relative' });
    expect(byDefault.source).toBe('default');
    expect(path.dirname(byDefault.dir)).toBe('/home/u/.local/state/airlock/projects');
    // The same project path always gives the same folder name.
    expect(path.basename(byXdg.dir)).toBe(path.basename(byAirlock.dir));
  });

  it('differs for two folders of the same project, and is never inside the project', () => {
    const a = project();
    const b = project();
    const env = { AIRLOCK_HOME: path.join(os.tmpdir(), 'somewhere') };
    const homeA = loadConfig({ cwd: a, env }).home.dir;
    const homeB = loadConfig({ cwd: b, env }).home.dir;
    expect(homeA).not.toBe(homeB);
    expect(path.relative(a, homeA).startsWith('..')).toBe(true);
  });

  it('holds the state and the local databases by default; state: still wins', () => {
    const dir = project();
    const env = { AIRLOCK_HOME: path.join(dir, '..', 'h') };
    const config = loadConfig({ cwd: dir, env });
    expect(config.state).toMatchObject({
      kind: 'sqlite',
      file: path.join(config.home.dir, 'state.db'),
    });
    expect(config.environments.staging?.services.web?.database?.url).toBe(
      `file://${path.join(config.home.dir, 'envs', 'staging', 'data', 'web.db')}`,
    );
    writeFileSync(
      path.join(dir, 'airlock.yaml'),
      'project: notes\nstate: var/state.db\npipeline: [staging]\nservices:\n  web:\n    build: { command: "true", output: "." }\n    run: node server.js\nenvironments:\n  staging: { services: { web: { port: 4100 } } }\n',
    );
    expect(loadConfig({ cwd: dir, env }).state).toMatchObject({
      file: path.join(dir, 'var', 'state.db'),
    });
  });

  it("names an earlier version's .airlock/ when it holds files, not when it is empty", () => {
    const dir = project();
    const env = { AIRLOCK_HOME: path.join(dir, '..', 'h') };
    mkdirSync(path.join(dir, '.airlock'));
    writeFileSync(path.join(dir, '.airlock', '.gitignore'), '*\n');
    expect(loadConfig({ cwd: dir, env }).home.legacyDir).toBeNull();
    writeFileSync(path.join(dir, '.airlock', 'state.db'), '');
    expect(loadConfig({ cwd: dir, env }).home.legacyDir).toBe(path.join(dir, '.airlock'));
  });
});
