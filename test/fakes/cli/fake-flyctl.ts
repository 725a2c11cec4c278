/**
 * FAKE flyctl, for tests only: it stands in for `fly`/`flyctl`, which cannot run here. It knows
 * the commands the fly provider runs and answers them with output shaped like flyctl's own
 * (internal/command/deploy: `image: …`, `<label>: digest: sha256:… size: …`, the blue-green
 * steps; internal/command/status: the AppStatus JSON with Machines; secrets list/import;
 * releases --json), keeping apps, machines, releases, pushed images and secret names (digests of
 * values, as flyctl shows) in $FAKE_FLY_STATE. Every invocation goes to $FAKE_CLI_TRANSCRIPT
 * (see fake-cli-common.ts). Faults: `faults.expiredToken`, `faults.failDeploy` (apps whose next
 * deploy fails its health checks), `faults.omitPushDigest` (a builder that does not print the
 * pushed digest). An image pushed from a folder holding FAKE_BROKEN never passes its checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import {
  Exit,
  err,
  fakeId,
  flag,
  out,
  type ParsedArgs,
  runFakeCli,
  sha256,
  treeDigest,
} from './fake-cli-common.ts';

export interface FakeFlyMachine {
  id: string;
  name: string;
  state: 'started' | 'stopped';
  region: string;
  image: { repository: string; tag: string; digest: string };
  env: Record<string, string>;
  releaseVersion: number;
  checks: Array<{ name: string; status: 'passing' | 'critical' }>;
  created_at: string;
  updated_at: string;
}

export interface FakeFlyApp {
  name: string;
  machines: FakeFlyMachine[];
  releases: Array<{
    version: number;
    status: 'complete' | 'failed';
    imageRef: string;
    createdAt: string;
  }>;
  secrets: Record<string, { digest: string; createdAt: string; staged: boolean }>;
}

export interface FakeFlyImage {
  app: string;
  tag: string;
  digest: string;
  broken: boolean;
}

export interface FakeFlyState {
  org: string;
  apps: Record<string, FakeFlyApp>;
  images: FakeFlyImage[];
  faults: { expiredToken?: boolean; failDeploy?: string[]; omitPushDigest?: boolean };
  seq: number;
  /** A fixed clock for reproducible output; advances by a second per machine change. */
  clock: string;
}

export function emptyFlyState(apps: string[]): FakeFlyState {
  return {
    org: 'personal',
    apps: Object.fromEntries(
      apps.map((name) => [name, { name, machines: [], releases: [], secrets: {} }]),
    ),
    images: [],
    faults: {},
    seq: 0,
    clock: '2026-11-21T12:00:00.000Z',
  };
}

const BOOLEANS = ['build-only', 'push', 'json', 'stage', 'yes', 'detach', 'now', 'remote-only'];
const ALIASES = { a: 'app', c: 'config', i: 'image', e: 'env', j: 'json', y: 'yes' };

const fail = (message: string): never => {
  err(`Error: ${message}`);
  throw new Exit(1);
};

function tick(state: FakeFlyState): string {
  const next = new Date(Date.parse(state.clock) + 1000).toISOString();
  state.clock = next;
  return next.replace(/\.\d{3}Z$/, 'Z');
}

function requireToken(state: FakeFlyState): void {
  if (!process.env.FLY_API_TOKEN && !process.env.FLY_ACCESS_TOKEN)
    fail("No access token available. Please login with 'flyctl auth login'");
  if (state.faults.expiredToken) fail('failed to get app: You must be authenticated to view this.');
}

function appOf(state: FakeFlyState, args: ParsedArgs): FakeFlyApp {
  let name = flag(args, 'app');
  if (!name) {
    const config = readConfig(args);
    name = typeof config?.app === 'string' ? config.app : undefined;
  }
  if (!name)
    fail(
      'the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag',
    );
  const app = state.apps[name as string];
  if (!app) fail(`failed to get app: Could not find App "${name}"`);
  return app as FakeFlyApp;
}

function readConfig(args: ParsedArgs): Record<string, unknown> | null {
  const file = flag(args, 'config') ?? path.join(process.cwd(), 'fly.toml');
  if (!existsSync(file)) return null;
  return parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function checksOf(config: Record<string, unknown> | null): string[] {
  const names: string[] = [];
  const http = (config?.http_service ?? {}) as { checks?: unknown[]; internal_port?: number };
  (http.checks ?? []).forEach((_, i) => {
    names.push(`servicecheck-${String(i).padStart(2, '0')}-http-${http.internal_port ?? 8080}`);
  });
  for (const [i, service] of ((config?.services ?? []) as Array<Record<string, unknown>>).entries())
    for (const kind of ['http_checks', 'tcp_checks'])
      ((service[kind] ?? []) as unknown[]).forEach((_, j) => {
        names.push(`servicecheck-${i}${j}-${kind.replace('_checks', '')}`);
      });
  for (const name of Object.keys((config?.checks ?? {}) as Record<string, unknown>))
    names.push(name);
  return names;
}

function statusJson(state: FakeFlyState, app: FakeFlyApp): unknown {
  return {
    ID: app.name,
    Name: app.name,
    Status: app.machines.length ? 'deployed' : 'pending',
    Deployed: app.machines.length > 0,
    Hostname: `${app.name}.fly.dev`,
    AppURL: '',
    Version: app.releases.length,
    Release: null,
    Organization: {
      ID: 'Q1w2E3r4',
      InternalNumericID: '4242',
      Name: state.org,
      Slug: state.org,
      RawSlug: state.org,
      PaidPlan: true,
    },
    Secrets: null,
    DeploymentStatus: null,
    PlatformVersion: 'machines',
    Machines: app.machines.map((m) => ({
      id: m.id,
      name: m.name,
      state: m.state,
      region: m.region,
      image_ref: {
        registry: 'registry.fly.io',
        repository: m.image.repository,
        tag: m.image.tag,
        digest: m.image.digest,
        labels: {},
      },
      instance_id: fakeId('01J', m.releaseVersion, 24).toUpperCase(),
      private_ip: 'fdaa:9:1c2d:a7b:1b6:6d0e:4c1a:2',
      created_at: m.created_at,
      updated_at: m.updated_at,
      config: {
        env: m.env,
        init: {},
        guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 1024 },
        metadata: {
          fly_flyctl_version: '0.3.221',
          fly_platform_version: 'v2',
          fly_process_group: 'app',
          fly_release_id: fakeId('', m.releaseVersion, 12),
          fly_release_version: String(m.releaseVersion),
        },
        services: [],
        image: `registry.fly.io/${m.image.repository}@${m.image.digest}`,
        restart: { policy: 'on-failure', max_retries: 10 },
        stop_config: { signal: 'SIGINT' },
      },
      events: [],
      checks: m.checks.map((c) => ({
        name: c.name,
        status: c.status,
        output: c.status === 'passing' ? 'Success' : 'context deadline exceeded',
        updated_at: m.updated_at,
      })),
      host_status: 'ok',
    })),
  };
}

function build(state: FakeFlyState, args: ParsedArgs): void {
  const app = appOf(state, args);
  const label =
    flag(args, 'image-label') ?? `deployment-${fakeId('', state.seq, 26).toUpperCase()}`;
  const dir = process.cwd();
  const config = readConfig(args);
  out('==> Verifying app config');
  out(`Validating ${flag(args, 'config') ?? path.join(dir, 'fly.toml')}`);
  out('✓ Configuration is valid');
  out('--> Verified app config');
  out('==> Building image');
  if (!existsSync(path.join(dir, 'Dockerfile')) && !(config?.build as { image?: string })?.image)
    fail(
      'failed to fetch an image or build from source: app does not have a Dockerfile or buildpacks configured. See https://fly.io/docs/reference/configuration/#the-build-section',
    );
  const digest = `sha256:${sha256(`image\0${treeDigest(dir)}`)}`;
  out('Waiting for depot builder...');
  out('==> Building image with Depot');
  out('--> build:  (​)');
  out('[+] Building 14.2s (12/12) FINISHED');
  out(' => [internal] load build definition from Dockerfile                     0.1s');
  out(' => exporting to image                                                    1.4s');
  out('--> Building image done');
  if (args.booleans.has('push')) {
    out('==> Pushing image to fly');
    out(`The push refers to repository [registry.fly.io/${app.name}]`);
    out('5f70bf18a086: Pushed');
    if (!state.faults.omitPushDigest) out(`${label}: digest: ${digest} size: 1577`);
    out('--> Pushing image done');
  }
  out(`image: registry.fly.io/${app.name}:${label}`);
  out('image size: 45 MB');
  state.images.push({
    app: app.name,
    tag: label,
    digest,
    broken: existsSync(path.join(dir, 'FAKE_BROKEN')),
  });
}

function findImage(state: FakeFlyState, ref: string): FakeFlyImage | undefined {
  const at = ref.indexOf('@');
  if (at >= 0) return state.images.find((i) => i.digest === ref.slice(at + 1));
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon < slash) return undefined;
  const repo = ref.slice(slash + 1, colon);
  const tag = ref.slice(colon + 1);
  return [...state.images].reverse().find((i) => i.app === repo && i.tag === tag);
}

function deploy(state: FakeFlyState, args: ParsedArgs): void {
  if (args.booleans.has('build-only')) {
    build(state, args);
    return;
  }
  const app = appOf(state, args);
  const config = readConfig(args);
  const ref = flag(args, 'image');
  if (!ref) fail('this fake only deploys images: pass --image');
  out('==> Verifying app config');
  out(`Validating ${flag(args, 'config') ?? path.join(process.cwd(), 'fly.toml')}`);
  out('✓ Configuration is valid');
  out('--> Verified app config');
  out('==> Building image');
  out(`Searching for image '${ref}' remotely...`);
  const image = findImage(state, ref as string);
  if (!image) fail(`failed to fetch an image or build from source: could not find image "${ref}"`);
  const img = image as FakeFlyImage;
  out(`image found: img_${img.digest.slice(7, 23)}`);
  out('');
  out(`Watch your deployment at https://fly.io/apps/${app.name}/monitoring`);
  out('');
  const strategy =
    flag(args, 'strategy') ??
    ((config?.deploy as { strategy?: string } | undefined)?.strategy || 'rolling');
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries((config?.env ?? {}) as Record<string, unknown>))
    env[name] = String(value);
  if (typeof config?.primary_region === 'string') env.PRIMARY_REGION = config.primary_region;
  for (const pair of args.values.get('env') ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) fail(`failed parsing environment: "${pair}" is not NAME=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const checkNames = checksOf(config);
  const failing = img.broken || (state.faults.failDeploy ?? []).includes(app.name);
  state.faults.failDeploy = (state.faults.failDeploy ?? []).filter((a) => a !== app.name);
  const version = app.releases.length + 1;
  const region = typeof config?.primary_region === 'string' ? config.primary_region : 'syd';
  const machine = (previous?: FakeFlyMachine): FakeFlyMachine => {
    state.seq += 1;
    const now = tick(state);
    return {
      id: fakeId('', state.seq, 14),
      name: `${['dawn', 'quiet', 'misty', 'bold'][state.seq % 4]}-${['sky', 'pine', 'wave', 'moon'][state.seq % 4]}-${1000 + state.seq}`,
      state: 'started',
      region,
      image: { repository: img.app, tag: img.tag, digest: img.digest },
      env,
      releaseVersion: version,
      checks: checkNames.map((name) => ({ name, status: failing ? 'critical' : 'passing' })),
      created_at: previous?.created_at ?? now,
      updated_at: now,
    };
  };
  const imageRef = `registry.fly.io/${img.app}@${img.digest}`;
  const timeout = flag(args, 'wait-timeout') ?? '5m0s';
  if (app.machines.length === 0 || strategy !== 'bluegreen') {
    const fresh = app.machines.length === 0;
    if (fresh) err('No machines in group app, launching a new machine');
    else err(`Updating existing machines in '${app.name}' with ${strategy} strategy`);
    const next = fresh ? [machine()] : app.machines.map((m) => machine(m));
    app.machines = next;
    if (failing) {
      app.releases.push({ version, status: 'failed', imageRef, createdAt: tick(state) });
      err(
        `  [1/${next.length}] Waiting for ${next[0]?.id} [app] to become healthy: 0/${checkNames.length}`,
      );
      fail(
        `timeout reached waiting for health checks to pass for machine ${next[0]?.id}: failed to get VM ${next[0]?.id}: Get "https://api.machines.dev/v1/apps/${app.name}/machines/${next[0]?.id}": net/http: request canceled\nnote: you can change this timeout with the --wait-timeout flag (was ${timeout})`,
      );
    }
    for (const [i, m] of next.entries())
      err(`  [${i + 1}/${next.length}] Machine ${m.id} [app] update finished: success`);
    err(fresh ? 'Finished launching new machines' : '  Finished deploying');
  } else {
    if (checkNames.length === 0) {
      err('');
      err(
        'You need to define at least 1 check in order to use blue-green deployments. Refer to https://fly.io/docs/reference/configuration/#services-tcp_checks',
      );
      fail('app not in valid state for bluegreen deployments');
    }
    const blue = app.machines;
    const green = blue.map(() => machine());
    err('');
    err('Creating green machines');
    for (const m of green) err(`  Created machine ${m.id} [app]`);
    err('');
    err('Waiting for all green machines to start');
    for (const m of green) err(`  Machine ${m.id} [app] - started`);
    err('');
    err('Waiting for all green machines to be healthy');
    if (failing) {
      for (const m of green) err(`  Machine ${m.id} [app] - 0/${checkNames.length} passing`);
      app.releases.push({ version, status: 'failed', imageRef, createdAt: tick(state) });
      fail('could not get all green machines to be healthy: wait for goroutine timeout');
    }
    for (const m of green)
      err(`  Machine ${m.id} [app] - ${checkNames.length}/${checkNames.length} passing`);
    err('');
    err('Marking green machines as ready');
    for (const m of green) err(`  Machine ${m.id} [app] now ready`);
    err('');
    err('Destroying all blue machines');
    for (const m of blue) err(`  Machine ${m.id} [app] destroyed`);
    err('');
    err('Deployment Complete');
    app.machines = green;
  }
  for (const secret of Object.values(app.secrets)) secret.staged = false;
  app.releases.push({ version, status: 'complete', imageRef, createdAt: tick(state) });
  out(`Checking DNS configuration for ${app.name}.fly.dev`);
  out('');
  out(`Visit your newly deployed app at https://${app.name}.fly.dev/`);
}

/** flyctl's secrets parser (internal/command/secrets/parser.go). */
function parseSecrets(input: string): Record<string, string> {
  const secrets: Record<string, string> = {};
  let key = '';
  let value = '';
  let multiline = false;
  for (const line of input.split('\n')) {
    if (!multiline) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const eq = line.indexOf('=');
      if (eq < 0) fail(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
      const rest = line.slice(eq + 1);
      if (rest.startsWith('"""')) {
        multiline = true;
        key = line.slice(0, eq);
        value = `${rest.slice(3)}\n`;
      } else secrets[line.slice(0, eq)] = rest;
    } else if (line.endsWith('"""')) {
      secrets[key] = value + line.slice(0, -3);
      multiline = false;
    } else value += `${line}\n`;
  }
  return secrets;
}

function secrets(state: FakeFlyState, args: ParsedArgs, stdin: string): Record<string, string> {
  const sub = args.positionals[1];
  const app = appOf(state, args);
  if (sub === 'list') {
    const list = Object.entries(app.secrets)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([Name, s]) => ({ Name, Digest: s.digest, CreatedAt: s.createdAt }));
    if (args.booleans.has('json')) out(JSON.stringify(list, null, 2));
    else {
      out('NAME\tDIGEST\tCREATED AT');
      for (const s of list) out(`${s.Name}\t${s.Digest}\t1m ago`);
    }
    return {};
  }
  if (sub === 'import') {
    const parsed = parseSecrets(stdin);
    if (Object.keys(parsed).length === 0) fail('requires at least one SECRET=VALUE pair');
    const now = tick(state);
    for (const [name, value] of Object.entries(parsed))
      app.secrets[name] = {
        digest: sha256(value).slice(0, 16),
        createdAt: now,
        staged: args.booleans.has('stage'),
      };
    if (args.booleans.has('stage'))
      out(
        'Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.',
      );
    else if (app.machines.length)
      err(`Updating existing machines in '${app.name}' with rolling strategy`);
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, sha256(v)]));
  }
  return fail(`unknown command "${sub}" for "flyctl secrets"`);
}

function releases(_state: FakeFlyState, app: FakeFlyApp, args: ParsedArgs): void {
  const list = [...app.releases].reverse().map((r) => ({
    ID: fakeId('', r.version, 12),
    Version: r.version,
    Stable: r.status === 'complete',
    InProgress: false,
    Reason: '',
    Description: '',
    Status: r.status,
    DeploymentStrategy: '',
    User: { ID: 'u1', Email: 'ci@example.com', Name: 'CI' },
    EvaluationID: '',
    CreatedAt: r.createdAt,
    ImageRef: r.imageRef,
  }));
  if (args.booleans.has('json')) out(JSON.stringify(list, null, 2));
  else for (const r of list) out(`v${r.Version}\t${r.Status}\tRelease\t${r.User.Email}\t1m ago`);
}

function main(): void {
  runFakeCli<FakeFlyState>(
    {
      name: 'fly',
      stateVariable: 'FAKE_FLY_STATE',
      booleans: BOOLEANS,
      aliases: ALIASES,
      errorPrefix: 'Error: ',
    },
    (state, args, stdin) => {
      const command = args.positionals[0];
      if (command === 'version') {
        out('fly v0.3.221 linux/amd64 Commit: FAKE BuildDate: 2026-11-01');
        return undefined;
      }
      requireToken(state);
      if (command === 'deploy') deploy(state, args);
      else if (command === 'status') {
        const app = appOf(state, args);
        if (!args.booleans.has('json')) fail('this fake prints status as JSON only (--json)');
        out(JSON.stringify(statusJson(state, app), null, 2));
      } else if (command === 'secrets') return { values: secrets(state, args, stdin) };
      else if (command === 'releases') releases(state, appOf(state, args), args);
      else fail(`unknown command "${command}" for "flyctl"`);
      return undefined;
    },
  );
}

if (import.meta.main) main();
