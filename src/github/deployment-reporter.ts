/**
 * Reports Airlock deployments through the GitHub Deployments API (automatic promotion reports
 * deployments to GitHub): each run creates a GitHub deployment of the release's commit for that
 * environment and moves it `in_progress → success | failure | error`, with `environment_url`
 * and `log_url`; after a success, older deployments of the environment become `inactive`.
 * Best effort: a GitHub failure is handed to `onFailure` (the session audits
 * `github.report_failed` and warns) and never changes the deployment's outcome.
 */
import type { DeploymentEvent } from '../pipeline/deployment-events.ts';
import type { GitHubClient } from './github-client.ts';

export type GitHubDeploymentsApi = Pick<
  GitHubClient,
  'createDeployment' | 'setDeploymentStatus' | 'markOlderInactive'
>;

export interface GitHubReporterOptions {
  /** Where the run's log is, e.g. the Actions run URL. */
  logUrl?: string;
  /** True for environments that serve end users (the last of the pipeline). */
  isProduction(environment: string): boolean;
  /**
   * The audit chain's head as `seq:hash-prefix` (`formatAuditHead`), or null. Carried in each
   * deployment's payload and its final status, so GitHub keeps a copy of the head outside the
   * state database: a rewrite of the whole log then no longer matches it.
   */
  auditHead?: () => Promise<string | null>;
  /** Called with each failed API call; must not throw. */
  onFailure(error: unknown, event: DeploymentEvent): void | Promise<void>;
}

/** `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}` inside GitHub Actions. */
export function actionsRunUrl(
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = env;
  return GITHUB_SERVER_URL && GITHUB_REPOSITORY && GITHUB_RUN_ID
    ? `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`
    : undefined;
}

/** An observer for `DeploymentEventBus` that mirrors runs into GitHub deployments. */
export function gitHubDeploymentReporter(
  api: GitHubDeploymentsApi,
  options: GitHubReporterOptions,
): (event: DeploymentEvent) => Promise<void> | undefined {
  /** Run id → the GitHub deployment id (null when creating it failed). */
  const created = new Map<number, Promise<number | null>>();
  const logUrl = options.logUrl ? { logUrl: options.logUrl } : {};
  const attempt = async <T>(event: DeploymentEvent, work: () => Promise<T>): Promise<T | null> => {
    try {
      return await work();
    } catch (error) {
      await options.onFailure(error, event);
      return null;
    }
  };
  return (event) => {
    if (event.type === 'started') {
      const { plan } = event;
      const id = attempt(event, async () => {
        const auditHead = (await options.auditHead?.()) ?? null;
        const deployment = await api.createDeployment({
          ref: plan.release.commit,
          environment: plan.environment,
          description: `Airlock ${plan.action} ${plan.release.id} to ${plan.environment}`,
          payload: {
            release: plan.release.id,
            digest: plan.release.digest,
            ...(auditHead ? { auditHead } : {}),
          },
          productionEnvironment: options.isProduction(plan.environment),
        });
        await api.setDeploymentStatus(deployment.id, {
          state: 'in_progress',
          description: `${plan.action} ${plan.release.id} running (run #${event.runId})`,
          ...logUrl,
        });
        return deployment.id;
      });
      created.set(event.runId, id);
      return id.then(() => {});
    }
    if (event.type === 'finished') {
      const { result } = event;
      const pending = created.get(result.run.id);
      if (!pending) return undefined;
      created.delete(result.run.id);
      return (async () => {
        const id = await pending;
        if (id === null) return;
        const url = Object.values(result.urls)[0];
        const state =
          result.status === 'succeeded'
            ? 'success'
            : result.status === 'failed'
              ? 'failure'
              : 'error';
        await attempt(event, async () => {
          const auditHead = (await options.auditHead?.()) ?? null;
          await api.setDeploymentStatus(id, {
            state,
            description: `${
              result.status === 'succeeded'
                ? `${result.plan.release.id} serves ${result.plan.environment}`
                : (result.run.message ?? `${result.plan.action} ${result.status}`)
            }${auditHead ? ` (audit head ${auditHead})` : ''}`,
            ...(url ? { environmentUrl: url } : {}),
            ...logUrl,
          });
          if (state === 'success') await api.markOlderInactive(result.plan.environment, id);
        });
      })();
    }
    return undefined;
  };
}
