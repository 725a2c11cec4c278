/**
 * The airlock.yaml `airlock init` writes: a starting point built from what `detectProject`
 * found, every guess explained in a comment, valid as written (`airlock config validate`
 * passes; a `${NAME}` database URL only warns until NAME is exported). Pure.
 */
import { stringify } from 'yaml';
import { databaseUrlVariable } from '../config/references.ts';
import type { Detection } from './detect.ts';
import { execBinary, installCommand, nodeRecipe, runScript } from './node-recipe.ts';

export interface RenderOptions {
  /**
   * Local ports, one per environment in pipeline order (see ports.ts `choosePorts`). Default:
   * 4100, 4200 … (tests and `--print` on a machine where nothing is checked).
   */
  ports?: number[];
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** A valid Airlock name (project, service, environment) from any text, or `fallback`. */
export function toName(text: string | null | undefined, fallback: string): string {
  const name = (text ?? '')
    .replace(/^@[^/]+\//, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+/g, '-')
    .slice(0, 40)
    .replace(/-+$/, '');
  return NAME.test(name) ? name : fallback;
}

/** A YAML scalar (quoted only when needed). */
const q = (value: string | number | boolean): string =>
  stringify(value, { lineWidth: 0 }).trimEnd();

const PRODUCTION_LIKE = ['production', 'prod', 'live'];
const STAGING_LIKE = ['staging', 'stage'];

/** Environment names in promotion order: staging-like first, production-like last. */
export function orderEnvironments(names: string[]): string[] {
  const rank = (n: string) => (STAGING_LIKE.includes(n) ? 0 : PRODUCTION_LIKE.includes(n) ? 2 : 1);
  return [...names].sort((a, b) => rank(a) - rank(b));
}

interface EnvPlan {
  name: string;
  comment: string[];
  /** Lines under `environments.<name>.services.<service>:` (already YAML, unindented). */
  service: string[];
}

interface Plan {
  project: string;
  service: string;
  pipeline: EnvPlan[];
  build: { command: string; output: string; comment: string[] };
  run: { command: string; comment: string } | null;
  health: string | null;
  database: string[] | null;
  databaseComment: string[];
  databaseUrls: boolean;
  checks: Array<{ lines: string[]; comment: string }>;
  notes: string[];
  /** What could not be decided: written as comments at the top and printed by the command. */
  unsure: string[];
}

function buildGuess(d: Detection): Plan['build'] {
  const pkg = d.packageJson;
  const pm = pkg?.node.packageManager;
  const install =
    pm && (pm.lockfile || pkg.dependencies.length || pkg.devDependencies.length)
      ? installCommand(pm)
      : null;
  const withInstall = (cmd: string) => (install ? `${install} && ${cmd}` : cmd);
  if (d.platform === 'cloudflare') {
    const wrangler = 'wrangler deploy --dry-run --outdir dist';
    return {
      command: withInstall(pm ? execBinary(pm, wrangler) : `npx ${wrangler}`),
      output: 'dist',
      comment: ['wrangler bundles the Worker once; every environment gets these bytes.'],
    };
  }
  if (d.platform === 'railway' && d.railway?.buildCommand) {
    return {
      command: d.railway.buildCommand,
      output: '.',
      comment: [
        `From ${d.railway.file} (build.buildCommand); the release is the checkout after it.`,
      ],
    };
  }
  if (d.platform === 'local' && pkg) {
    const recipe = nodeRecipe(pkg.node);
    return { command: recipe.command, output: recipe.output, comment: recipe.comments };
  }
  if (pkg?.scripts.build && pm) {
    const out = pkg.node.build?.outDir ?? 'dist';
    return {
      command: withInstall(runScript(pm, 'build')),
      output: out,
      comment: [
        `package.json has a build script; ${out}/ is ${pkg.node.build?.outDirFrom ?? 'a guess: set the folder it writes'}.`,
      ],
    };
  }
  if (d.platform === 'fly') {
    return {
      command: 'mkdir -p dist && cp fly*.toml dist/',
      output: 'dist',
      comment: [
        'fly builds one image per release from this checkout (Dockerfile) and records its digest in dist/.',
      ],
    };
  }
  if (pkg && pm) {
    return {
      command: install ? `${install}` : 'true',
      output: '.',
      comment: ['No build script: the release is the checkout with its dependencies.'],
    };
  }
  return {
    command: 'make build',
    output: 'dist',
    comment: ['Nothing to guess from: put your build command and the folder it writes here.'],
  };
}

function runGuess(d: Detection): Plan['run'] {
  if (d.platform !== 'local') return null;
  const node = d.packageJson?.node;
  if (node) {
    const recipe = nodeRecipe(node);
    if (recipe.run) return { command: recipe.run, comment: recipe.runComment };
  }
  return {
    command: 'node index.js',
    comment:
      'a guess: the command that starts the app inside the release folder, listening on $PORT',
  };
}

function wranglerEnvironments(d: Detection): EnvPlan[] {
  const w = d.wrangler;
  if (!w) return [];
  const hasStaging = w.environments.includes('staging');
  // Airlock environment → wrangler section (null: the top level), in promotion order.
  const chosen: Array<{ name: string; section: string | null; comment: string[] }> = [];
  if (!hasStaging)
    chosen.push({
      name: 'staging',
      section: null,
      comment: [`The top level of ${w.file} (staging by default).`],
    });
  for (const section of orderEnvironments(w.environments)) {
    const name = toName(section, `env-${chosen.length + 1}`);
    if (chosen.some((e) => e.name === name)) continue;
    chosen.push({ name, section, comment: [`[env.${section}] of ${w.file}.`] });
  }
  if (hasStaging)
    chosen[0]?.comment.push(
      `The top level of ${w.file} (local development) is not in the pipeline.`,
    );
  if (!chosen.some((e) => PRODUCTION_LIKE.includes(e.name))) {
    chosen.push({
      name: 'production',
      section: 'production',
      comment: [
        `${w.file} has no [env.production] section yet: add one with its own d1_databases and vars`,
        '(the top level stays staging), or point cloudflare.env at the section production uses.',
      ],
    });
  }
  // Airlock's default: the top level for the first environment, [env.<name>] for the others.
  return chosen.map((e, i) => ({
    name: e.name,
    comment: e.comment,
    service:
      e.section === (i === 0 ? null : e.name)
        ? []
        : [`cloudflare: { env: ${e.section === null ? 'null' : q(e.section)} }`],
  }));
}

function flyEnvironments(d: Detection): EnvPlan[] {
  const f = d.fly;
  if (!f) return [];
  const named = Object.keys(f.files).filter((e) => e !== '');
  const envs: EnvPlan[] = [];
  const names = orderEnvironments([
    ...new Set([...named.map((n) => toName(n, n)), 'staging', 'production']),
  ]);
  for (const name of names) {
    const file = Object.entries(f.files).find(
      ([env]) => env !== '' && toName(env, env) === name,
    )?.[1];
    if (file) {
      envs.push({
        name,
        comment: [`Deploys with ${file} (its app, settings and resources).`],
        service: file === `fly.${name}.toml` ? [] : [`fly: { config: ${q(file)} }`],
      });
    } else if (name === 'production' && f.files['']) {
      envs.push({
        name,
        comment: ['Deploys with fly.toml (its app, settings and resources).'],
        service: [],
      });
    } else if (name === 'staging') {
      const app = `${f.app ?? 'app'}-staging`;
      envs.push({
        name,
        comment: [
          'No fly.staging.toml: staging deploys fly.toml as its own app (a production mirror: the same',
          `configuration and resources, only the name differs). Create the app: fly apps create ${app}`,
        ],
        service: [`fly: { app: ${q(app)} }`],
      });
    } else {
      envs.push({ name, comment: [`No fly.${name}.toml: it reads fly.toml.`], service: [] });
    }
  }
  return envs;
}

function simpleEnvironments(d: Detection, ports: number[] | undefined): EnvPlan[] {
  const local = d.platform === 'local';
  return ['staging', 'production'].map((name, i) => {
    const port = ports?.[i] ?? 4100 + 100 * i;
    return {
      name,
      comment:
        d.platform === 'railway'
          ? [`The Railway environment "${name}" (railway.environment to use another).`]
          : local
            ? [
                `Runs on this machine behind port ${port} (the local provider; ${ports ? 'free when init ran, derived from the project name' : 'check it is free'}).`,
              ]
            : [],
      service: local
        ? [
            `port: ${port}`,
            // The last environment: a rollback there should be a switch, not a cold start.
            ...(i === 1
              ? [
                  '# Keep the previous release running for 10 minutes after a switch: rolling',
                  '# back is then a switch (one more process of the app meanwhile).',
                  'keepWarmMs: 600000',
                ]
              : []),
          ]
        : [],
    };
  });
}

/** `migrations: { dir: ..., layout: ... }` for the detected folder (`pattern` for wrangler's). */
function migrationsLine(m: Detection['migrations'], dir: string): string {
  const layout = m?.layout ?? 'airlock';
  const pattern = m?.pattern ? `, pattern: ${q(m.pattern)}` : '';
  return `migrations: { dir: ${q(dir)}, layout: ${layout}${pattern} }`;
}

function databaseGuess(
  d: Detection,
  plan: Pick<Plan, 'databaseComment' | 'unsure'>,
): {
  lines: string[] | null;
  urls: boolean;
} {
  const m = d.migrations;
  const d1 = d.wrangler?.d1 ?? [];
  if (d.platform === 'cloudflare' && d1.length > 0) {
    const first = d1[0] as (typeof d1)[number];
    plan.databaseComment.push(
      `D1 from ${d.wrangler?.file}: each environment's own database is the one its section binds as ${first.binding}.`,
    );
    if (d1.length > 1)
      plan.databaseComment.push(
        `${d1.length} D1 bindings (${d1.map((x) => x.binding).join(', ')}): Airlock migrates one per service; this is the first.`,
      );
    return {
      lines: [
        'engine: d1',
        `binding: ${q(first.binding)}`,
        migrationsLine(m, first.migrationsDir ?? m?.dir ?? 'migrations'),
      ],
      urls: false,
    };
  }
  if (!m) return { lines: null, urls: false };
  if (m.tool)
    plan.databaseComment.push(
      `Migrations are written by ${m.tool} (${m.from}) and read in its layout (${m.layout}): create them with it, then \`airlock migrate hash\` records them in ${m.dir}/airlock.sum. Airlock also writes ${m.tool}'s own ledger row for each migration it applies, so running ${m.tool} afterwards finds nothing to do.`,
    );
  if (m.layout === 'airlock' && m.first === 0)
    plan.unsure.push(
      `${m.dir}/ numbers its migrations from 0000; Airlock's own layout starts at 0001: if drizzle-kit or wrangler writes the folder, set \`layout: drizzle\` or \`layout: wrangler\` under database.migrations.`,
    );
  if (m.layout === 'airlock' && m.valid < m.files)
    plan.databaseComment.push(
      `${m.files - m.valid} file(s) in ${m.dir}/ are not named NNNN_name.sql: set the layout of the tool that writes them under database.migrations (see docs/migrations.md), or rename them, before the first deploy.`,
    );
  const engine = d.database.engine;
  if (d.platform === 'local' && m.kind !== 'supabase' && engine?.engine !== 'postgres') {
    if (engine)
      plan.databaseComment.push(
        `SQLite (${engine.from}): each environment gets its own file; the app reads its file: URL from DATABASE_URL.`,
      );
    else {
      plan.databaseComment.push(
        `${m.dir}/ found. Locally each environment gets its own SQLite file (DATABASE_URL); for Postgres use engine postgres and a databaseUrl per environment.`,
      );
      if (!d.database.conflict)
        plan.unsure.push(
          `the database engine (no database driver in dependencies, no tool configuration naming one): wrote sqlite; use postgres if the migrations are for Postgres.`,
        );
    }
    return { lines: ['engine: sqlite', migrationsLine(m, m.dir)], urls: false };
  }
  plan.databaseComment.push(
    `${m.dir}/ found${m.kind === 'supabase' ? ' (Supabase)' : engine ? `, Postgres (${engine.from})` : ''}. Each environment names its own Postgres database (data is never shared between environments).`,
  );
  if (m.kind === 'supabase')
    plan.databaseComment.push(
      'Already migrated by the Supabase CLI? `airlock migrate adopt <env> --from supabase` takes its ledger over.',
    );
  return { lines: ['engine: postgres', migrationsLine(m, m.dir)], urls: true };
}

function plan(d: Detection, options: RenderOptions): Plan {
  const project = toName(
    d.packageJson?.name ??
      d.wrangler?.name ??
      d.fly?.app?.replace(/-(staging|production|prod)$/, '') ??
      d.dir.split(/[\\/]/).pop(),
    'app',
  );
  const service = project;
  const build = buildGuess(d);
  const p: Plan = {
    project,
    service,
    pipeline:
      d.platform === 'cloudflare'
        ? wranglerEnvironments(d)
        : d.platform === 'fly'
          ? flyEnvironments(d)
          : simpleEnvironments(d, options.ports),
    build,
    run: runGuess(d),
    health: null,
    database: null,
    databaseComment: [],
    databaseUrls: false,
    checks: [],
    notes: [],
    unsure: [...d.unsure, ...(d.platform === 'local' ? (d.packageJson?.node.unsureRun ?? []) : [])],
  };
  const healthFrom = d.railway?.healthcheckPath
    ? `${d.railway.file}'s healthcheckPath`
    : d.fly?.healthPath
      ? "fly.toml's http check"
      : null;
  const health = d.railway?.healthcheckPath ?? d.fly?.healthPath ?? '/health';
  if (d.platform === 'local') p.health = health;
  const db = databaseGuess(d, p);
  p.database = db.lines;
  p.databaseUrls = db.urls;
  p.checks.push({
    comment: `Smoke: the live URL answers (${healthFrom ?? 'a guess: point it at a route the app serves'}).`,
    lines: ['name: smoke', 'type: http', `path: ${q(health)}`],
  });
  const e2e = ['e2e', 'test:e2e', 'smoke'].find((s) => d.packageJson?.scripts[s]);
  if (e2e)
    p.checks.push({
      comment: `package.json's ${e2e} script, against the live URL (BASE_URL is set for it).`,
      lines: ['name: e2e', 'type: command', `run: ${q(`npm run -s ${e2e}`)}`],
    });
  return p;
}

/** The airlock.yaml text for what `detection` found. */
export function renderConfig(detection: Detection, options: RenderOptions = {}): string {
  return renderInit(detection, options).yaml;
}

/**
 * The airlock.yaml text for what `detection` found, and what could not be decided (also written
 * as comments at the top of the file).
 */
export function renderInit(
  detection: Detection,
  options: RenderOptions = {},
): { yaml: string; unsure: string[] } {
  const p = plan(detection, options);
  const out: string[] = [];
  const line = (text = '') => out.push(text);
  line('# Airlock configuration, written by `airlock init` from what this folder has:');
  for (const f of detection.found.length ? detection.found : ['nothing Airlock recognizes'])
    line(`#   - ${f}`);
  if (p.unsure.length) {
    line('# Could not decide (read these first):');
    for (const u of p.unsure) line(`#   - ${u}`);
  }
  line(
    '# Every value is a starting guess: read it, change it, then run `airlock config validate`.',
  );
  line('# Reference: docs/configuration.md (or `airlock config schema` for editors).');
  line(`project: ${q(p.project)}`);
  line();
  line('# Releases enter at the first environment and are promoted along the pipeline.');
  line(`pipeline: [${p.pipeline.map((e) => e.name).join(', ')}]`);
  line();
  line('services:');
  line(`  ${p.service}:`);
  for (const c of p.build.comment) line(`    # ${c}`);
  line('    build:');
  line(`      command: ${q(p.build.command)}`);
  line(`      output: ${q(p.build.output)}`);
  if (p.run) {
    line(`    # ${p.run.comment}.`);
    line(`    run: ${q(p.run.command)}`);
  }
  if (p.health) {
    line('    # A new release serves only once this path answers 200.');
    line(`    health: { path: ${q(p.health)} }`);
  }
  if (p.database) {
    for (const c of p.databaseComment) line(`    # ${c}`);
    line('    database:');
    for (const l of p.database) line(`      ${l}`);
  } else {
    const engine = detection.database.engine;
    line(
      `    # No migrations folder found${engine ? ` (the app uses ${engine.engine}: ${engine.from})` : ''}. With one: database: { engine: ${engine?.engine ?? 'sqlite | postgres | d1'}, migrations: migrations }`,
    );
  }
  if (detection.platform === 'cloudflare') {
    // Remote is the default; local mode is what runs without an account (README, cloudflare.md).
    line(
      '    # Deploys to Cloudflare with wrangler (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID). To run every',
    );
    line(
      '    # environment on this machine instead (wrangler dev, no account), uncomment the next line and give',
    );
    line(
      '    # each environment a port (and production keepWarmMs: 600000, so a rollback is a switch).',
    );
    line('    # cloudflare: { mode: local }');
  }
  line('    checks:');
  for (const c of p.checks) {
    line(`      # ${c.comment}`);
    c.lines.forEach((l, i) => {
      line(`      ${i === 0 ? '- ' : '  '}${l}`);
    });
  }
  line();
  line('environments:');
  p.pipeline.forEach((env, i) => {
    const last = i === p.pipeline.length - 1;
    line(`  ${env.name}:`);
    for (const c of env.comment) line(`    # ${c}`);
    line(`    provider: ${detection.platform}`);
    if (last && i > 0) {
      line(
        '    # Someone other than the deployer approves (prevent self-review), proven by their SSH',
      );
      line(
        '    # signature (`airlock approve <env> --key ~/.ssh/id_ed25519`) with a key listed in',
      );
      line("    # .approvals/allowed_signers (git's format: `ann@example.com ssh-ed25519 AAAA…`).");
      line(
        '    # Or identity: oidc (GitHub Actions), any (names, unverified); or promotion: automatic.',
      );
      line('    promotion:');
      line('      approval: { required: 1, identity: signed }');
    }
    const serviceLines = [
      ...env.service,
      ...(p.databaseUrls ? [`databaseUrl: ${q(`\${${databaseUrlVariable(env.name)}}`)}`] : []),
    ];
    if (serviceLines.length) {
      line('    services:');
      line(`      ${p.service}:`);
      for (const l of serviceLines) line(`        ${l}`);
    }
  });
  line();
  line('# Staging mirrors production: `airlock diff staging production` compares them, and');
  line(
    '# the parity gate blocks a promotion while they differ outside the allow list (docs/parity.md).',
  );
  line('# parity:');
  line('#   allow: [platform.vm.*.memory]   # more differences to allow, added to the defaults');
  line('#   gate: block                     # or warn, or off');
  return { yaml: `${out.join('\n')}\n`, unsure: p.unsure };
}
