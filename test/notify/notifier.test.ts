import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { type DeliveryResult, Notifier, type NotifierOptions } from '../../src/notify/notifier.ts';
import type { NotifySink } from '../../src/notify/notify-config.ts';
import type { SlackPayload } from '../../src/notify/slack-payload.ts';
import { event } from './events.ts';
import { closedPort, type Receiver, type Responder, reply, startReceiver } from './receiver.ts';

const receivers: Receiver[] = [];

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(respond?: Responder): Promise<Receiver> {
  const r = await startReceiver(respond);
  receivers.push(r);
  return r;
}

const SECRET = 'whsec-test-secret-0123456789abcdef';

/** A notifier whose waits are recorded instead of slept, and its recorded results. */
function notifier(sinks: NotifySink[], options: Partial<NotifierOptions> = {}) {
  const sleeps: number[] = [];
  const recorded: DeliveryResult[] = [];
  const n = new Notifier({
    sinks,
    record: (r, e) => {
      expect(e.type).toBe(r.event);
      recorded.push(r);
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  return { notifier: n, sleeps, recorded };
}

describe('Notifier: Slack-compatible sink', () => {
  it('posts { text, blocks } with the environment, release, commit, actor, summary and link', async () => {
    const r = await receiver();
    const { notifier: n, recorded } = notifier([
      { kind: 'slack', url: `${r.url}/services/T1/B2/token`, name: 'notify[0]' },
    ]);
    const results = await n.notify(event());

    expect(r.requests).toHaveLength(1);
    const request = r.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/services/T1/B2/token');
    expect(request.headers['content-type']).toBe('application/json');
    const payload = JSON.parse(request.body) as SlackPayload;
    expect(Object.keys(payload).sort()).toEqual(['blocks', 'text']);
    expect(payload.text).toContain('[notes · production]');
    expect(payload.text).toContain('r3 (c0ffee5) was promoted to production by alice@example.com.');
    expect(payload.text).toContain('https://notes.example.com');
    expect(payload.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '⏫ notes · production: promoted', emoji: true },
    });
    expect(payload.blocks[1]).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: 'r3 (c0ffee5) was promoted to production by alice@example.com.',
      },
    });
    const fields = payload.blocks[2];
    expect(fields?.type).toBe('section');
    const texts = (fields as { fields: Array<{ type: string; text: string }> }).fields.map(
      (f) => f.text,
    );
    expect(texts).toEqual([
      '*Environment*\nproduction',
      '*Release*\n`r3`',
      '*Commit*\n`c0ffee5`',
      '*Actor*\nalice@example.com',
      '*URL*\n<https://notes.example.com|https://notes.example.com>',
    ]);
    expect(payload.blocks.at(-1)?.type).toBe('context');

    expect(results).toEqual([
      expect.objectContaining({
        event: 'promotion.succeeded',
        sink: 'notify[0]',
        kind: 'slack',
        host: new URL(r.url).host,
        outcome: 'delivered',
        status: 200,
        attempts: 1,
        error: null,
        hint: null,
      }),
    ]);
    expect(recorded).toEqual(results);
  });
});

describe('Notifier: retries', () => {
  it('retries a 5xx with exponential backoff, then records the delivery and its attempts', async () => {
    const r = await receiver((_req, res, n) =>
      n < 2 ? reply(res, 503, 'busy') : reply(res, 200, 'ok'),
    );
    const {
      notifier: n,
      sleeps,
      recorded,
    } = notifier([{ kind: 'webhook', url: `${r.url}/hook`, secret: SECRET }]);
    const [result] = await n.notify(event());
    expect(result).toMatchObject({ outcome: 'delivered', status: 200, attempts: 3, error: null });
    expect(sleeps).toEqual([500, 1000]);
    expect(r.requests).toHaveLength(3);
    // One delivery id across the retries, so a receiver can drop a repeat.
    const ids = new Set(r.requests.map((q) => q.headers['x-airlock-delivery']));
    expect([...ids]).toEqual([result?.deliveryId]);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.attempts).toBe(3);
  });

  it('sleeps for real between attempts by default', async () => {
    const r = await receiver((_req, res, n) => reply(res, n === 0 ? 500 : 200));
    const n = new Notifier({
      sinks: [{ kind: 'slack', url: `${r.url}/x` }],
      backoffMs: 60,
    });
    const started = performance.now();
    const [result] = await n.notify(event());
    expect(result).toMatchObject({ outcome: 'delivered', attempts: 2 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('waits what a 429 Retry-After asks for (seconds, or an HTTP date), else backs off', async () => {
    const now = new Date('2025-06-01T12:00:00.000Z');
    const date = new Date(now.getTime() + 3000).toUTCString();
    const r = await receiver((_req, res, n) => {
      if (n === 0) reply(res, 429, 'slow down', { 'retry-after': '2' });
      else if (n === 1) reply(res, 429, 'slow down', { 'retry-after': date });
      else if (n === 2) reply(res, 429, 'slow down');
      else reply(res, 200);
    });
    const { notifier: n, sleeps } = notifier([{ kind: 'slack', url: `${r.url}/x` }], {
      now: () => now,
      attempts: 4,
    });
    const [result] = await n.notify(event());
    expect(sleeps).toEqual([2000, 3000, 2000]);
    expect(result).toMatchObject({ outcome: 'delivered', attempts: 4, status: 200 });
  });

  it('fails at once when a 429 asks to wait longer than it will', async () => {
    const r = await receiver((_req, res) => reply(res, 429, 'quota', { 'retry-after': '3600' }));
    const { notifier: n, sleeps } = notifier([{ kind: 'slack', url: `${r.url}/x` }]);
    const [result] = await n.notify(event());
    expect(sleeps).toEqual([]);
    expect(result).toMatchObject({ outcome: 'failed', status: 429, attempts: 1 });
    expect(result?.error).toBe(
      'HTTP 429: quota (asked to retry after 3600 s, longer than the 10 s Airlock waits)',
    );
  });

  it('never retries a 400, and says what the receiver answered', async () => {
    const r = await receiver((_req, res) => reply(res, 400, 'invalid_payload'));
    const {
      notifier: n,
      sleeps,
      recorded,
    } = notifier([{ kind: 'slack', url: `${r.url}/x`, name: 'notify[0] ($SLACK_WEBHOOK_URL)' }]);
    const [result] = await n.notify(event());
    expect(r.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(result).toMatchObject({
      outcome: 'failed',
      status: 400,
      attempts: 1,
      error: 'HTTP 400: invalid_payload',
    });
    expect(result?.hint).toMatch(/not retried: check that notify\[0\] \(\$SLACK_WEBHOOK_URL\)/);
    expect(recorded).toEqual([result]);
  });

  it('names a revoked webhook (404) and does not follow redirects', async () => {
    const target = await receiver();
    const r = await receiver((req, res) =>
      req.path === '/moved'
        ? reply(res, 302, '', { location: `${target.url}/elsewhere` })
        : reply(res, 404, 'no_service'),
    );
    const { notifier: n } = notifier([
      { kind: 'slack', url: `${r.url}/gone` },
      { kind: 'webhook', url: `${r.url}/moved`, secret: SECRET },
    ]);
    const [gone, moved] = await n.notify(event());
    expect(gone).toMatchObject({ outcome: 'failed', status: 404, attempts: 1 });
    expect(gone?.hint).toMatch(/revoked/);
    expect(moved).toMatchObject({ outcome: 'failed', status: 302, attempts: 1 });
    expect(moved?.error).toBe('HTTP 302: redirected, not followed');
    expect(target.requests).toHaveLength(0);
  });

  it('records a receiver that is down as failed after every attempt, and resolves', async () => {
    const port = await closedPort();
    const {
      notifier: n,
      sleeps,
      recorded,
    } = notifier([{ kind: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: SECRET }]);
    const results = await n.notify(event({ type: 'deployment.failed' }));
    expect(results).toEqual([
      expect.objectContaining({
        event: 'deployment.failed',
        kind: 'webhook',
        host: `127.0.0.1:${port}`,
        outcome: 'failed',
        status: null,
        attempts: 3,
        error: 'connection refused',
      }),
    ]);
    expect(results[0]?.hint).toMatch(/unreachable or failing after 3 attempts/);
    expect(sleeps).toEqual([500, 1000]);
    expect(recorded).toEqual(results);
  });

  it('stops growing the backoff at maxRetryAfterMs', async () => {
    const port = await closedPort();
    const { notifier: n, sleeps } = notifier(
      [{ kind: 'slack', url: `http://127.0.0.1:${port}/x` }],
      { attempts: 6, maxRetryAfterMs: 3000 },
    );
    const [result] = await n.notify(event());
    expect(result).toMatchObject({ outcome: 'failed', attempts: 6 });
    expect(sleeps).toEqual([500, 1000, 2000, 3000, 3000]);
  });

  it('aborts an attempt that gets no answer in time and retries it', async () => {
    const r = await receiver(() => {
      // Never answers.
    });
    const { notifier: n } = notifier([{ kind: 'slack', url: `${r.url}/x` }], {
      timeoutMs: 150,
      attempts: 2,
    });
    const started = performance.now();
    const [result] = await n.notify(event());
    expect(result).toMatchObject({ outcome: 'failed', attempts: 2, status: null });
    expect(result?.error).toBe('no answer within 150 ms');
    expect(r.requests).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('Notifier: sinks', () => {
  it('sends to every sink in parallel', async () => {
    // The first receiver answers only once the second has its request: sequential delivery
    // would wait on the first until it timed out.
    let arrived: () => void = () => {};
    const second = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const a = await receiver(async (_req, res) => {
      await second;
      reply(res, 200);
    });
    const b = await receiver((_req, res) => {
      arrived();
      reply(res, 200);
    });
    const { notifier: n } = notifier(
      [
        { kind: 'slack', url: `${a.url}/a` },
        { kind: 'webhook', url: `${b.url}/b`, secret: SECRET },
      ],
      { timeoutMs: 2000, attempts: 1 },
    );
    const results = await n.notify(event());
    expect(results.map((r) => [r.kind, r.outcome, r.attempts])).toEqual([
      ['slack', 'delivered', 1],
      ['webhook', 'delivered', 1],
    ]);
  });

  it('sends each sink only the event types and environments it subscribed to', async () => {
    const failures = await receiver();
    const production = await receiver();
    const everything = await receiver();
    const { notifier: n } = notifier([
      { kind: 'slack', url: `${failures.url}/x`, events: ['deployment.failed', 'gate.failed'] },
      {
        kind: 'webhook',
        url: `${production.url}/x`,
        secret: SECRET,
        environments: ['production'],
        events: ['promotion.succeeded'],
      },
      { kind: 'slack', url: `${everything.url}/x` },
    ]);
    const sent = [
      event({ type: 'deployment.started', environment: 'staging' }),
      event({ type: 'deployment.failed', environment: 'staging' }),
      event({ type: 'promotion.succeeded', environment: 'production' }),
      event({ type: 'promotion.succeeded', environment: 'qa' }),
    ];
    const counts = [];
    for (const e of sent) counts.push((await n.notify(e)).length);
    expect(counts).toEqual([1, 2, 2, 1]);
    expect(failures.requests.map((q) => JSON.parse(q.body).text)).toEqual([
      expect.stringContaining('[notes · staging] Deploying r3'),
    ]);
    expect(production.requests.map((q) => q.headers['x-airlock-event'])).toEqual([
      'promotion.succeeded',
    ]);
    expect(JSON.parse(production.requests[0]?.body ?? '{}').environment).toBe('production');
    expect(everything.requests).toHaveLength(4);
    expect(n.wants({ type: 'gate.failed', environment: 'qa' })).toBe(true);
    expect(
      new Notifier({
        sinks: [{ kind: 'slack', url: 'https://x.test', events: ['gate.failed'] }],
      }).wants({ type: 'deployment.started', environment: 'qa' }),
    ).toBe(false);
  });

  it('resolves with no results when no sink is subscribed', async () => {
    const { notifier: n, recorded } = notifier([]);
    expect(await n.notify(event())).toEqual([]);
    expect(recorded).toEqual([]);
  });

  it('resolves even when recording throws, and flush waits for unawaited deliveries', async () => {
    const r = await receiver((_req, res) => {
      setTimeout(() => reply(res, 200), 50);
    });
    const seen: string[] = [];
    const n = new Notifier({
      sinks: [{ kind: 'slack', url: `${r.url}/x` }],
      record: async (result) => {
        seen.push(result.outcome);
        throw new Error('the audit log is gone');
      },
    });
    void n.notify(event({ type: 'deployment.started' }));
    void n.notify(event({ type: 'deployment.succeeded' }));
    expect(seen).toEqual([]);
    await n.flush();
    expect(seen).toEqual(['delivered', 'delivered']);
  });
});

describe('Notifier: credentials', () => {
  const TOKEN = 'XXsecretTokenXX9f8e7d';

  function assertNoCredentials(value: unknown, credentials: string[]): void {
    const text = `${JSON.stringify(value)}\n${inspect(value, { depth: 10 })}`;
    for (const c of credentials) expect(text).not.toContain(c);
  }

  it('never puts a URL path, token or secret in a result, a message or an inspected notifier', async () => {
    // A receiver that echoes what it got (path, signature) into its error answer.
    const echo = await receiver((req, res) =>
      reply(res, 400, `bad request to ${req.path} signed ${req.headers['x-airlock-signature']}`),
    );
    const port = await closedPort();
    const sinks: NotifySink[] = [
      { kind: 'webhook', url: `${echo.url}/services/T0001/B0002/${TOKEN}`, secret: SECRET },
      { kind: 'slack', url: `${echo.url}/services/T0001/B0002/${TOKEN}?token=${TOKEN}` },
      { kind: 'slack', url: `http://127.0.0.1:${port}/hooks/${TOKEN}` },
      { kind: 'webhook', url: `not a url ${TOKEN}`, secret: SECRET },
      { kind: 'webhook', url: `http://user:${TOKEN}@127.0.0.1:${port}/x`, secret: SECRET },
    ];
    const { notifier: n, recorded } = notifier(sinks);
    const results = await n.notify(event());

    expect(results.map((r) => r.outcome)).toEqual([
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
    ]);
    // The signature is not a secret (the receiver gets it); the path it was sent to is.
    expect(results[0]?.error).toMatch(
      /^HTTP 400: bad request to \*\*\* signed sha256=[0-9a-f]{64}$/,
    );
    expect(results[4]).toMatchObject({
      attempts: 0,
      error: 'the webhook URL holds a user name or password, which cannot be sent that way',
    });
    expect(results[3]).toMatchObject({ host: 'invalid URL', attempts: 0 });
    expect(results[4]?.host).toBe(`127.0.0.1:${port}`);
    assertNoCredentials([results, recorded], [TOKEN, SECRET, '/services/T0001']);
    assertNoCredentials(n, [TOKEN, SECRET]);
  });

  it('scrubs credentials from errors thrown by fetch itself', async () => {
    const url = `https://hooks.example.test/services/${TOKEN}`;
    const { notifier: n } = notifier([{ kind: 'webhook', url, secret: SECRET }], {
      attempts: 1,
      fetch: async (target) => {
        throw new TypeError(`fetch failed for ${target} with ${SECRET}`);
      },
    });
    const [result] = await n.notify(event());
    expect(result).toMatchObject({ outcome: 'failed', host: 'hooks.example.test', attempts: 1 });
    expect(result?.error).toBe('request failed: fetch failed for *** with ***');
    assertNoCredentials(result, [TOKEN, SECRET]);
  });
});
