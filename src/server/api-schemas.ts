/**
 * The JSON API's shapes, in zod (published as OpenAPI at `/api/openapi.json`). They describe
 * the same objects the CLI prints with `--json` (`airlock releases`, `plan`, `history`,
 * `incidents`): the state store's `Release`, `Run`, `RunStep`, `Deployment`, `Approval`,
 * `AuditEvent`, `Incident` and the pipeline's `Plan`. Times are ISO-8601 UTC strings,
 * durations ms, sizes bytes. `app.ts` returns the store's objects through these schemas, so
 * the TypeScript compiler checks that both agree.
 */
import { z } from '@hono/zod-openapi';

const iso = z
  .string()
  .openapi({ description: 'ISO-8601 UTC time', example: '2026-01-02T03:04:05.000Z' });

export const ErrorSchema = z
  .object({
    error: z.object({
      kind: z.enum(['user', 'config', 'provider', 'internal']),
      code: z.string().openapi({ example: 'RELEASE_NOT_FOUND' }),
      message: z.string(),
      hint: z.string().optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi('Error');

export const ReleaseArtifactSchema = z.object({
  digest: z.string(),
  bytes: z.number().int(),
  files: z.number().int(),
  migrationsDigest: z.string().nullable(),
  migrations: z.array(
    z.object({
      version: z.number().int(),
      name: z.string(),
      sha256: z.string(),
      contract: z.boolean().optional(),
    }),
  ),
});

export const ReleaseSchema = z
  .object({
    id: z.string().openapi({ example: 'r3' }),
    seq: z.number().int(),
    digest: z.string().openapi({ description: 'sha256, 64 hex characters' }),
    commit: z.string(),
    dirty: z.boolean(),
    subject: z.string(),
    createdAt: iso,
    createdBy: z.string(),
    buildMs: z.number(),
    services: z.record(z.string(), ReleaseArtifactSchema),
  })
  .openapi('Release');

export const RunSchema = z
  .object({
    id: z.number().int(),
    resumedFrom: z.number().int().nullable(),
    kind: z.enum(['deploy', 'promote', 'rollback', 'migrate']),
    environment: z.string(),
    releaseId: z.string().nullable(),
    status: z.enum(['running', 'succeeded', 'failed', 'errored', 'interrupted', 'resolved']),
    actor: z.string(),
    pid: z.number().int(),
    host: z.string(),
    startedAt: iso,
    heartbeatAt: iso,
    finishedAt: iso.nullable(),
    message: z.string().nullable(),
  })
  .openapi('Run');

export const RunStepSchema = z
  .object({
    runId: z.number().int(),
    index: z.number().int(),
    name: z.string(),
    title: z.string(),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'errored', 'skipped']),
    startedAt: iso.nullable(),
    finishedAt: iso.nullable(),
    durationMs: z.number().nullable(),
    message: z.string().nullable(),
    output: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('RunStep');

export const DeploymentSchema = z
  .object({
    id: z.number().int(),
    runId: z.number().int().nullable(),
    environment: z.string(),
    releaseId: z.string(),
    kind: z.enum(['deploy', 'promote', 'rollback']),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'rolled_back']),
    actor: z.string(),
    previousReleaseId: z.string().nullable(),
    startedAt: iso,
    switchedAt: iso.nullable(),
    finishedAt: iso.nullable(),
    checksStatus: z.enum(['passed', 'failed']).nullable(),
    message: z.string().nullable(),
  })
  .openapi('Deployment');

export const ApprovalSchema = z
  .object({
    id: z.number().int(),
    environment: z.string(),
    releaseId: z.string(),
    actor: z.string(),
    decision: z.enum(['approved', 'rejected']),
    comment: z.string().nullable(),
    at: iso,
    identity: z.enum(['signed', 'oidc', 'unverified', 'token']),
    nonce: z.string().nullable(),
    evidence: z
      .union([
        z.object({
          kind: z.literal('ssh'),
          statement: z.string(),
          signature: z.string(),
          fingerprint: z.string(),
          submittedBy: z.string().nullable(),
        }),
        z.object({
          kind: z.literal('oidc'),
          issuer: z.string(),
          claims: z.record(z.string(), z.unknown()),
        }),
        z.object({
          kind: z.literal('token'),
          tokenId: z.string(),
          principal: z.string(),
          address: z.string(),
        }),
      ])
      .nullable(),
  })
  .openapi('Approval');

export const GateResultSchema = z
  .object({
    gate: z.enum([
      'deployed',
      'checks',
      'migrations',
      'drift',
      'parity',
      'secrets',
      'ci',
      'soak',
      'window',
      'approval',
      'audit',
      'health',
      'rehearsal',
      'policy',
    ]),
    status: z.enum(['holds', 'fails', 'pending']),
    reason: z.string(),
    next: z.string().optional(),
    overridden: z.string().optional(),
  })
  .openapi('GateResult');

export const PlanSchema = z
  .object({
    action: z.enum(['deploy', 'promote', 'rollback']),
    environment: z.string(),
    previous: z.string().nullable(),
    release: z.object({
      id: z.string(),
      digest: z.string(),
      commit: z.string(),
      dirty: z.boolean(),
      subject: z.string(),
    }),
    current: z.string().nullable(),
    gates: z.array(GateResultSchema),
    blocked: z.boolean(),
    steps: z.array(
      z.object({
        name: z.string(),
        title: z.string(),
        kind: z.enum([
          'verify',
          'recheck',
          'lint',
          'migrate',
          'deploy',
          'unchanged',
          'check',
          'rehearse',
          'rollback',
        ]),
        service: z.string().nullable(),
        when: z.enum(['on-success', 'on-failure']),
      }),
    ),
    migrations: z.record(z.string(), z.array(z.string())),
    warnings: z.array(z.string()),
    notes: z.array(z.string()),
    unchanged: z.record(z.string(), z.string()).optional(),
  })
  .openapi('Plan');

export const AuditEventSchema = z
  .object({
    id: z.number().int(),
    at: iso,
    actor: z.string(),
    action: z.string().openapi({ example: 'deployment.succeeded' }),
    environment: z.string().nullable(),
    releaseId: z.string().nullable(),
    runId: z.number().int().nullable(),
    result: z.string().openapi({ example: 'ok' }),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi('AuditEvent');

export const IncidentSchema = z
  .object({
    id: z.number().int(),
    environment: z.string(),
    cause: z.string(),
    status: z.enum(['open', 'resolved']),
    startedAt: iso,
    openedAt: iso,
    resolvedAt: iso.nullable(),
    durationMs: z.number().nullable(),
    failing: z.array(z.object({ service: z.string(), check: z.string(), message: z.string() })),
    releaseId: z.string().nullable(),
    issueNumber: z.number().int().nullable(),
    issueUrl: z.string().nullable(),
  })
  .openapi('Incident');

export const ServingSchema = z.object({
  service: z.string(),
  releaseId: z.string(),
  commit: z.string().nullable(),
  deploymentId: z.number().int(),
  since: iso,
});

/** One column of the pipeline: what serves, the last deployment, the lock, the candidate. */
export const PipelineEnvironmentSchema = z
  .object({
    environment: z.string(),
    provider: z.string(),
    protected: z.boolean(),
    previous: z.string().nullable(),
    serving: z.array(ServingSchema),
    lastDeployment: DeploymentSchema.nullable(),
    lock: z
      .object({
        holder: z.string(),
        kind: z.enum(['run', 'manual']),
        message: z.string(),
        acquiredAt: iso,
      })
      .nullable(),
    interrupted: z.array(z.number().int()),
    /** The promotion waiting at this environment (its plan and gates), or why there is none. */
    candidate: z.object({ plan: PlanSchema.nullable(), note: z.string().nullable() }),
    openIncidents: z.number().int(),
  })
  .openapi('PipelineEnvironment');

export const PipelineSchema = z
  .object({ project: z.string(), environments: z.array(PipelineEnvironmentSchema) })
  .openapi('Pipeline');

export const PlanResultSchema = z
  .object({
    plan: PlanSchema.nullable(),
    blocked: z.boolean(),
    exitCode: z.number().int(),
    note: z.string().nullable(),
  })
  .openapi('PlanResult');

export const HistorySchema = z
  .object({
    events: z.array(AuditEventSchema),
    next: z.number().int().nullable().openapi({
      description: 'Pass as `before` for the next (older) page; null on the last page',
    }),
  })
  .openapi('History');

export const ApprovalRequestSchema = z
  .object({
    environment: z.string(),
    release: z.string().optional(),
    decision: z.enum(['approved', 'rejected']),
    comment: z.string().max(500).optional(),
  })
  .openapi('ApprovalRequest');

export const MeSchema = z
  .object({
    principal: z.string(),
    role: z.enum(['viewer', 'approver', 'deployer']),
    tokenId: z.string(),
    expiresAt: iso,
  })
  .openapi('Me');

export const PromoteRequestSchema = z
  .object({
    release: z
      .string()
      .min(1)
      .openapi({ description: 'The release to promote (`r3`), as the confirmation named it' }),
    fixForward: z.string().min(1).max(500).optional().openapi({
      description:
        'Acknowledges that the release carries a contract migration and cannot be rolled back (the rehearsal gate); audited',
    }),
    overrideWindow: z.string().min(1).max(500).optional().openapi({
      description: 'Promote outside the deploy window or during a freeze; the reason is audited',
    }),
  })
  .openapi('PromoteRequest');

export const RollbackRequestSchema = z
  .object({
    release: z
      .string()
      .min(1)
      .openapi({ description: 'The earlier release to serve again (`r2`)' }),
  })
  .openapi('RollbackRequest');

export const DeployOutcomeSchema = z
  .object({
    action: z.enum(['promote', 'rollback']),
    environment: z.string(),
    releaseId: z.string(),
    status: z.enum(['succeeded', 'failed', 'errored']),
    runId: z.number().int(),
    deploymentId: z.number().int(),
    failedStep: z
      .object({ name: z.string(), message: z.string().nullable(), hint: z.string().optional() })
      .nullable(),
    rolledBack: z.boolean(),
    serving: z.record(z.string(), z.string().nullable()),
    durationMs: z.number(),
  })
  .openapi('DeployOutcome');
