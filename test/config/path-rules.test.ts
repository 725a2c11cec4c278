/**
 * Every path airlock.yaml names stays inside the project: `..`, an absolute path and a symbolic
 * link that leads out are refused with the file, line, field and the fix — before any command
 * reads or writes there (a migrations folder of `../../etc` once made `migrate hash` write into /etc).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

function config(service: string, envService = ''): string {
  return `project: api
pipeline: [staging, production]
services:
  api:
${service}
environments:
  staging:
    services:
      api:
        port: 4100
${envService}
  production:
    services:
      api:
        port: 4200
`;
}

const BASE = `    build: { command: node build.mjs, output: dist }
    run: node server.js`;

let dir: string;
let outside: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-paths-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'airlock-outside-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function load(text: string) {
  writeFileSync(path.join(dir, 'airlock.yaml'), text);
  return loadConfig({ cwd: dir, env: {} });
}

interface Refusal {
  line: number;
  path: string;
  message: string;
  fix?: string;
}

function refusals(text: string): Refusal[] {
  try {
    load(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).diagnostics.map((d) => ({
      line: d.line,
      path: d.path,
      message: d.message,
      fix: d.fix,
    }));
  }
  throw new Error('the configuration was accepted');
}

function refusal(text: string): Refusal {
  const [first] = refusals(text);
  if (!first) throw new Error('no diagnostic');
  return first;
}

describe('configured paths stay inside the project', () => {
  it('accepts folders inside the project, including ones that do not exist yet', () => {
    mkdirSync(path.join(dir, 'db', 'migrations'), { recursive: true });
    const loaded = load(
      config(`${BASE}\n    database: { engine: sqlite, migrations: db/migrations }`),
    );
    expect(loaded.pipeline).toEqual(['staging', 'production']);
  });

  it('refuses a migrations folder that climbs out, naming line, field and fix', () => {
    const r = refusal(config(`${BASE}\n    database: { engine: sqlite, migrations: ../../etc }`));
    expect(r.path).toBe('services.api.database.migrations');
    expect(r.line).toBe(7);
    expect(r.message).toMatch(/migrations folder "\.\.\/\.\.\/etc" is outside the project/);
    expect(r.fix).toMatch(/inside the project/);
  });

  it('refuses an absolute build output and a service root outside', () => {
    expect(
      refusal(
        config(`    build: { command: node build.mjs, output: /etc }\n    run: node server.js`),
      ).path,
    ).toBe('services.api.build.output');
    expect(refusals(config(`${BASE}\n    root: ..`)).map((r) => r.path)).toEqual([
      'services.api.build.output',
      'services.api.root',
    ]);
  });

  it('refuses the { dir } form and a provider configuration file outside', () => {
    expect(
      refusal(
        config(
          `${BASE}\n    database: { engine: d1, binding: DB, migrations: { dir: ../x, layout: wrangler } }`,
        ),
      ).path,
    ).toBe('services.api.database.migrations.dir');
    expect(refusal(config(BASE, '        cloudflare: { config: ../../wrangler.toml }')).path).toBe(
      'environments.staging.services.api.cloudflare.config',
    );
  });

  it('refuses an allowed-signers file outside the project', () => {
    const text = config(BASE).replace(
      '  production:\n',
      '  production:\n    promotion: { approval: { required: 1, identity: signed, allowedSigners: ../keys/allowed_signers } }\n',
    );
    const r = refusal(text);
    expect(r.path).toBe('environments.production.promotion.approval.allowedSigners');
    expect(r.message).toMatch(
      /allowed-signers file "\.\.\/keys\/allowed_signers" is outside the project/,
    );
  });

  it('refuses a symbolic link inside the project that leads outside it', () => {
    symlinkSync(outside, path.join(dir, 'migrations'));
    const r = refusal(config(`${BASE}\n    database: { engine: sqlite, migrations: migrations }`));
    expect(r.message).toMatch(/through a symbolic link/);
    expect(r.message).toContain(outside);
  });

  it('accepts a project that itself sits behind a symbolic link', () => {
    const link = path.join(outside, 'project-link');
    symlinkSync(dir, link);
    mkdirSync(path.join(dir, 'migrations'));
    writeFileSync(
      path.join(dir, 'airlock.yaml'),
      config(`${BASE}\n    database: { engine: sqlite, migrations: migrations }`),
    );
    expect(loadConfig({ cwd: link, env: {} }).pipeline).toEqual(['staging', 'production']);
  });
});
