/**
 * The signature of a generic webhook delivery (the scheme of Stripe and Slack request signing):
 * `x-airlock-signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` keyed with the shared
 * secret, where `<timestamp>` is `x-airlock-timestamp` (unix seconds). Signing the timestamp
 * lets a receiver reject a replayed delivery: a captured request stops verifying once it is
 * older than the receiver's tolerance. docs/notifications.md shows a receiver.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_HEADERS = {
  event: 'x-airlock-event',
  delivery: 'x-airlock-delivery',
  timestamp: 'x-airlock-timestamp',
  signature: 'x-airlock-signature',
} as const;

/** Receivers should refuse deliveries signed longer ago than this (5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** `sha256=<hex>` over `<timestamp>.<body>`; `body` is the exact bytes sent. */
export function signWebhookPayload(
  secret: string,
  timestamp: number | string,
  body: string | Uint8Array,
): string {
  const hmac = createHmac('sha256', secret).update(`${timestamp}.`).update(body);
  return `sha256=${hmac.digest('hex')}`;
}

export interface VerifyWebhookOptions {
  secret: string;
  /** The raw request body, exactly as received (not re-serialized JSON). */
  body: string | Uint8Array;
  /** The `x-airlock-timestamp` header. */
  timestamp: string | null | undefined;
  /** The `x-airlock-signature` header. */
  signature: string | null | undefined;
  /** Now, in unix seconds. Default: the system clock. */
  nowSeconds?: number;
  toleranceSeconds?: number;
}

export type VerifyWebhookResult =
  | { ok: true }
  | { ok: false; reason: 'missing-header' | 'stale-timestamp' | 'bad-signature' };

/** Verifies a delivery: the headers are present, the timestamp is recent, the HMAC matches. */
export function verifyWebhookSignature(options: VerifyWebhookOptions): VerifyWebhookResult {
  const { timestamp, signature } = options;
  if (!timestamp || !signature) return { ok: false, reason: 'missing-header' };
  const now = options.nowSeconds ?? Date.now() / 1000;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  // Written so that a timestamp that is not a number (NaN) is refused too.
  if (!/^\d+$/.test(timestamp) || !(Math.abs(now - Number(timestamp)) <= tolerance)) {
    return { ok: false, reason: 'stale-timestamp' };
  }
  const expected = Buffer.from(signWebhookPayload(options.secret, timestamp, options.body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: 'bad-signature' };
}
