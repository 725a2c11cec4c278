import { describe, expect, it } from 'vitest';
import {
  createNotificationEvent,
  NOTIFICATION_EVENT_TYPES,
  refusalEventType,
} from '../../src/notify/notification-event.ts';
import { type SlackBlock, slackPayload } from '../../src/notify/slack-payload.ts';
import { event } from './events.ts';

function sectionTexts(blocks: SlackBlock[]): string[] {
  return blocks.flatMap((b) =>
    b.type === 'section' ? [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text)] : [],
  );
}

describe('createNotificationEvent', () => {
  it('writes a one-line summary for every event type when none is given', () => {
    const summaries = NOTIFICATION_EVENT_TYPES.map(
      (type) => event({ type, details: { reason: 'the checks gate fails' } }).summary,
    );
    expect(summaries).toEqual([
      'alice@example.com started deploying r3 (c0ffee5) to production.',
      'r3 (c0ffee5) is live on production, deployed by alice@example.com.',
      'Deploying r3 (c0ffee5) to production failed: the checks gate fails.',
      'r3 (c0ffee5) is waiting for approval to be promoted to production: run `airlock approve production`.',
      'r3 (c0ffee5) was promoted to production by alice@example.com.',
      'production was rolled back to r3 (c0ffee5) by alice@example.com.',
      'Promoting r3 (c0ffee5) to production was refused: the checks gate fails.',
      'production is down: the checks gate fails.',
      'production has recovered: the checks gate fails.',
    ]);
  });

  it('keeps a given summary to one line and fills the optional fields', () => {
    const e = createNotificationEvent({
      type: 'deployment.failed',
      at: '2025-06-01T12:00:00.000Z',
      project: 'notes',
      environment: 'staging',
      release: null,
      actor: 'ci',
      summary: 'check:notes:smoke failed:\n  GET /version → 500\n',
    });
    expect(e).toEqual({
      type: 'deployment.failed',
      at: '2025-06-01T12:00:00.000Z',
      project: 'notes',
      environment: 'staging',
      release: null,
      actor: 'ci',
      summary: 'check:notes:smoke failed: GET /version → 500',
      url: null,
      details: {},
    });
    expect(event({ summary: 'x'.repeat(900) }).summary).toHaveLength(500);
  });

  it('tells a refusal waiting only on approvals apart from a failed gate', () => {
    const approval = { gate: 'approval', status: 'pending' };
    const holds = { gate: 'checks', status: 'holds' };
    expect(refusalEventType([holds, approval])).toBe('approval.requested');
    expect(refusalEventType([approval, { gate: 'checks', status: 'fails' }])).toBe('gate.failed');
    expect(refusalEventType([{ gate: 'approval', status: 'fails' }])).toBe('gate.failed');
    expect(refusalEventType([{ gate: 'soak', status: 'pending' }])).toBe('gate.failed');
  });
});

describe('slackPayload', () => {
  it('escapes what people typed, in every mrkdwn text', () => {
    const payload = slackPayload(
      event({ actor: 'eve <@channel> & co', summary: 'Deploy <!here> & <script>' }),
    );
    const all = [payload.text, ...sectionTexts(payload.blocks)].join('\n');
    expect(all).not.toMatch(/<@channel>|<!here>|<script>/);
    expect(all).toContain('eve &lt;@channel&gt; &amp; co');
    expect(payload.blocks[1]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: 'Deploy &lt;!here&gt; &amp; &lt;script&gt;' },
    });
  });

  it('lists the gates of a refused promotion that do not hold', () => {
    const payload = slackPayload(
      event({
        type: 'gate.failed',
        details: {
          gates: [
            { gate: 'deployed', status: 'holds', reason: 'r3 serves on staging.' },
            { gate: 'checks', status: 'fails', reason: 'smoke failed on staging.' },
            { gate: 'approval', status: 'pending', reason: '0 of 1 approvals.' },
          ],
        },
      }),
    );
    expect(payload.blocks[0]).toMatchObject({
      text: { text: '⛔ notes · production: promotion refused' },
    });
    expect(payload.blocks[3]).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: '• *checks* fails: smoke failed on staging.\n• *approval* is pending: 0 of 1 approvals.',
      },
    });
  });

  it('renders an event without a release or URL, and clips a long header', () => {
    const payload = slackPayload(
      event({ release: null, url: null, environment: `e${'x'.repeat(200)}` }),
    );
    const header = payload.blocks[0];
    expect(header?.type === 'header' && header.text.text.length).toBe(150);
    const texts = sectionTexts(payload.blocks);
    expect(texts).toContain('*Release*\n—');
    expect(texts).toContain('*Commit*\n—');
    expect(texts.some((t) => t.startsWith('*URL*'))).toBe(false);
    expect(payload.text).not.toContain('http');
    const context = payload.blocks.at(-1);
    expect(context).toEqual({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: 'Airlock · <!date^1748779200^{date_short_pretty} {time_secs}|2025-06-01T12:00:00.000Z>',
        },
      ],
    });
  });
});
