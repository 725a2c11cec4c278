/**
 * Incidents as GitHub issues (Upptime's way): an issue labelled `airlock-incident` when one
 * opens (the failing checks, since when, the release serving, links), a comment when the
 * failing checks change, and a comment with the outage's duration and the issue closed when it
 * resolves. The token comes from the environment (`GITHUB_TOKEN`) and is never stored.
 */
import type { GitHubClient } from '../github/github-client.ts';
import type { Incident } from '../state/state-store.ts';

export const INCIDENT_LABEL = 'airlock-incident';

/** Facts an issue shows besides the incident itself. */
export interface IncidentContext {
  project: string;
  /** Service → release serving. */
  serving: Record<string, string>;
  /** Service → URL. */
  urls: Record<string, string>;
  /** The environment's last deployment, one line, or null. */
  lastDeployment: string | null;
  /** Page listing the environment's deployments (GitHub), or null. */
  deploymentsUrl: string | null;
  resolveAfter: number;
}

/** Where incidents are tracked; the GitHub one is {@link GitHubIncidentIssues}. */
export interface IncidentIssues {
  /** Opens the incident's issue, or finds the one an earlier attempt opened. */
  open(incident: Incident, context: IncidentContext): Promise<{ number: number; url: string }>;
  changed(incident: Incident): Promise<void>;
  resolved(incident: Incident): Promise<void>;
}

/** `1 h 5 min`, `3 min 20 s`, `12 s`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/** The issue's title; the `(incident #N)` marker finds it again after a crash. */
export function incidentTitle(incident: Incident): string {
  return incident.cause === 'ci'
    ? `CI is red at the head of ${incident.environment.slice(3)} (incident #${incident.id})`
    : `${incident.environment} is failing its checks (incident #${incident.id})`;
}

function failingTable(incident: Incident): string {
  return [
    '| service | check | result |',
    '| --- | --- | --- |',
    ...incident.failing.map(
      (c) =>
        `| ${c.service} | ${c.check} | ${c.message.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`,
    ),
  ].join('\n');
}

/** The issue body. */
export function incidentBody(incident: Incident, context: IncidentContext): string {
  const serving = Object.entries(context.serving)
    .map(([service, release]) => `${service} ${release}`)
    .join(', ');
  const urls = Object.entries(context.urls).map(([service, url]) => `- ${service}: ${url}`);
  if (incident.cause === 'ci') {
    return [
      `CI of ${context.project} is red at the head of **${incident.environment.slice(3)}** since ${incident.startedAt} (incident #${incident.id}).`,
      '',
      ...incident.failing.map((c) => `- ${c.message}`),
      '',
      `Opened by \`airlock monitor\`; this issue is closed once ${context.resolveAfter} passes in a row see CI green (or pending) there.`,
    ].join('\n');
  }
  return [
    `**${incident.environment}** of ${context.project} has failed its monitored checks since ${incident.startedAt} (incident #${incident.id}).`,
    '',
    failingTable(incident),
    '',
    `Serving: ${serving || 'nothing recorded'}`,
    ...(context.lastDeployment ? [`Last deployment: ${context.lastDeployment}`] : []),
    ...(context.deploymentsUrl ? [`Deployments: ${context.deploymentsUrl}`] : []),
    ...(urls.length ? ['', 'Environment:', ...urls] : []),
    '',
    `Opened by \`airlock monitor\`. Promotions out of ${incident.environment} are blocked by the \`health\` gate until it recovers (or \`airlock promote <env> --fixes ${incident.id}\`); this issue is closed after ${context.resolveAfter} passing passes in a row.`,
  ].join('\n');
}

/** {@link IncidentIssues} on a repository's GitHub issues. */
export class GitHubIncidentIssues implements IncidentIssues {
  readonly #client: GitHubClient;

  constructor(client: GitHubClient) {
    this.#client = client;
  }

  async open(incident: Incident, context: IncidentContext) {
    const title = incidentTitle(incident);
    const existing = (await this.#client.listOpenIssues(INCIDENT_LABEL)).find(
      (i) => i.title === title,
    );
    const issue =
      existing ??
      (await this.#client.createIssue({
        title,
        body: incidentBody(incident, context),
        labels: [INCIDENT_LABEL],
      }));
    return { number: issue.number, url: issue.htmlUrl };
  }

  async changed(incident: Incident): Promise<void> {
    if (incident.issueNumber === null) return;
    await this.#client.commentOnIssue(
      incident.issueNumber,
      [`The failing checks changed:`, '', failingTable(incident)].join('\n'),
    );
  }

  async resolved(incident: Incident): Promise<void> {
    if (incident.issueNumber === null) return;
    await this.#client.commentOnIssue(
      incident.issueNumber,
      `Recovered at ${incident.resolvedAt}: ${incident.environment} passes its checks again. Outage: ${formatDuration(incident.durationMs ?? 0)} (${incident.durationMs} ms, since ${incident.startedAt}).`,
    );
    await this.#client.closeIssue(incident.issueNumber);
  }
}
