/**
 * The pieces of the cloudflare provider that need no wrangler: reading the user's wrangler files
 * (edge cases: JSONC, TOML dates, inheritance, missing sections and bindings), the release
 * manifest and the wrangler file a deployment runs from, `.dev.vars`, finding the project's
 * wrangler, reading wrangler's failures, and `packageRelease` refusing what a later environment
 * could not deploy.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedConfig } from '../../../src/config/resolve.ts';
import { AirlockError } from '../../../src/errors.ts';
import { CloudflareProvider } from '../../../src/providers/cloudflare/cloudflare-provider.ts';
import { readDevVars, writeDevVars } from '../../../src/providers/cloudflare/dev-vars.ts';
import { shellQuote } from '../../../src/providers/cloudflare/local-mode.ts';
import { urlFromTargets } from '../../../src/providers/cloudflare/remote-mode.ts';
import {
  buildWorkerManifest,
  findEntryPoint,
  readWorkerManifest,
  WORKER_MANIFEST,
  writeDeployConfig,
} from '../../../src/providers/cloudflare/worker-release.ts';
import {
  failureReason,
  findWrangler,
  type WranglerResult,
} from '../../../src/providers/cloudflare/wrangler-cli.ts';
import {
  d1Binding,
  readWranglerConfig,
  wranglerEnvironment,
} from '../../../src/providers/cloudflare/wrangler-config.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { cloudflareTarget, SEED_000_WRANGLER, workerProject } from './cloudflare-test-helpers.ts';

function thrown(fn: () => unknown): AirlockError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AirlockError) return error;
    throw error;
  }
  throw new Error('expected an AirlockError');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-cf-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (rel: string, text: string) => {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
};

describe('wrangler files', () => {
  it('reads seed 000: the top level is staging, [env.production] inherits the name but not bindings or vars', () => {
    const config = readWranglerConfig(write('wrangler.toml', SEED_000_WRANGLER));
    expect(wranglerEnvironment(config, null)).toMatchObject({
      name: 'notes-worker',
      vars: { GREETING: 'hello from staging' },
    });
    const production = wranglerEnvironment(config, 'production');
    expect(production).toMatchObject({
      name: 'notes-worker-production',
      compatibility_date: '2025-01-01',
      vars: { GREETING: 'hello from production' },
    });
    expect(d1Binding(config, 'production', null).database_name).toBe('notes-db-prod');
    expect(d1Binding(config, null, 'DB').database_id).toBe('00000000-0000-4000-8000-00000000aaaa');
  });

  it('a section without its own bindings has none (wrangler does not inherit them)', () => {
    const config = readWranglerConfig(
      write(
        'wrangler.toml',
        'name = "w"\n[[d1_databases]]\nbinding = "DB"\ndatabase_id = "x"\n[env.qa]\nname = "w-qa"\n',
      ),
    );
    expect(wranglerEnvironment(config, 'qa').d1_databases).toBeUndefined();
    const error = thrown(() => d1Binding(config, 'qa', null));
    expect(error.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error.hint).toContain('[[env.qa.d1_databases]]');
  });

  it('names a missing [env.x] section and the known ones', () => {
    const config = readWranglerConfig(write('wrangler.toml', SEED_000_WRANGLER));
    const error = thrown(() => wranglerEnvironment(config, 'prod'));
    expect(error.message).toContain('has no [env.prod] section');
    expect(error.hint).toContain('known: production');
  });

  it('reads JSONC with comments and trailing commas, and points at a broken line', () => {
    const ok = readWranglerConfig(
      write(
        'a/wrangler.jsonc',
        '// the Worker\n{ "name": "w", /* inline */ "env": { "production": {}, }, }\n',
      ),
    );
    expect(Object.keys(ok.env)).toEqual(['production']);
    const error = thrown(() =>
      readWranglerConfig(write('b/wrangler.jsonc', '{\n  "name": "w"\n  "main": 1\n}')),
    );
    expect(error.message).toMatch(/wrangler\.jsonc:3: /);
  });

  it('a TOML date (unquoted compatibility_date) survives into the generated JSON', () => {
    const file = write(
      'wrangler.toml',
      'name = "w"\nmain = "src/index.js"\ncompatibility_date = 2025-01-01\n',
    );
    write('dist/index.js', 'export default {}');
    const manifest = buildWorkerManifest(dir, file, path.join(dir, 'dist'));
    expect(manifest.config.compatibility_date).toBe('2025-01-01');
  });
});

describe('the release manifest and the deploy config', () => {
  it('records the built commit’s configuration without what would rebuild, and the entry point', () => {
    const file = write(
      'wrangler.toml',
      `${SEED_000_WRANGLER}\n[build]\ncommand = "npm run build"\n`.replace(
        '[env.production]\n',
        '[env.production]\nmain = "src/prod.ts"\nbase_dir = "src"\n',
      ),
    );
    write('dist/index.js', 'export default {}');
    write('dist/index.js.map', '{}');
    write('dist/README.md', 'built');
    const manifest = buildWorkerManifest(dir, file, path.join(dir, 'dist'));
    expect(manifest).toMatchObject({ airlock: 1, source: 'wrangler.toml', main: 'index.js' });
    expect(manifest.config.build).toBeUndefined();
    expect(manifest.config.main).toBe('index.js');
    const production = (manifest.config.env as Record<string, Record<string, unknown>>).production;
    expect(production?.main).toBeUndefined();
    expect(production?.base_dir).toBeUndefined();
    expect(production?.d1_databases).toEqual([
      {
        binding: 'DB',
        database_name: 'notes-db-prod',
        database_id: '00000000-0000-4000-8000-00000000bbbb',
      },
    ]);
  });

  it('finds the entry point by main’s name (src/index.ts → index.js), else the only script', () => {
    write('out/index.js', '');
    write('out/other.mjs', '');
    expect(findEntryPoint(path.join(dir, 'out'), 'src/index.ts')).toBe('index.js');
    write('one/worker.mjs', '');
    expect(findEntryPoint(path.join(dir, 'one'), 'src/index.ts')).toBe('worker.mjs');
    const error = thrown(() => findEntryPoint(path.join(dir, 'out'), undefined));
    expect(error.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error.message).toContain('index.js, other.mjs');
    expect(error.hint).toContain('wrangler deploy --dry-run --outdir dist');
  });

  it('keeps static assets only when they are inside the build output, and refuses Pages projects', () => {
    write('dist/index.js', '');
    const inside = buildWorkerManifest(
      dir,
      write('in.toml', 'name = "w"\nmain = "src/index.js"\n[assets]\ndirectory = "dist/public"\n'),
      path.join(dir, 'dist'),
    );
    expect(inside.config.assets).toEqual({ directory: 'public' });
    const outside = thrown(() =>
      buildWorkerManifest(
        dir,
        write('out.toml', 'name = "w"\nmain = "src/index.js"\n[assets]\ndirectory = "public"\n'),
        path.join(dir, 'dist'),
      ),
    );
    expect(outside.message).toContain('assets.directory public is outside the build output');
    const pages = thrown(() =>
      buildWorkerManifest(
        dir,
        write('p.toml', 'name = "w"\npages_build_output_dir = "dist"\n'),
        path.join(dir, 'dist'),
      ),
    );
    expect(pages.hint).toContain('wrangler pages deploy');
  });

  it('writes the deploy config with main in the artifact, once, and refuses an unknown environment', () => {
    const artifact = path.join(dir, 'artifact');
    write('artifact/index.js', '');
    const manifest = buildWorkerManifest(dir, write('wrangler.toml', SEED_000_WRANGLER), artifact);
    writeFileSync(path.join(artifact, WORKER_MANIFEST), JSON.stringify(manifest));
    expect(readWorkerManifest(artifact)).toEqual(manifest);
    const config = path.join(dir, 'wrangler.r1.jsonc');
    writeDeployConfig(manifest, artifact, config, 'production');
    const text = readFileSync(config, 'utf8');
    expect(text.split('\n')[0]).toMatch(/^\/\/ Generated by Airlock from wrangler\.toml/);
    const generated = readWranglerConfig(config);
    expect(generated.top.main).toBe(path.join(artifact, 'index.js'));
    expect(wranglerEnvironment(generated, 'production').name).toBe('notes-worker-production');
    expect(statSync(config).mode & 0o777).toBe(0o600);
    const before = statSync(config).mtimeMs;
    writeDeployConfig(manifest, artifact, config, 'production');
    expect(statSync(config).mtimeMs).toBe(before);
    const error = thrown(() => writeDeployConfig(manifest, artifact, config, 'qa'));
    expect(error.message).toBe('wrangler.toml (as built) has no [env.qa] section.');
  });
});

describe('packageRelease', () => {
  const configWith = (envs: Record<string, string | null>): ResolvedConfig =>
    ({
      pipeline: Object.keys(envs),
      environments: Object.fromEntries(
        Object.entries(envs).map(([name, env]) => [
          name,
          {
            services: {
              web: {
                build: { command: 'x', output: 'dist', env: {} },
                provider: {
                  provider: 'cloudflare',
                  config: null,
                  env,
                  mode: 'local',
                  accountId: null,
                },
              },
            },
          },
        ]),
      ),
    }) as unknown as ResolvedConfig;

  it('adds airlock-worker.json to the build output, read from the checkout that was built', async () => {
    const project = workerProject({ linkNodeModules: false });
    try {
      const checkout = path.join(dir, 'checkout');
      mkdirSync(path.join(checkout, 'dist'), { recursive: true });
      writeFileSync(
        path.join(checkout, 'wrangler.toml'),
        SEED_000_WRANGLER.replace('notes-worker', 'as-built'),
      );
      writeFileSync(path.join(checkout, 'dist', 'index.js'), 'export default {}');
      const provider = new CloudflareProvider({
        home: project.home,
        env: {},
        local: new LocalProvider({ home: project.home }),
        config: configWith({ staging: null, production: 'production' }),
      });
      const lines: string[] = [];
      await provider.packageRelease(
        cloudflareTarget(project, 'staging', 'local', 1),
        path.join(checkout, 'dist'),
        { commit: 'c'.repeat(40), dirty: false },
        { onProgress: (line) => lines.push(line) },
      );
      const manifest = readWorkerManifest(path.join(checkout, 'dist'));
      expect(manifest?.config.name).toBe('as-built'); // the checkout's, not the working tree's
      expect(lines).toEqual([
        'packaged index.js with wrangler.toml (airlock-worker.json); every environment deploys it with --no-bundle',
      ]);

      const missing = new CloudflareProvider({
        home: project.home,
        env: {},
        local: new LocalProvider({ home: project.home }),
        config: configWith({ staging: null, production: 'prod' }),
      });
      const error = await missing
        .packageRelease(
          cloudflareTarget(project, 'staging', 'local', 1),
          path.join(checkout, 'dist'),
          {
            commit: 'c'.repeat(40),
            dirty: false,
          },
        )
        .catch((e: unknown) => e as AirlockError);
      expect(error?.code).toBe('PROVIDER_CONFIG_INVALID');
      expect(error?.message).toBe(
        'wrangler.toml has no [env.prod] section. Airlock environment production deploys as [env.prod].',
      );
    } finally {
      rmSync(project.dir, { recursive: true, force: true });
    }
  });

  it('says so when the built commit has no wrangler file', async () => {
    const project = workerProject({ linkNodeModules: false });
    try {
      mkdirSync(path.join(dir, 'dist'), { recursive: true });
      writeFileSync(path.join(dir, 'dist', 'index.js'), '');
      const provider = new CloudflareProvider({
        home: project.home,
        env: {},
        local: new LocalProvider({ home: project.home }),
        config: configWith({ staging: null }),
      });
      const error = await provider
        .packageRelease(cloudflareTarget(project, 'staging', 'local', 1), path.join(dir, 'dist'), {
          commit: 'c'.repeat(40),
          dirty: false,
        })
        .catch((e: unknown) => e as AirlockError);
      expect(error?.code).toBe('PROVIDER_CONFIG_INVALID');
      expect(error?.message).toContain(
        'the built commit has no wrangler.jsonc, wrangler.json or wrangler.toml',
      );
    } finally {
      rmSync(project.dir, { recursive: true, force: true });
    }
  });

  it('a target without any wrangler file fails with the file it looked for', async () => {
    const project = workerProject({ linkNodeModules: false });
    rmSync(path.join(project.dir, 'wrangler.toml'));
    const provider = new CloudflareProvider({
      home: project.home,
      env: {},
      local: new LocalProvider({ home: project.home }),
    });
    const error = await provider
      .platformConfig(cloudflareTarget(project, 'staging', 'local', 1))
      .then(() => null)
      .catch((e: unknown) => e as AirlockError);
    expect(error?.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error?.hint).toContain('services.web.cloudflare.config');
    rmSync(project.dir, { recursive: true, force: true });
  });
});

describe('.dev.vars', () => {
  it('round-trips values dotenv would otherwise change (quotes, newlines, $, #), owner-only', () => {
    const file = path.join(dir, 'env', '.dev.vars');
    const secrets = {
      PLAIN: 'abc',
      MULTI: '-----BEGIN KEY-----\nline\n-----END KEY-----',
      QUOTE: "it's #1 $HOME",
      SPACES: '  padded  ',
    };
    writeDevVars(file, secrets);
    expect(readDevVars(file)).toEqual(secrets);
    writeDevVars(file, { PLAIN: 'replaced' });
    expect(readDevVars(file)).toEqual({ ...secrets, PLAIN: 'replaced' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(thrown(() => writeDevVars(file, { BOTH: "'`" })).code).toBe('USAGE');
    expect(thrown(() => writeDevVars(file, { 'BAD-NAME': 'x' })).code).toBe('USAGE');
  });
});

describe('wrangler on the command line', () => {
  it('finds the nearest node_modules/.bin/wrangler, then PATH, else says how to install it', () => {
    const nested = path.join(dir, 'app', 'worker');
    mkdirSync(nested, { recursive: true });
    const onPath = write('bin/wrangler', '#!/bin/sh\n');
    chmodSync(onPath, 0o755);
    expect(findWrangler(nested, { PATH: path.join(dir, 'bin') }).found).toBe(onPath);
    const local = write('app/node_modules/.bin/wrangler', '#!/bin/sh\n');
    chmodSync(local, 0o755);
    expect(findWrangler(nested, { PATH: path.join(dir, 'bin') })).toMatchObject({
      command: local,
      found: local,
    });
    const error = thrown(() => findWrangler(path.join(os.tmpdir(), 'nowhere-x'), { PATH: '' }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.hint).toContain('npm install --save-dev wrangler');
  });

  it('reads wrangler’s error with its notes, masked', () => {
    const result = {
      tail: [
        'Total Upload: 0.01 KiB',
        '✘ [ERROR] A request to the Cloudflare API (/accounts/acct1234/workers/scripts/w/versions) failed.',
        '',
        '  Uncaught SyntaxError: Unexpected end of input',
        '    at worker.js:1',
        '   [code: 10021]',
        '',
        '🪵  Logs were written to "/root/.wrangler/logs/x.log"',
      ],
      output: [{ type: 'command-failed', message: 'A request to the Cloudflare API failed.' }],
    } as unknown as WranglerResult;
    expect(failureReason(result, ['acct1234'])).toBe(
      'A request to the Cloudflare API (/accounts/***/workers/scripts/w/versions) failed. Uncaught SyntaxError: Unexpected end of input at worker.js:1 [code: 10021]',
    );
  });

  it('quotes argv for the shell, and picks the public URL of a deploy', () => {
    expect(shellQuote('--env=')).toBe('--env=');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('/a b/c')).toBe(`'/a b/c'`);
    expect(urlFromTargets(['https://w.sub.workers.dev'])).toBe('https://w.sub.workers.dev');
    expect(urlFromTargets(['example.com/* (zone name: example.com)'])).toBe('https://example.com');
    expect(urlFromTargets(['api.example.com (custom domain)'])).toBe('https://api.example.com');
    expect(urlFromTargets([])).toBeNull();
  });
});
