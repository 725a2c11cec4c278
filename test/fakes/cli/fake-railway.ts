/**
 * FAKE Railway CLI, for tests only: it stands in for `railway`, which cannot run here. It knows
 * the commands the railway provider runs and answers them as the Railway CLI does (src/commands/
 * up.rs: `--detach --json` prints {"deploymentId","logsUrl"}; deployment.rs: `deployment list
 * --json` prints [{id,status,createdAt,meta}]; variable.rs: `variable list --json` prints the
 * name→value map, `variable set … --json` prints {"keys":[…],"set":true}, `--stdin` reads one
 * value and trims its trailing newline; the unauthenticated messages of errors.rs), keeping
 * environments, services, deployments (which advance BUILDING → DEPLOYING → SUCCESS one
 * `deployment list` at a time, the previous SUCCESS becoming REMOVED) and variables in
 * $FAKE_RAILWAY_STATE. Every invocation goes to $FAKE_CLI_TRANSCRIPT (see fake-cli-common.ts).
 *
 * Tokens: RAILWAY_TOKEN (a project token, scoped to one environment when the state says so) or
 * RAILWAY_API_TOKEN. Faults: `faults.expiredToken`, `faults.failDeploy` / `faults.crashDeploy`
 * ("<environment>/<service>" whose next deployment fails / crashes). An upload holding
 * FAKE_BROKEN always fails.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  Exit,
  err,
  flag,
  out,
  type ParsedArgs,
  runFakeCli,
  sha256,
  treeDigest,
} from './fake-cli-common.ts';

export interface FakeRailwayDeployment {
  id: string;
  environment: string;
  service: string;
  status: 'BUILDING' | 'DEPLOYING' | 'SUCCESS' | 'FAILED' | 'CRASHED' | 'REMOVED';
  createdAt: string;
  meta: Record<string, unknown>;
  /** sha256 over the uploaded files: what this deployment runs. */
  digest: string;
  outcome: 'SUCCESS' | 'FAILED' | 'CRASHED';
  pollsLeft: number;
}

export interface FakeRailwayState {
  project: { id: string; name: string };
  environments: Record<string, string>;
  services: Record<string, { id: string; domains: Record<string, string> }>;
  deployments: FakeRailwayDeployment[];
  /** environment → service → name → value (the platform holds values; the transcript never does). */
  variables: Record<string, Record<string, Record<string, string>>>;
  /** sha256(token) → the environment a project token is scoped to, or null (account token). */
  tokens: Record<string, string | null>;
  /** Whether a `railway link` exists for the working directory (account tokens need it). */
  linked: boolean;
  faults: { expiredToken?: boolean; failDeploy?: string[]; crashDeploy?: string[] };
  seq: number;
  clock: string;
}

const uuid = (seed: string): string => {
  const h = sha256(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export function emptyRailwayState(
  options: {
    project?: string;
    environments?: string[];
    services?: string[];
    /** token → environment it is scoped to (null: an account token). Empty: any token works. */
    tokens?: Record<string, string | null>;
  } = {},
): FakeRailwayState {
  const project = options.project ?? 'archon-api';
  const environments = options.environments ?? ['staging', 'production'];
  const services = options.services ?? ['web'];
  return {
    project: { id: uuid(`project:${project}`), name: project },
    environments: Object.fromEntries(environments.map((e) => [e, uuid(`env:${e}`)])),
    services: Object.fromEntries(
      services.map((s) => [
        s,
        {
          id: uuid(`service:${s}`),
          domains: Object.fromEntries(
            environments.map((e) => [e, `${s}-${e}-${sha256(e + s).slice(0, 4)}.up.railway.app`]),
          ),
        },
      ]),
    ),
    deployments: [],
    variables: Object.fromEntries(
      environments.map((e) => [e, Object.fromEntries(services.map((s) => [s, {}]))]),
    ),
    tokens: Object.fromEntries(
      Object.entries(options.tokens ?? {}).map(([token, scope]) => [sha256(token), scope]),
    ),
    linked: true,
    faults: {},
    seq: 0,
    clock: '2026-11-21T12:00:00.000Z',
  };
}

const BOOLEANS = [
  'detach',
  'json',
  'ci',
  'yes',
  'path-as-root',
  'no-gitignore',
  'verbose',
  'stdin',
  'skip-deploys',
  'kv',
];
const ALIASES = {
  s: 'service',
  e: 'environment',
  p: 'project',
  d: 'detach',
  y: 'yes',
  m: 'message',
  k: 'kv',
  c: 'ci',
};

const fail = (message: string): never => {
  err(message);
  throw new Exit(1);
};

function tick(state: FakeRailwayState): string {
  state.clock = new Date(Date.parse(state.clock) + 1000).toISOString();
  return state.clock;
}

/** The environment a command acts on, after the token's checks. @returns [environment, note]. */
function authorize(
  state: FakeRailwayState,
  args: ParsedArgs,
  needsProject: boolean,
): [string, string] {
  const project = process.env.RAILWAY_TOKEN;
  const account = process.env.RAILWAY_API_TOKEN;
  const variable = project ? 'RAILWAY_TOKEN' : 'RAILWAY_API_TOKEN';
  const token = project ?? account;
  const unauthorized = `Unauthorized. Please check that your ${variable} is valid and has access to the resource you're trying to use.`;
  if (!token) fail('Unauthorized. Please login with `railway login`');
  if (state.faults.expiredToken) fail(unauthorized);
  const known = Object.keys(state.tokens).length > 0;
  const scope = known ? state.tokens[sha256(token as string)] : project ? undefined : null;
  if (known && scope === undefined) fail(unauthorized);
  const asked = flag(args, 'environment');
  let environment: string;
  if (project) {
    // A project token is scoped to the environment it was created in.
    environment =
      asked ?? (scope as string | undefined) ?? Object.keys(state.environments)[0] ?? '';
    if (typeof scope === 'string' && asked !== undefined && asked !== scope) fail(unauthorized);
  } else {
    if (needsProject && !state.linked && !flag(args, 'project'))
      fail('No linked project found. Run railway link to connect to a project');
    if (!asked)
      fail(
        'No environment specified. Set RAILWAY_ENVIRONMENT_ID, use --environment, or run `railway environment` to link one.',
      );
    environment = asked as string;
  }
  if (!(environment in state.environments)) fail(`Environment "${environment}" not found`);
  return [environment, `${variable} scope=${typeof scope === 'string' ? scope : 'project'}`];
}

function serviceOf(state: FakeRailwayState, args: ParsedArgs): string {
  const service = flag(args, 'service');
  if (!service)
    fail(
      "No service specified and no service linked. Use 'railway link' to link a service or specify one with the service argument.",
    );
  const found = Object.keys(state.services).find(
    (name) =>
      name.toLowerCase() === (service as string).toLowerCase() ||
      state.services[name]?.id === service,
  );
  if (!found) fail(`Service '${service}' not found`);
  return found as string;
}

function advance(state: FakeRailwayState, environment: string, service: string): void {
  for (const d of state.deployments) {
    if (d.environment !== environment || d.service !== service) continue;
    if (d.status !== 'BUILDING' && d.status !== 'DEPLOYING') continue;
    if (d.pollsLeft > 0) {
      d.pollsLeft -= 1;
      d.status = 'DEPLOYING';
      continue;
    }
    d.status = d.outcome;
    if (d.outcome === 'SUCCESS') {
      for (const other of state.deployments)
        if (
          other !== d &&
          other.environment === environment &&
          other.service === service &&
          other.status === 'SUCCESS'
        )
          other.status = 'REMOVED';
    }
  }
}

function up(state: FakeRailwayState, args: ParsedArgs): void {
  if (flag(args, 'project') && !flag(args, 'environment'))
    fail('--environment is required when using --project');
  const [environment] = authorize(state, args, true);
  const service = serviceOf(state, args);
  const target = path.resolve(args.positionals[1] ?? process.cwd());
  if (!existsSync(target))
    fail(`Failed to read \`${args.positionals[1]}\` for upload: no such path`);
  const key = `${environment}/${service}`;
  const broken = existsSync(path.join(target, 'FAKE_BROKEN'));
  const outcome: FakeRailwayDeployment['outcome'] =
    broken || (state.faults.failDeploy ?? []).includes(key)
      ? 'FAILED'
      : (state.faults.crashDeploy ?? []).includes(key)
        ? 'CRASHED'
        : 'SUCCESS';
  state.faults.failDeploy = (state.faults.failDeploy ?? []).filter((k) => k !== key);
  state.faults.crashDeploy = (state.faults.crashDeploy ?? []).filter((k) => k !== key);
  state.seq += 1;
  const id = uuid(`deployment:${state.seq}`);
  const message = flag(args, 'message');
  state.deployments.push({
    id,
    environment,
    service,
    status: 'BUILDING',
    createdAt: tick(state),
    meta: {
      reason: 'deploy',
      ...(message ? { commitMessage: message } : {}),
      fileServiceManifest: {},
    },
    digest: treeDigest(target),
    outcome,
    pollsLeft: 1,
  });
  const serviceId = state.services[service]?.id;
  const logsUrl = `https://railway.com/project/${state.project.id}/service/${serviceId}?id=${id}&`;
  if (args.booleans.has('json') && args.booleans.has('detach')) {
    out(JSON.stringify({ deploymentId: id, logsUrl }));
    return;
  }
  out('Indexing...');
  out('Uploading...');
  out(`  Build Logs: ${logsUrl}`);
  if (args.booleans.has('detach')) return;
  advance(state, environment, service);
  advance(state, environment, service);
  const final = state.deployments.find((d) => d.id === id);
  if (final?.status === 'SUCCESS') out('Deploy complete');
  else {
    out(final?.status === 'CRASHED' ? 'Deploy crashed' : 'Deploy failed');
    throw new Exit(1);
  }
}

function deploymentList(state: FakeRailwayState, args: ParsedArgs): void {
  const [environment] = authorize(state, args, true);
  const service = serviceOf(state, args);
  advance(state, environment, service);
  const limit = Number(flag(args, 'limit') ?? 20);
  const list = state.deployments
    .filter((d) => d.environment === environment && d.service === service)
    .reverse()
    .slice(0, limit)
    .map((d) => ({ id: d.id, status: d.status, createdAt: d.createdAt, meta: d.meta }));
  if (args.booleans.has('json')) out(JSON.stringify(list, null, 2));
  else if (list.length === 0) out('No deployments found');
  else {
    out('Recent Deployments');
    for (const d of list) out(`  ${d.id} | ${d.status} | ${d.createdAt}`);
  }
}

function systemVariables(
  state: FakeRailwayState,
  environment: string,
  service: string,
): Record<string, string> {
  const domain = state.services[service]?.domains[environment];
  return {
    RAILWAY_ENVIRONMENT: environment,
    RAILWAY_ENVIRONMENT_ID: state.environments[environment] ?? '',
    RAILWAY_ENVIRONMENT_NAME: environment,
    RAILWAY_PRIVATE_DOMAIN: `${service}.railway.internal`,
    RAILWAY_PROJECT_ID: state.project.id,
    RAILWAY_PROJECT_NAME: state.project.name,
    ...(domain ? { RAILWAY_PUBLIC_DOMAIN: domain, RAILWAY_STATIC_URL: domain } : {}),
    RAILWAY_SERVICE_ID: state.services[service]?.id ?? '',
    RAILWAY_SERVICE_NAME: service,
  };
}

function variable(
  state: FakeRailwayState,
  args: ParsedArgs,
  stdin: string,
): Record<string, string> {
  const sub = args.positionals[1];
  const [environment] = authorize(state, args, true);
  const service = serviceOf(state, args);
  const byService = state.variables[environment] ?? {};
  state.variables[environment] = byService;
  const vars = byService[service] ?? {};
  byService[service] = vars;
  if (sub === undefined || sub === 'list' || sub === 'ls') {
    const all = { ...vars, ...systemVariables(state, environment, service) };
    const sorted = Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b)));
    if (args.booleans.has('json')) out(JSON.stringify(sorted, null, 2));
    else if (args.booleans.has('kv')) for (const [k, v] of Object.entries(sorted)) out(`${k}=${v}`);
    else fail('this fake prints variables as JSON or KV only (--json, --kv)');
    return {};
  }
  if (sub === 'set') {
    const items = args.positionals.slice(2);
    const set: Record<string, string> = {};
    if (args.booleans.has('stdin')) {
      if (items.length !== 1) fail('--stdin requires exactly one KEY argument');
      if (items[0]?.includes('='))
        fail('Cannot use --stdin with KEY=VALUE format. Use: railway variable set KEY --stdin');
      const value = stdin.replace(/\n$/, '').replace(/\r$/, '');
      if (value === '') fail('Empty value provided via stdin');
      set[items[0] as string] = value;
    } else {
      for (const item of items) {
        const eq = item.indexOf('=');
        if (eq < 1) fail(`Invalid variable format: ${item}. Expected KEY=VALUE`);
        set[item.slice(0, eq)] = item.slice(eq + 1);
      }
    }
    Object.assign(vars, set);
    if (!args.booleans.has('skip-deploys')) {
      // Setting variables redeploys the service's latest deployment on Railway.
      const latest = [...state.deployments]
        .reverse()
        .find(
          (d) => d.environment === environment && d.service === service && d.status === 'SUCCESS',
        );
      if (latest) {
        state.seq += 1;
        state.deployments.push({
          ...latest,
          id: uuid(`deployment:${state.seq}`),
          status: 'BUILDING',
          createdAt: tick(state),
          pollsLeft: 1,
          meta: { ...latest.meta, reason: 'redeploy' },
        });
      }
    }
    if (args.booleans.has('json')) out(JSON.stringify({ keys: Object.keys(set), set: true }));
    else out(`Set variables ${Object.keys(set).join(', ')}`);
    return args.booleans.has('stdin')
      ? Object.fromEntries(Object.entries(set).map(([k, v]) => [k, sha256(v)]))
      : {};
  }
  if (sub === 'delete' || sub === 'rm' || sub === 'remove') {
    const key = args.positionals[2];
    if (!key) fail('the following required arguments were not provided: <KEY>');
    delete vars[key as string];
    if (args.booleans.has('json')) out(JSON.stringify({ key, deleted: true }));
    else out(`Deleted variable ${key}`);
    return {};
  }
  return fail(`error: unrecognized subcommand '${sub}'`);
}

function main(): void {
  runFakeCli<FakeRailwayState>(
    {
      name: 'railway',
      stateVariable: 'FAKE_RAILWAY_STATE',
      booleans: BOOLEANS,
      aliases: ALIASES,
      errorPrefix: '',
    },
    (state, args, stdin) => {
      const command = args.positionals[0];
      let values: Record<string, string> | undefined;
      if (command === 'up') up(state, args);
      else if (command === 'deployment' && ['list', 'ls'].includes(args.positionals[1] ?? ''))
        deploymentList(state, args);
      else if (['variable', 'variables', 'vars', 'var'].includes(command ?? ''))
        values = variable(state, args, stdin);
      else if (command === '--version' || command === 'version') out('railway 4.61.1 (FAKE)');
      else fail(`error: unrecognized subcommand '${command}'`);
      const token = process.env.RAILWAY_TOKEN ?? process.env.RAILWAY_API_TOKEN;
      if (!token) return { values };
      const scope = state.tokens[sha256(token)];
      return { values, note: `token scope=${scope === undefined ? 'any' : (scope ?? 'account')}` };
    },
  );
}

if (import.meta.main) main();
