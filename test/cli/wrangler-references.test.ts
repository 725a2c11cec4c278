/**
 * `airlock config validate` on a Cloudflare project reads the Worker's wrangler file too: an
 * environment whose `cloudflare.env` names no `[env.*]` section, or whose D1 binding is not in
 * it, is an error at its line and field of airlock.yaml before any build. The real CLI, on a
 * folder with airlock.yaml and wrangler.toml.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { yaml } from '../config/yaml-text.ts';
import { BIN } from '../helpers/project.ts';

const WRANGLER = `name = "notes"
main = "src/index.ts"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "notes-staging"
database_id = "00000000-0000-0000-0000-000000000001"

[env.production]
[[env.production.d1_databases]]
binding = "DB"
database_name = "notes-production"
database_id = "00000000-0000-0000-0000-000000000002"
`;

const config = (productionEnv: string, binding: string) => yaml`
  project: notes
  pipeline: [staging, production]
  services:
    notes:
      build: { command: wrangler deploy --dry-run --outdir dist, output: dist }
      database: { engine: d1, binding: ${binding}, migrations: migrations }
      cloudflare: { mode: local }
  environments:
    staging:
      provider: cloudflare
      services:
        notes: { port: 4300 }
    production:
      provider: cloudflare
      services:
        notes:
          port: 4400
          cloudflare: { env: ${productionEnv} }
`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function validate(text: string): { code: number; out: string } {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'airlock-wrangler-refs-')));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'airlock.yaml'), text);
  writeFileSync(path.join(dir, 'wrangler.toml'), WRANGLER);
  try {
    const out = execFileSync(process.execPath, [BIN, 'config', 'validate'], {
      cwd: dir,
      env: { ...process.env, AIRLOCK_HOME: path.join(dir, 'home'), NO_COLOR: '1' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

describe('config validate checks the wrangler file airlock.yaml points at', () => {
  it('passes when every wrangler environment and D1 binding exists', () => {
    const { code, out } = validate(config('production', 'DB'));
    expect(out).toContain('airlock.yaml is valid');
    expect(code).toBe(0);
  });

  it('refuses a cloudflare.env with no [env.*] section, at its line and field', () => {
    const { code, out } = validate(config('prodution', 'DB'));
    expect(code).toBe(2);
    expect(out).toMatch(
      /airlock\.yaml:18:\d+: error: environments\.production\.services\.notes\.cloudflare\.env: wrangler\.toml has no \[env\.prodution\] section\. Airlock environment production deploys notes as \[env\.prodution\]\./,
    );
    expect(out).toContain('known: production');
    expect(out).not.toContain('is valid');
  });

  it('refuses a D1 binding the wrangler environment does not have, naming the ones it has', () => {
    const { code, out } = validate(config('production', 'DBB'));
    expect(code).toBe(2);
    expect(out).toMatch(
      /airlock\.yaml:6:\d+: error: services\.notes\.database\.binding: wrangler\.toml: \[env\.production\] has no D1 binding "DBB" \(it has DB\)/,
    );
  });
});
