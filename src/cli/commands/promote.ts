import { defineCommand } from '../command-definition.ts';
import { WAIT_OPTION } from './common-options.ts';

/** `airlock promote` options (commander's camelCase of the flags). */
export interface PromoteOptions {
  release?: string;
  follow: boolean;
  wait?: string;
  auto?: boolean;
  watch?: boolean;
  /** A duration (`30m`). */
  timeout: string;
  /** A duration (`15s`). */
  interval: string;
  overrideWindow?: string;
  /** `--fix-forward <reason>`: a contract release acknowledged as fix-forward only. */
  fixForward?: string;
  /** `--fixes <incident>` (a number, checked by the handler). */
  fixes?: string;
  /** `--changed`: skip the services whose artifact equals what serves them. */
  changed?: boolean;
}

/** `airlock promote <environment>`: once, or with `--auto` under the automatic policy. */
export const promoteDefinition = defineCommand({
  name: 'promote',
  description: 'promote the release serving on the previous environment, when the gate holds',
  arguments: ['<environment>'],
  options: [
    {
      flags: '--release <release>',
      description: 'release to promote (default: the one serving on the previous environment)',
    },
    { flags: '--no-follow', description: 'do not run automatic promotions afterwards' },
    WAIT_OPTION,
    {
      flags: '--auto',
      description:
        'automatic policy: promote as soon as every gate holds, waiting while one is pending',
    },
    {
      flags: '--watch',
      description: 'with --auto: keep running and promote each new release whose gate holds',
    },
    {
      flags: '--timeout <duration>',
      description: 'with --auto: stop waiting for pending gates after this long',
      default: '30m',
    },
    {
      flags: '--interval <duration>',
      description: 'with --auto: time between gate evaluations',
      default: '15s',
    },
    {
      flags: '--changed',
      description:
        'deploy only the services whose artifact differs from what serves them there; the others are skipped (reported and audited as unchanged)',
    },
    {
      flags: '--override-window <reason>',
      description: 'promote outside the deploy window or during a freeze; the reason is audited',
    },
    {
      flags: '--fix-forward <reason>',
      description:
        'acknowledge that this release carries a contract migration and cannot be rolled back (the rehearsal gate); the reason is audited',
    },
    {
      flags: '--fixes <incident>',
      description:
        'this promotion fixes the open incident (`airlock incidents`) that blocks the health gate; audited',
    },
  ],
  handler: async (io, environment: string, opts: PromoteOptions) =>
    opts.auto || opts.watch
      ? (await import('../auto-promote.ts')).autoPromoteCommand(io, environment, opts)
      : (await import('../deploy.ts')).deployCommand(io, environment, opts, 'promote'),
});
