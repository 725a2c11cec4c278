/**
 * The `notify:` section of `airlock.yaml` and its resolution into sinks. Webhook URLs (a Slack
 * URL embeds its token) and signing secrets are credentials: the file may only name the
 * environment variable holding each one (`${SLACK_WEBHOOK_URL}`), and nothing here ever prints
 * a resolved value — messages name the variable and, at most, the host.
 */
import { z } from 'zod';
import { NOTIFICATION_EVENT_TYPES } from './notification-event.ts';
import { ENV_REFERENCE } from './notify-sinks.ts';

export {
  describeSink,
  type NotifyFinding,
  type NotifySink,
  resolveNotifySinks,
  sinkHost,
} from './notify-sinks.ts';

const credential = (what: string) =>
  z.string().regex(ENV_REFERENCE, {
    error: `a reference to an environment variable, \${NAME}: ${what} is a credential and stays out of the file`,
  });

const commonFields = {
  url: credential('the webhook URL').meta({
    description:
      'The webhook URL, read from an environment variable (`${NAME}`, the whole value): it is a credential and is never printed; messages show its host only.',
    examples: ['${SLACK_WEBHOOK_URL}'],
  }),
  events: z
    .array(z.enum(NOTIFICATION_EVENT_TYPES))
    .min(1)
    .optional()
    .meta({
      description: `Events sent to this sink. Default: all of them (${NOTIFICATION_EVENT_TYPES.join(', ')}).`,
      examples: [['deployment.failed', 'approval.requested', 'promotion.succeeded']],
    }),
  environments: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .meta({
      description: 'Only events of these environments are sent to this sink. Default: every one.',
      examples: [['production']],
    }),
};

export const slackSinkSchema = z.strictObject({
  kind: z.literal('slack').meta({
    description:
      'A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat…): posts `{ text, blocks }`.',
    examples: ['slack'],
  }),
  ...commonFields,
});

export const webhookSinkSchema = z.strictObject({
  kind: z.literal('webhook').meta({
    description:
      'A generic JSON webhook: posts the event, signed with HMAC-SHA256 (docs/notifications.md).',
    examples: ['webhook'],
  }),
  ...commonFields,
  secret: credential('the signing secret').meta({
    description:
      'The HMAC-SHA256 signing secret, read from an environment variable (`${NAME}`); the receiver verifies `x-airlock-signature` with it.',
    examples: ['${AIRLOCK_WEBHOOK_SECRET}'],
  }),
});

export const notifySinkSchema = z.discriminatedUnion('kind', [slackSinkSchema, webhookSinkSchema]);

/** The `notify:` section: a list of sinks. */
export const notifySchema = z.array(notifySinkSchema).meta({
  description:
    'Where pipeline events are sent (deployments, approvals requested, promotions, rollbacks, refused gates). A failed delivery is recorded in the audit log and never fails a deployment.',
  examples: [
    [
      { kind: 'slack', url: '${SLACK_WEBHOOK_URL}', environments: ['production'] },
      { kind: 'webhook', url: '${DEPLOY_HOOK_URL}', secret: '${DEPLOY_HOOK_SECRET}' },
    ],
  ],
});

export type NotifySinkConfig = z.output<typeof notifySinkSchema>;
export type NotifyConfig = z.output<typeof notifySchema>;
