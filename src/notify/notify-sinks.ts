/**
 * The resolved sinks of `notify:` (see notify-config.ts for its schema), without the schema:
 * resolving a configuration that was validated earlier loads no zod. Webhook URLs and signing
 * secrets are credentials: nothing here ever prints a resolved value — messages name the
 * variable and, at most, the host.
 */
import type { NotificationEventType } from './notification-event.ts';
import type { NotifySinkConfig } from './notify-config.ts';

/** A whole value that is a reference to one environment variable, `${NAME}`. */
export const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

interface SinkFields {
  /** The webhook URL. A credential: never print it (print `sinkHost(url)`). */
  url: string;
  /** Events this sink receives; all when absent. */
  events?: readonly NotificationEventType[];
  /** Environments whose events this sink receives; all when absent. */
  environments?: readonly string[];
  /** Safe to print: names the sink in results, e.g. `notify[0] ($SLACK_WEBHOOK_URL)`. */
  name?: string;
}

/** A resolved sink: the credentials are values here, so never print one (see `describeSink`). */
export type NotifySink =
  | (SinkFields & { kind: 'slack' })
  | (SinkFields & {
      kind: 'webhook';
      /** HMAC-SHA256 signing secret. Never print it. */
      secret: string;
    });

/** A problem found resolving `notify:`; the shape of the config loader's findings. */
export interface NotifyFinding {
  severity: 'error' | 'warning';
  path: ReadonlyArray<string | number>;
  message: string;
  fix?: string;
}

/** The host (and port) of a URL, or `invalid URL`; the only part of a webhook URL ever shown. */
export function sinkHost(url: string): string {
  try {
    return new URL(url).host || 'invalid URL';
  } catch {
    return 'invalid URL';
  }
}

/** What a sink can be described as in `airlock config show` and messages: no credentials. */
export function describeSink(sink: NotifySink): {
  name: string | null;
  kind: NotifySink['kind'];
  host: string;
  events: readonly string[] | 'all';
  environments: readonly string[] | 'all';
} {
  return {
    name: sink.name ?? null,
    kind: sink.kind,
    host: sinkHost(sink.url),
    events: sink.events ?? 'all',
    environments: sink.environments ?? 'all',
  };
}

const MIN_SECRET_LENGTH = 16;

/**
 * Resolves the `notify:` section: reads each `${NAME}` from `env` (passed in; never read from
 * process.env here) and checks what the schema cannot.
 * - A variable that is not set turns that sink off with a warning (a developer's machine need
 *   not hold the team's Slack URL); the deployment goes on.
 * - A value that is not an http(s) URL, or an environment not in the pipeline, is an error.
 * Messages name variables, never their values.
 */
export function resolveNotifySinks(
  config: readonly NotifySinkConfig[] | undefined,
  options: { env: Readonly<Record<string, string | undefined>>; pipeline?: readonly string[] },
): { sinks: NotifySink[]; findings: NotifyFinding[] } {
  const sinks: NotifySink[] = [];
  const findings: NotifyFinding[] = [];
  (config ?? []).forEach((entry, index) => {
    const at = (field: string) => ['notify', index, field];
    const read = (field: string, raw: string): { value: string; variable: string | null } => {
      const name = ENV_REFERENCE.exec(raw)?.[1] ?? null;
      if (!name) return { value: raw, variable: null };
      const value = options.env[name];
      if (value === undefined || value === '') {
        findings.push({
          severity: 'warning',
          path: at(field),
          message: `reads $${name}, which is not set in the environment: this ${entry.kind} sink sends nothing until it is.`,
          fix: `export ${name}=… (in CI, from the repository's secrets), or remove notify[${index}].`,
        });
      }
      return { value: value ?? '', variable: name };
    };
    const url = read('url', entry.url);
    const secret = entry.kind === 'webhook' ? read('secret', entry.secret) : null;
    let usable = url.value !== '' && (secret === null || secret.value !== '');

    if (url.value !== '' && !/^https?:$/.test(safeProtocol(url.value))) {
      usable = false;
      findings.push({
        severity: 'error',
        path: at('url'),
        message: `${url.variable ? `$${url.variable}` : 'the value'} does not hold an http:// or https:// URL (its value is not shown: it is a credential).`,
        fix: `set ${url.variable ?? 'it'} to the incoming webhook URL, e.g. https://hooks.slack.com/services/….`,
      });
    }
    if (url.value !== '' && hasUserInfo(url.value)) {
      usable = false;
      findings.push({
        severity: 'error',
        path: at('url'),
        message: `${url.variable ? `$${url.variable}` : 'the value'} holds a URL with a user name or password, which Airlock cannot send (its value is not shown).`,
        fix: 'use a webhook URL that carries its token in the path or query, as incoming webhooks do.',
      });
    }
    if (secret && secret.value !== '' && secret.value.length < MIN_SECRET_LENGTH) {
      findings.push({
        severity: 'warning',
        path: at('secret'),
        message: `${secret.variable ? `$${secret.variable}` : 'the secret'} is shorter than ${MIN_SECRET_LENGTH} characters, so signatures are easier to forge.`,
        fix: `use a random secret, e.g. \`openssl rand -hex 32\`, on both sides.`,
      });
    }
    for (const [i, environment] of (entry.environments ?? []).entries()) {
      if (options.pipeline && !options.pipeline.includes(environment)) {
        usable = false;
        findings.push({
          severity: 'error',
          path: ['notify', index, 'environments', i],
          message: `"${environment}" is not an environment of the pipeline (${options.pipeline.join(', ')}).`,
          fix: `use one of ${options.pipeline.join(', ')}.`,
        });
      }
    }
    if (!usable) return;
    const name = `notify[${index}]${url.variable ? ` ($${url.variable})` : ''}`;
    const common = {
      url: url.value,
      name,
      ...(entry.events ? { events: [...entry.events] } : {}),
      ...(entry.environments ? { environments: [...entry.environments] } : {}),
    };
    sinks.push(
      entry.kind === 'webhook'
        ? { kind: 'webhook', ...common, secret: secret?.value ?? '' }
        : { kind: 'slack', ...common },
    );
  });
  return { sinks, findings };
}

function hasUserInfo(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '';
  } catch {
    return false;
  }
}

function safeProtocol(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
}
