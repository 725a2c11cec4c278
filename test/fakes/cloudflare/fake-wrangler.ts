/**
 * FAKE — NOT WRANGLER, NOT CLOUDFLARE. A recorded-CLI stand-in for the `wrangler` commands the
 * cloudflare provider runs in remote mode, for tests that cannot reach Cloudflare's API
 * (DESIGN.md principle 6). A test installs it as the project's `node_modules/.bin/wrangler`
 * (a shell script that runs `node fake-wrangler.ts "$@"`) and sets FAKE_WRANGLER_STATE to a
 * folder. There it keeps the fake platform (each Worker's versions, deployments and secret
 * names with a sha256 of each value) and `invocations.jsonl`: every call's argv, cwd, the
 * CLOUDFLARE_/WRANGLER_ variables (the token only as "set") and what arrived on stdin (secret
 * values only as sha256).
 *
 * Its output is replayed from wrangler 4.156.0's own source (the strings of `deploy`,
 * `rollback`, `deployments status`, `versions list`, `secret bulk`, `secret list`, the
 * non-interactive token error, `APIError` rendering), and it writes the same entries to
 * WRANGLER_OUTPUT_FILE_PATH (`deploy`, `command-failed`). Cloudflare's upload validation is
 * imitated with `node --check` on the entry point (a Worker that does not parse fails with
 * API error 10021, as a script startup error does).
 *
 * Commands: --version, deploy, rollback, deployments status --json, versions list --json,
 * secret bulk (stdin), secret list --format json.
 */

import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  readWranglerConfig,
  wranglerEnvironment,
} from '../../../src/providers/cloudflare/wrangler-config.ts';

interface Version {
  id: string;
  number: number;
  created_on: string;
  tag: string | null;
  message: string | null;
  vars: Record<string, string>;
  main_sha256: string;
}
interface Deployment {
  id: string;
  created_on: string;
  versions: { version_id: string; percentage: number }[];
  annotations: Record<string, string>;
}
interface Worker {
  versions: Version[];
  deployments: Deployment[];
  secrets: Record<string, string>;
}

const stateDir = process.env.FAKE_WRANGLER_STATE;
if (!stateDir) {
  process.stderr.write('fake wrangler: FAKE_WRANGLER_STATE is not set\n');
  process.exit(2);
}
mkdirSync(path.join(stateDir, 'workers'), { recursive: true });

const argv = process.argv.slice(2);
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const out = (text = '') => process.stdout.write(`${text}\n`);
const err = (text = '') => process.stderr.write(`${text}\n`);
const banner = () => {
  out('');
  out(' ⛅️ wrangler 4.156.0 (fake)');
  out('───────────────────────────');
};

function writeOutput(entry: Record<string, unknown>): void {
  const file = process.env.WRANGLER_OUTPUT_FILE_PATH;
  if (file)
    appendFileSync(file, `${JSON.stringify({ ...entry, timestamp: new Date().toISOString() })}\n`);
}

/** wrangler's rendering of an error (esbuild's message format), plus its output-file entry. */
function fail(text: string, notes: string[] = [], code?: number): never {
  err(`✘ [ERROR] ${text}`);
  err('');
  for (const note of notes) err(`  ${note}`);
  if (notes.length) err('');
  writeOutput({ type: 'command-failed', version: 1, code, message: text });
  process.exit(1);
}

// --- arguments (yargs-like: --flag value, --flag=value, repeated --var) ---
const positionals: string[] = [];
const flags: Record<string, string[]> = {};
const BOOLEAN = new Set(['no-bundle', 'json', 'yes', 'y', 'dry-run', 'version', 'v']);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i] as string;
  const m = /^--?([^=]+)(?:=(.*))?$/.exec(arg);
  if (!m) {
    positionals.push(arg);
    continue;
  }
  const name = m[1] as string;
  const value = m[2] ?? (BOOLEAN.has(name) ? 'true' : (argv[++i] ?? ''));
  flags[name] = [...(flags[name] ?? []), value];
}
const flag = (...names: string[]) =>
  names.map((n) => flags[n]?.at(-1)).find((v) => v !== undefined);

// --- stdin (secret bulk) ---
let stdin = '';
if (positionals[0] === 'secret' && positionals[1] === 'bulk') {
  try {
    stdin = readFileSync(0, 'utf8');
  } catch {
    stdin = '';
  }
}

// --- the recording ---
const recordedStdin = (() => {
  if (!stdin) return undefined;
  try {
    const data = JSON.parse(stdin) as Record<string, string>;
    return Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, `sha256:${sha(String(v))}`]),
    );
  } catch {
    return `sha256:${sha(stdin)}`;
  }
})();
appendFileSync(
  path.join(stateDir, 'invocations.jsonl'),
  `${JSON.stringify({
    argv,
    cwd: process.cwd(),
    env: Object.fromEntries(
      Object.entries(process.env)
        .filter(([k]) => /^(CLOUDFLARE_|WRANGLER_)/.test(k))
        .map(([k, v]) => [k, k === 'CLOUDFLARE_API_TOKEN' ? 'set' : v]),
    ),
    ...(recordedStdin !== undefined ? { stdin: recordedStdin } : {}),
  })}\n`,
);

if (flags.version || flags.v) {
  out('4.156.0');
  process.exit(0);
}

// --- authentication, as wrangler does it without a terminal ---
const token = process.env.CLOUDFLARE_API_TOKEN;
if (!token) {
  fail(
    "In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work. Please go to https://developers.cloudflare.com/fundamentals/api/get-started/create-token/ for instructions on how to create an api token, and assign its value to CLOUDFLARE_API_TOKEN.",
  );
}
const accountId = process.env.CLOUDFLARE_ACCOUNT_ID ?? '0123456789abcdef0123456789abcdef';
if (token === 'expired-token') {
  fail(`A request to the Cloudflare API (/accounts/${accountId}/workers/scripts) failed.`, [
    'Authentication error [code: 10000]',
  ]);
}

// --- configuration ---
const configFile = flag('config', 'c');
if (!configFile || !existsSync(configFile))
  fail(`Could not read the configuration file ${configFile}.`);
const wranglerEnv = flag('env', 'e') || null;
const config = readWranglerConfig(path.resolve(configFile));
const effective = wranglerEnvironment(config, wranglerEnv);
const name = String(effective.name);
const workerFile = path.join(stateDir, 'workers', `${name}.json`);
const load = (): Worker | null =>
  existsSync(workerFile) ? (JSON.parse(readFileSync(workerFile, 'utf8')) as Worker) : null;
const save = (worker: Worker) => writeFileSync(workerFile, JSON.stringify(worker, null, 2));
const url = `https://${name}.airlock-fake.workers.dev`;
const notFound = () =>
  fail(`A request to the Cloudflare API (/accounts/${accountId}/workers/scripts/${name}) failed.`, [
    'This Worker does not exist on your account. [code: 10007]',
  ]);

const [command, sub] = positionals;

if (command === 'deploy') {
  if (!flags['no-bundle']) fail('fake wrangler: Airlock always deploys with --no-bundle.');
  const main = String(effective.main ?? '');
  if (!existsSync(main)) fail(`The entry-point file at "${main}" was not found.`);
  banner();
  const code = readFileSync(main, 'utf8');
  out(
    `Total Upload: ${(code.length / 1024).toFixed(2)} KiB / gzip: ${(code.length / 2048).toFixed(2)} KiB`,
  );
  const check = spawnSync(process.execPath, ['--check', main], { encoding: 'utf8' });
  if (check.status !== 0) {
    const reason =
      check.stderr.split('\n').find((l) => /Error/.test(l)) ??
      'SyntaxError: Invalid or unexpected token';
    fail(
      `A request to the Cloudflare API (/accounts/${accountId}/workers/scripts/${name}/versions) failed.`,
      [`Uncaught ${reason.trim()}`, `  at worker.js:1`, ` [code: 10021]`],
      10021,
    );
  }
  const vars = Object.fromEntries(
    (flags.var ?? []).map((v) => [v.slice(0, v.indexOf(':')), v.slice(v.indexOf(':') + 1)]),
  );
  out('Your Worker has access to the following bindings:');
  out('Binding                                  Resource');
  for (const d of (effective.d1_databases ?? []) as { binding: string; database_name?: string }[])
    out(`${`env.${d.binding} (${d.database_name ?? d.binding})`.padEnd(41)}D1 Database`);
  for (const k of Object.keys(vars))
    out(`${`env.${k} ("(hidden)")`.padEnd(41)}Environment Variable`);
  out('');
  const worker = load() ?? { versions: [], deployments: [], secrets: {} };
  const version: Version = {
    id: randomUUID(),
    number: worker.versions.length + 1,
    created_on: new Date().toISOString(),
    tag: flag('tag') ?? null,
    message: flag('message', 'm') ?? null,
    vars,
    main_sha256: sha(code),
  };
  worker.versions.push(version);
  worker.deployments.push({
    id: randomUUID(),
    created_on: version.created_on,
    versions: [{ version_id: version.id, percentage: 100 }],
    annotations: { 'workers/triggered_by': 'deployment' },
  });
  save(worker);
  out(`Uploaded ${name} (1.02 sec)`);
  out(`Deployed ${name} triggers (0.31 sec)`);
  out(`  ${url}`);
  out(`Current Version ID: ${version.id}`);
  writeOutput({
    type: 'deploy',
    version: 1,
    worker_name: name,
    worker_tag: sha(name).slice(0, 32),
    version_id: version.id,
    targets: [url],
    wrangler_environment: wranglerEnv ?? undefined,
    worker_name_overridden: false,
  });
} else if (command === 'rollback') {
  const worker = load() ?? notFound();
  const id = positionals[1];
  const version = worker.versions.find((v) => v.id === id);
  banner();
  if (!version) {
    fail(
      `A request to the Cloudflare API (/accounts/${accountId}/workers/scripts/${name}/versions/${id}) failed.`,
      ['version not found [code: 10220]'],
    );
  }
  out(`? Please provide an optional message for this rollback (120 characters max)`);
  out(`🤖 Using default value in non-interactive context: ${flag('message', 'm') ?? 'Rollback'}`);
  out(`├  WARNING  You are about to rollback to Worker Version ${id}.`);
  out('Performing rollback...');
  worker.deployments.push({
    id: randomUUID(),
    created_on: new Date().toISOString(),
    versions: [{ version_id: version.id, percentage: 100 }],
    annotations: {
      'workers/triggered_by': 'rollback',
      'workers/message': flag('message', 'm') ?? 'Rollback',
    },
  });
  save(worker);
  out(`╰  SUCCESS  Worker Version ${id} has been deployed to 100% of traffic.`);
  out('');
  out(`Current Version ID: ${id}`);
} else if (command === 'deployments' && sub === 'status') {
  const worker = load() ?? notFound();
  const latest = worker.deployments.at(-1);
  if (!latest) fail(`The Worker ${name} has no deployments.`);
  const json = {
    id: latest.id,
    source: 'wrangler',
    strategy: 'percentage',
    author_email: 'ci@example.com',
    annotations: latest.annotations,
    created_on: latest.created_on,
    versions: latest.versions,
  };
  if (flags.json) out(JSON.stringify(json, null, 2));
  else {
    banner();
    for (const v of latest.versions) out(`(${v.percentage}%) ${v.version_id}`);
  }
} else if (command === 'versions' && sub === 'list') {
  const worker = load() ?? notFound();
  const versions = worker.versions.slice(-10).map((v) => ({
    id: v.id,
    number: v.number,
    metadata: {
      created_on: v.created_on,
      modified_on: v.created_on,
      source: 'wrangler',
      author_id: 'fake',
      author_email: 'ci@example.com',
    },
    annotations: {
      'workers/triggered_by': 'upload',
      ...(v.tag ? { 'workers/tag': v.tag } : {}),
      ...(v.message ? { 'workers/message': v.message } : {}),
    },
  }));
  out(JSON.stringify(versions, null, 2));
} else if (command === 'secret' && sub === 'bulk') {
  banner();
  out(`🌀 Processing the secrets for the Worker "${name}"`);
  let content: Record<string, string | null>;
  try {
    content = JSON.parse(stdin) as Record<string, string | null>;
  } catch {
    fail('🚨 No content found in file, or piped input.');
  }
  const worker = load() ?? { versions: [], deployments: [], secrets: {} };
  const created: string[] = [];
  for (const [key, value] of Object.entries(content)) {
    if (value === null) delete worker.secrets[key];
    else {
      worker.secrets[key] = sha(value);
      created.push(key);
    }
  }
  save(worker);
  for (const key of created) out(`✨ Successfully created secret for key: ${key}`);
  out('');
  out('Finished processing secrets file:');
  out(`✨ ${created.length} secrets successfully created`);
} else if (command === 'secret' && sub === 'list') {
  const worker = load();
  if (!worker || worker.versions.length === 0) {
    fail(
      `Worker "${name}"${wranglerEnv ? ` (env: ${wranglerEnv})` : ''} not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.\nOtherwise, check that the Worker name is correct and you're logged into the right account.`,
    );
  }
  out(
    JSON.stringify(
      Object.keys(worker.secrets)
        .sort()
        .map((n) => ({ name: n, type: 'secret_text' })),
      null,
      '  ',
    ),
  );
} else {
  fail(`Unknown arguments: ${argv.join(' ')}`);
}
