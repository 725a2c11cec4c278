/**
 * Delivers notification events to the sinks subscribed to them: all sinks in parallel, each
 * retried with exponential backoff (network errors, timeouts, 5xx, and 429 after its
 * `Retry-After`; never another 4xx). A delivery that fails never throws and never fails a
 * deployment: it is handed to `record` (the pipeline appends `notification.failed` to the
 * audit log) like a delivered one. Results name a sink by its kind, host and config name only —
 * webhook URLs and secrets are credentials, scrubbed from every message.
 */
import { randomUUID } from 'node:crypto';
import { describeFetchError, sleep as pause } from '../checks/http-support.ts';
import { redact } from '../secrets/redact.ts';
import type { NotificationEvent, NotificationEventType } from './notification-event.ts';
import { type NotifySink, sinkHost } from './notify-sinks.ts';
import { slackPayload } from './slack-payload.ts';
import { signWebhookPayload, WEBHOOK_HEADERS } from './webhook-signature.ts';

export interface DeliveryResult {
  event: NotificationEventType;
  /** The sink's safe name (`notify[0] ($SLACK_WEBHOOK_URL)`), or `<kind>#<index>`. */
  sink: string;
  kind: NotifySink['kind'];
  /** Host (and port) of the webhook URL: the only part of it ever recorded. */
  host: string;
  outcome: 'delivered' | 'failed';
  /** HTTP status of the last attempt; null when no response came. */
  status: number | null;
  /** Requests made (0 when the URL is unusable). */
  attempts: number;
  durationMs: number;
  /** The `x-airlock-delivery` id; the same on every attempt, so a receiver can drop repeats. */
  deliveryId: string;
  /** Why the delivery failed (the last attempt's reason), or null. */
  error: string | null;
  /** What to do about it, or null. */
  hint: string | null;
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface NotifierOptions {
  sinks: readonly NotifySink[];
  /**
   * Called once per delivery with its outcome and the event (for the audit row's environment,
   * release and run). May be async; its errors are ignored. It may run after the command's
   * environment lock is released, so it must not write through a fenced store.
   */
  record?: (result: DeliveryResult, event: NotificationEvent) => void | Promise<void>;
  fetch?: FetchLike;
  /** Waits between attempts. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  /** Delivery ids. Default: `crypto.randomUUID`. */
  uuid?: () => string;
  /** Requests per delivery, the first included. Default 3. */
  attempts?: number;
  /** Wait before the second attempt; doubled before each next one. Default 500 ms. */
  backoffMs?: number;
  /** Abort one request after this long. Default 5000 ms. */
  timeoutMs?: number;
  /**
   * Longest wait between attempts: a 429 whose `Retry-After` asks for more fails at once rather
   * than hold the command, and backoff stops growing here. Default 10 s.
   */
  maxRetryAfterMs?: number;
}

export const NOTIFY_DEFAULTS = {
  attempts: 3,
  backoffMs: 500,
  timeoutMs: 5_000,
  maxRetryAfterMs: 10_000,
} as const;

type Attempt =
  | { kind: 'ok'; status: number }
  | { kind: 'retry'; status: number | null; error: string; retryAfterMs?: number }
  | { kind: 'fail'; status: number | null; error: string };

/** Longest part of a receiver's answer kept in an error. */
const MAX_ANSWER = 200;

/** Every string that would reveal a credential of `sink`, longest first. */
function credentialsOf(sink: NotifySink): string[] {
  const out = [sink.url];
  if (sink.kind === 'webhook') out.push(sink.secret);
  try {
    const u = new URL(sink.url);
    // The path and query of a webhook URL are its token (hooks.slack.com/services/T…/B…/…).
    out.push(`${u.pathname}${u.search}`, u.pathname, u.search.slice(1), u.password, u.username);
    out.push(...u.pathname.split('/'));
  } catch {
    // Not a URL: the whole value is already listed.
  }
  return out.filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
}

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

function answer(status: number, body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  const clipped = text.length > MAX_ANSWER ? `${text.slice(0, MAX_ANSWER - 1)}…` : text;
  return `HTTP ${status}${clipped ? `: ${clipped}` : ''}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

export class Notifier {
  readonly #sinks: readonly NotifySink[];
  readonly #record: NonNullable<NotifierOptions['record']>;
  readonly #fetch: FetchLike;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => Date;
  readonly #uuid: () => string;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #pending = new Set<Promise<DeliveryResult[]>>();

  constructor(options: NotifierOptions) {
    // Private fields: logging or inspecting a Notifier never shows a sink's credentials.
    this.#sinks = [...options.sinks];
    this.#record = options.record ?? (() => {});
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#sleep = options.sleep ?? ((ms) => pause(ms));
    this.#now = options.now ?? (() => new Date());
    this.#uuid = options.uuid ?? randomUUID;
    this.#attempts = Math.max(1, options.attempts ?? NOTIFY_DEFAULTS.attempts);
    this.#backoffMs = options.backoffMs ?? NOTIFY_DEFAULTS.backoffMs;
    this.#timeoutMs = options.timeoutMs ?? NOTIFY_DEFAULTS.timeoutMs;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? NOTIFY_DEFAULTS.maxRetryAfterMs;
  }

  /** True when at least one sink receives events of this type and environment. */
  wants(event: Pick<NotificationEvent, 'type' | 'environment'>): boolean {
    return this.#sinks.some((sink) => subscribed(sink, event));
  }

  /**
   * Sends `event` to every subscribed sink, in parallel, and resolves with one result per sink
   * once each has been delivered or has failed (recorded either way). Never rejects.
   */
  notify(event: NotificationEvent): Promise<DeliveryResult[]> {
    const deliveries = Promise.all(
      this.#sinks.flatMap((sink, index) =>
        subscribed(sink, event) ? [this.#deliverAndRecord(sink, index, event)] : [],
      ),
    );
    this.#pending.add(deliveries);
    void deliveries.then(() => this.#pending.delete(deliveries));
    return deliveries;
  }

  /** Waits for every delivery started so far (for callers that do not await `notify`). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #deliverAndRecord(
    sink: NotifySink,
    index: number,
    event: NotificationEvent,
  ): Promise<DeliveryResult> {
    const result = await this.#deliver(sink, index, event);
    try {
      await this.#record(result, event);
    } catch {
      // Recording is best effort too: a notification never fails a deployment.
    }
    return result;
  }

  async #deliver(
    sink: NotifySink,
    index: number,
    event: NotificationEvent,
  ): Promise<DeliveryResult> {
    const started = this.#now().getTime();
    const credentials = credentialsOf(sink);
    const name = sink.name ?? `${sink.kind}#${index}`;
    const host = sinkHost(sink.url);
    const base = { event: event.type, sink: name, kind: sink.kind, host };
    let deliveryId = '';
    let attempts = 0;
    let last: Attempt;
    try {
      deliveryId = this.#uuid();
      const problem = urlProblem(sink.url);
      if (problem) {
        last = { kind: 'fail', status: null, error: problem };
      } else {
        const body = JSON.stringify(sink.kind === 'slack' ? slackPayload(event) : event);
        for (;;) {
          attempts++;
          last = await this.#attempt(sink, event.type, deliveryId, body);
          if (last.kind !== 'retry' || attempts >= this.#attempts) break;
          const asked = last.retryAfterMs;
          if (asked !== undefined && asked > this.#maxRetryAfterMs) {
            last = {
              kind: 'fail',
              status: last.status,
              error: `${last.error} (asked to retry after ${seconds(asked)}, longer than the ${seconds(this.#maxRetryAfterMs)} Airlock waits)`,
            };
            break;
          }
          const backoff = Math.min(this.#backoffMs * 2 ** (attempts - 1), this.#maxRetryAfterMs);
          await this.#sleep(asked ?? backoff);
        }
      }
    } catch (error) {
      last = {
        kind: 'fail',
        status: null,
        error: `could not send: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    const durationMs = Math.max(0, this.#now().getTime() - started);
    if (last.kind === 'ok') {
      return {
        ...base,
        outcome: 'delivered',
        status: last.status,
        attempts,
        durationMs,
        deliveryId,
        error: null,
        hint: null,
      };
    }
    return {
      ...base,
      outcome: 'failed',
      status: last.status,
      attempts,
      durationMs,
      deliveryId,
      error: redact(last.error, credentials),
      hint: redact(hintFor(sink, name, host, last, attempts), credentials),
    };
  }

  async #attempt(
    sink: NotifySink,
    type: NotificationEventType,
    deliveryId: string,
    body: string,
  ): Promise<Attempt> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Airlock',
    };
    if (sink.kind === 'webhook') {
      // Signed per attempt: a retry carries a fresh timestamp, so it passes a receiver's
      // replay window; the delivery id stays the same so the receiver can drop repeats.
      const timestamp = Math.floor(this.#now().getTime() / 1000);
      headers[WEBHOOK_HEADERS.event] = type;
      headers[WEBHOOK_HEADERS.delivery] = deliveryId;
      headers[WEBHOOK_HEADERS.timestamp] = String(timestamp);
      headers[WEBHOOK_HEADERS.signature] = signWebhookPayload(sink.secret, timestamp, body);
    }
    let response: Response;
    try {
      response = await this.#fetch(sink.url, {
        method: 'POST',
        headers,
        body,
        // A redirect would resend the event somewhere the config does not name.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      return { kind: 'retry', status: null, error: describeFetchError(error, this.#timeoutMs) };
    }
    let text = '';
    try {
      text = await response.text();
    } catch {
      // The status decides; the body only explains a failure.
    }
    const status = response.status;
    if (status >= 200 && status < 300) return { kind: 'ok', status };
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#now());
      return {
        kind: 'retry',
        status,
        error: answer(status, text),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    if (status >= 500) return { kind: 'retry', status, error: answer(status, text) };
    if (status >= 300 && status < 400) {
      return { kind: 'fail', status, error: `HTTP ${status}: redirected, not followed` };
    }
    return { kind: 'fail', status, error: answer(status, text) };
  }
}

/** Why a webhook URL cannot be used as is, or null. Never echoes the URL. */
function urlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'the webhook URL is not an http(s) URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return 'the webhook URL is not an http(s) URL';
  }
  if (u.username || u.password) {
    return 'the webhook URL holds a user name or password, which cannot be sent that way';
  }
  return null;
}

function subscribed(
  sink: NotifySink,
  event: Pick<NotificationEvent, 'type' | 'environment'>,
): boolean {
  return (
    (sink.events?.includes(event.type) ?? true) &&
    (sink.environments?.includes(event.environment) ?? true)
  );
}

function hintFor(
  sink: NotifySink,
  name: string,
  host: string,
  last: Exclude<Attempt, { kind: 'ok' }>,
  attempts: number,
): string {
  const status = last.status;
  if (attempts === 0) {
    return `Set the variable of ${name} to the incoming webhook URL (https://…), then run \`airlock config validate\`.`;
  }
  if (status === 401 || status === 403 || status === 404 || status === 410) {
    return sink.kind === 'webhook'
      ? `${host} refused the delivery: check the URL of ${name}, and that the receiver verifies with the same secret.`
      : `${host} refused the URL of ${name}: the webhook may have been revoked; create a new one and update the variable.`;
  }
  if (status !== null && status >= 300 && status < 400) {
    return `${host} redirects: set ${name} to the URL it redirects to.`;
  }
  if (status !== null && status < 500 && status !== 429) {
    return `${host} rejected the request (HTTP ${status}) and it was not retried: check that ${name} points at a ${sink.kind === 'slack' ? 'Slack-compatible incoming webhook' : 'receiver of Airlock webhooks'}.`;
  }
  return `${host} was unreachable or failing after ${attempts} attempt${attempts === 1 ? '' : 's'}; this event was not delivered (Airlock does not queue notifications). The deployment itself is unaffected.`;
}
