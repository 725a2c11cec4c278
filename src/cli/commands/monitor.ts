import { defineCommand } from '../command-definition.ts';

/** `airlock monitor` options (commander's camelCase of the flags). */
export interface MonitorOptions {
  once?: boolean;
  /** A duration (`60s`); default: `monitor.intervalMs` of airlock.yaml. */
  interval?: string;
}

/** `airlock monitor`. */
export const monitorDefinition = defineCommand({
  name: 'monitor',
  description:
    "probe every environment's monitored checks on an interval; open, track and resolve incidents (exit 0 healthy, 1 an incident is open, 2 error)",
  options: [
    { flags: '--once', description: 'run one pass and exit (for cron or a scheduled workflow)' },
    {
      flags: '--interval <duration>',
      description: 'time between passes (default: monitor.intervalMs, 60s)',
    },
  ],
  handler: async (io, opts: MonitorOptions) =>
    (await import('../monitor.ts')).monitorCommand(io, opts),
  onInterrupt: 'the monitor stops; open incidents stay open until a later pass resolves them.',
});

/** `airlock incidents`. */
export const incidentsDefinition = defineCommand({
  name: 'incidents',
  description: 'incidents the monitor opened: environment, since, duration, issue',
  options: [
    { flags: '--open', description: 'only the open ones' },
    { flags: '--limit <n>', description: 'at most this many, newest first', default: '20' },
  ],
  handler: async (io, opts: { open?: boolean; limit: string }) =>
    (await import('../monitor.ts')).incidentsCommand(io, opts),
});
