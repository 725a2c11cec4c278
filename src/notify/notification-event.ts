/**
 * What Airlock tells a team about its pipeline (a pipeline that ends "… → smoke → notify"). One event shape
 * for every sink: the Slack-compatible payload is rendered from it, and the signed webhook sends
 * it as is. Events carry facts a person can act on, never secrets.
 */

/** Every event a sink can subscribe to, in the order they usually happen. */
export const NOTIFICATION_EVENT_TYPES = [
  'deployment.started',
  'deployment.succeeded',
  'deployment.failed',
  'approval.requested',
  'promotion.succeeded',
  'rollback.succeeded',
  'gate.failed',
  'incident.opened',
  'incident.resolved',
] as const;

export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number];

export interface NotificationRelease {
  id: string;
  commit: string;
  /** sha256 of the release (64 hex chars). */
  digest: string;
}

export interface NotificationEvent {
  type: NotificationEventType;
  /** ISO 8601 time of the event. */
  at: string;
  project: string;
  environment: string;
  release: NotificationRelease | null;
  /** Who acted (`--as`, `AIRLOCK_ACTOR`, git `user.email`). */
  actor: string;
  /** One line for humans. */
  summary: string;
  /** The environment's URL, when it has one. */
  url: string | null;
  /** Machine-readable facts (run id, failed step, gates). Never secrets. */
  details: Record<string, unknown>;
}

/** What `createNotificationEvent` needs; `summary` and `details` are optional. */
export interface NotificationEventInput {
  type: NotificationEventType;
  at: string;
  project: string;
  environment: string;
  release: NotificationRelease | null;
  actor: string;
  url?: string | null;
  /** Default: a sentence built from the other fields and `details.reason`. */
  summary?: string;
  details?: Record<string, unknown>;
}

/** Longest summary kept; chat clients truncate long lines anyway. */
const MAX_SUMMARY = 500;

/** The first 7 characters of a commit, as git prints it. */
export function shortCommit(commit: string): string {
  return commit.slice(0, 7);
}

/** A summary on one line, whitespace folded, at most 500 characters. */
export function oneLine(text: string): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return folded.length > MAX_SUMMARY ? `${folded.slice(0, MAX_SUMMARY - 1)}…` : folded;
}

function defaultSummary(input: NotificationEventInput): string {
  const { environment: env, actor } = input;
  const release = input.release
    ? `${input.release.id} (${shortCommit(input.release.commit)})`
    : 'a release';
  const reason = typeof input.details?.reason === 'string' ? `: ${input.details.reason}` : '';
  switch (input.type) {
    case 'deployment.started':
      return `${actor} started deploying ${release} to ${env}.`;
    case 'deployment.succeeded':
      return `${release} is live on ${env}, deployed by ${actor}.`;
    case 'deployment.failed':
      return `Deploying ${release} to ${env} failed${reason}.`;
    case 'approval.requested':
      return `${release} is waiting for approval to be promoted to ${env}: run \`airlock approve ${env}\`.`;
    case 'promotion.succeeded':
      return `${release} was promoted to ${env} by ${actor}.`;
    case 'rollback.succeeded':
      return `${env} was rolled back to ${release} by ${actor}.`;
    case 'gate.failed':
      return `Promoting ${release} to ${env} was refused${reason}.`;
    case 'incident.opened':
      return `${env} is down${reason}.`;
    case 'incident.resolved':
      return `${env} has recovered${reason}.`;
  }
}

/** Builds an event, filling in the summary (kept to one line) and empty details. */
export function createNotificationEvent(input: NotificationEventInput): NotificationEvent {
  return {
    type: input.type,
    at: input.at,
    project: input.project,
    environment: input.environment,
    release: input.release
      ? { id: input.release.id, commit: input.release.commit, digest: input.release.digest }
      : null,
    actor: input.actor,
    summary: oneLine(input.summary ?? defaultSummary(input)),
    url: input.url ?? null,
    details: input.details ?? {},
  };
}

/**
 * The event a refused promotion is told as: `approval.requested` when the only gates that do not
 * hold are approvals still pending (the team has something to do), `gate.failed` otherwise.
 */
export function refusalEventType(
  gates: ReadonlyArray<{ gate: string; status: string }>,
): 'approval.requested' | 'gate.failed' {
  const blocking = gates.filter((g) => g.status !== 'holds');
  return blocking.length > 0 &&
    blocking.every((g) => g.gate === 'approval' && g.status === 'pending')
    ? 'approval.requested'
    : 'gate.failed';
}
