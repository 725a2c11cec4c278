import { defineCommand } from '../command-definition.ts';

/** `airlock resume [environment]`. */
export const resumeDefinition = defineCommand({
  name: 'resume',
  description: 'finish (or roll back) deployments a dead process left interrupted',
  arguments: ['[environment]'],
  handler: async (io, environment: string | undefined) =>
    (await import('../resume.ts')).resumeCommand(io, environment),
});
