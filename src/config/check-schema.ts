/**
 * The `checks:` of a service in `airlock.yaml`: verifications against the live environment after
 * every deployment — an HTTP request, a command (an E2E suite), a latency budget, or a response-time
 * comparison with the release that served before (perf).
 */
import { z } from 'zod';
import { envVarsSchema, field, msSchema, nameSchema } from './schema-fields.ts';

const checkName = field(nameSchema('check'), {
  description: 'Name shown in output and history; unique within the service.',
  examples: ['smoke'],
});

export const httpCheckSchema = field(
  z.strictObject({
    name: checkName,
    type: z.literal('http'),
    method: field(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'), {
      description: 'HTTP method.',
      examples: ['GET'],
    }),
    path: field(z.string().startsWith('/', { error: 'a path starting with "/"' }), {
      description: 'Path requested on the environment URL.',
      examples: ['/version'],
    }),
    headers: field(z.record(z.string(), z.string()).optional(), {
      description:
        'Request headers; `${NAME}` reads the environment variable NAME (a token stays out of the file), `${release.id}` and the other placeholders are filled in.',
      examples: [{ accept: 'application/json' }],
    }),
    body: field(z.string().optional(), {
      description: 'Request body, sent as is after `${NAME}` and the placeholders are filled in.',
      examples: ['{"title":"smoke"}'],
    }),
    expect: field(
      z
        .strictObject({
          status: field(z.number().int().min(100).max(599).default(200), {
            description: 'Expected status code.',
            examples: [200],
          }),
          json: field(z.unknown().optional(), {
            description:
              'A JSON subset the body must contain. Strings may use ${release.id}, ${release.commit}, ${release.digest}, ${environment}, ${service}.',
            examples: [{ release: '${release.id}' }],
          }),
          bodyIncludes: field(z.string().optional(), {
            description: 'A substring the body must contain (same interpolation).',
            examples: ['ok'],
          }),
        })
        .default({ status: 200 }),
      { description: 'What a passing response looks like.', examples: [{ status: 200 }] },
    ),
    maxLatencyMs: field(msSchema.optional(), {
      description: 'Latency budget: a passing attempt must answer within this many ms.',
      examples: [500],
    }),
    timeoutMs: field(msSchema.default(30_000), {
      description: 'Retry until this many ms have passed, then fail.',
      examples: [30000],
    }),
    intervalMs: field(msSchema.default(500), {
      description: 'Pause between attempts (ms).',
      examples: [500],
    }),
    requestTimeoutMs: field(msSchema.default(5_000), {
      description: 'Abort one attempt after this many ms.',
      examples: [5000],
    }),
  }),
  {
    description:
      'Requests a path on the environment URL, retrying until the response matches `expect` or `timeoutMs` passes. An unreachable environment fails.',
    examples: [{ name: 'smoke', type: 'http', path: '/version', expect: { status: 200 } }],
  },
);

export const commandCheckSchema = field(
  z.strictObject({
    name: checkName,
    type: z.literal('command'),
    run: field(z.string().min(1), {
      description:
        "Shell command (an E2E suite); exit code 0 passes. Runs with BASE_URL, DATABASE_URL (the environment's database), AIRLOCK_ENV, AIRLOCK_RELEASE, AIRLOCK_COMMIT and `env` set, on top of a least environment (PATH, HOME, locale, proxies, npm settings): never the other variables of the shell that runs Airlock, such as another environment's credentials or GITHUB_TOKEN; its shell expands `${NAME}` from them (a name set nowhere stops the command that runs the check). When it fails, its last 20 lines are shown, secrets masked.",
      examples: ['node e2e/notes.e2e.mjs'],
    }),
    cwd: field(z.string().optional(), {
      description: 'Working directory, relative to the service root.',
      examples: ['e2e'],
    }),
    env: field(envVarsSchema.optional(), {
      description:
        "Extra environment variables for the command; `${NAME}` in a value reads the environment variable NAME (the way to hand the command a variable of your shell on purpose). The command also gets the environment's DATABASE_URL (the one the app gets); a DATABASE_URL here overrides it.",
      examples: [{ CI: '1' }],
    }),
    timeoutMs: field(msSchema.default(300_000), {
      description: 'Kill the command and fail after this many ms.',
      examples: [120000],
    }),
  }),
  {
    description:
      'Runs a shell command (an E2E suite, a script) against the live environment; exit code 0 passes. The whole process group is killed on timeout.',
    examples: [{ name: 'e2e', type: 'command', run: 'node e2e/notes.e2e.mjs' }],
  },
);

export const latencyCheckSchema = field(
  z.strictObject({
    name: checkName,
    type: z.literal('latency'),
    path: field(z.string().startsWith('/', { error: 'a path starting with "/"' }), {
      description: 'Path requested with GET.',
      examples: ['/health'],
    }),
    requests: field(z.number().int().min(1).max(100_000).default(50), {
      description: 'Number of requests.',
      examples: [50],
    }),
    concurrency: field(z.number().int().min(1).max(256).default(4), {
      description: 'Requests in flight at once.',
      examples: [4],
    }),
    p95Ms: field(msSchema, {
      description: 'Budget for the 95th percentile latency (ms).',
      examples: [200],
    }),
    requestTimeoutMs: field(msSchema.default(5_000), {
      description: 'Abort one request after this many ms.',
      examples: [5000],
    }),
  }),
  {
    description:
      'Sends GET requests to a path and passes when the 95th percentile latency is within `p95Ms` (a response-time budget).',
    examples: [{ name: 'speed', type: 'latency', path: '/health', p95Ms: 200 }],
  },
);

export const perfCheckSchema = field(
  z.strictObject({
    name: checkName,
    type: z.literal('perf'),
    paths: field(
      z
        .array(z.string().startsWith('/', { error: 'a path starting with "/"' }))
        .min(1, { error: 'at least one path, e.g. ["/health"]' })
        .max(20),
      {
        description: 'Paths requested with GET, each measured on its own.',
        examples: [['/health', '/notes']],
      },
    ),
    rate: field(z.number().int().min(1).max(10_000).default(50), {
      description:
        'Fixed load: requests per second sent to each path (all connections together), whether or not answers are slow.',
      examples: [50],
    }),
    connections: field(z.number().int().min(1).max(64).default(2), {
      description: 'Connections the load is sent over.',
      examples: [2],
    }),
    durationMs: field(z.number().int().min(200).max(600_000).default(2_000), {
      description: 'Length of one round on one path (ms).',
      examples: [2000],
    }),
    rounds: field(z.number().int().min(3).max(21).default(5), {
      description:
        'Rounds per path; the median of their p50 and p95 is compared, so one noisy round does not decide.',
      examples: [5],
    }),
    maxRegression: field(z.number().min(0.01).max(10).default(0.2), {
      description:
        'Fails when the median p95 grows by more than this fraction of the baseline (0.2 = 20 %), and by more than the noise allowance.',
      examples: [0.2],
    }),
    minRegressionMs: field(msSchema.default(10), {
      description:
        "Noise allowance floor (ms): a p95 increase smaller than this never fails, however small the baseline (a 1 ms endpoint measured at 1.3 ms is noise, not a regression). The allowance is also at least three times the rounds' spread.",
      examples: [10],
    }),
    requestTimeoutMs: field(msSchema.min(1).default(5_000), {
      description: 'A request unanswered after this many ms counts as an error.',
      examples: [5000],
    }),
  }),
  {
    description:
      "Sends a fixed-rate load (autocannon) to each path for several short rounds and compares the median p50 and p95 with the baseline: the same check's result for the release that served this environment before. Fails when p95 regresses beyond `maxRegression` and the noise allowance, or when any request errors. The first release measured sets the baseline.",
    examples: [{ name: 'perf', type: 'perf', paths: ['/health', '/notes'] }],
  },
);

export const checkSchema = field(
  z.discriminatedUnion('type', [
    httpCheckSchema,
    commandCheckSchema,
    latencyCheckSchema,
    perfCheckSchema,
  ]),
  {
    description: 'A verification against the live environment after every deployment.',
    examples: [{ name: 'smoke', type: 'http', path: '/health' }],
  },
);
