import { defineCommand } from '../command-definition.ts';

/** `airlock releases`. */
export const releasesDefinition = defineCommand({
  name: 'releases',
  description: 'list built releases',
  options: [{ flags: '-n, --limit <n>', description: 'number of releases', default: '20' }],
  handler: async (io, opts: { limit: string }) =>
    (await import('../history.ts')).releasesCommand(io, opts),
});
