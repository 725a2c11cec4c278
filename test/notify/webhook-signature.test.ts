import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../../src/notify/notifier.ts';
import { signWebhookPayload, verifyWebhookSignature } from '../../src/notify/webhook-signature.ts';
import { event } from './events.ts';
import { type Receiver, startReceiver } from './receiver.ts';

type VerifyFn = (
  rawBody: string | Buffer,
  headers: IncomingHttpHeaders,
  secret: string,
  toleranceSeconds?: number,
) => boolean;

const SECRET = 'whsec-test-secret-0123456789abcdef';
const receivers: Receiver[] = [];
let dir = '';
/** The receiver example of docs/notifications.md, run as written. */
let verifyAirlockSignature: VerifyFn;

beforeAll(async () => {
  const docs = await readFile(new URL('../../docs/notifications.md', import.meta.url), 'utf8');
  const example = [...docs.matchAll(/```js\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? '')
    .find((code) => code.includes('export function verifyAirlockSignature'));
  if (!example) throw new Error('docs/notifications.md has no verifyAirlockSignature example');
  dir = await mkdtemp(path.join(tmpdir(), 'airlock-notify-'));
  const file = path.join(dir, 'receiver.mjs');
  await writeFile(file, example);
  ({ verifyAirlockSignature } = (await import(pathToFileURL(file).href)) as {
    verifyAirlockSignature: VerifyFn;
  });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function deliverOne(now?: () => Date) {
  const r = await startReceiver();
  receivers.push(r);
  const n = new Notifier({
    sinks: [{ kind: 'webhook', url: `${r.url}/airlock`, secret: SECRET }],
    ...(now ? { now } : {}),
  });
  const e = event({ type: 'deployment.failed', details: { failedStep: 'check:notes:smoke' } });
  const [result] = await n.notify(e);
  expect(result?.outcome).toBe('delivered');
  const request = r.requests[0];
  if (!request) throw new Error('the receiver got nothing');
  return { request, event: e, result };
}

describe('signed webhook deliveries', () => {
  it('posts the event JSON with the documented headers', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { request, event: e, result } = await deliverOne();
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-airlock-event']).toBe('deployment.failed');
    expect(request.headers['x-airlock-delivery']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(request.headers['x-airlock-delivery']).toBe(result?.deliveryId);
    const timestamp = Number(request.headers['x-airlock-timestamp']);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(request.headers['x-airlock-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(JSON.parse(request.body)).toEqual(e);
  });

  it('verifies with the receiver example of the docs; a tampered body or wrong secret does not', async () => {
    const { request } = await deliverOne();
    expect(verifyAirlockSignature(request.body, request.headers, SECRET)).toBe(true);
    expect(verifyAirlockSignature(Buffer.from(request.body), request.headers, SECRET)).toBe(true);

    const tampered = request.body.replace('"deployment.failed"', '"deployment.succeeded"');
    expect(tampered).not.toBe(request.body);
    expect(verifyAirlockSignature(tampered, request.headers, SECRET)).toBe(false);
    expect(verifyAirlockSignature(request.body, request.headers, `${SECRET}x`)).toBe(false);
    // The timestamp is signed: moving it (to replay later) breaks the signature.
    const moved = {
      ...request.headers,
      'x-airlock-timestamp': String(Math.floor(Date.now() / 1000) + 60),
    };
    expect(verifyAirlockSignature(request.body, moved, SECRET)).toBe(false);
    const { 'x-airlock-signature': _, ...unsigned } = request.headers;
    expect(verifyAirlockSignature(request.body, unsigned, SECRET)).toBe(false);
  });

  it('is refused as a replay once older than the tolerance', async () => {
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    const { request } = await deliverOne(() => tenMinutesAgo);
    expect(verifyAirlockSignature(request.body, request.headers, SECRET)).toBe(false);
    expect(verifyAirlockSignature(request.body, request.headers, SECRET, 3600)).toBe(true);
    const verify = (nowSeconds?: number) =>
      verifyWebhookSignature({
        secret: SECRET,
        body: request.body,
        timestamp: request.headers['x-airlock-timestamp'] as string,
        signature: request.headers['x-airlock-signature'] as string,
        ...(nowSeconds === undefined ? {} : { nowSeconds }),
      });
    expect(verify()).toEqual({ ok: false, reason: 'stale-timestamp' });
    expect(verify(tenMinutesAgo.getTime() / 1000)).toEqual({ ok: true });
  });
});

describe('signWebhookPayload and verifyWebhookSignature', () => {
  const body = '{"type":"deployment.failed","environment":"production"}';

  it('computes the documented HMAC: sha256 over "<timestamp>.<body>" (known answer from openssl)', () => {
    // printf '%s' '1700000000.<body>' | openssl dgst -sha256 -hmac 'test-secret-0123456789'
    expect(signWebhookPayload('test-secret-0123456789', 1700000000, body)).toBe(
      'sha256=319940a9e9a7dfeb64068615edb982194223df50e551b61f64ec6ac43bbb81f9',
    );
  });

  it('names why a delivery does not verify', () => {
    const signature = signWebhookPayload(SECRET, 1700000000, body);
    const base = {
      secret: SECRET,
      body,
      timestamp: '1700000000',
      signature,
      nowSeconds: 1700000100,
    };
    expect(verifyWebhookSignature(base)).toEqual({ ok: true });
    expect(verifyWebhookSignature({ ...base, body: `${body} ` })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyWebhookSignature({ ...base, secret: 'another-secret-000000' })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyWebhookSignature({ ...base, signature: 'sha256=00' })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyWebhookSignature({ ...base, nowSeconds: 1700000000 + 301 })).toEqual({
      ok: false,
      reason: 'stale-timestamp',
    });
    expect(verifyWebhookSignature({ ...base, timestamp: 'soon' })).toEqual({
      ok: false,
      reason: 'stale-timestamp',
    });
    expect(verifyWebhookSignature({ ...base, signature: undefined })).toEqual({
      ok: false,
      reason: 'missing-header',
    });
  });
});
