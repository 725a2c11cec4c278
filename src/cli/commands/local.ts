import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock local status|start|stop`. */
export const localDefinition = defineGroup({
  name: 'local',
  description: 'the local runtime: the supervisor that runs local environments',
  commands: [
    defineCommand({
      name: 'status',
      description: 'is the runtime up, and what runs under it',
      handler: async (io) => (await import('../local.ts')).localStatusCommand(io),
    }),
    defineCommand({
      name: 'start',
      description: 'start the runtime (it restores what was serving)',
      handler: async (io) => (await import('../local.ts')).localStartCommand(io),
    }),
    defineCommand({
      name: 'stop',
      description: 'stop every local environment and the runtime',
      handler: async (io) => (await import('../local.ts')).localStopCommand(io),
    }),
  ],
});
