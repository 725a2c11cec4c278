import { describe, expect, it } from 'vitest';
import {
  describeSink,
  notifySchema,
  resolveNotifySinks,
  sinkHost,
} from '../../src/notify/notify-config.ts';

const SLACK_URL = 'https://hooks.slack.com/services/T0001/B0002/slackTokenXYZ123';
const HOOK_URL = 'https://deploys.example.com/airlock?key=hookKeyABC987';
const HOOK_SECRET = 'hook-secret-0123456789abcdef';
const env = {
  SLACK_WEBHOOK_URL: SLACK_URL,
  DEPLOY_HOOK_URL: HOOK_URL,
  DEPLOY_HOOK_SECRET: HOOK_SECRET,
};

describe('notifySchema', () => {
  it('accepts sinks whose credentials name environment variables', () => {
    const parsed = notifySchema.parse([
      { kind: 'slack', url: '${SLACK_WEBHOOK_URL}', environments: ['production'] },
      {
        kind: 'webhook',
        url: '${DEPLOY_HOOK_URL}',
        secret: '${DEPLOY_HOOK_SECRET}',
        events: ['deployment.failed', 'gate.failed'],
      },
    ]);
    expect(parsed).toHaveLength(2);
  });

  it('refuses a credential written in the file, an unknown event, an unknown key, a missing secret', () => {
    const literal = notifySchema.safeParse([{ kind: 'slack', url: SLACK_URL }]);
    expect(literal.success).toBe(false);
    expect(literal.error?.issues[0]?.message).toMatch(
      /environment variable, \$\{NAME\}: the webhook URL is a credential/,
    );
    expect(literal.error?.issues[0]?.path).toEqual([0, 'url']);
    const event = notifySchema.safeParse([
      { kind: 'slack', url: '${U}', events: ['deployment.finished'] },
    ]);
    expect(event.error?.issues[0]?.path).toEqual([0, 'events', 0]);
    expect(notifySchema.safeParse([{ kind: 'slack', url: '${U}', channel: '#x' }]).success).toBe(
      false,
    );
    const secret = notifySchema.safeParse([{ kind: 'webhook', url: '${U}' }]);
    expect(secret.error?.issues[0]?.path).toEqual([0, 'secret']);
    expect(
      notifySchema.safeParse([{ kind: 'webhook', url: '${U}', secret: 'plain-text-secret' }])
        .success,
    ).toBe(false);
  });
});

describe('resolveNotifySinks', () => {
  const config = notifySchema.parse([
    { kind: 'slack', url: '${SLACK_WEBHOOK_URL}', environments: ['production'] },
    { kind: 'webhook', url: '${DEPLOY_HOOK_URL}', secret: '${DEPLOY_HOOK_SECRET}' },
  ]);

  it('reads each variable and names each sink without its value', () => {
    const { sinks, findings } = resolveNotifySinks(config, {
      env,
      pipeline: ['staging', 'production'],
    });
    expect(findings).toEqual([]);
    expect(sinks).toEqual([
      {
        kind: 'slack',
        url: SLACK_URL,
        name: 'notify[0] ($SLACK_WEBHOOK_URL)',
        environments: ['production'],
      },
      {
        kind: 'webhook',
        url: HOOK_URL,
        secret: HOOK_SECRET,
        name: 'notify[1] ($DEPLOY_HOOK_URL)',
      },
    ]);
    expect(sinks.map(describeSink)).toEqual([
      {
        name: 'notify[0] ($SLACK_WEBHOOK_URL)',
        kind: 'slack',
        host: 'hooks.slack.com',
        events: 'all',
        environments: ['production'],
      },
      {
        name: 'notify[1] ($DEPLOY_HOOK_URL)',
        kind: 'webhook',
        host: 'deploys.example.com',
        events: 'all',
        environments: 'all',
      },
    ]);
    expect(JSON.stringify(sinks.map(describeSink))).not.toMatch(/slackToken|hookKey|hook-secret/);
  });

  it('turns a sink off with a warning when its variable is not set', () => {
    const { sinks, findings } = resolveNotifySinks(config, {
      env: { SLACK_WEBHOOK_URL: SLACK_URL, DEPLOY_HOOK_URL: HOOK_URL },
    });
    expect(sinks.map((s) => s.kind)).toEqual(['slack']);
    expect(findings).toEqual([
      {
        severity: 'warning',
        path: ['notify', 1, 'secret'],
        message:
          'reads $DEPLOY_HOOK_SECRET, which is not set in the environment: this webhook sink sends nothing until it is.',
        fix: "export DEPLOY_HOOK_SECRET=… (in CI, from the repository's secrets), or remove notify[1].",
      },
    ]);
  });

  it('refuses a value that is not an http(s) URL without printing it, and unknown environments', () => {
    const { sinks, findings } = resolveNotifySinks(config, {
      env: { ...env, SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T0001/slackTokenXYZ123' },
      pipeline: ['staging', 'prod'],
    });
    expect(sinks.map((s) => s.kind)).toEqual(['webhook']);
    expect(findings.map((f) => [f.severity, f.path.join('.')])).toEqual([
      ['error', 'notify.0.url'],
      ['error', 'notify.0.environments.0'],
    ]);
    expect(findings[0]?.message).toBe(
      '$SLACK_WEBHOOK_URL does not hold an http:// or https:// URL (its value is not shown: it is a credential).',
    );
    expect(findings[1]?.message).toBe(
      '"production" is not an environment of the pipeline (staging, prod).',
    );
    expect(JSON.stringify(findings)).not.toContain('slackToken');
  });

  it('refuses a URL with a user name or password, which fetch cannot send', () => {
    const { sinks, findings } = resolveNotifySinks(config, {
      env: { ...env, DEPLOY_HOOK_URL: 'https://bot:hookPassword77@deploys.example.com/x' },
    });
    expect(sinks.map((s) => s.kind)).toEqual(['slack']);
    expect(findings).toMatchObject([{ severity: 'error', path: ['notify', 1, 'url'] }]);
    expect(findings[0]?.message).toMatch(/^\$DEPLOY_HOOK_URL holds a URL with a user name/);
    expect(JSON.stringify(findings)).not.toContain('hookPassword77');
  });

  it('warns about a short signing secret', () => {
    const { sinks, findings } = resolveNotifySinks(config, {
      env: { ...env, DEPLOY_HOOK_SECRET: 'short' },
    });
    expect(sinks).toHaveLength(2);
    expect(findings).toMatchObject([
      {
        severity: 'warning',
        path: ['notify', 1, 'secret'],
        fix: expect.stringMatching(/openssl rand/),
      },
    ]);
    expect(JSON.stringify(findings)).not.toContain('"short"');
  });

  it('resolves nothing when there is no notify section', () => {
    expect(resolveNotifySinks(undefined, { env })).toEqual({ sinks: [], findings: [] });
  });

  it('shows the host of a URL only', () => {
    expect(sinkHost('http://127.0.0.1:8080/hook/secret')).toBe('127.0.0.1:8080');
    expect(sinkHost('not a url')).toBe('invalid URL');
  });
});
