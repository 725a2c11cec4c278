/**
 * The session's outward integrations, composed from the configuration and the process
 * environment (read here, at the edge): notification sinks, GitHub Deployments reporting and
 * the GitHub reader behind the `ci` gate. Tokens, webhook URLs and secrets stay inside the
 * clients; audit rows and warnings carry hosts, ids and token-free messages only.
 */
import type { ResolvedConfig } from '../config/resolve.ts';
import { toAirlockError } from '../errors.ts';
import type { CiFact } from '../gates/gate.ts';
import type { GitHubClient } from '../github/github-client.ts';
import type { NotificationEvent } from '../notify/notification-event.ts';
import type { Notifier } from '../notify/notifier.ts';
import { type AsyncObserver, DeploymentEventBus } from '../pipeline/deployment-events.ts';
import { audit } from '../state/audit.ts';
import { formatAuditHead } from '../state/audit-chain.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Reporter } from './reporter.ts';

export interface Integrations {
  bus: DeploymentEventBus;
  /** Sends an event to the configured sinks (deliveries audited); absent without sinks. */
  notify?: (event: NotificationEvent) => void;
  /** The GitHub client, when the github: section and GITHUB_TOKEN are set (`airlock monitor`). */
  github?: GitHubClient;
  githubCi?: (commit: string, required: string[] | null) => Promise<CiFact>;
  /** Waits for deliveries and GitHub calls still in flight. Never rejects. */
  flush(): Promise<void>;
}

/** GitHub failures a later evaluation may not see (the gate waits instead of failing). */
const TRANSIENT = new Set(['unreachable', 'timeout', 'server-error', 'rate-limited']);

/**
 * Builds the integrations. The store passed must be unfenced: deliveries can finish after the
 * command's environment lock is released. The notifier and the GitHub client (Octokit) load
 * only when configured, so commands of projects without them start as fast as before.
 */
export async function integrations(
  config: ResolvedConfig,
  store: StateStore,
  reporter: Reporter,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Integrations> {
  const observers: AsyncObserver[] = [];
  /** The audit chain's head, sent out so a copy lives outside the state database. */
  const auditHead = async (): Promise<string | null> => {
    const head = await store.auditHead().catch(() => undefined);
    return head ? formatAuditHead(head) : null;
  };
  let notifier: Notifier | null = null;
  if (config.notify.length > 0) {
    const [{ Notifier }, { createNotificationEvent }, { notificationFor }] = await Promise.all([
      import('../notify/notifier.ts'),
      import('../notify/notification-event.ts'),
      import('../notify/pipeline-notifications.ts'),
    ]);
    notifier = new Notifier({
      sinks: config.notify,
      record: async (result, event) => {
        const failed = result.outcome === 'failed';
        if (failed)
          reporter.warn(
            `notification ${event.type} to ${result.sink} failed after ${result.attempts} attempt(s): ${result.error ?? `HTTP ${result.status}`}${result.hint ? ` (${result.hint})` : ''}. The deployment is not affected.`,
          );
        await audit(
          { store, actor: event.actor, now: () => new Date() },
          failed ? 'notification.failed' : 'notification.delivered',
          {
            environment: event.environment,
            releaseId: event.release?.id ?? null,
            runId: typeof event.details.runId === 'number' ? event.details.runId : null,
            result: failed ? 'failed' : 'ok',
            detail: {
              event: event.type,
              sink: result.sink,
              kind: result.kind,
              host: result.host,
              status: result.status,
              attempts: result.attempts,
              durationMs: result.durationMs,
              deliveryId: result.deliveryId,
              ...(result.error ? { error: result.error } : {}),
              ...(result.hint ? { hint: result.hint } : {}),
            },
          },
        );
      },
    });
    const n = notifier;
    observers.push((event) => {
      const input = notificationFor(event, config.project);
      if (!input) return undefined;
      return auditHead().then((head) =>
        n.notify(
          createNotificationEvent({
            ...input,
            details: { ...input.details, ...(head ? { auditHead: head } : {}) },
          }),
        ),
      );
    });
  }

  const token = env.GITHUB_TOKEN?.trim();
  const gh =
    config.github && token
      ? await Promise.all([
          import('../github/github-client.ts'),
          import('../github/github-error.ts'),
          import('../github/deployment-reporter.ts'),
        ])
      : null;
  const github =
    gh && config.github && token
      ? new gh[0].GitHubClient({
          token,
          repository: config.github.repository,
          ...(config.github.apiUrl ? { baseUrl: config.github.apiUrl } : {}),
        })
      : null;
  const GitHubApiError = gh?.[1].GitHubApiError;
  if (gh && github && config.github?.deployments) {
    const { actionsRunUrl, gitHubDeploymentReporter } = gh[2];
    const logUrl = actionsRunUrl(env);
    const last = config.pipeline[config.pipeline.length - 1];
    observers.push(
      gitHubDeploymentReporter(github, {
        ...(logUrl ? { logUrl } : {}),
        auditHead,
        isProduction: (environment) => environment === last,
        onFailure: async (error, event) => {
          const e = toAirlockError(error);
          const plan = event.type === 'finished' ? event.result.plan : event.plan;
          reporter.warn(
            `GitHub Deployments: ${e.message}${e.hint ? ` ${e.hint}` : ''} The deployment is not affected.`,
          );
          await audit(
            { store, actor: event.actor, now: () => new Date() },
            'github.report_failed',
            {
              environment: plan.environment,
              releaseId: plan.release.id,
              runId: event.type === 'finished' ? event.result.run.id : null,
              result: 'failed',
              detail: { event: event.type, code: e.code, message: e.message },
            },
          ).catch(() => {});
        },
      }),
    );
  }
  const bus = new DeploymentEventBus(observers);
  const sendTo = notifier;
  return {
    bus,
    ...(sendTo ? { notify: (event: NotificationEvent) => void sendTo.notify(event) } : {}),
    ...(github ? { github } : {}),
    ...(github
      ? {
          githubCi: async (commit: string, required: string[] | null): Promise<CiFact> => {
            try {
              const r = await github.ciStatus(commit, required?.length ? { required } : {});
              return {
                state: r.state,
                source: 'github',
                summary: r.summary,
                failing: r.contexts.filter((c) => c.state === 'failure').map((c) => c.name),
              };
            } catch (error) {
              // A token without access is the user's to fix: say so. GitHub being down is a wait.
              if (GitHubApiError && error instanceof GitHubApiError && TRANSIENT.has(error.failure))
                return { state: 'pending', source: 'github', summary: error.message, failing: [] };
              throw error;
            }
          },
        }
      : {}),
    async flush() {
      await bus.flush();
      await notifier?.flush();
    },
  };
}
