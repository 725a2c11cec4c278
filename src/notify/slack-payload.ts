/**
 * The body posted to a Slack-compatible incoming webhook: `text` (the notification and the
 * fallback: Mattermost and Rocket.Chat show only this, so it holds the summary and the link) and
 * Block Kit `blocks` (a header, the summary, the facts as fields, the refused gates, a context
 * line). Pure.
 */
import {
  type NotificationEvent,
  type NotificationEventType,
  shortCommit,
} from './notification-event.ts';

export type SlackText =
  | { type: 'plain_text'; text: string; emoji?: boolean }
  | { type: 'mrkdwn'; text: string };

export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text?: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'divider' };

export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
}

const LOOK: Record<NotificationEventType, { icon: string; title: string }> = {
  'deployment.started': { icon: '🚀', title: 'deployment started' },
  'deployment.succeeded': { icon: '✅', title: 'deployment succeeded' },
  'deployment.failed': { icon: '❌', title: 'deployment failed' },
  'approval.requested': { icon: '✋', title: 'approval requested' },
  'promotion.succeeded': { icon: '⏫', title: 'promoted' },
  'rollback.succeeded': { icon: '↩️', title: 'rolled back' },
  'gate.failed': { icon: '⛔', title: 'promotion refused' },
  'incident.opened': { icon: '🚨', title: 'incident opened' },
  'incident.resolved': { icon: '✅', title: 'incident resolved' },
};

/** Slack's limits: header 150 characters, a text object 3000, a field 2000. */
const MAX_HEADER = 150;
const MAX_TEXT = 3000;
const MAX_FIELD = 2000;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Escapes the three characters Slack's mrkdwn gives meaning to. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** `<url|label>`, or the escaped text alone when the URL is not a plain http(s) URL. */
function link(url: string, label: string): string {
  if (!/^https?:\/\/[^\s<>|]+$/.test(url)) return escapeMrkdwn(url);
  return `<${url}|${escapeMrkdwn(label)}>`;
}

function field(label: string, value: string): SlackText {
  return { type: 'mrkdwn', text: clip(`*${label}*\n${value}`, MAX_FIELD) };
}

/** `• *checks* fails: reason` per gate in `details.gates` that does not hold. */
function gateLines(details: Record<string, unknown>): string[] {
  const gates = details.gates;
  if (!Array.isArray(gates)) return [];
  const lines: string[] = [];
  for (const g of gates) {
    if (typeof g !== 'object' || g === null) continue;
    const { gate, status, reason } = g as Record<string, unknown>;
    if (typeof gate !== 'string' || status === 'holds') continue;
    const verdict = status === 'pending' ? 'is pending' : 'fails';
    const why = typeof reason === 'string' ? `: ${escapeMrkdwn(reason)}` : '';
    lines.push(`• *${escapeMrkdwn(gate)}* ${verdict}${why}`);
  }
  return lines;
}

/** Slack's `<!date^…>` (shown in the reader's time zone), falling back to the ISO text. */
function timestamp(at: string): string {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) return escapeMrkdwn(at);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${escapeMrkdwn(at)}>`;
}

/** Renders an event for a Slack-compatible incoming webhook. */
export function slackPayload(event: NotificationEvent): SlackPayload {
  const look = LOOK[event.type];
  const where = `${event.project} · ${event.environment}`;
  const fields: SlackText[] = [
    field('Environment', escapeMrkdwn(event.environment)),
    field('Release', event.release ? `\`${escapeMrkdwn(event.release.id)}\`` : '—'),
    field('Commit', event.release ? `\`${escapeMrkdwn(shortCommit(event.release.commit))}\`` : '—'),
    field('Actor', escapeMrkdwn(event.actor)),
  ];
  if (event.url) fields.push(field('URL', link(event.url, event.url)));

  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: clip(`${look.icon} ${where}: ${look.title}`, MAX_HEADER),
        emoji: true,
      },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: clip(escapeMrkdwn(event.summary), MAX_TEXT) },
    },
    { type: 'section', fields },
  ];
  const gates = gateLines(event.details);
  if (gates.length > 0) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: clip(gates.join('\n'), MAX_TEXT) },
    });
  }
  const context = [
    'Airlock',
    event.release ? `sha256:${escapeMrkdwn(event.release.digest.slice(0, 12))}` : null,
    timestamp(event.at),
  ].filter((part): part is string => part !== null);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context.join(' · ') }] });

  const text = `${look.icon} [${escapeMrkdwn(where)}] ${escapeMrkdwn(event.summary)}${event.url ? ` ${event.url}` : ''}`;
  return { text: clip(text, MAX_TEXT), blocks };
}
